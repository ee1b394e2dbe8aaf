package dev.skiff.controllers.network;

import dev.skiff.controllers.ControllerContext;
import dev.skiff.runtime.Controller;
import dev.skiff.runtime.Keys;
import dev.skiff.runtime.Lister;
import dev.skiff.runtime.Result;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The EndpointSlice controller (pkg/controller/endpointslice and the staging endpointslice
 * reconciler): for every Service with a selector, EndpointSlices (addressType IPv4, named
 * {@code <service>-<random>}, labels {@code kubernetes.io/service-name} and
 * {@code endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io}, owned by the
 * Service) listing the selected pods that have an IP and are not terminal. Each endpoint carries
 * the ready ({@code serving} and not terminating, or publishNotReadyAddresses), serving (pod
 * Ready) and terminating (deletionTimestamp) conditions, nodeName, targetRef and, for pods whose
 * subdomain is the Service, hostname. Ports are resolved per pod (a named targetPort is looked up
 * in each pod's containerPorts), and pods whose ports resolve differently go in different slices.
 * At most {@code maxEndpointsPerSlice} (100) endpoints per slice.
 *
 * <p>Churn is kept low as upstream keeps it: unchanged slices are never rewritten, endpoints that
 * changed are updated in the slice that holds them, new endpoints fill slices already being
 * updated first, then new full slices, and a remainder goes into an unchanged slice only if it
 * fits whole (no rebalancing). A Service without endpoints gets one empty placeholder slice, as
 * upstream's. Zones are not set (Skiff nodes carry no topology), and pods on a Node that does not
 * exist are still listed. Writes the controller made are tracked until the informer has seen
 * them, so a sync never acts on a stale view of its own slices. Thread-safe.
 */
public final class EndpointSliceController implements AutoCloseable {
  public static final String MANAGED_BY = "endpointslice.kubernetes.io/managed-by";
  public static final String CONTROLLER_NAME = "endpointslice-controller.k8s.io";
  public static final String SERVICE_NAME = "kubernetes.io/service-name";
  static final String HEADLESS = "service.kubernetes.io/headless";

  private final KubernetesClient client;
  private final Lister<Service> services;
  private final Lister<Pod> pods;
  private final Lister<EndpointSlice> slices;
  private final int maxPerSlice;
  private final Controller controller;
  private final SliceWriter writer;
  private final TriggerTimes triggerTimes = new TriggerTimes();

  private EndpointSliceController(ControllerContext ctx) {
    this.client = ctx.client();
    this.services = ctx.informers().informerFor(Service.class).lister();
    this.pods = ctx.informers().informerFor(Pod.class).lister();
    this.slices = ctx.informers().informerFor(EndpointSlice.class).lister();
    this.writer = new SliceWriter(client, slices);
    this.maxPerSlice = Math.max(1, Math.min(1000, ctx.intOption("endpointslice.maxEndpointsPerSlice", 100)));
    this.controller = Controller.builder("endpointslice", ctx.informers())
        .watches(Service.class)
        .watches(Pod.class, this::servicesSelecting)
        .watches(EndpointSlice.class, EndpointSliceController::owningService)
        .workers(ctx.intOption("endpointslice.workers", 5))
        .clock(ctx.clock())
        .reconciler(this::sync)
        .build();
  }

  /** Builds the controller; its workers start with the others ({@code Controllers} entry point). */
  public static EndpointSliceController start(ControllerContext ctx) {
    EndpointSliceController c = new EndpointSliceController(ctx);
    ctx.afterAllCreated(c.controller::start);
    return c;
  }

  @Override
  public void close() throws InterruptedException {
    controller.stop(Duration.ofSeconds(5));
  }

  private List<String> servicesSelecting(Pod pod) {
    return EndpointPods.servicesSelecting(services, pod);
  }

  private static List<String> owningService(EndpointSlice slice) {
    Map<String, String> labels = slice.getMetadata().getLabels();
    if (labels == null || !CONTROLLER_NAME.equals(labels.get(MANAGED_BY)) || labels.get(SERVICE_NAME) == null) {
      return List.of();
    }
    return List.of(Keys.of(slice.getMetadata().getNamespace(), labels.get(SERVICE_NAME)));
  }

  // ---------------------------------------------------------------- sync

  Result sync(String key) {
    String ns = Keys.namespace(key);
    String name = Keys.name(key);
    Service svc = services.get(ns, name);
    if (svc == null) {
      writer.forget(key); // the garbage collector deletes the slices through their owner reference
      triggerTimes.forget(key);
      return Result.done();
    }
    Map<String, String> selector = EndpointPods.selector(svc);
    if (selector == null) {
      return Result.done();
    }
    if (!writer.caughtUp(key, ns)) {
      // Our own write's informer event enqueues this key again as soon as the cache has it;
      // the delayed requeue is only a safety net.
      return Result.requeueAfter(Duration.ofSeconds(1));
    }
    List<EndpointSlice> existing = new ArrayList<>();
    for (EndpointSlice s : slices.list(ns)) {
      Map<String, String> l = s.getMetadata().getLabels();
      if (l != null && name.equals(l.get(SERVICE_NAME)) && CONTROLLER_NAME.equals(l.get(MANAGED_BY))
          && (s.getAddressType() == null || "IPv4".equals(s.getAddressType()))) {
        existing.add(s);
      }
    }
    existing.sort(Comparator.comparing(s -> s.getMetadata().getName()));

    // Desired endpoints, grouped by the ports they resolve to.
    Map<String, List<EndpointPort>> portsByKey = new LinkedHashMap<>();
    Map<String, LinkedHashMap<String, Endpoint>> desired = new LinkedHashMap<>();
    List<Pod> selected = new ArrayList<>();
    for (Pod p : pods.list(ns)) {
      if (EndpointPods.matches(selector, p) && EndpointPods.shouldBeInEndpoints(p, true)) {
        selected.add(p);
      }
    }
    selected.sort(Comparator.comparing(p -> p.getMetadata().getName()));
    for (Pod pod : selected) {
      List<EndpointPort> ports = endpointPorts(svc, pod);
      String pk = portsKey(ports);
      portsByKey.putIfAbsent(pk, ports);
      Endpoint ep = endpoint(svc, pod);
      desired.computeIfAbsent(pk, k -> new LinkedHashMap<>()).put(endpointKey(ep), ep);
    }

    Map<String, String> labels = labels(svc);
    Plan plan = new Plan();
    Map<String, List<EndpointSlice>> existingByKey = new HashMap<>();
    for (EndpointSlice s : existing) {
      existingByKey.computeIfAbsent(portsKey(s.getPorts()), k -> new ArrayList<>()).add(s);
    }
    for (var e : existingByKey.entrySet()) {
      if (!desired.containsKey(e.getKey())) {
        plan.delete.addAll(e.getValue());
      }
    }
    for (var e : desired.entrySet()) {
      reconcilePorts(svc, labels, portsByKey.get(e.getKey()), existingByKey.getOrDefault(e.getKey(), List.of()),
          e.getValue(), plan);
    }
    // A Service without endpoints keeps one empty placeholder slice (reconciler.go reconcile).
    if (existing.size() == plan.delete.size() && plan.create.isEmpty()) {
      EndpointSlice placeholder = newSlice(svc, labels, List.of(), List.of());
      if (plan.delete.size() == 1 && isPlaceholder(plan.delete.get(0))) {
        plan.delete.clear();
      } else {
        plan.create.add(placeholder);
      }
    }
    String trigger = triggerTimes.compute(key, svc, selected);
    if (trigger != null) {
      List<EndpointSlice> written = new ArrayList<>(plan.create);
      written.addAll(plan.update);
      for (EndpointSlice s : written) {
        Map<String, String> a = new LinkedHashMap<>();
        if (s.getMetadata().getAnnotations() != null) {
          a.putAll(s.getMetadata().getAnnotations());
        }
        a.put(TriggerTimes.ANNOTATION, trigger);
        s.getMetadata().setAnnotations(a);
      }
    }
    writer.apply(key, ns, plan.create, plan.update, plan.delete);
    return Result.done();
  }

  private static boolean isPlaceholder(EndpointSlice s) {
    return (s.getEndpoints() == null || s.getEndpoints().isEmpty()) && (s.getPorts() == null || s.getPorts().isEmpty());
  }

  /** Writes of one sync: creates first, then updates, then deletes, so endpoints never vanish in between. */
  private static final class Plan {
    final List<EndpointSlice> create = new ArrayList<>();
    final List<EndpointSlice> update = new ArrayList<>();
    final List<EndpointSlice> delete = new ArrayList<>();
  }

  private void reconcilePorts(Service svc, Map<String, String> labels, List<EndpointPort> ports,
      List<EndpointSlice> existing, LinkedHashMap<String, Endpoint> want, Plan plan) {
    LinkedHashMap<String, Endpoint> remaining = new LinkedHashMap<>(want);
    List<EndpointSlice> updating = new ArrayList<>();
    List<EndpointSlice> unchanged = new ArrayList<>();
    for (EndpointSlice slice : existing) {
      boolean changed = !labels.equals(slice.getMetadata().getLabels());
      List<Endpoint> kept = new ArrayList<>();
      for (Endpoint ep : slice.getEndpoints() == null ? List.<Endpoint>of() : slice.getEndpoints()) {
        String k = endpointKey(ep);
        Endpoint d = remaining.remove(k);
        if (d == null) {
          changed = true;
        } else {
          if (!endpointState(d).equals(endpointState(ep))) {
            changed = true;
          }
          kept.add(d);
        }
      }
      if (kept.isEmpty()) {
        plan.delete.add(slice);
      } else if (changed) {
        EndpointSlice copy = new EndpointSliceBuilder(slice).editMetadata().withLabels(labels).endMetadata()
            .withEndpoints(kept).build();
        updating.add(copy);
      } else {
        unchanged.add(slice);
      }
    }
    List<Endpoint> left = new ArrayList<>(remaining.values());
    int next = 0;
    for (EndpointSlice s : updating) {
      while (next < left.size() && s.getEndpoints().size() < maxPerSlice) {
        s.getEndpoints().add(left.get(next++));
      }
    }
    while (left.size() - next >= maxPerSlice) {
      plan.create.add(newSlice(svc, labels, ports, new ArrayList<>(left.subList(next, next + maxPerSlice))));
      next += maxPerSlice;
    }
    if (next < left.size()) {
      List<Endpoint> rest = new ArrayList<>(left.subList(next, left.size()));
      // Into the fullest unchanged slice that holds all of the rest, else a new slice.
      EndpointSlice fill = null;
      for (EndpointSlice s : unchanged) {
        int size = s.getEndpoints() == null ? 0 : s.getEndpoints().size();
        if (size + rest.size() <= maxPerSlice && (fill == null || size > fill.getEndpoints().size())) {
          fill = s;
        }
      }
      if (fill != null) {
        List<Endpoint> eps = new ArrayList<>(fill.getEndpoints());
        eps.addAll(rest);
        updating.add(new EndpointSliceBuilder(fill).withEndpoints(eps).build());
      } else {
        plan.create.add(newSlice(svc, labels, ports, rest));
      }
    }
    plan.update.addAll(updating);
  }







  // ---------------------------------------------------------------- building blocks

  /** getEndpointPorts: the Service's ports as this pod serves them; unresolvable ones are left out. */
  static List<EndpointPort> endpointPorts(Service svc, Pod pod) {
    List<EndpointPort> out = new ArrayList<>();
    List<ServicePort> sps = svc.getSpec().getPorts();
    if (sps == null) {
      return out;
    }
    for (ServicePort sp : sps) {
      int port = EndpointPods.findPort(pod, sp);
      if (port <= 0) {
        continue;
      }
      out.add(new EndpointPortBuilder()
          .withName(sp.getName() == null ? "" : sp.getName())
          .withPort(port)
          .withProtocol(EndpointPods.protocol(sp))
          .withAppProtocol(sp.getAppProtocol())
          .build());
    }
    return out;
  }

  /** podToEndpoint. */
  static Endpoint endpoint(Service svc, Pod pod) {
    boolean serving = EndpointPods.isReady(pod);
    boolean terminating = EndpointPods.terminating(pod);
    boolean publishNotReady = Boolean.TRUE.equals(svc.getSpec().getPublishNotReadyAddresses());
    boolean ready = publishNotReady || (serving && !terminating);
    EndpointBuilder b = new EndpointBuilder()
        .withAddresses(EndpointPods.ipv4Addresses(pod))
        .withNewConditions().withReady(ready).withServing(serving).withTerminating(terminating).endConditions()
        .withTargetRef(new ObjectReferenceBuilder().withKind("Pod").withNamespace(pod.getMetadata().getNamespace())
            .withName(pod.getMetadata().getName()).withUid(pod.getMetadata().getUid()).build());
    String node = pod.getSpec() == null ? null : pod.getSpec().getNodeName();
    if (node != null && !node.isEmpty()) {
      b.withNodeName(node);
    }
    String hostname = EndpointPods.hostname(pod, svc);
    if (hostname != null) {
      b.withHostname(hostname);
    }
    return b.build();
  }

  /** Identity of an endpoint across syncs (endpointHash: addresses, hostname, pod). */
  static String endpointKey(Endpoint ep) {
    var ref = ep.getTargetRef();
    return String.join(",", ep.getAddresses() == null ? List.of() : ep.getAddresses()) + "|"
        + Objects.toString(ep.getHostname(), "") + "|"
        + (ref == null ? "" : ref.getNamespace() + "/" + ref.getName());
  }

  /** Everything of an endpoint that a change to would need a write. */
  static String endpointState(Endpoint ep) {
    var c = ep.getConditions();
    var ref = ep.getTargetRef();
    return endpointKey(ep) + "|" + (c == null ? "" : c.getReady() + "/" + c.getServing() + "/" + c.getTerminating())
        + "|" + Objects.toString(ep.getNodeName(), "") + "|" + (ref == null ? "" : ref.getUid())
        + "|" + Objects.toString(ep.getZone(), "");
  }

  static String portsKey(List<EndpointPort> ports) {
    if (ports == null || ports.isEmpty()) {
      return "";
    }
    List<String> parts = new ArrayList<>();
    for (EndpointPort p : ports) {
      parts.add(Objects.toString(p.getName(), "") + "/" + Objects.toString(p.getProtocol(), "TCP") + "/" + p.getPort()
          + "/" + Objects.toString(p.getAppProtocol(), ""));
    }
    parts.sort(null);
    return String.join(";", parts);
  }

  /** setEndpointSliceLabels: the Service's labels plus the reserved ones. */
  static Map<String, String> labels(Service svc) {
    Map<String, String> l = new LinkedHashMap<>();
    if (svc.getMetadata().getLabels() != null) {
      svc.getMetadata().getLabels().forEach((k, v) -> {
        if (!k.equals(SERVICE_NAME) && !k.equals(MANAGED_BY) && !k.equals(HEADLESS)) {
          l.put(k, v);
        }
      });
    }
    l.put(SERVICE_NAME, svc.getMetadata().getName());
    l.put(MANAGED_BY, CONTROLLER_NAME);
    if (EndpointPods.headless(svc)) {
      l.put(HEADLESS, "");
    }
    return l;
  }

  private static EndpointSlice newSlice(Service svc, Map<String, String> labels, List<EndpointPort> ports,
      List<Endpoint> endpoints) {
    String prefix = svc.getMetadata().getName();
    if (prefix.length() > 57) {
      prefix = prefix.substring(0, 57);
    }
    return new EndpointSliceBuilder()
        .withNewMetadata()
        .withGenerateName(prefix + "-")
        .withNamespace(svc.getMetadata().getNamespace())
        .withLabels(new LinkedHashMap<>(labels))
        .withOwnerReferences(new OwnerReferenceBuilder().withApiVersion("v1").withKind("Service")
            .withName(svc.getMetadata().getName()).withUid(svc.getMetadata().getUid())
            .withController(true).withBlockOwnerDeletion(true).build())
        .endMetadata()
        .withAddressType("IPv4")
        .withPorts(new ArrayList<>(ports))
        .withEndpoints(new ArrayList<>(endpoints))
        .build();
  }
}
