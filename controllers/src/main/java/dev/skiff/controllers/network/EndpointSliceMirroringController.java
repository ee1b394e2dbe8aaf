package dev.skiff.controllers.network;

import dev.skiff.controllers.ControllerContext;
import dev.skiff.runtime.Controller;
import dev.skiff.runtime.Keys;
import dev.skiff.runtime.Lister;
import dev.skiff.runtime.Result;
import io.fabric8.kubernetes.api.model.EndpointAddress;
import io.fabric8.kubernetes.api.model.EndpointSubset;
import io.fabric8.kubernetes.api.model.Endpoints;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The EndpointSlice mirroring controller (pkg/controller/endpointslicemirroring): Endpoints
 * written by hand for a Service without a selector (the usual way to point a Service at
 * something outside the cluster) are mirrored into EndpointSlices, so that everything reading
 * slices (the service proxy, cluster DNS) sees them. Slices: named {@code <endpoints>-<random>},
 * labels = the Endpoints' labels + {@code kubernetes.io/service-name} +
 * {@code endpointslice.kubernetes.io/managed-by=endpointslicemirroring-controller.k8s.io}, owned by
 * the Endpoints; one group of slices per subset port set, at most 100 endpoints per slice and
 * 1,000 per subset, IPv4 addresses only; {@code addresses} are ready, {@code notReadyAddresses}
 * not. Endpoints labelled {@code endpointslice.kubernetes.io/skip-mirror=true} (the API server's
 * {@code kubernetes} Endpoints), Endpoints of a Service with a selector, and Endpoints without a
 * Service are not mirrored (their mirrored slices are deleted). A port set's slices are rewritten
 * whole when its endpoints change. Thread-safe.
 */
public final class EndpointSliceMirroringController implements AutoCloseable {
  public static final String CONTROLLER_NAME = "endpointslicemirroring-controller.k8s.io";
  static final String SKIP_MIRROR = "endpointslice.kubernetes.io/skip-mirror";
  private static final int MAX_PER_SLICE = 100;
  private static final int MAX_PER_SUBSET = 1000;

  private final Lister<Endpoints> endpoints;
  private final Lister<Service> services;
  private final Lister<EndpointSlice> slices;
  private final SliceWriter writer;
  private final Controller controller;

  private EndpointSliceMirroringController(ControllerContext ctx) {
    this.endpoints = ctx.informers().informerFor(Endpoints.class).lister();
    this.services = ctx.informers().informerFor(Service.class).lister();
    this.slices = ctx.informers().informerFor(EndpointSlice.class).lister();
    this.writer = new SliceWriter(ctx.client(), slices);
    this.controller = Controller.builder("endpointslicemirroring", ctx.informers())
        .watches(Endpoints.class)
        .watches(Service.class)
        .watches(EndpointSlice.class, EndpointSliceMirroringController::mirroredFrom)
        .workers(ctx.intOption("endpointslicemirroring.workers", 2))
        .clock(ctx.clock())
        .reconciler(this::sync)
        .build();
  }

  /** Builds the controller; its workers start with the others ({@code Controllers} entry point). */
  public static EndpointSliceMirroringController start(ControllerContext ctx) {
    EndpointSliceMirroringController c = new EndpointSliceMirroringController(ctx);
    ctx.afterAllCreated(c.controller::start);
    return c;
  }

  @Override
  public void close() throws InterruptedException {
    controller.stop(Duration.ofSeconds(5));
  }

  private static List<String> mirroredFrom(EndpointSlice slice) {
    Map<String, String> l = slice.getMetadata().getLabels();
    if (l == null || !CONTROLLER_NAME.equals(l.get(EndpointSliceController.MANAGED_BY))
        || l.get(EndpointSliceController.SERVICE_NAME) == null) {
      return List.of();
    }
    return List.of(Keys.of(slice.getMetadata().getNamespace(), l.get(EndpointSliceController.SERVICE_NAME)));
  }

