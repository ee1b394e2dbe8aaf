package dev.skiff.bench;

import dev.skiff.apiserver.pki.Kubeconfig;
import java.io.File;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpMethod;

/**
 * The node agent's own memory: {@code skiff server} with its in-server node agent, proxy and DNS
 * disabled, plus {@code skiff agent --server URL --token T} as a separate JVM joined to it (both
 * with the launcher's JVM flags), running 100 {@code sh -c 'sleep 3600'} pods. The agent's heap
 * is read after a full GC forced with {@code jcmd <pid> GC.run}, from {@code GC.heap_info}
 * (used, and committed), at no pods and with the 100 pods Running; its RSS from /proc.
 */
final class AgentMemoryBench {
  static final int PODS = 100;
  static final String NODE = "bench-agent";
  /** The ./skiff launcher's flags (JVM_FLAGS there); the agent gets no AOT cache, as there. */
  static final List<String> JVM_FLAGS = List.of("-XX:+UseSerialGC", "-Xss512k", "-Xms24m", "-XX:MaxRAMPercentage=25",
      "-XX:+UseStringDeduplication", "-Dio.netty.allocator.numDirectArenas=1", "-Dio.netty.allocator.numHeapArenas=1",
      "-Dio.netty.allocator.maxOrder=7");

  private AgentMemoryBench() {}

