package dev.skiff.bench;

import dev.skiff.apiserver.ApiServer;
import dev.skiff.controllers.ControllerManager;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import dev.skiff.runtime.EventHandler;
import dev.skiff.runtime.SharedInformers;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.DaemonSetBuilder;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.function.BooleanSupplier;

/**
 * {@code skiff bench workloads}: the StatefulSet and DaemonSet controllers against an in-process
 * API server, with a pod watcher standing in for kubelets (every new pod is marked Running and
 * Ready at once). Measures: an OrderedReady StatefulSet of 50 (each pod waits for the previous
 * one, so this is 50 create → observe → ready → observe round trips), a Parallel one of 200, a
 * DaemonSet on 100 Node objects until all are available, and its rolling update with
 * maxUnavailable 10%. Prints one JSON line.
 */
final class WorkloadsBench {
  static final int ORDERED = 50;
  static final int PARALLEL = 200;
  static final int NODES = 100;

  private WorkloadsBench() {}

  static void run() throws Exception {
    Path dir = Bench.tempDir("skiff-bench-workloads-");
    ApiServer server = ApiServer.start(new ApiServer.Config(dir, 0, "127.0.0.1"));
    KubernetesClient client = Clients.forKubeconfig(server.kubeconfig());
    KubernetesClient kubeletClient = Clients.forKubeconfig(server.kubeconfig());
    AutoCloseable manager = new ControllerManager().start(new ComponentContext(client, dir, "bench", Map.of()));
    SharedInformers kubeletInformers = new SharedInformers(kubeletClient);
    ExecutorService exec = Executors.newVirtualThreadPerTaskExecutor();
    Semaphore inFlight = new Semaphore(128);
    try {
      kubeletInformers.informerFor(Pod.class).addHandler(new EventHandler<>() {
        @Override
        public void onAdd(Pod p) {
          onUpdate(null, p);
        }

        @Override
        public void onUpdate(Pod old, Pod p) {
          if (p.getMetadata().getDeletionTimestamp() != null) {
            exec.execute(() -> {
              try {
                kubeletClient.pods().inNamespace("default").withName(p.getMetadata().getName()).withGracePeriod(0).delete();
              } catch (KubernetesClientException e) {
                // gone
              }
            });
            return;
          }
          if (!"Running".equals(p.getStatus() == null ? null : p.getStatus().getPhase())) {
            exec.execute(() -> markRunning(kubeletClient, inFlight, p.getMetadata().getName()));
          }
        }

        @Override
        public void onDelete(Pod p, boolean unknown) {
        }
      });
      kubeletInformers.start();
      kubeletInformers.waitForCacheSync(Duration.ofSeconds(30));

      statefulSet(client, "warm", 1, "OrderedReady"); // the manager leads and every informer synced
      Map<String, Object> m = Bench.result("workloads");
      double ordered = statefulSet(client, "ordered", ORDERED, "OrderedReady");
      m.put("sts_ordered_replicas", ORDERED);
      m.put("sts_ordered_ready_ms", Bench.round(ordered, 1));
      m.put("sts_ordered_per_pod_ms", Bench.round(ordered / ORDERED, 2));
      double parallel = statefulSet(client, "parallel", PARALLEL, "Parallel");
      m.put("sts_parallel_replicas", PARALLEL);
      m.put("sts_parallel_ready_ms", Bench.round(parallel, 1));

      for (int i = 0; i < NODES; i++) {
        client.nodes().resource(new NodeBuilder().withNewMetadata().withName("bench-node-" + i).endMetadata().build()).create();
      }
      DaemonSet ds = new DaemonSetBuilder()
          .withNewMetadata().withName("ds").withNamespace("default").endMetadata()
          .withNewSpec()
          .withNewSelector().addToMatchLabels("app", "ds").endSelector()
          .withNewUpdateStrategy().withType("RollingUpdate").withNewRollingUpdate().withNewMaxUnavailable("10%").endRollingUpdate()
          .endUpdateStrategy()
          .withNewTemplate().withNewMetadata().addToLabels("app", "ds").endMetadata()
          .withNewSpec().addNewContainer().withName("c").withImage("agent:1").endContainer().endSpec().endTemplate()
          .endSpec().build();
      long t0 = System.nanoTime();
      client.apps().daemonSets().inNamespace("default").resource(ds).create();
      waitFor(Duration.ofSeconds(120), () -> dsDone(client, NODES));
      double dsMs = (System.nanoTime() - t0) / 1e6;
      m.put("ds_nodes", NODES);
      m.put("ds_available_ms", Bench.round(dsMs, 1));
      long t1 = System.nanoTime();
      client.apps().daemonSets().inNamespace("default").withName("ds").patch(PatchContext.of(PatchType.JSON),
          "[{\"op\":\"replace\",\"path\":\"/spec/template/spec/containers/0/image\",\"value\":\"agent:2\"}]");
      waitFor(Duration.ofSeconds(120), () -> {
        DaemonSet cur = client.apps().daemonSets().inNamespace("default").withName("ds").get();
        return cur.getStatus() != null && cur.getStatus().getObservedGeneration() != null
            && cur.getStatus().getObservedGeneration() >= cur.getMetadata().getGeneration()
            && Integer.valueOf(NODES).equals(cur.getStatus().getUpdatedNumberScheduled()) && dsDone(client, NODES);
      });
      m.put("ds_rolling_update_ms", Bench.round((System.nanoTime() - t1) / 1e6, 1));
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

  private static boolean dsDone(KubernetesClient client, int n) {
    DaemonSet cur = client.apps().daemonSets().inNamespace("default").withName("ds").get();
    return cur.getStatus() != null && Integer.valueOf(n).equals(cur.getStatus().getNumberAvailable())
        && Integer.valueOf(n).equals(cur.getStatus().getDesiredNumberScheduled());
  }

  /** Creates a StatefulSet and returns the milliseconds until all its replicas are ready. */
  private static double statefulSet(KubernetesClient client, String name, int replicas, String policy) throws Exception {
    StatefulSet s = new StatefulSetBuilder()
        .withNewMetadata().withName(name).withNamespace("default").endMetadata()
        .withNewSpec().withReplicas(replicas).withPodManagementPolicy(policy).withServiceName(name)
        .withNewSelector().addToMatchLabels("app", name).endSelector()
        .withNewTemplate().withNewMetadata().addToLabels("app", name).endMetadata()
        .withNewSpec().addNewContainer().withName("c").withImage("db:1").endContainer().endSpec().endTemplate()
        .endSpec().build();
    long t0 = System.nanoTime();
    client.apps().statefulSets().inNamespace("default").resource(s).create();
    waitFor(Duration.ofSeconds(180), () -> {
      StatefulSet cur = client.apps().statefulSets().inNamespace("default").withName(name).get();
      return cur.getStatus() != null && Integer.valueOf(replicas).equals(cur.getStatus().getReadyReplicas());
    });
    return (System.nanoTime() - t0) / 1e6;
  }

  private static void markRunning(KubernetesClient client, Semaphore inFlight, String name) {
    String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    String patch = "{\"status\":{\"phase\":\"Running\",\"startTime\":\"" + now + "\",\"conditions\":["
        + "{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"" + now + "\"},"
        + "{\"type\":\"ContainersReady\",\"status\":\"True\",\"lastTransitionTime\":\"" + now + "\"}]}}";
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

  private static void waitFor(Duration timeout, BooleanSupplier cond) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("timed out");
      }
      Thread.sleep(10);
    }
  }
}
