package dev.skiff.bench;

import dev.skiff.apiserver.ApiServer;
import dev.skiff.kubelet.NodeAgent;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Pod startup on one node (the SLI of sig-scalability pod_startup_latency.md, without image
 * pulls): an in-process API server and node agent; 100 pods {@code sh -c 'sleep 3600'} bound to
 * the node are created at once from 100 virtual threads; each pod's latency is from just before
 * its create request to the watch event that shows it Running with its container started.
 * Also the JVM's used heap after GC with the 100 pods running (API server included).
 */
final class PodStartupBench {
  static final int PODS = 100;
  static final String NODE = "bench-node";

  private PodStartupBench() {}

  static void run() throws Exception {
    Path dir = Bench.tempDir("skiff-bench-pods-");
    ApiServer server = ApiServer.start(new ApiServer.Config(dir.resolve("api"), 0, "127.0.0.1"));
    KubernetesClient client = Clients.forKubeconfig(server.kubeconfig());
    NodeAgent.Running agent = new NodeAgent().start(new ComponentContext(client, dir, NODE, Map.of()));
    Map<String, Long> created = new ConcurrentHashMap<>();
    Map<String, Long> running = new ConcurrentHashMap<>();
    CountDownLatch all = new CountDownLatch(PODS);
    try (Watch w = client.pods().inNamespace("default").watch(new Watcher<>() {
      @Override
      public void eventReceived(Action action, Pod pod) {
        long now = System.nanoTime();
        var st = pod.getStatus();
        if (st != null && "Running".equals(st.getPhase()) && st.getContainerStatuses() != null
            && st.getContainerStatuses().stream().allMatch(c -> c.getState() != null && c.getState().getRunning() != null)
            && running.putIfAbsent(pod.getMetadata().getName(), now) == null) {
          all.countDown();
        }
      }

      @Override
      public void onClose(WatcherException cause) {}
    })) {
      long start = System.nanoTime();
      List<Thread> threads = new ArrayList<>();
      for (int i = 0; i < PODS; i++) {
        String name = "sleeper-" + i;
        threads.add(Thread.ofVirtual().start(() -> {
          Pod p = new PodBuilder().withNewMetadata().withName(name).endMetadata().withNewSpec().withNodeName(NODE)
              .addNewContainer().withName("main").withImage("busybox").withCommand("sh", "-c", "sleep 3600")
              .endContainer().endSpec().build();
          created.put(name, System.nanoTime());
          client.pods().inNamespace("default").resource(p).create();
        }));
      }
      for (Thread t : threads) {
        t.join();
      }
      boolean ok = all.await(120, TimeUnit.SECONDS);
      long wall = System.nanoTime() - start;
      long[] lat = Bench.sorted(running.entrySet().stream().mapToLong(e -> e.getValue() - created.get(e.getKey())).toArray());
      long heap = Bench.usedHeapAfterGc();
      Map<String, Object> m = Bench.result("pod-startup");
      m.put("pods", PODS);
      m.put("running", lat.length);
      m.put("complete", ok);
      m.put("p50_ms", Bench.round(Bench.pctMs(lat, 50), 1));
      m.put("p99_ms", Bench.round(Bench.pctMs(lat, 99), 1));
      m.put("max_ms", Bench.round(lat.length == 0 ? 0 : lat[lat.length - 1] / 1e6, 1));
      m.put("all_running_ms", Bench.round(wall / 1e6, 1));
      m.put("jvm_heap_after_gc_mb_with_api_server", Bench.round(heap / (1024.0 * 1024), 1));
      Bench.print(m);
    } finally {
      agent.close();
      // The agent never kills containers when it stops; the benchmark cleans up after itself.
      dev.skiff.kubelet.cri.ProcessRuntime.removeAll(dir.resolve("kubelet"));
      client.close();
      server.close();
      Bench.deleteTree(dir);
    }
  }
}