  static void run() throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
    Path benchJar = Path.of(AgentMemoryBench.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    String cp = benchJar + File.pathSeparator + benchJar.getParent().resolve("lib") + File.separator + "*";
    Path dir = Bench.tempDir("skiff-bench-agentmem-");
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    Process server = null;
    Process agent = null;
    HttpClient h2 = null;
    boolean ok = false;
    try {
      server = start(java, cp, dir.resolve("server.log"), "server", "--data-dir", dir.resolve("server").toString(),
          "--port", Integer.toString(port), "--bind-address", "127.0.0.1",
          "--disable", "kubelet,service-proxy,cluster-dns,simulator,gateway");
      Path kubeconfig = dir.resolve("server/kubeconfig.yaml");
      Path token = dir.resolve("server/server/node-token");
      await(60, () -> Files.exists(kubeconfig) && Files.exists(token), server, "server ready");
      h2 = Bench.h2Client(Kubeconfig.read(kubeconfig).sslContext());
      String api = "https://127.0.0.1:" + port;
      HttpClient c = h2;
      await(60, () -> get(c, api + "/readyz").getStatus() == 200, server, "server /readyz");
      agent = start(java, cp, dir.resolve("agent.log"), "agent", "--server", api, "--token",
          Files.readString(token).trim(), "--node-name", NODE, "--data-dir", dir.resolve("agent").toString());
      Process a = agent;
      await(120, () -> nodeReady(get(c, api + "/api/v1/nodes/" + NODE).getContentAsString()), agent, "node " + NODE + " Ready");
      Thread.sleep(3000); // the agent's start-up work settles
      long[] idle = heap(jcmd, a.pid());
      long idleRss = StartBench.rssKb(a.pid());

      String pods = api + "/api/v1/namespaces/default/pods";
      List<Thread> creates = new ArrayList<>();
      for (int i = 0; i < PODS; i++) {
        String body = "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"mem-" + i + "\"},"
            + "\"spec\":{\"nodeName\":\"" + NODE + "\",\"terminationGracePeriodSeconds\":0,\"containers\":[{\"name\":\"main\","
            + "\"image\":\"busybox\",\"command\":[\"sh\",\"-c\",\"sleep 3600\"]}]}}";
        creates.add(Thread.ofVirtual().start(() -> {
          try {
            Bench.send(c, HttpMethod.POST, pods, body);
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        }));
      }
      for (Thread t : creates) {
        t.join();
      }
      await(180, () -> phases(get(c, pods).getContentAsString()).stream().filter("Running"::equals).count() == PODS, agent,
          PODS + " pods Running");
      Thread.sleep(5000); // probes of nothing, log copiers and status writes settle
      long[] loaded = heap(jcmd, a.pid());
      long loadedRss = StartBench.rssKb(a.pid());

      Map<String, Object> m = Bench.result("agent-memory");
      m.put("pods", PODS);
      m.put("heap_used_after_gc_mb", mb(loaded[0]));
      m.put("heap_committed_mb", mb(loaded[1]));
      m.put("rss_mb", Bench.round(loadedRss / 1024.0, 1));
      m.put("idle_heap_used_after_gc_mb", mb(idle[0]));
      m.put("idle_heap_committed_mb", mb(idle[1]));
      m.put("idle_rss_mb", Bench.round(idleRss / 1024.0, 1));
      m.put("jvm_flags", "as the ./skiff launcher runs `skiff agent`");
      Bench.print(m);

      Bench.send(c, HttpMethod.DELETE, pods + "?gracePeriodSeconds=0", null);
      await(120, () -> phases(get(c, pods).getContentAsString()).isEmpty(), agent, "pods deleted");
      ok = true;
    } finally {
      stop(agent);
      stop(server);
      if (h2 != null) {
        h2.stop();
      }
      // The agent never kills containers when it stops; the benchmark cleans up after itself.
      dev.skiff.kubelet.cri.ProcessRuntime.removeAll(dir.resolve("agent/kubelet"));
      if (ok) {
        Bench.deleteTree(dir);
      } else {
        System.err.println("agent-memory: logs kept in " + dir);
      }
    }
  }

  private static double mb(long bytes) {
    return Bench.round(bytes / (1024.0 * 1024), 1);
  }

  /** {used, committed} bytes of the heap after a full GC, from jcmd. */
  static long[] heap(String jcmd, long pid) throws Exception {
    exec(jcmd, Long.toString(pid), "GC.run");
    String info = exec(jcmd, Long.toString(pid), "GC.heap_info");
    // Serial GC (JDK 25): "DefNew total 18816K, used 118K [...]" and "Tenured total ..., used ...K"
    Matcher m = Pattern.compile("(?:DefNew|Tenured|generation)\\s+total (\\d+)K, used (\\d+)K").matcher(info);
    long used = 0;
    long total = 0;
    while (m.find()) {
      total += Long.parseLong(m.group(1)) * 1024;
      used += Long.parseLong(m.group(2)) * 1024;
    }
    if (total == 0) {
      throw new IllegalStateException("cannot read GC.heap_info: " + info);
    }
    return new long[] {used, total};
  }

  private static String exec(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor(30, TimeUnit.SECONDS);
    return out;
  }

  private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

  private static boolean nodeReady(String node) throws Exception {
    for (var c : JSON.readTree(node).path("status").path("conditions")) {
      if ("Ready".equals(c.path("type").asText()) && "True".equals(c.path("status").asText())) {
        return true;
      }
    }
    return false;
  }

  /** The phase of every pod in a PodList. */
  private static List<String> phases(String podList) throws Exception {
    List<String> out = new ArrayList<>();
    for (var p : JSON.readTree(podList).path("items")) {
      out.add(p.path("status").path("phase").asText());
    }
    return out;
  }

  private static ContentResponse get(HttpClient c, String uri) throws Exception {
    return Bench.send(c, HttpMethod.GET, uri, null);
  }

  private static Process start(String java, String cp, Path log, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(java));
    cmd.addAll(JVM_FLAGS);
    cmd.addAll(List.of("-cp", cp, "dev.skiff.cli.Main"));
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
    pb.environment().put("MALLOC_ARENA_MAX", "2");
    return pb.start();
  }

  private static void stop(Process p) throws InterruptedException {
    if (p == null) {
      return;
    }
    p.destroy();
    if (!p.waitFor(20, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      p.waitFor();
    }
  }

  interface Check {
    boolean ok() throws Exception;
  }

  private static void await(int seconds, Check check, Process p, String what) throws Exception {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    while (System.nanoTime() < deadline) {
      if (!p.isAlive()) {
        throw new IllegalStateException("process exited with " + p.exitValue() + " while waiting for " + what);
      }
      try {
        if (check.ok()) {
          return;
        }
      } catch (Exception notYet) {
        // not up yet
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException("timed out waiting for " + what);
  }
}
