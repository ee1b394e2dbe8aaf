package dev.skiff.serving.gateway;

import dev.skiff.serving.autoscaler.GatewayStats;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway's cache of the serving.knative.dev objects it routes by, built from informers
 * (no polling): Routes give the host table (status.url, status.traffic[] with tag URLs, and the
 * cluster-local names {@code <route>.<ns>[.svc[.<cluster-domain>]]}); Revisions give
 * containerConcurrency and timeoutSeconds; Pods labelled {@code serving.knative.dev/revision}
 * give each revision's Ready endpoints (podIP and the user-container's port). Also what
 * {@link ClusterScalingInputs} reads for the autoscaler (revisions, ready pods, reachability,
 * this gateway's {@link GatewayStats}). Thread-safe: informer callbacks write, request
 * threads read immutable snapshots.
 */
final class ServingView implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ServingView.class);
  static final String GROUP = "serving.knative.dev";
  static final String REVISION_LABEL = "serving.knative.dev/revision";
  private static final String BY_REVISION = "revision";

  static final ResourceDefinitionContext ROUTES = ctx("Route", "routes");
  static final ResourceDefinitionContext REVISIONS = ctx("Revision", "revisions");

  private final KubernetesClient client;
  private final String clusterDomain;
  private final Map<String, TrafficSplit> hosts = new ConcurrentHashMap<>();
  private final Map<String, List<String>> hostsByRoute = new HashMap<>();
  private final Map<String, Set<String>> revisionsByRoute = new HashMap<>();
  private volatile Set<String> reachable = Set.of();
  private final Map<String, RevisionBackend> backends = new ConcurrentHashMap<>();
  private volatile SharedIndexInformer<GenericKubernetesResource> routes;
  private volatile SharedIndexInformer<GenericKubernetesResource> revisions;
  private volatile SharedIndexInformer<Pod> pods;
  private volatile boolean closed;

  ServingView(KubernetesClient client, String clusterDomain) {
    this.client = client;
    this.clusterDomain = clusterDomain;
  }

  private static ResourceDefinitionContext ctx(String kind, String plural) {
    return new ResourceDefinitionContext.Builder().withGroup(GROUP).withVersion("v1").withKind(kind)
        .withPlural(plural).withNamespaced(true).build();
  }

  /**
   * Starts the informers and waits for their first list. If the API server does not serve
   * serving.knative.dev yet, retries every 2 s in the background instead of blocking.
   */
  ServingView start(Duration syncTimeout) throws InterruptedException {
    if (!served()) {
      log.warn("serving.knative.dev/v1 is not served (yet); the gateway routes nothing until it is");
      Thread.ofVirtual().name("gateway-await-crds").start(() -> {
        try {
          while (!closed && !served()) {
            Thread.sleep(2000);
          }
          if (!closed) {
            startInformers(syncTimeout);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
      return this;
    }
    startInformers(syncTimeout);
    return this;
  }

  private boolean served() {
    try {
      // A list, not a get: fabric8's get() answers null for an unknown resource type too.
      var one = new io.fabric8.kubernetes.api.model.ListOptionsBuilder().withLimit(1L).build();
      client.genericKubernetesResources(ROUTES).inNamespace("default").list(one);
      client.genericKubernetesResources(REVISIONS).inNamespace("default").list(one);
      return true;
    } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
      return false;
    }
  }

  private synchronized void startInformers(Duration syncTimeout) throws InterruptedException {
    if (closed) {
      return;
    }
    revisions = client.genericKubernetesResources(REVISIONS).inAnyNamespace().runnableInformer(0);
    revisions.addEventHandler(handler(this::revisionChanged, this::revisionDeleted));
    pods = client.pods().inAnyNamespace().withLabel(REVISION_LABEL).runnableInformer(0);
    pods.addIndexers(Map.of(BY_REVISION, p -> List.of(revisionKey(p))));
    pods.addEventHandler(handler(p -> podsChanged(revisionKey(p)), p -> podsChanged(revisionKey(p))));
    routes = client.genericKubernetesResources(ROUTES).inAnyNamespace().runnableInformer(0);
    routes.addEventHandler(handler(this::routeChanged, this::routeDeleted));
    for (SharedIndexInformer<?> i : List.of(revisions, pods, routes)) {
      i.start();
    }
    long deadline = System.nanoTime() + syncTimeout.toNanos();
    while (!(revisions.hasSynced() && pods.hasSynced() && routes.hasSynced()) && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
  }

  private static <T extends HasMetadata> ResourceEventHandler<T> handler(Consumer<T> changed, Consumer<T> deleted) {
    return new ResourceEventHandler<>() {
      @Override
      public void onAdd(T obj) {
        changed.accept(obj);
      }

      @Override
      public void onUpdate(T oldObj, T newObj) {
        changed.accept(newObj);
      }

      @Override
      public void onDelete(T obj, boolean finalStateUnknown) {
        deleted.accept(obj);
      }
    };
  }

  /** The traffic split serving {@code host} (port and trailing dot ignored), or null. */
  TrafficSplit lookup(String host) {
    return host == null ? null : hosts.get(normalizeHost(host));
  }

  static String normalizeHost(String host) {
    String h = host.trim().toLowerCase(Locale.ROOT);
    if (h.startsWith("[")) {
      int end = h.indexOf(']');
      return end > 0 ? h.substring(0, end + 1) : h;
    }
    int colon = h.lastIndexOf(':');
    if (colon >= 0 && h.indexOf(':') == colon) {
      h = h.substring(0, colon);
    }
    if (h.endsWith(".")) {
      h = h.substring(0, h.length() - 1);
    }
    return h;
  }

  RevisionBackend backend(String namespace, String revision) {
    return backends.computeIfAbsent(namespace + "/" + revision, k -> {
      RevisionBackend b = new RevisionBackend(namespace, revision);
      if (revisions != null) {
        GenericKubernetesResource rev = revisions.getIndexer().getByKey(k);
        if (rev != null) {
          applyRevision(b, rev);
        }
      }
      if (pods != null) {
        b.setEndpoints(endpointsOf(pods.getIndexer().byIndex(BY_REVISION, k)));
      }
      return b;
    });
  }

  Collection<RevisionBackend> backends() {
    return backends.values();
  }

  // ---- Routes

  private synchronized void routeChanged(GenericKubernetesResource route) {
    String key = key(route);
    removeHosts(key);
    Map<String, Object> status = map(route.getAdditionalProperties().get("status"));
    String ns = route.getMetadata().getNamespace();
    String name = route.getMetadata().getName();
    List<TrafficSplit.Target> main = new ArrayList<>();
    Map<String, TrafficSplit> added = new HashMap<>();
    Set<String> revs = new HashSet<>();
    for (Object o : list(status.get("traffic"))) {
      Map<String, Object> t = map(o);
      String rev = str(t.get("revisionName"));
      if (rev == null) {
        continue;
      }
      int percent = t.get("percent") instanceof Number n ? n.intValue() : 0;
      if (percent > 0) {
        main.add(new TrafficSplit.Target(ns, rev, percent));
        revs.add(ns + "/" + rev);
      }
      String tag = str(t.get("tag"));
      if (tag != null) {
        // On its own host a tag gets 100% (traffic.go: a single target in a tag group).
        TrafficSplit only = new TrafficSplit(List.of(new TrafficSplit.Target(ns, rev, 100)));
        revs.add(ns + "/" + rev);
        String url = str(t.get("url"));
        if (url != null) {
          addHost(added, hostOf(url), only);
        }
        for (String h : clusterLocalHosts(tag + "-" + name, ns)) {
          addHost(added, h, only);
        }
      }
    }
    if (!main.isEmpty()) {
      TrafficSplit split = new TrafficSplit(main);
      String url = str(status.get("url"));
      if (url != null) {
        addHost(added, hostOf(url), split);
      }
      for (String h : clusterLocalHosts(name, ns)) {
        addHost(added, h, split);
      }
    }
    hosts.putAll(added);
    hostsByRoute.put(key, new ArrayList<>(added.keySet()));
    revisionsByRoute.put(key, revs);
    recomputeReachable();
    for (String r : revs) {
      int slash = r.indexOf('/');
      backend(r.substring(0, slash), r.substring(slash + 1));
    }
    log.debug("route {}: hosts {}", key, added.keySet());
  }

  private static void addHost(Map<String, TrafficSplit> added, String host, TrafficSplit split) {
    if (host != null && !host.isEmpty()) {
      added.put(normalizeHost(host), split);
    }
  }

  private List<String> clusterLocalHosts(String name, String ns) {
    return List.of(name + "." + ns + ".svc." + clusterDomain, name + "." + ns + ".svc", name + "." + ns);
  }

  private synchronized void routeDeleted(GenericKubernetesResource route) {
    String key = key(route);
    removeHosts(key);
    hostsByRoute.remove(key);
    revisionsByRoute.remove(key);
    recomputeReachable();
  }

  private void removeHosts(String routeKey) {
    List<String> old = hostsByRoute.get(routeKey);
    if (old != null) {
      old.forEach(hosts::remove);
    }
  }

  private void recomputeReachable() {
    Set<String> all = new HashSet<>();
    revisionsByRoute.values().forEach(all::addAll);
    reachable = Set.copyOf(all);
  }

  private static String hostOf(String url) {
    try {
      return URI.create(url).getHost();
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  // ---- Revisions

  private void revisionChanged(GenericKubernetesResource rev) {
    RevisionBackend b = backends.get(key(rev));
    if (b != null) {
      applyRevision(b, rev);
    }
  }

  private void revisionDeleted(GenericKubernetesResource rev) {
    backends.remove(key(rev));
  }

  private static void applyRevision(RevisionBackend b, GenericKubernetesResource rev) {
    Map<String, Object> spec = map(rev.getAdditionalProperties().get("spec"));
    b.containerConcurrency = spec.get("containerConcurrency") instanceof Number n ? n.intValue() : 0;
    b.timeoutSeconds = spec.get("timeoutSeconds") instanceof Number n && n.longValue() > 0 ? n.longValue() : 300;
  }

  // ---- Pods

  private void podsChanged(String revKey) {
    // Through backend(): a backend being created concurrently (its endpoints read from the
    // indexer a moment ago) is waited for, then refreshed here, so no Ready event is lost.
    int slash = revKey.indexOf('/');
    RevisionBackend b = backend(revKey.substring(0, slash), revKey.substring(slash + 1));
    b.setEndpoints(endpointsOf(pods.getIndexer().byIndex(BY_REVISION, revKey)));
  }

  private static String revisionKey(Pod p) {
    String rev = p.getMetadata().getLabels() == null ? null : p.getMetadata().getLabels().get(REVISION_LABEL);
    return p.getMetadata().getNamespace() + "/" + rev;
  }

  static List<RevisionBackend.Endpoint> endpointsOf(List<Pod> list) {
    List<RevisionBackend.Endpoint> out = new ArrayList<>();
    for (Pod p : list) {
      if (p.getMetadata().getDeletionTimestamp() != null || p.getStatus() == null) {
        continue;
      }
      String ip = p.getStatus().getPodIP();
      boolean ready = false;
      if (p.getStatus().getConditions() != null) {
        for (PodCondition c : p.getStatus().getConditions()) {
          if ("Ready".equals(c.getType()) && "True".equals(c.getStatus())) {
            ready = true;
          }
        }
      }
      if (ip == null || ip.isEmpty() || !ready) {
        continue;
      }
      ContainerPort port = userPort(p);
      int n = port == null || port.getContainerPort() == null ? 8080 : port.getContainerPort();
      out.add(new RevisionBackend.Endpoint(ip.contains(":") ? "[" + ip + "]" : ip, n, port != null && "h2c".equals(port.getName())));
    }
    return out;
  }

  /** The user container's serving port: {@code user-container}'s first port, else the first port of any container. */
  private static ContainerPort userPort(Pod p) {
    ContainerPort first = null;
    for (Container c : p.getSpec().getContainers()) {
      if (c.getPorts() != null && !c.getPorts().isEmpty()) {
        if ("user-container".equals(c.getName())) {
          return c.getPorts().get(0);
        }
        if (first == null) {
          first = c.getPorts().get(0);
        }
      }
    }
    return first;
  }

  /** Whether the Pod informer has seen a pod of the revision with a deletionTimestamp. */
  boolean sawTerminatingPod(String namespace, String revision) {
    if (pods == null) {
      return false;
    }
    for (Pod p : pods.getIndexer().byIndex(BY_REVISION, namespace + "/" + revision)) {
      if (p.getMetadata().getDeletionTimestamp() != null) {
        return true;
      }
    }
    return false;
  }

  /** The revision's backend if the gateway has routed to it, else null. */
  RevisionBackend existingBackend(String namespace, String revision) {
    return backends.get(namespace + "/" + revision);
  }

  // ---- for the autoscaler (ClusterScalingInputs)

  public Collection<GenericKubernetesResource> revisions() {
    return revisions == null ? List.of() : revisions.getIndexer().list();
  }

  /** This gateway's cumulative measurements of every revision it has routed to. */
  GatewayStats stats(String instance) {
    Map<String, GatewayStats.Counters> out = new HashMap<>();
    backends.forEach((k, b) -> out.put(k, b.counters()));
    return new GatewayStats(instance, out);
  }

  public int readyPods(String namespace, String revision) {
    RevisionBackend b = backends.get(namespace + "/" + revision);
    if (b != null) {
      return b.readyPods();
    }
    return pods == null ? 0 : endpointsOf(pods.getIndexer().byIndex(BY_REVISION, namespace + "/" + revision)).size();
  }

  public boolean reachable(String namespace, String revision) {
    return reachable.contains(namespace + "/" + revision);
  }

  // ---- helpers

  private static String key(HasMetadata o) {
    return o.getMetadata().getNamespace() + "/" + o.getMetadata().getName();
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> map(Object o) {
    return o instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
  }

  static List<?> list(Object o) {
    return o instanceof List<?> l ? l : List.of();
  }

  static String str(Object o) {
    return o instanceof String s && !s.isEmpty() ? s : null;
  }

  @Override
  public synchronized void close() {
    closed = true;
    for (SharedIndexInformer<?> i : new SharedIndexInformer<?>[] {routes, revisions, pods}) {
      if (i != null) {
        i.close();
      }
    }
  }
}
