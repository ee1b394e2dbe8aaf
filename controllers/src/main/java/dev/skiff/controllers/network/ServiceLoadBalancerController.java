package dev.skiff.controllers.network;

import dev.skiff.controllers.ControllerContext;
import dev.skiff.runtime.Controller;
import dev.skiff.runtime.Keys;
import dev.skiff.runtime.Lister;
import dev.skiff.runtime.Result;
import io.fabric8.kubernetes.api.model.LoadBalancerIngress;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddress;
import io.fabric8.kubernetes.api.model.NodeCondition;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * A service load balancer in the manner of k3s's servicelb: every Service of type LoadBalancer
 * without a {@code loadBalancerClass} gets {@code status.loadBalancer.ingress} = the addresses of
 * the Ready nodes (a node's ExternalIP addresses when it has any, else its InternalIP addresses),
 * sorted, with {@code ipMode: VIP}; the node agents' service proxy serves the Service's NodePorts
 * and ports there. No Ready node leaves the ingress empty ({@code <pending>} in kubectl). A Service
 * that stops being a LoadBalancer has its ingress cleared. Services with a loadBalancerClass belong
 * to another implementation and are left alone. Thread-safe.
 */
public final class ServiceLoadBalancerController implements AutoCloseable {
  private final KubernetesClient client;
  private final Lister<Service> services;
  private final Lister<Node> nodes;
  private final Controller controller;

  private ServiceLoadBalancerController(ControllerContext ctx) {
    this.client = ctx.client();
    this.services = ctx.informers().informerFor(Service.class).lister();
    this.nodes = ctx.informers().informerFor(Node.class).lister();
    this.controller = Controller.builder("servicelb", ctx.informers())
        .watches(Service.class)
        .watches(Node.class, n -> loadBalancers())
        .workers(ctx.intOption("servicelb.workers", 2))
        .clock(ctx.clock())
        .reconciler(this::sync)
        .build();
  }

  /** Builds the controller; its workers start with the others ({@code Controllers} entry point). */
  public static ServiceLoadBalancerController start(ControllerContext ctx) {
    ServiceLoadBalancerController c = new ServiceLoadBalancerController(ctx);
    ctx.afterAllCreated(c.controller::start);
    return c;
  }

  @Override
  public void close() throws InterruptedException {
    controller.stop(Duration.ofSeconds(5));
  }

  private List<String> loadBalancers() {
    List<String> keys = new ArrayList<>();
    for (Service s : services.list()) {
      if (s.getSpec() != null && "LoadBalancer".equals(s.getSpec().getType())) {
        keys.add(Keys.of(s));
      }
    }
    return keys;
  }

  /** The ingress addresses: per Ready node, its ExternalIPs, else its InternalIPs. */
  List<String> addresses() {
    TreeSet<String> out = new TreeSet<>();
    for (Node n : nodes.list()) {
      if (!ready(n) || n.getStatus() == null || n.getStatus().getAddresses() == null) {
        continue;
      }
      List<String> external = new ArrayList<>();
      List<String> internal = new ArrayList<>();
      for (NodeAddress a : n.getStatus().getAddresses()) {
        if ("ExternalIP".equals(a.getType())) {
          external.add(a.getAddress());
        } else if ("InternalIP".equals(a.getType())) {
          internal.add(a.getAddress());
        }
      }
      out.addAll(external.isEmpty() ? internal : external);
    }
    return new ArrayList<>(out);
  }

  private static boolean ready(Node n) {
    if (n.getStatus() == null || n.getStatus().getConditions() == null) {
      return false;
    }
    for (NodeCondition c : n.getStatus().getConditions()) {
      if ("Ready".equals(c.getType())) {
        return "True".equals(c.getStatus());
      }
    }
    return false;
  }

  Result sync(String key) {
    Service svc = services.get(Keys.namespace(key), Keys.name(key));
    if (svc == null || svc.getSpec() == null) {
      return Result.done();
    }
    boolean lb = "LoadBalancer".equals(svc.getSpec().getType());
    if (lb && svc.getSpec().getLoadBalancerClass() != null && !svc.getSpec().getLoadBalancerClass().isEmpty()) {
      return Result.done();
    }
    List<String> want = lb ? addresses() : List.of();
    List<String> have = new ArrayList<>();
    if (svc.getStatus() != null && svc.getStatus().getLoadBalancer() != null
        && svc.getStatus().getLoadBalancer().getIngress() != null) {
      for (LoadBalancerIngress i : svc.getStatus().getLoadBalancer().getIngress()) {
        have.add(i.getIp() != null ? i.getIp() : "hostname:" + i.getHostname());
      }
    }
    if (have.equals(want)) {
      return Result.done();
    }
    StringBuilder ingress = new StringBuilder();
    for (String ip : want) {
      ingress.append(ingress.length() == 0 ? "" : ",").append("{\"ip\":\"").append(ip).append("\",\"ipMode\":\"VIP\"}");
    }
    String patch = want.isEmpty() ? "{\"status\":{\"loadBalancer\":{\"ingress\":null}}}"
        : "{\"status\":{\"loadBalancer\":{\"ingress\":[" + ingress + "]}}}";
    client.services().inNamespace(svc.getMetadata().getNamespace()).withName(svc.getMetadata().getName())
        .subresource("status").patch(PatchContext.of(PatchType.JSON_MERGE), patch);
    return Result.done();
  }
}
