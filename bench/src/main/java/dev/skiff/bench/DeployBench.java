package dev.skiff.bench;

import dev.skiff.apiserver.ApiServer;
import dev.skiff.controllers.ControllerManager;
import dev.skiff.runtime.ComponentContext;
import dev.skiff.runtime.EventHandler;
import dev.skiff.runtime.SharedInformers;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;

/**
 * deploy-1000: a Deployment scaled 0 -> 1,000 replicas with the controller manager (ReplicaSet,
 * Deployment, garbage collector) running in-process against an in-process API server over its
 * normal client. Simulated nodes: a pod watcher marks every new pod Running and Ready through
 * pods/status as soon as it sees it (at most 128 status writes in flight). Measures the time from
 * the scale request until all 1,000 pods are Running and the Deployment reports 1,000 available,
 * and the time until all 1,000 pods exist. Target <= 10 s.
 */
final class DeployBench {
  static final int REPLICAS = 1000;

  private DeployBench() {}

  static void run() throws Exception {
    Path dir = Bench.tempDir("skiff-bench-deploy-");
    ApiServer server = ApiServer.start(new ApiServer.Config(dir, 0, "127.0.0.1"));
    KubernetesClient client = Bench.componentClient(server);
    KubernetesClient kubeletClient = Bench.componentClient(server);
    AutoCloseable manager = new ControllerManager().start(new ComponentContext(client, dir, "bench", Map.of()));
    SharedInformers kubeletInformers = new SharedInformers(kubeletClient);
    ExecutorService exec = Executors.newVirtualThreadPerTaskExecutor();
    Semaphore inFlight = new Semaphore(128);
    Set<String> seen = ConcurrentHashMap.newKeySet();
    Set<String> running = ConcurrentHashMap.newKeySet();
    try {
      kubeletInformers.informerFor(Pod.class).addHandler(new EventHandler<>() {
        @Override
        public void onAdd(Pod p) {
          onUpdate(null, p);
        }

        @Override
        public void onUpdate(Pod old, Pod p) {
          if ("Running".equals(p.getStatus() == null ? null : p.getStatus().getPhase())) {
            running.add(p.getMetadata().getName());
            return;
          }
          if (p.getMetadata().getDeletionTimestamp() != null || !seen.add(p.getMetadata().getName())) {
            return;
          }
          exec.execute(() -> markRunning(kubeletClient, inFlight, p.getMetadata().getName()));
        }

        @Override
        public void onDelete(Pod p, boolean unknown) {
          running.remove(p.getMetadata().getName());
        }
      });
      kubeletInformers.start();
      kubeletInformers.waitForCacheSync(Duration.ofSeconds(30));

      Deployment d = new DeploymentBuilder()
          .withNewMetadata().withName("web").withNamespace("default").endMetadata()
          .withNewSpec().withReplicas(0)
          .withNewSelector().addToMatchLabels("app", "web").endSelector()
          .withNewTemplate().withNewMetadata().addToLabels("app", "web").endMetadata()
          .withNewSpec().addNewContainer().withName("c").withImage("nginx:1").endContainer().endSpec().endTemplate()
          .endSpec().build();
      client.apps().deployments().inNamespace("default").resource(d).create();
      // Wait until the manager leads and the (empty) ReplicaSet exists.
      waitFor(Duration.ofSeconds(60), () -> !client.apps().replicaSets().inNamespace("default").list().getItems().isEmpty());

      Thread.sleep(500); // let the controller's own status writes settle
      long t0 = System.nanoTime();
      for (int attempt = 0; ; attempt++) {
        try {
          // The server answers a patch that races a controller write with 409; retry as kubectl would.
          client.apps().deployments().inNamespace("default").withName("web")
              .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"replicas\":" + REPLICAS + "}}");
          break;
        } catch (KubernetesClientException e) {
          if (e.getCode() != 409 || attempt > 10) {
            throw e;
          }
        }
      }
      long allCreated = -1;
      long allRunning = -1;
      long available = -1;
      long deadline = t0 + Duration.ofSeconds(120).toNanos();
      while (System.nanoTime() < deadline && (allRunning < 0 || available < 0)) {
        long now = System.nanoTime();
        if (allCreated < 0 && seen.size() >= REPLICAS) {
          allCreated = now - t0;
        }
        if (allRunning < 0 && running.size() >= REPLICAS) {
          allRunning = now - t0;
        }
        if (available < 0) {
          Deployment cur = client.apps().deployments().inNamespace("default").withName("web").get();
          if (cur.getStatus() != null && Integer.valueOf(REPLICAS).equals(cur.getStatus().getAvailableReplicas())) {
            available = System.nanoTime() - t0;
          }
        }
        Thread.sleep(20);
        if (System.getenv("SKIFF_BENCH_TRACE") != null && (now - t0) / 20_000_000 % 10 == 0) { // progress on stderr
          System.err.printf("t=%d ms created=%d running=%d%n", (now - t0) / 1_000_000, seen.size(), running.size());
        }
      }
      Map<String, Object> m = Bench.result("deploy-1000");
      m.put("transport", Bench.transport());
      m.put("replicas", REPLICAS);
      m.put("all_pods_created_ms", Bench.round(allCreated / 1e6, 1));
      m.put("all_pods_running_ms", Bench.round(allRunning / 1e6, 1));
      m.put("deployment_available_ms", Bench.round(available / 1e6, 1));
      m.put("total_ms", Bench.round(Math.max(allRunning, available) / 1e6, 1));
      m.put("target_ms", 10000);
      m.put("met", allRunning > 0 && available > 0 && Math.max(allRunning, available) <= 10_000_000_000L);
      Bench.print(m);
    } finally {
      manager.close();
      kubeletInformers.close();
      exec.shutdownNow();
      kubeletClient.close();
      client.close();
      server.close();
      Bench.deleteTree(dir);
    }
  }

  private static void markRunning(KubernetesClient client, Semaphore inFlight, String name) {
    String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    String patch = "{\"status\":{\"phase\":\"Running\",\"startTime\":\"" + now + "\",\"conditions\":["
        + "{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"" + now + "\"},"
        + "{\"type\":\"ContainersReady\",\"status\":\"True\",\"lastTransitionTime\":\"" + now + "\"}],"
        + "\"containerStatuses\":[{\"name\":\"c\",\"ready\":true,\"restartCount\":0,\"image\":\"nginx:1\",\"imageID\":\"\","
        + "\"started\":true,\"state\":{\"running\":{\"startedAt\":\"" + now + "\"}}}]}}";
    try {
      inFlight.acquire();
      try {
        client.pods().inNamespace("default").withName(name).subresource("status").patch(PatchContext.of(PatchType.JSON_MERGE), patch);
      } finally {
        inFlight.release();
      }
    } catch (KubernetesClientException | InterruptedException e) {
      // deleted meanwhile, or shutting down
    }
  }

  private static void waitFor(Duration timeout, java.util.function.BooleanSupplier cond) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("timed out");
      }
      Thread.sleep(20);
    }
  }
}
