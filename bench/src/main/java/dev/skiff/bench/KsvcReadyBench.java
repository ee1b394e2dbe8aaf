package dev.skiff.bench;

import dev.skiff.apiserver.ApiServer;
import dev.skiff.controllers.ControllerManager;
import dev.skiff.kubelet.NodeAgent;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import dev.skiff.scheduler.Scheduler;
import dev.skiff.serving.ServingControllers;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * ksvc-ready: a Knative Service applied -> Ready (issue 8's figure, target <= 1 s), with the API
 * server, controller manager, scheduler, node agent and serving controllers in-process. Ten
 * Services one after another, each {@code sh -c 'exec python3 -m http.server $PORT'} on its own
 * containerPort (host network without root); each latency is from just before the create request
 * until a poll (every 5 ms) sees Ready=True at the current generation. Readiness here is the
 * node agent's (a TCP readiness probe where the agent runs probes), no gateway involved.
 */
final class KsvcReadyBench {
  static final int SERVICES = 10;
  static final String NODE = "bench-node";
  static final ResourceDefinitionContext KSVC = new ResourceDefinitionContext.Builder().withGroup("serving.knative.dev")
      .withVersion("v1").withPlural("services").withKind("Service").withNamespaced(true).build();

  private KsvcReadyBench() {}

  static void run() throws Exception {
    Path dir = Bench.tempDir("skiff-bench-ksvc-");
    ApiServer server = ApiServer.start(new ApiServer.Config(dir.resolve("api"), 0, "127.0.0.1"));
    KubernetesClient client = Clients.forKubeconfig(server.kubeconfig());
    List<AutoCloseable> parts = new ArrayList<>();
    try {
      parts.add(new ControllerManager().start(new ComponentContext(Clients.forKubeconfig(server.kubeconfig()), dir, NODE, Map.of())));
      parts.add(new Scheduler().start(new ComponentContext(Clients.forKubeconfig(server.kubeconfig()), dir, NODE, Map.of())));
      parts.add(new NodeAgent().start(new ComponentContext(Clients.forKubeconfig(server.kubeconfig()), dir, NODE, Map.of())));
      parts.add(new ServingControllers().start(new ComponentContext(Clients.forKubeconfig(server.kubeconfig()), dir, NODE, Map.of())));
      Stages stages = new Stages(Clients.forKubeconfig(server.kubeconfig()));
      parts.add(stages);
      // Warm-up service (class loading, leader elections, informer syncs), not counted.
      long[] lat = new long[SERVICES];
      for (int i = -1; i < SERVICES; i++) {
        String name = i < 0 ? "warmup" : "hello-" + i;
        long t = applyAndWait(client, name, 9100 + i + 1, stages);
        if (i >= 0) {
          lat[i] = t;
        }
      }
      long[] sorted = Bench.sorted(lat);
      Map<String, Object> m = Bench.result("ksvc-ready");
      m.put("services", SERVICES);
      m.put("p50_ms", Bench.round(Bench.pctMs(sorted, 50), 1));
      m.put("max_ms", Bench.round(sorted[sorted.length - 1] / 1e6, 1));
      m.put("min_ms", Bench.round(sorted[0] / 1e6, 1));
      m.put("target_ms", 1000);
      m.put("met", Bench.pctMs(sorted, 50) <= 1000);
      // Per stage: p50 of the time from the create request to when a watch first saw it.
      for (String stage : Stages.ORDER) {
        long[] at = stages.p(stage, SERVICES);
        if (at != null) {
          m.put("stage_" + stage + "_p50_ms", Bench.round(Bench.pctMs(at, 50), 1));
        }
      }
      Bench.print(m);
    } finally {
      for (int i = parts.size() - 1; i >= 0; i--) {
        parts.get(i).close();
      }
      // The agent never kills containers when it stops; the benchmark cleans up after itself.
      dev.skiff.kubelet.cri.ProcessRuntime.removeAll(dir.resolve("kubelet")); // processes, namespaces, bridge
      client.close();
      server.close();
      Bench.deleteTree(dir);
    }
  }

  /**
   * Watches every object of the chain and records when each stage was first seen, per Service
   * (by the serving.knative.dev/service label), relative to the create request.
   */
  static final class Stages implements AutoCloseable {
    static final List<String> ORDER = List.of("configuration", "route", "revision", "deployment", "replicaset", "pod",
        "pod_scheduled", "pod_started", "pod_ready", "revision_ready", "configuration_ready", "route_ready");
    private final KubernetesClient client;
    private final List<io.fabric8.kubernetes.client.Watch> watches = new ArrayList<>();
    private final Map<String, Map<String, Long>> seen = new java.util.concurrent.ConcurrentHashMap<>();
    private final Map<String, Long> created = new java.util.concurrent.ConcurrentHashMap<>();

    Stages(KubernetesClient client) {
      this.client = client;
      for (String[] k : new String[][] {{"serving.knative.dev", "v1", "configurations", "Configuration", "configuration"},
          {"serving.knative.dev", "v1", "routes", "Route", "route"}, {"serving.knative.dev", "v1", "revisions", "Revision", "revision"},
          {"apps", "v1", "deployments", "Deployment", "deployment"}, {"apps", "v1", "replicasets", "ReplicaSet", "replicaset"},
          {"", "v1", "pods", "Pod", "pod"}}) {
        ResourceDefinitionContext ctx = new ResourceDefinitionContext.Builder().withGroup(k[0]).withVersion(k[1])
            .withPlural(k[2]).withKind(k[3]).withNamespaced(true).build();
        String stage = k[4];
        watches.add(client.genericKubernetesResources(ctx).inNamespace("default").watch(new io.fabric8.kubernetes.client.Watcher<>() {
          @Override
          public void eventReceived(Action action, GenericKubernetesResource r) {
            observe(stage, r);
          }

          @Override
          public void onClose(io.fabric8.kubernetes.client.WatcherException e) {}
        }));
      }
    }

    void started(String svc, long t0) {
      created.put(svc, t0);
    }

    @SuppressWarnings("unchecked")
    private void observe(String kind, GenericKubernetesResource r) {
      long now = System.nanoTime();
      Map<String, String> labels = r.getMetadata().getLabels();
      String svc = labels == null ? null : labels.get("serving.knative.dev/service");
      if (svc == null) {
        return;
      }
      Map<String, Long> m = seen.computeIfAbsent(svc, x -> new java.util.concurrent.ConcurrentHashMap<>());
      m.putIfAbsent(kind, now);
      Map<String, Object> st = r.getAdditionalProperties().get("status") instanceof Map<?, ?> x ? (Map<String, Object>) x : Map.of();
      if (kind.equals("pod")) {
        Map<String, Object> spec = (Map<String, Object>) r.getAdditionalProperties().get("spec");
        if (spec != null && spec.get("nodeName") != null) {
          m.putIfAbsent("pod_scheduled", now);
        }
        for (Object o : st.get("containerStatuses") instanceof List<?> l ? l : List.of()) {
          Map<String, Object> cs = (Map<String, Object>) o;
          if (cs.get("state") instanceof Map<?, ?> state && state.get("running") != null) {
            m.putIfAbsent("pod_started", now);
          }
        }
      }
      for (Object o : st.get("conditions") instanceof List<?> l ? l : List.of()) {
        Map<String, Object> c = (Map<String, Object>) o;
        if ("Ready".equals(c.get("type")) && "True".equals(c.get("status"))) {
          m.putIfAbsent(kind + "_ready", now);
        }
      }
    }

    /** Sorted nanos from create to {@code stage} over the counted services, or null. */
    long[] p(String stage, int n) {
      long[] out = new long[n];
      for (int i = 0; i < n; i++) {
        Long t0 = created.get("hello-" + i);
        Long t = seen.getOrDefault("hello-" + i, Map.of()).get(stage);
        if (t0 == null || t == null) {
          return null;
        }
        out[i] = t - t0;
      }
      return Bench.sorted(out);
    }

    @Override
    public void close() {
      watches.forEach(io.fabric8.kubernetes.client.Watch::close);
      client.close();
    }
  }

  private static long applyAndWait(KubernetesClient client, String name, int port, Stages stages) throws Exception {
    String yaml = """
        apiVersion: serving.knative.dev/v1
        kind: Service
        metadata: {name: %s, namespace: default}
        spec:
          template:
            spec:
              containers:
              - image: example/hello
                command: ["sh", "-c", "exec python3 -m http.server $PORT"]
                ports: [{containerPort: %d}]
        """.formatted(name, port);
    GenericKubernetesResource ksvc = Serialization.unmarshal(yaml, GenericKubernetesResource.class);
    long t0 = System.nanoTime();
    stages.started(name, t0);
    client.genericKubernetesResources(KSVC).inNamespace("default").resource(ksvc).create();
    long deadline = t0 + 60_000_000_000L;
    while (System.nanoTime() < deadline) {
      GenericKubernetesResource cur = client.genericKubernetesResources(KSVC).inNamespace("default").withName(name).get();
      if (cur != null && ready(cur)) {
        return System.nanoTime() - t0;
      }
      Thread.sleep(5);
    }
    throw new IllegalStateException(name + " not Ready within 60 s");
  }

  @SuppressWarnings("unchecked")
  private static boolean ready(GenericKubernetesResource r) {
    Object st = r.getAdditionalProperties().get("status");
    if (!(st instanceof Map<?, ?> status) || !r.getMetadata().getGeneration().equals(
        status.get("observedGeneration") instanceof Number n ? n.longValue() : null)) {
      return false;
    }
    Object conds = status.get("conditions");
    for (Object c : conds instanceof List<?> l ? l : List.of()) {
      Map<String, Object> cm = (Map<String, Object>) c;
      if ("Ready".equals(cm.get("type")) && "True".equals(cm.get("status"))) {
        return true;
      }
    }
    return false;
  }
}
