package dev.skiff.bench;

import dev.skiff.apiserver.ApiServer;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import dev.skiff.serving.gateway.Gateway;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * gateway: the Knative gateway's overhead against calling the pod directly. The "pod" is a
 * Jetty server answering {@code hello\n}; the gateway routes a Route to it (one Ready Pod object,
 * containerConcurrency 0). The client is Jetty's HttpClient, HTTP/1.1 keep-alive, 64
 * connections. Two measurements, each direct and through the gateway, alternated twice (best of
 * two kept, after a warm-up): (1) throughput, closed loop with 64 requests in flight for 5 s;
 * (2) latency at a fixed offered load (64 connections sharing 2,000 requests/s, far below
 * saturation), so the added latency is the gateway's own cost and not queueing. Client,
 * gateway, API server and app share the same 2 cores.
 */
final class GatewayBench {
  static final int CONNECTIONS = 64;
  static final long MEASURE_NANOS = TimeUnit.SECONDS.toNanos(5);
  static final int PACED_RATE = 2000;

  private GatewayBench() {}

  static void run() throws Exception {
    Path dir = Bench.tempDir("skiff-bench-gateway-");
    ApiServer server = ApiServer.start(new ApiServer.Config(dir.resolve("api"), 0, "127.0.0.1"));
    KubernetesClient client = Clients.forKubeconfig(server.kubeconfig());
    Server app = app();
    int appPort = ((ServerConnector) app.getConnectors()[0]).getLocalPort();
    HttpClient http = new HttpClient();
    http.setMaxConnectionsPerDestination(CONNECTIONS);
    QueuedThreadPool pool = new QueuedThreadPool(16, 2);
    pool.setName("bench-client");
    http.setExecutor(pool);
    http.start();
    Gateway.Running gw = null;
    try {
      KnativeObjects.ensureCrds(client);
      // -Dgateway.upstream=jetty measures the previous path (Jetty's HttpClient to the pod).
      String upstream = System.getProperty("gateway.upstream", "skiff");
      // The default front end (the event loops, -Dgateway.loops=N of them);
      // -Dgateway.frontend=threads a virtual thread per connection, =jetty Jetty's server.
      String frontend = System.getProperty("gateway.frontend", "loop");
      String loops = System.getProperty("gateway.loops", Integer.toString(Runtime.getRuntime().availableProcessors()));
      gw = new Gateway().start(new ComponentContext(client, dir, "bench", Map.of("gateway.port", "0",
          "gateway.upstream", upstream, "gateway.frontend", frontend, "gateway.loops", loops)));
      KnativeObjects.revision(client, "hello-00001", Map.of());
      Pod p = client.pods().inNamespace("default").resource(new PodBuilder().withNewMetadata().withName("hello-pod")
          .addToLabels("serving.knative.dev/revision", "hello-00001").endMetadata().withNewSpec().addNewContainer()
          .withName("user-container").withImage("app").addNewPort().withContainerPort(appPort).endPort().endContainer()
          .endSpec().build()).create();
      p.setStatus(new PodStatusBuilder().withPhase("Running").withPodIP("127.0.0.1").addNewCondition().withType("Ready")
          .withStatus("True").endCondition().build());
      client.pods().inNamespace("default").resource(p).updateStatus();
      String host = KnativeObjects.route(client, "hello", "hello-00001");
      int gwPort = gw.port();
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
      while (status(http, gwPort, host) != 200) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("the gateway never served " + host);
        }
        Thread.sleep(20);
      }
      String loadBefore = loadavg();
      // Warm-up: JIT both paths.
      closedLoop(http, appPort, host, TimeUnit.SECONDS.toNanos(3));
      closedLoop(http, gwPort, host, TimeUnit.SECONDS.toNanos(3));
      double directRps = 0;
      double gatewayRps = 0;
      double directCpu = Double.MAX_VALUE;
      double gatewayCpu = Double.MAX_VALUE;
      Map<String, Object> gatewaySplit = Map.of();
      long[] directPaced = null;
      long[] gatewayPaced = null;
      for (int round = 0; round < 2; round++) {
        // Also the process CPU time per request (client + app [+ gateway] + idle API server):
        // unlike req/s it hardly depends on what else the shared machine runs meanwhile.
        long[] cpu = new long[2];
        double r = cpuTimed(cpu, () -> closedLoop(http, appPort, host, MEASURE_NANOS));
        directRps = Math.max(directRps, r);
        directCpu = Math.min(directCpu, cpu[0] / 1e3 / cpu[1]);
        Map<String, Long> threads0 = threadCpu();
        r = cpuTimed(cpu, () -> closedLoop(http, gwPort, host, MEASURE_NANOS));
        Map<String, Long> threads1 = threadCpu();
        long reqs = cpu[1];
        Map<String, Object> split = new java.util.TreeMap<>();
        threads1.forEach((k, v) -> {
          double us = (v - threads0.getOrDefault(k, 0L)) / 1e3 / reqs;
          if (us >= 0.5) {
            split.put(k, Bench.round(us, 1));
          }
        });
        gatewaySplit = split;
        gatewayRps = Math.max(gatewayRps, r);
        gatewayCpu = Math.min(gatewayCpu, cpu[0] / 1e3 / cpu[1]);
        long[] d = paced(http, appPort, host);
        long[] g = paced(http, gwPort, host);
        directPaced = better(directPaced, d);
        gatewayPaced = better(gatewayPaced, g);
      }
      Map<String, Object> m = Bench.result("gateway");
      m.put("connections", CONNECTIONS);
      m.put("frontend", frontend);
      if (frontend.equals("loop")) {
        m.put("loops", Integer.parseInt(loops));
      }
      m.put("upstream", upstream);
      m.put("direct_rps", Math.round(directRps));
      m.put("gateway_rps", Math.round(gatewayRps));
      m.put("throughput_ratio", Bench.round(gatewayRps / directRps, 3));
      m.put("direct_cpu_us_per_req", Bench.round(directCpu, 2));
      m.put("gateway_cpu_us_per_req", Bench.round(gatewayCpu, 2));
      // What the ratio would be with the cores all ours and CPU the only limit.
      m.put("cpu_ratio", Bench.round(directCpu / gatewayCpu, 3));
      m.put("gateway_cpu_us_per_req_by_thread", gatewaySplit);
      m.put("loadavg_before", loadBefore);
      m.put("loadavg_after", loadavg());
      m.put("paced_rps", PACED_RATE);
      m.put("direct_p50_ms", Bench.round(Bench.pctMs(directPaced, 50), 3));
      m.put("direct_p99_ms", Bench.round(Bench.pctMs(directPaced, 99), 3));
      m.put("gateway_p50_ms", Bench.round(Bench.pctMs(gatewayPaced, 50), 3));
      m.put("gateway_p99_ms", Bench.round(Bench.pctMs(gatewayPaced, 99), 3));
      m.put("added_p50_ms", Bench.round(Bench.pctMs(gatewayPaced, 50) - Bench.pctMs(directPaced, 50), 3));
      m.put("added_p99_ms", Bench.round(Bench.pctMs(gatewayPaced, 99) - Bench.pctMs(directPaced, 99), 3));
      Bench.print(m);
    } finally {
      if (gw != null) {
        gw.close();
      }
      http.stop();
      app.stop();
      client.close();
      server.close();
      Bench.deleteTree(dir);
    }
  }

  interface Run {
    double run() throws InterruptedException;
  }

  /** Runs {@code r}; {@code out} gets the process CPU nanos spent and the requests done. */
  static double cpuTimed(long[] out, Run r) throws InterruptedException {
    var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
    long c0 = os.getProcessCpuTime();
    long t0 = System.nanoTime();
    double rps = r.run();
    long elapsed = System.nanoTime() - t0;
    out[0] = os.getProcessCpuTime() - c0;
    out[1] = Math.max(1, Math.round(rps * elapsed / 1e9));
    return rps;
  }

  /** CPU nanos per thread-name family (digits dropped; virtual threads count on their carriers). */
  static Map<String, Long> threadCpu() {
    var mx = java.lang.management.ManagementFactory.getThreadMXBean();
    Map<String, Long> out = new java.util.HashMap<>();
    for (java.lang.management.ThreadInfo ti : mx.getThreadInfo(mx.getAllThreadIds())) {
      if (ti == null) {
        continue;
      }
      long t = mx.getThreadCpuTime(ti.getThreadId());
      if (t > 0) {
        out.merge(ti.getThreadName().replaceAll("[0-9]+", "N"), t, Long::sum);
      }
    }
    return out;
  }

  static String loadavg() {
    try {
      return java.nio.file.Files.readString(Path.of("/proc/loadavg")).trim();
    } catch (java.io.IOException e) {
      return "?";
    }
  }

  /** Keeps the run with the lower p50 (the less disturbed one on a shared machine). */
  private static long[] better(long[] a, long[] b) {
    return a == null || Bench.pctMs(b, 50) < Bench.pctMs(a, 50) ? b : a;
  }

  static Server app() throws Exception {
    QueuedThreadPool pool = new QueuedThreadPool(16, 2);
    pool.setName("bench-app");
    Server s = new Server(pool);
    ServerConnector c = new ServerConnector(s, 1, 1);
    c.setHost("127.0.0.1");
    s.addConnector(c);
    byte[] body = "hello\n".getBytes(StandardCharsets.UTF_8);
    s.setHandler(new Handler.Abstract.NonBlocking() {
      @Override
      public boolean handle(Request req, Response resp, Callback cb) {
        resp.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain");
        resp.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
        resp.write(true, ByteBuffer.wrap(body), cb);
        return true;
      }
    });
    s.start();
    return s;
  }

  private static int status(HttpClient http, int port, String host) {
    try {
      return http.newRequest("127.0.0.1", port).path("/").headers(h -> h.put(HttpHeader.HOST, host))
          .timeout(5, TimeUnit.SECONDS).send().getStatus();
    } catch (Exception e) {
      return -1;
    }
  }

  /** Requests per second with {@link #CONNECTIONS} requests always in flight. */
  static double closedLoop(HttpClient http, int port, String host, long nanos) throws InterruptedException {
    long start = System.nanoTime();
    long end = start + nanos;
    AtomicLong done = new AtomicLong();
    AtomicInteger errors = new AtomicInteger();
    CountDownLatch finished = new CountDownLatch(CONNECTIONS);
    for (int i = 0; i < CONNECTIONS; i++) {
      fire(http, port, host, end, done, errors, finished);
    }
    finished.await(nanos + TimeUnit.SECONDS.toNanos(30), TimeUnit.NANOSECONDS);
    long elapsed = System.nanoTime() - start;
    if (errors.get() > 0) {
      System.err.println("gateway bench: " + errors.get() + " failed requests to port " + port);
    }
    return done.get() * 1e9 / elapsed;
  }

  private static void fire(HttpClient http, int port, String host, long end, AtomicLong done, AtomicInteger errors,
      CountDownLatch finished) {
    http.newRequest("127.0.0.1", port).path("/").headers(h -> h.put(HttpHeader.HOST, host)).send(result -> {
      if (result.isSucceeded() && result.getResponse().getStatus() == 200) {
        done.incrementAndGet();
      } else {
        errors.incrementAndGet();
      }
      if (System.nanoTime() < end) {
        fire(http, port, host, end, done, errors, finished);
      } else {
        finished.countDown();
      }
    });
  }

  /** Latencies (sorted nanos) at {@link #PACED_RATE} requests/s spread over the connections. */
  static long[] paced(HttpClient http, int port, String host) throws InterruptedException {
    long intervalNanos = TimeUnit.SECONDS.toNanos(1) * CONNECTIONS / PACED_RATE;
    long start = System.nanoTime();
    long end = start + MEASURE_NANOS;
    List<long[]> perWorker = new ArrayList<>();
    List<Thread> workers = new ArrayList<>();
    AtomicInteger errors = new AtomicInteger();
    for (int w = 0; w < CONNECTIONS; w++) {
      long[] lat = new long[(int) (MEASURE_NANOS / intervalNanos) + 2];
      perWorker.add(lat);
      long offset = intervalNanos * w / CONNECTIONS;
      workers.add(Thread.ofVirtual().start(() -> {
        int n = 0;
        long next = start + offset;
        while (next < end && n < lat.length - 1) {
          long wait = next - System.nanoTime();
          if (wait > 0) {
            try {
              Thread.sleep(wait / 1_000_000, (int) (wait % 1_000_000));
            } catch (InterruptedException e) {
              return;
            }
          }
          long t0 = System.nanoTime();
          try {
            if (http.newRequest("127.0.0.1", port).path("/").headers(h -> h.put(HttpHeader.HOST, host))
                .timeout(10, TimeUnit.SECONDS).send().getStatus() != 200) {
              errors.incrementAndGet();
            }
          } catch (Exception e) {
            errors.incrementAndGet();
          }
          lat[n++] = System.nanoTime() - t0;
          next += intervalNanos;
        }
        lat[lat.length - 1] = n; // count in the last slot
      }));
    }
    for (Thread t : workers) {
      t.join();
    }
    if (errors.get() > 0) {
      System.err.println("gateway bench: " + errors.get() + " failed paced requests to port " + port);
    }
    long[] all = new long[0];
    for (long[] lat : perWorker) {
      int n = (int) lat[lat.length - 1];
      int old = all.length;
      all = Arrays.copyOf(all, old + n);
      System.arraycopy(lat, 0, all, old, n);
    }
    Arrays.sort(all);
    return all;
  }
}
