package dev.skiff.bench;

import dev.skiff.apiserver.ApiServer;
import dev.skiff.kubelet.NodeAgent;
import dev.skiff.kubelet.StartupTrace;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
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
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpMethod;

/**
 * Pod startup on one node (the SLI of sig-scalability pod_startup_latency.md, without image
 * pulls): an in-process API server and node agent; 100 pods {@code sh -c 'sleep 3600'} bound to
 * the node are created at once from 100 virtual threads over one HTTP/2 connection (as client-go
 * does); each pod's latency is from just before its create request to the watch event that shows
 * it Running with its container started.
 *
 * <p>Two rounds in one JVM: a cold one (a freshly started agent and API server, in namespace
 * {@code cold}) whose pods are then deleted, and the measured warm one (namespace
 * {@code default}), as a node agent that has been up for a while meets a burst of pods. Also the
 * JVM's used heap after GC with the 100 pods running (API server included).
 */
final class PodStartupBench {
  static final int PODS = 100;
  static final String NODE = "bench-node";
  /** Pre-built pod network sandboxes ({@code --set kubelet.sandbox-pool}): one per pod of the burst. */
  static final int POOL = Bench.sandboxPool(PODS);

  private PodStartupBench() {}

  static void run() throws Exception {
    long[] floor = osFloor();
    Path dir = Bench.tempDir("skiff-bench-pods-");
    ApiServer server = ApiServer.start(new ApiServer.Config(dir.resolve("api"), 0, "127.0.0.1"));
    KubernetesClient client = Clients.forKubeconfig(server.kubeconfig());
    HttpClient h2 = Bench.h2Client(server);
    StartupTrace.enable();
    // The agent reaches the API server as it does inside `skiff server` (in-JVM unless
    // SKIFF_BENCH_TRANSPORT=loopback); the pods are created over HTTP/2 as a client would.
    KubernetesClient agentClient = Bench.componentClient(server);
    Map<String, String> options = new java.util.HashMap<>(Map.of("kubelet.sandbox-pool", String.valueOf(POOL)));
    String starts = System.getenv("SKIFF_BENCH_PARALLEL_STARTS"); // to compare; the agent's default otherwise
    if (starts != null) {
      options.put("kubelet.parallel-container-starts", starts);
    }
    NodeAgent.Running agent = new NodeAgent().start(new ComponentContext(agentClient, dir, NODE, options));
    try {
      client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("cold").endMetadata().build()).create();
      Round cold = round(client, h2, server, "cold");
      client.pods().inNamespace("cold").withGracePeriod(0).delete();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (!client.pods().inNamespace("cold").list().getItems().isEmpty() && System.nanoTime() < deadline) {
        Thread.sleep(50);
      }
      Thread.sleep(2000); // the agent's housekeeping and the deletions' process exits settle
      Bench.awaitSandboxPool(dir, POOL, deadline);
      long jvmCpu0 = jvmCpuNanos();
      long podCpu0 = descendantsCpuNanos();
      System.err.println("pod-startup: warm round starts " + java.time.Instant.now());
      Round warm = round(client, h2, server, "default");
      System.err.println("pod-startup: warm round ends " + java.time.Instant.now());
      long jvmCpu = jvmCpuNanos() - jvmCpu0;
      long podCpu = descendantsCpuNanos() - podCpu0;
      long heap = Bench.usedHeapAfterGc();
      Map<String, Object> m = Bench.result("pod-startup");
      m.put("pods", PODS);
      m.put("running", warm.lat.length);
      m.put("complete", warm.complete);
      m.put("p50_ms", Bench.round(Bench.pctMs(warm.lat, 50), 1));
      m.put("p99_ms", Bench.round(Bench.pctMs(warm.lat, 99), 1));
      m.put("max_ms", Bench.round(warm.lat.length == 0 ? 0 : warm.lat[warm.lat.length - 1] / 1e6, 1));
      m.put("all_running_ms", Bench.round(warm.wallNanos / 1e6, 1));
      m.put("cold_p50_ms", Bench.round(Bench.pctMs(cold.lat, 50), 1));
      m.put("cold_p99_ms", Bench.round(Bench.pctMs(cold.lat, 99), 1));
      // The same burst with no cluster at all: 100 `sh -c 'sleep 3600'` started straight from
      // this JVM at once (the floor the pods' p50/p99 cannot go below on this machine).
      m.put("os_floor_p50_ms", Bench.round(Bench.pctMs(floor, 50), 1));
      m.put("os_floor_p99_ms", Bench.round(Bench.pctMs(floor, 99), 1));
      m.put("jvm_heap_after_gc_mb_with_api_server", Bench.round(heap / (1024.0 * 1024), 1));
      m.put("sandbox_pool", POOL);
      m.put("agent_transport", Bench.transport());
      m.put("parallel_container_starts", starts != null ? starts : "default");
      // Where the CPU of the warm round went: this JVM (API server, agent, client) and the pods'
      // processes (the spawn chain setsid/nsenter/unshare/sh/mount, the shim, the containers).
      m.put("warm_cpu_jvm_ms", Bench.round(jvmCpu / 1e6, 0));
      m.put("warm_cpu_pod_processes_ms", Bench.round(podCpu / 1e6, 0));
      m.put("stages_p50_ms", stages("default", false));
      m.put("create_response_p50_ms", Bench.round(p50Between("default", "create", "create-response"), 1));
      System.err.println("pod-startup, warm round, per stage (ms from the previous stage):\n" + stages("default", true));
      Bench.print(m);
    } finally {
      agent.close();
      // The agent never kills containers when it stops; the benchmark cleans up after itself.
      dev.skiff.kubelet.cri.ProcessRuntime.removeAll(dir.resolve("kubelet"));
      h2.stop();
      agentClient.close();
      client.close();
      server.close();
      Bench.deleteTree(dir);
    }
  }

  /**
   * The operating system's share alone: {@link #PODS} processes {@code sh -c 'sleep 3600'}
   * started at once from as many virtual threads released by one latch (as the pods are
   * created), each timed from the release until its {@code Process} exists (the shell was
   * exec'd; with vfork, as the node agent launches). No API server, no agent, no namespaces.
   * Best of three rounds, sorted latencies in nanoseconds.
   */
  static long[] osFloor() throws Exception {
    long[] best = null;
    for (int round = 0; round < 3; round++) {
      long[] lat = new long[PODS];
      Process[] procs = new Process[PODS];
      CountDownLatch go = new CountDownLatch(1);
      List<Thread> threads = new ArrayList<>();
      long[] t0 = new long[1];
      for (int i = 0; i < PODS; i++) {
        int n = i;
        threads.add(Thread.ofVirtual().start(() -> {
          try {
            go.await();
            procs[n] = new ProcessBuilder("sh", "-c", "sleep 3600").redirectErrorStream(true).start();
            lat[n] = System.nanoTime() - t0[0];
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        }));
      }
      Thread.sleep(100);
      t0[0] = System.nanoTime();
      go.countDown();
      for (Thread t : threads) {
        t.join();
      }
      for (Process p : procs) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        p.waitFor();
      }
      long[] sorted = Bench.sorted(lat);
      if (best == null || sorted[PODS / 2] < best[PODS / 2]) {
        best = sorted;
      }
    }
    return best;
  }

  static long jvmCpuNanos() {
    var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    return os.getProcessCpuTime();
  }

  /**
   * CPU time (ns, from /proc/pid/schedstat) of every process below this JVM: the pods' shims and
   * containers. What a spawn chain (setsid, nsenter, unshare, the setup sh) cost stays in the
   * process it exec'd into; short-lived children that are already reaped (the setup's mount)
   * are not counted. /proc/pid/stat's clock ticks (10 ms) are too coarse for a few ms per pod.
   */
  static long descendantsCpuNanos() {
    long sum = 0;
    for (ProcessHandle h : ProcessHandle.current().descendants().toList()) {
      try {
        String stat = java.nio.file.Files.readString(Path.of("/proc/" + h.pid() + "/schedstat"));
        sum += Long.parseLong(stat.trim().split(" ")[0]);
      } catch (java.io.IOException | RuntimeException gone) {
        // exited meanwhile
      }
    }
    return sum;
  }

  static final String[] STAGES = {"create", "informer", "sync", "sandbox", "config", "created", "spawned", "started",
      "status-queued", "status-written", "running"};

  /**
   * Per pod of namespace {@code ns}, the time from each stage to the next (StartupTrace; "create"
   * and "running" are the benchmark's own marks): p50 of each as "a>b:ms,...", or with
   * {@code table} p50/p90/max per line.
   */
  static String stages(String ns, boolean table) {
    StringBuilder sb = new StringBuilder();
    for (int i = 1; i < STAGES.length; i++) {
      List<Long> d = new ArrayList<>();
      for (var e : StartupTrace.marks().entrySet()) {
        Long a = e.getValue().get(STAGES[i - 1]);
        Long b = e.getValue().get(STAGES[i]);
        if (e.getKey().startsWith(ns + "/") && a != null && b != null) {
          d.add(b - a);
        }
      }
      if (d.isEmpty()) {
        continue;
      }
      java.util.Collections.sort(d);
      double p50 = d.get((d.size() - 1) / 2) / 1e6;
      if (table) {
        sb.append(String.format("  %-14s -> %-14s p50 %7.1f  p90 %7.1f  max %7.1f%n", STAGES[i - 1], STAGES[i], p50,
            d.get((int) Math.ceil(d.size() * 0.9) - 1) / 1e6, d.get(d.size() - 1) / 1e6));
      } else {
        sb.append(sb.length() == 0 ? "" : ",").append(STAGES[i - 1]).append('>').append(STAGES[i]).append(':')
            .append(Bench.round(p50, 1));
      }
    }
    return sb.toString();
  }

  /** p50 (ms) over the pods of {@code ns} of the time from mark {@code a} to mark {@code b}. */
  static double p50Between(String ns, String a, String b) {
    List<Long> d = new ArrayList<>();
    for (var e : StartupTrace.marks().entrySet()) {
      Long x = e.getValue().get(a);
      Long y = e.getValue().get(b);
      if (e.getKey().startsWith(ns + "/") && x != null && y != null) {
        d.add(y - x);
      }
    }
    java.util.Collections.sort(d);
    return d.isEmpty() ? 0 : d.get((d.size() - 1) / 2) / 1e6;
  }

  private record Round(long[] lat, boolean complete, long wallNanos) {}

  /** Creates PODS pods at once in {@code ns}; waits until each is seen Running by a watch. */
  private static Round round(KubernetesClient client, HttpClient h2, ApiServer server, String ns) throws Exception {
    Map<String, Long> created = new ConcurrentHashMap<>();
    Map<String, Long> running = new ConcurrentHashMap<>();
    CountDownLatch all = new CountDownLatch(PODS);
    String base = "https://127.0.0.1:" + server.port() + "/api/v1/namespaces/" + ns + "/pods";
    try (Watch w = client.pods().inNamespace(ns).watch(new Watcher<>() {
      @Override
      public void eventReceived(Action action, Pod pod) {
        long now = System.nanoTime();
        var st = pod.getStatus();
        if (st != null && "Running".equals(st.getPhase()) && st.getContainerStatuses() != null
            && st.getContainerStatuses().stream().allMatch(c -> c.getState() != null && c.getState().getRunning() != null)
            && running.putIfAbsent(pod.getMetadata().getName(), now) == null) {
          StartupTrace.mark(ns, pod.getMetadata().getName(), "running");
          all.countDown();
        }
      }

      @Override
      public void onClose(WatcherException cause) {}
    })) {
      // The request bodies are ready before the clock starts; all threads start together.
      List<String> bodies = new ArrayList<>();
      for (int i = 0; i < PODS; i++) {
        bodies.add("{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"sleeper-" + i + "\"},"
            + "\"spec\":{\"nodeName\":\"" + NODE + "\",\"containers\":[{\"name\":\"main\",\"image\":\"busybox\","
            + "\"command\":[\"sh\",\"-c\",\"sleep 3600\"]}]}}");
      }
      CountDownLatch go = new CountDownLatch(1);
      List<Thread> threads = new ArrayList<>();
      List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
      for (int i = 0; i < PODS; i++) {
        String name = "sleeper-" + i;
        String body = bodies.get(i);
        threads.add(Thread.ofVirtual().start(() -> {
          try {
            go.await();
            created.put(name, System.nanoTime());
            StartupTrace.mark(ns, name, "create");
            ContentResponse r = Bench.send(h2, HttpMethod.POST, base, body);
            StartupTrace.mark(ns, name, "create-response");
            if (r.getStatus() != 201) {
              failures.add(name + ": " + r.getStatus() + " " + r.getContentAsString());
            }
          } catch (Exception e) {
            failures.add(name + ": " + e);
          }
        }));
      }
      long start = System.nanoTime();
      go.countDown();
      for (Thread t : threads) {
        t.join();
      }
      if (!failures.isEmpty()) {
        throw new IllegalStateException("creates failed: " + failures);
      }
      boolean ok = all.await(120, TimeUnit.SECONDS);
      long wall = System.nanoTime() - start;
      long[] lat = Bench.sorted(running.entrySet().stream().mapToLong(e -> e.getValue() - created.get(e.getKey())).toArray());
      return new Round(lat, ok, wall);
    }
  }
}
