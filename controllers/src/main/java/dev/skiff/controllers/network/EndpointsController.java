package dev.skiff.controllers.network;

import dev.skiff.controllers.ControllerContext;
import dev.skiff.runtime.Controller;
import dev.skiff.runtime.Keys;
import dev.skiff.runtime.Lister;
import dev.skiff.runtime.Result;
import io.fabric8.kubernetes.api.model.EndpointAddress;
import io.fabric8.kubernetes.api.model.EndpointAddressBuilder;
import io.fabric8.kubernetes.api.model.EndpointPort;
import io.fabric8.kubernetes.api.model.EndpointPortBuilder;
import io.fabric8.kubernetes.api.model.EndpointSubset;
import io.fabric8.kubernetes.api.model.Endpoints;
import io.fabric8.kubernetes.api.model.EndpointsBuilder;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The legacy Endpoints controller (pkg/controller/endpoint/endpoints_controller.go): for every
 * Service with a selector, an Endpoints object of the same name whose subsets list the selected
 * pods' IPs under {@code addresses} (Ready) or {@code notReadyAddresses}, with the Service's ports
 * resolved per pod, labelled {@code endpoints.kubernetes.io/managed-by=endpoint-controller} (plus the
 * Service's labels), packed as {@code RepackSubsets} does (one subset per distinct port set,
 * addresses sorted by IP). Terminating pods are left out unless publishNotReadyAddresses. The
 * Endpoints object is deleted with its Service, and only written when its content changes.
 * Deprecated upstream since 1.33 but still what {@code kubectl get endpoints} and
 * {@code kubectl describe svc} of older clients read. Thread-safe.
 */
public final class EndpointsController implements AutoCloseable {
  /** endpoints_controller.go LabelManagedBy / ControllerName. */
  public static final String MANAGED_BY = "endpoints.kubernetes.io/managed-by";
  public static final String CONTROLLER_NAME = "endpoint-controller";

  private final KubernetesClient client;
  private final Lister<Service> services;
  private final Lister<Pod> pods;
  private final Lister<Endpoints> endpoints;
  private final Controller controller;
  /** Per key: the resourceVersion of this controller's last write, until the informer has it (staleEndpointsTracker). */
  private final Map<String, long[]> written = new java.util.concurrent.ConcurrentHashMap<>();
  private final TriggerTimes triggerTimes = new TriggerTimes();

  private EndpointsController(ControllerContext ctx) {
    this.client = ctx.client();
    this.services = ctx.informers().informerFor(Service.class).lister();
    this.pods = ctx.informers().informerFor(Pod.class).lister();
    this.endpoints = ctx.informers().informerFor(Endpoints.class).lister();
    this.controller = Controller.builder("endpoints", ctx.informers())
        .watches(Service.class)
        .watches(Pod.class, this::servicesSelecting)
        .watches(Endpoints.class)
        .workers(ctx.intOption("endpoints.workers", 5))
        .clock(ctx.clock())
        .reconciler(this::sync)
        .build();
  }

