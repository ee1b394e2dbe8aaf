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
      // Warm-up service (class loading, leader elections, informer syncs), not counted.
      long[] lat = new long[SERVICES];
      for (int i = -1; i < SERVICES; i++) {
        String name = i < 0 ? "warmup" : "hello-" + i;
        long t = applyAndWait(client, name, 9100 + i + 1);
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
      Bench.print(m);
    } finally {
      for (int i = parts.size() - 1; i >= 0; i--) {
        parts.get(i).close();
      }
      // The agent never kills containers when it stops; the benchmark cleans up after itself.
      try (var rt = new dev.skiff.kubelet.cri.ProcessRuntime(dir.resolve("kubelet"))) {
        for (String sb : rt.listPodSandboxes()) {
          rt.stopPodSandbox(sb, 0);
        }
      }
      client.close();
      server.close();
      Bench.deleteTree(dir);
    }
  }

  private static long applyAndWait(KubernetesClient client, String name, int port) throws Exception {
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