  Result sync(String key) {
    String ns = Keys.namespace(key);
    String name = Keys.name(key);
    if (!writer.caughtUp(key, ns)) {
      return Result.requeueAfter(Duration.ofSeconds(1)); // our own writes' events bring the key back sooner
    }
    List<EndpointSlice> existing = new ArrayList<>();
    for (EndpointSlice s : slices.list(ns)) {
      if (mirroredFrom(s).contains(key)) {
        existing.add(s);
      }
    }
    existing.sort(Comparator.comparing(s -> s.getMetadata().getName()));
    Endpoints ep = endpoints.get(ns, name);
    Service svc = services.get(ns, name);
    boolean mirror = ep != null && svc != null && EndpointPods.selector(svc) == null
        && !"ExternalName".equals(svc.getSpec().getType())
        && (ep.getMetadata().getLabels() == null || !"true".equals(ep.getMetadata().getLabels().get(SKIP_MIRROR)));
    if (!mirror) {
      writer.apply(key, ns, List.of(), List.of(), existing);
      if (ep == null) {
        writer.forget(key);
      }
      return Result.done();
    }
    // Desired endpoints per port set (in subset order).
    Map<String, List<EndpointPort>> portsByKey = new LinkedHashMap<>();
    Map<String, List<Endpoint>> desired = new LinkedHashMap<>();
    for (EndpointSubset subset : ep.getSubsets() == null ? List.<EndpointSubset>of() : ep.getSubsets()) {
      List<EndpointPort> ports = new ArrayList<>();
      for (var p : subset.getPorts() == null ? List.<io.fabric8.kubernetes.api.model.EndpointPort>of() : subset.getPorts()) {
        ports.add(new EndpointPortBuilder().withName(p.getName() == null ? "" : p.getName()).withPort(p.getPort())
            .withProtocol(p.getProtocol() == null ? "TCP" : p.getProtocol()).withAppProtocol(p.getAppProtocol()).build());
      }
      String pk = EndpointSliceController.portsKey(ports);
      portsByKey.putIfAbsent(pk, ports);
      List<Endpoint> list = desired.computeIfAbsent(pk, k -> new ArrayList<>());
      int taken = 0;
      for (boolean ready : new boolean[] {true, false}) {
        List<EndpointAddress> addresses = ready ? subset.getAddresses() : subset.getNotReadyAddresses();
        for (EndpointAddress a : addresses == null ? List.<EndpointAddress>of() : addresses) {
          if (a.getIp() == null || a.getIp().contains(":") || taken >= MAX_PER_SUBSET) {
            continue;
          }
          taken++;
          EndpointBuilder b = new EndpointBuilder().withAddresses(a.getIp()).withNewConditions().withReady(ready).endConditions()
              .withTargetRef(a.getTargetRef());
          if (a.getNodeName() != null && !a.getNodeName().isEmpty()) {
            b.withNodeName(a.getNodeName());
          }
          if (a.getHostname() != null && !a.getHostname().isEmpty()) {
            b.withHostname(a.getHostname());
          }
          list.add(b.build());
        }
      }
    }
    Map<String, String> labels = new LinkedHashMap<>();
    if (ep.getMetadata().getLabels() != null) {
      labels.putAll(ep.getMetadata().getLabels());
    }
    labels.put(EndpointSliceController.SERVICE_NAME, name);
    labels.put(EndpointSliceController.MANAGED_BY, CONTROLLER_NAME);
    Map<String, String> annotations = new LinkedHashMap<>();
    if (ep.getMetadata().getAnnotations() != null) {
      annotations.putAll(ep.getMetadata().getAnnotations());
    }
    annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    annotations.remove(TriggerTimes.ANNOTATION);

    Map<String, List<EndpointSlice>> existingByKey = new LinkedHashMap<>();
    for (EndpointSlice s : existing) {
      existingByKey.computeIfAbsent(EndpointSliceController.portsKey(s.getPorts()), k -> new ArrayList<>()).add(s);
    }
    List<EndpointSlice> create = new ArrayList<>();
    List<EndpointSlice> update = new ArrayList<>();
    List<EndpointSlice> delete = new ArrayList<>();
    for (var e : existingByKey.entrySet()) {
      if (!desired.containsKey(e.getKey())) {
        delete.addAll(e.getValue());
      }
    }
    for (var e : desired.entrySet()) {
      List<List<Endpoint>> chunks = new ArrayList<>();
      List<Endpoint> all = e.getValue();
      for (int i = 0; i < all.size(); i += MAX_PER_SLICE) {
        chunks.add(new ArrayList<>(all.subList(i, Math.min(all.size(), i + MAX_PER_SLICE))));
      }
      if (chunks.isEmpty()) {
        chunks.add(new ArrayList<>());
      }
      List<EndpointSlice> have = existingByKey.getOrDefault(e.getKey(), List.of());
      for (int i = 0; i < chunks.size(); i++) {
        List<Endpoint> chunk = chunks.get(i);
        if (i < have.size()) {
          EndpointSlice cur = have.get(i);
          if (!same(cur, chunk, labels, annotations)) {
            update.add(new EndpointSliceBuilder(cur).editMetadata().withLabels(labels).withAnnotations(annotations).endMetadata()
                .withEndpoints(chunk).build());
          }
        } else {
          create.add(new EndpointSliceBuilder().withNewMetadata()
              .withGenerateName((name.length() > 57 ? name.substring(0, 57) : name) + "-").withNamespace(ns)
              .withLabels(labels).withAnnotations(annotations)
              .withOwnerReferences(new OwnerReferenceBuilder().withApiVersion("v1").withKind("Endpoints")
                  .withName(name).withUid(ep.getMetadata().getUid()).withController(true).withBlockOwnerDeletion(true).build())
              .endMetadata().withAddressType("IPv4").withPorts(portsByKey.get(e.getKey())).withEndpoints(chunk).build());
        }
      }
      for (int i = chunks.size(); i < have.size(); i++) {
        delete.add(have.get(i));
      }
    }
    writer.apply(key, ns, create, update, delete);
    return Result.done();
  }

  private static boolean same(EndpointSlice cur, List<Endpoint> want, Map<String, String> labels, Map<String, String> annotations) {
    if (!labels.equals(cur.getMetadata().getLabels() == null ? Map.of() : cur.getMetadata().getLabels())
        || !annotations.equals(cur.getMetadata().getAnnotations() == null ? Map.of() : cur.getMetadata().getAnnotations())) {
      return false;
    }
    List<Endpoint> have = cur.getEndpoints() == null ? List.of() : cur.getEndpoints();
    if (have.size() != want.size()) {
      return false;
    }
    for (int i = 0; i < have.size(); i++) {
      if (!EndpointSliceController.endpointState(have.get(i)).equals(EndpointSliceController.endpointState(want.get(i)))
          || !Objects.equals(have.get(i).getHostname(), want.get(i).getHostname())) {
        return false;
      }
    }
    return true;
  }
}