  /** Builds the controller; its workers start with the others ({@code Controllers} entry point). */
  public static EndpointsController start(ControllerContext ctx) {
    EndpointsController c = new EndpointsController(ctx);
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

  Result sync(String key) {
    String ns = Keys.namespace(key);
    String name = Keys.name(key);
    Service svc = services.get(ns, name);
    Endpoints current = endpoints.get(ns, name);
    long[] mine = written.get(key);
    if (mine != null) {
      boolean seen = current != null && rv(current) >= mine[0];
      if (!seen && System.nanoTime() - mine[1] < SliceWriter.STALE_LIMIT_NANOS) {
        // The cache lags behind our own write: its informer event enqueues this key again at
        // once; the delayed requeue is only a safety net.
        return Result.requeueAfter(Duration.ofSeconds(1));
      }
      written.remove(key, mine);
    }
    if (svc == null) {
      triggerTimes.forget(key);
      // The Service is gone: so are its endpoints (a same-named Endpoints without Service is ours to delete).
      if (current != null) {
        try {
          client.endpoints().inNamespace(ns).withName(name).delete();
        } catch (KubernetesClientException e) {
          if (e.getCode() != 404) {
            throw e;
          }
        }
      }
      return Result.done();
    }
    Map<String, String> selector = EndpointPods.selector(svc);
    if (selector == null) {
      return Result.done();
    }
    boolean publishNotReady = Boolean.TRUE.equals(svc.getSpec().getPublishNotReadyAddresses());
    // Port set key -> (ports, ready addresses, not-ready addresses)
    Map<String, Subset> subsets = new TreeMap<>();
    List<Pod> selected = new ArrayList<>();
    for (Pod pod : pods.list(ns)) {
      if (EndpointPods.matches(selector, pod)) {
        selected.add(pod);
      }
    }
    String trigger = triggerTimes.compute(key, svc, selected);
    for (Pod pod : selected) {
      if (!EndpointPods.shouldBeInEndpoints(pod, publishNotReady)) {
        continue;
      }
      List<String> ips = EndpointPods.ipv4Addresses(pod);
      EndpointAddressBuilder ab = new EndpointAddressBuilder().withIp(ips.get(0))
          .withTargetRef(new ObjectReferenceBuilder().withKind("Pod").withNamespace(ns)
              .withName(pod.getMetadata().getName()).withUid(pod.getMetadata().getUid()).build());
      String node = pod.getSpec() == null ? null : pod.getSpec().getNodeName();
      if (node != null && !node.isEmpty()) {
        ab.withNodeName(node);
      }
      String hostname = EndpointPods.hostname(pod, svc);
      if (hostname != null) {
        ab.withHostname(hostname);
      }
      EndpointAddress address = ab.build();
      boolean ready = publishNotReady || EndpointPods.isReady(pod);
      List<EndpointPort> ports = new ArrayList<>();
      List<ServicePort> sps = svc.getSpec().getPorts() == null ? List.of() : svc.getSpec().getPorts();
      for (ServicePort sp : sps) {
        int port = EndpointPods.findPort(pod, sp);
        if (port > 0) {
          ports.add(new EndpointPortBuilder().withName(sp.getName() == null || sp.getName().isEmpty() ? null : sp.getName())
              .withPort(port).withProtocol(EndpointPods.protocol(sp)).withAppProtocol(sp.getAppProtocol()).build());
        }
      }
      if (ports.isEmpty() && !sps.isEmpty()) {
        continue; // no port of this Service resolves on the pod
      }
      ports.sort(Comparator.comparing((EndpointPort p) -> Objects.toString(p.getName(), "")).thenComparing(EndpointPort::getPort));
      Subset s = subsets.computeIfAbsent(portsKey(ports), k -> new Subset(ports));
      (ready ? s.ready : s.notReady).add(address);
    }
    List<EndpointSubset> desired = new ArrayList<>();
    for (Subset s : subsets.values()) {
      s.ready.sort(ADDRESS_ORDER);
      s.notReady.sort(ADDRESS_ORDER);
      desired.add(new io.fabric8.kubernetes.api.model.EndpointSubsetBuilder()
          .withAddresses(s.ready).withNotReadyAddresses(s.notReady).withPorts(s.ports).build());
    }
    Map<String, String> labels = new LinkedHashMap<>();
    if (svc.getMetadata().getLabels() != null) {
      labels.putAll(svc.getMetadata().getLabels());
    }
    if (EndpointPods.headless(svc)) {
      labels.put(EndpointSliceController.HEADLESS, "");
    } else {
      labels.remove(EndpointSliceController.HEADLESS);
    }
    labels.put(MANAGED_BY, CONTROLLER_NAME);
    if (current != null && canonical(current.getSubsets()).equals(canonical(desired))
        && labels.equals(current.getMetadata().getLabels() == null ? Map.of() : current.getMetadata().getLabels())) {
      return Result.done();
    }
    Map<String, String> annotations = new LinkedHashMap<>();
    if (current != null && current.getMetadata().getAnnotations() != null) {
      annotations.putAll(current.getMetadata().getAnnotations());
    }
    if (trigger != null) {
      annotations.put(TriggerTimes.ANNOTATION, trigger);
    } else {
      annotations.remove(TriggerTimes.ANNOTATION);
    }
    if (current == null) {
      Endpoints ep = new EndpointsBuilder().withNewMetadata().withName(name).withNamespace(ns).withLabels(labels)
          .withAnnotations(annotations).endMetadata().withSubsets(desired).build();
      written.put(key, new long[] {rv(client.endpoints().inNamespace(ns).resource(ep).create()), System.nanoTime()});
    } else {
      Endpoints ep = new EndpointsBuilder(current).editMetadata().withLabels(labels).withAnnotations(annotations).endMetadata()
          .withSubsets(desired).build();
      written.put(key, new long[] {rv(client.endpoints().inNamespace(ns).resource(ep).update()), System.nanoTime()});
    }
    return Result.done();
  }

  private static final Comparator<EndpointAddress> ADDRESS_ORDER = Comparator
      .comparing((EndpointAddress a) -> ipSortKey(a.getIp()))
      .thenComparing(a -> a.getTargetRef() == null ? "" : Objects.toString(a.getTargetRef().getUid(), ""));

  private static final class Subset {
    final List<EndpointPort> ports;
    final List<EndpointAddress> ready = new ArrayList<>();
    final List<EndpointAddress> notReady = new ArrayList<>();

    Subset(List<EndpointPort> ports) {
      this.ports = ports;
    }
  }

  private static long rv(Endpoints e) {
    try {
      return Long.parseLong(e.getMetadata().getResourceVersion());
    } catch (RuntimeException ex) {
      return Long.MIN_VALUE; // opaque versions: never wait on them
    }
  }

  private static String ipSortKey(String ip) {
    StringBuilder sb = new StringBuilder();
    for (String part : ip.split("\\.")) {
      sb.append(String.format("%03d", part.matches("\\d+") ? Integer.parseInt(part) : 0));
    }
    return sb.toString();
  }

  private static String portsKey(List<EndpointPort> ports) {
    StringBuilder sb = new StringBuilder();
    for (EndpointPort p : ports) {
      sb.append(Objects.toString(p.getName(), "")).append('/').append(p.getProtocol()).append('/').append(p.getPort())
          .append('/').append(Objects.toString(p.getAppProtocol(), "")).append(';');
    }
    return sb.toString();
  }

  /** The subsets' content in a form that ignores representation details (null vs empty lists). */
  private static String canonical(List<EndpointSubset> subsets) {
    StringBuilder sb = new StringBuilder();
    for (EndpointSubset s : subsets == null ? List.<EndpointSubset>of() : subsets) {
      sb.append('[');
      for (List<EndpointAddress> list : List.of(nz(s.getAddresses()), nz(s.getNotReadyAddresses()))) {
        sb.append('(');
        for (EndpointAddress a : list) {
          sb.append(a.getIp()).append(',').append(Objects.toString(a.getNodeName(), "")).append(',')
              .append(Objects.toString(a.getHostname(), "")).append(',')
              .append(a.getTargetRef() == null ? "" : a.getTargetRef().getName() + "/" + a.getTargetRef().getUid())
              .append(' ');
        }
        sb.append(')');
      }
      List<EndpointPort> ports = s.getPorts() == null ? List.of() : s.getPorts();
      for (EndpointPort p : ports) {
        sb.append(Objects.toString(p.getName(), "")).append('/').append(Objects.toString(p.getProtocol(), "TCP"))
            .append('/').append(p.getPort()).append('/').append(Objects.toString(p.getAppProtocol(), "")).append(';');
      }
      sb.append(']');
    }
    return sb.toString();
  }

  private static <T> List<T> nz(List<T> l) {
    return l == null ? List.of() : l;
  }
}
