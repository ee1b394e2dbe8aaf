package dev.skiff.bench;

import dev.skiff.apiserver.ApiServer;
import dev.skiff.controllers.ControllerManager;
import dev.skiff.kubelet.NodeAgent;
import dev.skiff.runtime.ComponentContext;
import dev.skiff.scheduler.Scheduler;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * The end-to-end figures of the controllers issue with real process pods on one real node: the
 * controller manager, scheduler and node agent in one JVM with the API server, as `skiff server`
 * runs them. A Deployment of 100 {@code sh -c 'sleep 3600'} pods (ready once started, no probe)
 * is scaled 0 -> 100 (time until readyReplicas = 100), then rolled (maxSurge 25%, maxUnavailable
 * 25%, a new env value) until every replica is updated and available.
 */
final class RealPodsBench {
  static final int REPLICAS = 100;
  static final String NODE = "bench-node";

  private RealPodsBench() {}

  static void run() throws Exception {
    Path dir = Bench.tempDir("skiff-bench-real-");
    ApiServer server = ApiServer.start(new ApiServer.Config(dir.resolve("api"), 0, "127.0.0.1"));
    KubernetesClient client = Bench.componentClient(server);
    // One pre-built pod network sandbox per replica (--set kubelet.sandbox-pool), as in pod-startup.
    int pool = Bench.sandboxPool(REPLICAS);
    ComponentContext ctx = new ComponentContext(client, dir, NODE, Map.of("kubelet.sandbox-pool", String.valueOf(pool)));
    List<AutoCloseable> parts = new ArrayList<>();
    parts.add(new ControllerManager().start(ctx));
    parts.add(new Scheduler().start(ctx));
    parts.add(new NodeAgent().start(ctx));
    try {
      var deployments = client.apps().deployments().inNamespace("default");
      awaitNodeReady(client);
      Bench.awaitSandboxPool(dir, pool, System.nanoTime() + 60_000_000_000L);
      deployments.resource(deployment(0, "v1")).create();
      long t0 = System.nanoTime();
      deployments.withName("sleepers").scale(REPLICAS);
      await(client, d -> ready(d) == REPLICAS);
      long scaleUp = System.nanoTime() - t0;

      long t1 = System.nanoTime();
      deployments.withName("sleepers").edit(d -> new DeploymentBuilder(d).editSpec().editTemplate().editSpec()
          .editFirstContainer().withEnv(new io.fabric8.kubernetes.api.model.EnvVar("VERSION", "v2", null))
          .endContainer().endSpec().endTemplate().endSpec().build());
      await(client, d -> d.getStatus() != null && d.getStatus().getObservedGeneration() != null
          && d.getStatus().getObservedGeneration() >= d.getMetadata().getGeneration()
          && n(d.getStatus().getUpdatedReplicas()) == REPLICAS && n(d.getStatus().getReplicas()) == REPLICAS
          && n(d.getStatus().getAvailableReplicas()) == REPLICAS);
      long rollout = System.nanoTime() - t1;

      Map<String, Object> m = Bench.result("real-pods");
      m.put("transport", Bench.transport());
      m.put("replicas", REPLICAS);
      m.put("sandbox_pool", pool);
      m.put("scale_0_to_100_ready_ms", Bench.round(scaleUp / 1e6, 1));
      m.put("rollout_100_ms", Bench.round(rollout / 1e6, 1));
      Bench.print(m);
    } finally {
      try {
        client.apps().deployments().inNamespace("default").withName("sleepers").scale(0);
      } catch (RuntimeException ignored) {
        // the sandboxes are stopped below either way
      }
      for (int i = parts.size() - 1; i >= 0; i--) {
        parts.get(i).close();
      }
      // The agent never kills containers when it stops; the benchmark cleans up after itself.
      dev.skiff.kubelet.cri.ProcessRuntime.removeAll(dir.resolve("kubelet"));
      client.close();
      server.close();
      Bench.deleteTree(dir);
    }
  }

  private static Deployment deployment(int replicas, String version) {
    return new DeploymentBuilder().withNewMetadata().withName("sleepers").endMetadata().withNewSpec()
        .withReplicas(replicas).withNewSelector().addToMatchLabels("app", "sleepers").endSelector()
        .withNewTemplate().withNewMetadata().addToLabels("app", "sleepers").endMetadata().withNewSpec()
        .withTerminationGracePeriodSeconds(0L)
        .addNewContainer().withName("main").withImage("busybox").withCommand("sh", "-c", "sleep 3600")
        .addNewEnv().withName("VERSION").withValue(version).endEnv().endContainer().endSpec().endTemplate()
        .endSpec().build();
  }

  private static int ready(Deployment d) {
    return d.getStatus() == null ? 0 : n(d.getStatus().getReadyReplicas());
  }

  private static int n(Integer i) {
    return i == null ? 0 : i;
  }

  private static void awaitNodeReady(KubernetesClient client) throws InterruptedException {
    long deadline = System.nanoTime() + 60_000_000_000L;
    while (System.nanoTime() < deadline) {
      var node = client.nodes().withName(NODE).get();
      if (node != null && node.getStatus() != null && node.getStatus().getConditions() != null
          && node.getStatus().getConditions().stream().anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()))) {
        return;
      }
      Thread.sleep(20);
    }
    throw new IllegalStateException("node " + NODE + " not Ready");
  }

  /** Polls every 10 ms (the poll is cheap next to seconds of work and adds at most 10 ms). */
  private static void await(KubernetesClient client, Predicate<Deployment> cond) throws InterruptedException {
    long deadline = System.nanoTime() + 180_000_000_000L;
    while (System.nanoTime() < deadline) {
      Deployment d = client.apps().deployments().inNamespace("default").withName("sleepers").get();
      if (d != null && cond.test(d)) {
        return;
      }
      Thread.sleep(10);
    }
    throw new IllegalStateException("deployment did not reach the expected state within 180 s");
  }
}
