package dev.skiff.serving;

import dev.skiff.runtime.Clock;
import dev.skiff.runtime.Controller;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.Keys;
import dev.skiff.runtime.Lister;
import dev.skiff.runtime.Result;
import dev.skiff.runtime.SharedInformers;
import dev.skiff.serving.v1.Configuration;
import dev.skiff.serving.v1.Knative;
import dev.skiff.serving.v1.Revision;
import dev.skiff.serving.v1.Route;
import dev.skiff.serving.v1.Status;
import dev.skiff.serving.v1.TrafficTarget;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import dev.skiff.serving.gateway.GatewayLease;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.fabric8.kubernetes.api.model.ServiceSpec;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * The Route controller (knative.dev/serving pkg/reconciler/route, traffic/traffic.go,
 * domains/domains.go). Resolves {@code spec.traffic} to revisions ({@code configurationName} to
 * that Configuration's latestReadyRevisionName) and, when every target resolves, publishes
 * {@code status.traffic} (revision names only, duplicates of the same tag/revision/latestRevision
 * merged, tagged entries with their URL), which is what the gateway routes by (CONTRACTS.md).
 *
 * <p>URLs: {@code http://<name>.<ns>.<domain>[:port]}, tag URLs {@code http://<tag>-<name>.<ns>.<domain>[:port]};
 * the domain from ConfigMap knative-serving/config-domain (the selector-less key, or the most
 * specific key whose {@code selector:} matches the Route's labels; default {@code localhost}),
 * the port from knative-serving/config-network {@code skiff.dev/gateway-http-port} (omitted when
 * 80 or unknown). A Route labelled {@code networking.knative.dev/visibility=cluster-local} gets
 * {@code http://<name>.<ns>.svc.<cluster-domain>} instead. {@code status.address.url} is always the
 * cluster-local one.
 *
 * <p>It owns a Kubernetes Service named after the Route, selector-less (ClusterIP, port 80 named
 * http, targetPort the gateway port), labelled {@code serving.knative.dev/route} plus the Route's
 * labels and annotations, so the cluster-local name exists in cluster DNS; traffic to it is the
 * gateway's business. It marks referenced revisions {@code routingState=active} with the
 * {@code serving.knative.dev/routes} annotation, and unreferenced ones {@code reserve}.
 *
 * <p>Conditions: AllTrafficAssigned (False {@code ConfigurationMissing}/{@code RevisionMissing} for
 * missing or failed targets, Unknown {@code RevisionMissing} while they get ready), IngressReady
 * (True once traffic is assigned: the gateway reads status directly), CertificateProvisioned
 * (True, {@code TLSNotEnabled}), Ready. Events: Created. Thread-safe.
 */
final class RouteReconciler {
  static final String DEFAULT_DOMAIN = "localhost";
  static final String GATEWAY_PORT_KEY = "skiff.dev/gateway-http-port";

  private final KubernetesClient client;
  private final EventRecorder recorder;
  private final Clock clock;
  private final String clusterDomain;
  private final Lister<Route> routes;
  private final Lister<Configuration> configurations;
  private final Lister<Revision> revisions;
  private final Lister<ConfigMap> configMaps;
  private final Lister<Service> services;
  private final Lister<Node> nodes;
  private final Lister<Lease> leases;
  private final Lister<EndpointSlice> slices;
  private final Controller controller;

  RouteReconciler(SharedInformers informers, KubernetesClient client, EventRecorder recorder, Clock clock, String clusterDomain) {
    this.client = client;
    this.recorder = recorder;
    this.clock = clock;
    this.clusterDomain = clusterDomain;
    this.routes = informers.informerFor(Route.class).lister();
    this.configurations = informers.informerFor(Configuration.class).lister();
    this.revisions = informers.informerFor(Revision.class).lister();
    this.configMaps = informers.informerFor(ConfigMap.class).lister();
    this.services = informers.informerFor(Service.class).lister();
    this.nodes = informers.informerFor(Node.class).lister();
    this.leases = informers.informerFor(Lease.class).lister();
    this.slices = informers.informerFor(EndpointSlice.class).lister();
    this.controller = Controller.builder("knative-route-controller", informers)
        .watches(Route.class)
        .owns(Service.class, Route.class)
        .owns(EndpointSlice.class, Route.class)
        .watches(Node.class, n -> routesIn(null))
        .watches(Lease.class, l -> Knative.SYSTEM_NAMESPACE.equals(l.getMetadata().getNamespace())
            && l.getMetadata().getName().startsWith(GatewayLease.PREFIX) ? routesIn(null) : List.of())
        .watches(Configuration.class, c -> routesIn(c.getMetadata().getNamespace()))
        .watches(Revision.class, r -> routesIn(r.getMetadata().getNamespace()))
        .watches(ConfigMap.class, cm -> Knative.SYSTEM_NAMESPACE.equals(cm.getMetadata().getNamespace())
            ? routesIn(null) : List.of())
        .clock(clock)
        .workers(2)
        .reconciler(this::reconcile)
        .build();
  }

  Controller controller() {
    return controller;
  }

  private List<String> routesIn(String ns) {
    List<String> keys = new ArrayList<>();
    for (Route r : ns == null ? routes.list() : routes.list(ns)) {
      keys.add(Keys.of(r));
    }
    return keys;
  }

  /** A target that cannot be resolved yet (Unknown) or at all (False). */
  private record Problem(boolean failed, String reason, String message) {}

  Result reconcile(String key) {
    Route route = routes.getByKey(key);
    if (route == null || Children.deleting(route)) {
      return Result.done();
    }
    String ns = route.getMetadata().getNamespace();
    String name = route.getMetadata().getName();
    Instant now = Instant.ofEpochMilli(clock.currentTimeMillis());
    Status st = route.getStatus() == null ? new Status() : Knative.copy(route.getStatus());
    st.setObservedGeneration(route.getMetadata().getGeneration());

    int gatewayPort = gatewayPort(configMaps.get(Knative.SYSTEM_NAMESPACE, "config-network"));
    ensureService(route, gatewayPort);
    Instant gatewayExpiry = ensureEndpoints(route, gatewayPort, now);

    boolean clusterLocal = "cluster-local".equals(label(route, Knative.VISIBILITY_LABEL));
    String domain = domain(data(configMaps.get(Knative.SYSTEM_NAMESPACE, "config-domain")),
        route.getMetadata().getLabels() == null ? Map.of() : route.getMetadata().getLabels());
    String portSuffix = gatewayPort <= 0 || gatewayPort == 80 ? "" : ":" + gatewayPort;
    String localHost = name + "." + ns + ".svc." + clusterDomain;
    st.setUrl(clusterLocal ? "http://" + localHost : "http://" + name + "." + ns + "." + domain + portSuffix);
    Map<String, String> address = new LinkedHashMap<>();
    address.put("url", "http://" + localHost);
    st.setAddress(address);

    // Resolve the targets.
    Problem problem = null;
    List<TrafficTarget> resolved = new ArrayList<>();
    for (TrafficTarget t : route.getSpec().getTraffic() == null ? List.<TrafficTarget>of() : route.getSpec().getTraffic()) {
      TrafficTarget r = Knative.copy(t);
      r.setUrl(null);
      Problem p = null;
      if (t.getConfigurationName() != null && !t.getConfigurationName().isEmpty()) {
        Configuration cfg = configurations.get(ns, t.getConfigurationName());
        if (cfg == null) {
          p = new Problem(true, "ConfigurationMissing", "Configuration \"" + t.getConfigurationName() + "\" referenced in traffic not found.");
        } else if (cfg.getStatus() == null || cfg.getStatus().getLatestReadyRevisionName() == null) {
          p = cfg.getStatus() != null && cfg.getStatus().isFalse("Ready")
              ? new Problem(true, "RevisionMissing", "Configuration \"" + t.getConfigurationName() + "\" does not have any ready Revision.")
              : new Problem(false, "RevisionMissing", "Configuration \"" + t.getConfigurationName() + "\" is waiting for a Revision to become ready.");
        } else {
          r.setRevisionName(cfg.getStatus().getLatestReadyRevisionName());
          r.setConfigurationName(null);
          r.setLatestRevision(true);
        }
      } else if (t.getRevisionName() != null) {
        Revision rev = revisions.get(ns, t.getRevisionName());
        if (rev == null) {
          p = new Problem(true, "RevisionMissing", "Revision \"" + t.getRevisionName() + "\" referenced in traffic not found.");
        } else if (rev.getStatus() == null || !rev.getStatus().isTrue("Ready")) {
          p = rev.getStatus() != null && rev.getStatus().isFalse("Ready")
              ? new Problem(true, "RevisionMissing", "Revision \"" + t.getRevisionName() + "\" failed to become ready.")
              : new Problem(false, "RevisionMissing", "Revision \"" + t.getRevisionName() + "\" is not ready.");
        } else if (route.getMetadata().getLabels() != null && route.getMetadata().getLabels().get(Knative.SERVICE_LABEL) != null
            && !Objects.equals(route.getMetadata().getLabels().get(Knative.SERVICE_LABEL), label(rev, Knative.SERVICE_LABEL))) {
          p = new Problem(true, "RevisionNotOwned", "Revision \"" + t.getRevisionName() + "\" is not owned by Service \""
              + route.getMetadata().getLabels().get(Knative.SERVICE_LABEL) + "\".");
        }
        r.setLatestRevision(false);
      }
      if (r.getPercent() == null) {
        r.setPercent(0L);
      }
      if (p != null && (problem == null || (p.failed() && !problem.failed()))) {
        problem = p;
      }
      resolved.add(r);
    }

    if (problem == null) {
      List<TrafficTarget> traffic = consolidate(resolved);
      for (TrafficTarget t : traffic) {
        if (t.getTag() != null && !t.getTag().isEmpty()) {
          t.setUrl(clusterLocal ? "http://" + t.getTag() + "-" + localHost
              : "http://" + t.getTag() + "-" + name + "." + ns + "." + domain + portSuffix);
        }
      }
      st.setTraffic(traffic);
      Conditions.set(st, "AllTrafficAssigned", "True", null, null, now);
      Conditions.set(st, "IngressReady", "True", null, null, now);
      markRoutingState(route, traffic, now);
    } else {
      // Knative keeps serving the last good traffic while the new one cannot be assigned.
      Conditions.set(st, "AllTrafficAssigned", problem.failed() ? "False" : "Unknown", problem.reason(), problem.message(), now);
      if (st.condition("IngressReady") == null) {
        Conditions.set(st, "IngressReady", "Unknown", "IngressNotConfigured", "Ingress has not yet been reconciled.", now);
      }
    }
    Conditions.set(st, "CertificateProvisioned", "True", "TLSNotEnabled", "autoTLS is not enabled", now);
    Conditions.ready(st, now, "AllTrafficAssigned", "IngressReady", "CertificateProvisioned");
    Result r = writeStatus(route, st);
    if (gatewayExpiry != null && !r.isRateLimitedRequeue() && r.delay().isEmpty()) {
      // a gateway that stops renewing leaves the endpoints when its Lease runs out
      return Result.requeueAfter(java.time.Duration.between(now, gatewayExpiry).plusSeconds(1));
    }
    return r;
  }

  /** Merges entries with the same tag, revision and latestRevision (traffic.go consolidate). */
  static List<TrafficTarget> consolidate(List<TrafficTarget> in) {
    List<TrafficTarget> out = new ArrayList<>();
    Map<String, TrafficTarget> byKey = new HashMap<>();
    for (TrafficTarget t : in) {
      String k = t.getTag() + "\u0000" + t.getRevisionName() + "\u0000" + t.getLatestRevision();
      TrafficTarget have = byKey.get(k);
      if (have == null) {
        TrafficTarget c = Knative.copy(t);
        if (c.getPercent() == null) {
          c.setPercent(0L);
        }
        byKey.put(k, c);
        out.add(c);
      } else {
        have.setPercent(have.getPercent() + (t.getPercent() == null ? 0 : t.getPercent()));
      }
    }
    return out;
  }

  /** Same targets (tag, revision, percent, latestRevision), URLs aside. */
  static boolean sameTraffic(List<TrafficTarget> want, List<TrafficTarget> got) {
    if (got == null || want.size() != got.size()) {
      return false;
    }
    for (int i = 0; i < want.size(); i++) {
      TrafficTarget a = want.get(i);
      TrafficTarget b = got.get(i);
      if (!Objects.equals(emptyToNull(a.getTag()), emptyToNull(b.getTag())) || !Objects.equals(a.getRevisionName(), b.getRevisionName())
          || !Objects.equals(a.getPercent() == null ? 0L : a.getPercent(), b.getPercent() == null ? 0L : b.getPercent())) {
        return false;
      }
    }
    return true;
  }

  private static String emptyToNull(String s) {
    return s == null || s.isEmpty() ? null : s;
  }

  private static String label(io.fabric8.kubernetes.api.model.HasMetadata o, String key) {
    return o.getMetadata().getLabels() == null ? null : o.getMetadata().getLabels().get(key);
  }

  private static Map<String, String> data(ConfigMap cm) {
    return cm == null || cm.getData() == null ? Map.of() : cm.getData();
  }

  /**
   * The port the gateway bound (CONTRACTS.md). {@code skiff.dev/gateway-http-port} is not a valid
   * ConfigMap data key (no '/'), so it is read as an annotation of config-network, then as the
   * data keys {@code gateway-http-port} and {@code skiff.dev.gateway-http-port}; 0 when unknown.
   */
  static int gatewayPort(ConfigMap cm) {
    if (cm == null) {
      return 0;
    }
    Map<String, String> ann = cm.getMetadata().getAnnotations() == null ? Map.of() : cm.getMetadata().getAnnotations();
    Map<String, String> data = data(cm);
    String v = ann.get(GATEWAY_PORT_KEY);
    if (v == null) {
      v = data.getOrDefault("gateway-http-port", data.get("skiff.dev.gateway-http-port"));
    }
    try {
      return v == null ? 0 : Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /**
   * config-domain (route/config/domain.go): each key is a domain, its value empty or a
   * {@code selector:} block of labels; the matching key with the most labels wins, ties broken
   * alphabetically; a key without selector matches everything. No key: {@code localhost}.
   */
  static String domain(Map<String, String> config, Map<String, String> labels) {
    String best = null;
    int bestSize = -1;
    for (String d : new TreeSet<>(config.keySet())) {
      if (d.startsWith("_")) {
        continue; // _example
      }
      Map<String, String> sel = selector(config.get(d));
      boolean matches = sel.entrySet().stream().allMatch(e -> e.getValue().equals(labels.get(e.getKey())));
      if (matches && sel.size() > bestSize) {
        best = d;
        bestSize = sel.size();
      }
    }
    return best == null ? DEFAULT_DOMAIN : best;
  }

  private static Map<String, String> selector(String value) {
    Map<String, String> out = new LinkedHashMap<>();
    if (value == null) {
      return out;
    }
    boolean in = false;
    for (String line : value.split("\n")) {
      String t = line.strip();
      if (t.startsWith("selector:")) {
        in = true;
        continue;
      }
      int colon = t.indexOf(':');
      if (in && colon > 0) {
        out.put(t.substring(0, colon).strip(), t.substring(colon + 1).strip().replace("\"", ""));
      }
    }
    return out;
  }

  /** The selector-less Kubernetes Service named after the Route (route/resources/service.go, placeholder). */
  private void ensureService(Route route, int gatewayPort) {
    String ns = route.getMetadata().getNamespace();
    String name = route.getMetadata().getName();
    Map<String, String> labels = Children.labels(route.getMetadata().getLabels());
    labels.put(Knative.ROUTE_LABEL, name);
    Map<String, String> annotations = Children.annotations(route.getMetadata().getAnnotations());
    int target = gatewayPort > 0 ? gatewayPort : 80;
    Service have = services.get(ns, name);
    if (have == null) {
      Service s = new Service();
      ObjectMeta m = new ObjectMeta();
      m.setName(name);
      m.setNamespace(ns);
      m.setLabels(labels);
      m.setAnnotations(annotations);
      m.setOwnerReferences(List.of(Children.controllerRef(route)));
      s.setMetadata(m);
      ServiceSpec spec = new ServiceSpec();
      spec.setType("ClusterIP");
      spec.setPorts(List.of(new ServicePortBuilder().withName("http").withPort(80).withProtocol("TCP")
          .withTargetPort(new IntOrString(target)).build()));
      s.setSpec(spec);
      try {
        client.services().inNamespace(ns).resource(s).create();
        recorder.event(route, EventRecorder.NORMAL, "Created", "Created placeholder service \"%s\"", name);
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          throw e;
        }
      }
      return;
    }
    if (!Children.controlledBy(have, route)) {
      return;
    }
    boolean portOk = have.getSpec().getPorts() != null && have.getSpec().getPorts().size() == 1
        && new IntOrString(target).equals(have.getSpec().getPorts().get(0).getTargetPort());
    if (!portOk || !Objects.equals(Children.labels(have.getMetadata().getLabels()), labels)
        || !Objects.equals(Children.annotations(have.getMetadata().getAnnotations()), annotations)) {
      Service next = Knative.copy(have);
      next.getMetadata().setLabels(labels);
      next.getMetadata().setAnnotations(annotations);
      next.getSpec().setPorts(List.of(new ServicePortBuilder().withName("http").withPort(80).withProtocol("TCP")
          .withTargetPort(new IntOrString(target)).build()));
      client.services().inNamespace(ns).resource(next).update();
    }
  }

  /**
   * The endpoints behind the Route's selector-less Service: the gateway on every Ready node that
   * runs one (a live {@link GatewayLease}; its InternalIP, the gateway port), in an EndpointSlice
   * {@code <route>-gateway} managed by serving.knative.dev; none while the gateway port is
   * unknown. Returns when the first of those Leases expires unless renewed (null: none), when
   * the endpoints must be looked at again.
   */
  private Instant ensureEndpoints(Route route, int gatewayPort, Instant now) {
    String ns = route.getMetadata().getNamespace();
    String name = route.getMetadata().getName();
    String sliceName = name + "-gateway";
    Map<String, Instant> gateways = new HashMap<>();
    for (Lease l : leases.list()) {
      if (Knative.SYSTEM_NAMESPACE.equals(l.getMetadata().getNamespace()) && GatewayLease.live(l, now)) {
        gateways.put(l.getSpec().getHolderIdentity(), GatewayLease.expiry(l));
      }
    }
    Instant recheck = null;
    List<String> ips = new ArrayList<>();
    for (Node n : nodes.list()) {
      boolean ready = n.getStatus() != null && n.getStatus().getConditions() != null && n.getStatus().getConditions().stream()
          .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()));
      Instant expiry = gateways.get(n.getMetadata().getName());
      if (!ready || expiry == null || n.getStatus().getAddresses() == null) {
        continue;
      }
      recheck = recheck == null || expiry.isBefore(recheck) ? expiry : recheck;
      n.getStatus().getAddresses().stream().filter(a -> "InternalIP".equals(a.getType()) && a.getAddress().indexOf(':') < 0)
          .findFirst().ifPresent(a -> ips.add(a.getAddress()));
    }
    java.util.Collections.sort(ips);
    EndpointSlice have = slices.get(ns, sliceName);
    if (gatewayPort <= 0 || ips.isEmpty()) {
      if (have != null && Children.controlledBy(have, route)) {
        client.discovery().v1().endpointSlices().inNamespace(ns).withName(sliceName).delete();
      }
      return recheck;
    }
    EndpointSlice want = new EndpointSlice();
    ObjectMeta m = new ObjectMeta();
    m.setName(sliceName);
    m.setNamespace(ns);
    m.setLabels(Map.of("kubernetes.io/service-name", name, "endpointslice.kubernetes.io/managed-by", "serving.knative.dev",
        Knative.ROUTE_LABEL, name));
    m.setOwnerReferences(List.of(Children.controllerRef(route)));
    want.setMetadata(m);
    want.setAddressType("IPv4");
    List<Endpoint> eps = new ArrayList<>();
    for (String ip : ips) {
      eps.add(new EndpointBuilder().withAddresses(ip).withNewConditions().withReady(true).endConditions().build());
    }
    want.setEndpoints(eps);
    want.setPorts(List.of(new EndpointPortBuilder().withName("http").withPort(gatewayPort).withProtocol("TCP").build()));
    if (have == null) {
      try {
        client.discovery().v1().endpointSlices().inNamespace(ns).resource(want).create();
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          throw e;
        }
      }
    } else if (Children.controlledBy(have, route) && (!Objects.equals(Serialization.asJson(have.getEndpoints()), Serialization.asJson(eps))
        || !Objects.equals(Serialization.asJson(have.getPorts()), Serialization.asJson(want.getPorts())))) {
      EndpointSlice next = Knative.copy(have);
      next.setEndpoints(eps);
      next.setPorts(want.getPorts());
      client.discovery().v1().endpointSlices().inNamespace(ns).resource(next).update();
    }
    return recheck;
  }

  /** route/resources/labels.go and the labeler: routed revisions are active, dropped ones reserve. */
  private void markRoutingState(Route route, List<TrafficTarget> traffic, Instant now) {
    String ns = route.getMetadata().getNamespace();
    String name = route.getMetadata().getName();
    TreeSet<String> referenced = new TreeSet<>();
    for (TrafficTarget t : traffic) {
      referenced.add(t.getRevisionName());
    }
    for (Revision rev : revisions.list(ns)) {
      Map<String, String> ann = rev.getMetadata().getAnnotations() == null ? Map.of() : rev.getMetadata().getAnnotations();
      TreeSet<String> routesOf = new TreeSet<>();
      String cur = ann.get(Knative.ROUTES_ANNOTATION);
      if (cur != null && !cur.isBlank()) {
        for (String r : cur.split(",")) {
          routesOf.add(r.strip());
        }
      }
      boolean want = referenced.contains(rev.getMetadata().getName());
      boolean changed = want ? routesOf.add(name) : routesOf.remove(name);
      String state = routesOf.isEmpty() ? (cur == null && "pending".equals(label(rev, Knative.ROUTING_STATE_LABEL)) ? "pending" : "reserve") : "active";
      if (!changed && state.equals(label(rev, Knative.ROUTING_STATE_LABEL))) {
        continue;
      }
      if (!changed && !want && cur == null) {
        continue; // never routed by anyone: leave it pending
      }
      Map<String, Object> patch = new HashMap<>();
      Map<String, Object> meta = new HashMap<>();
      Map<String, String> annPatch = new HashMap<>();
      annPatch.put(Knative.ROUTES_ANNOTATION, routesOf.isEmpty() ? null : String.join(",", routesOf));
      if (!state.equals(label(rev, Knative.ROUTING_STATE_LABEL))) {
        annPatch.put(Knative.ROUTING_STATE_MODIFIED_ANNOTATION, now.truncatedTo(ChronoUnit.SECONDS).toString());
        meta.put("labels", Map.of(Knative.ROUTING_STATE_LABEL, state));
      }
      meta.put("annotations", annPatch);
      patch.put("metadata", meta);
      try {
        client.resources(Revision.class).inNamespace(ns).withName(rev.getMetadata().getName())
            .patch(io.fabric8.kubernetes.client.dsl.base.PatchContext.of(io.fabric8.kubernetes.client.dsl.base.PatchType.JSON_MERGE),
                Serialization.asJson(patch));
      } catch (KubernetesClientException e) {
        if (e.getCode() != 404) {
          throw e;
        }
      }
    }
  }

  private Result writeStatus(Route route, Status st) {
    return StatusWriter.write(client, Route.class, route, st, null);
  }
}
