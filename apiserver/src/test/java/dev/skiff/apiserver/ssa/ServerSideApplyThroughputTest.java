package dev.skiff.apiserver.ssa;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.skiff.apiserver.testing.TestServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * Server-side apply throughput: 16 clients over HTTP/2, each applying a changed ~3 KiB
 * Deployment in a loop. Run with {@code -Dskiff.perf=true}.
 */
class ServerSideApplyThroughputTest {
  private static final int CLIENTS = 16;
  /** -Dskiff.perf.type=merge measures JSON merge patch of the same bodies (the baseline without SSA). */
  private static final String CONTENT_TYPE = System.getProperty("skiff.perf.type", "apply").equals("merge")
      ? "application/merge-patch+json" : "application/apply-patch+yaml";

  static String deployment(int client, long generation) {
    StringBuilder env = new StringBuilder();
    for (int i = 0; i < 18; i++) {
      env.append("{\"name\":\"VAR_").append(i).append("\",\"value\":\"value-").append(i).append("-abcdefghij\"},");
    }
    env.append("{\"name\":\"GEN\",\"value\":\"").append(generation).append("\"}");
    String container = """
        {"name":"%s","image":"registry.example.com/team/%s:1.2.%d","args":["--port=8080","--verbose"],
         "ports":[{"containerPort":8080,"name":"http"},{"containerPort":9090,"name":"metrics"}],
         "env":[%s],
         "resources":{"requests":{"cpu":"100m","memory":"128Mi"},"limits":{"cpu":"500m","memory":"256Mi"}},
         "readinessProbe":{"httpGet":{"path":"/healthz","port":8080},"periodSeconds":5}}""";
    return """
        {"apiVersion":"apps/v1","kind":"Deployment",
         "metadata":{"name":"bench-%d","namespace":"default","labels":{"app":"bench-%d","tier":"backend","team":"platform"},
           "annotations":{"example.com/owner":"platform-team","example.com/description":"throughput benchmark deployment"}},
         "spec":{"replicas":3,"selector":{"matchLabels":{"app":"bench-%d"}},
           "template":{"metadata":{"labels":{"app":"bench-%d","tier":"backend"}},
             "spec":{"containers":[%s,%s]}}}}""".formatted(client, client, client, client,
        container.formatted("app", "app", generation % 50, env), container.formatted("sidecar", "sidecar", 1, env));
  }

  /** The engine alone, in process: merge, prune, compare and ownership of one apply. */
  @Test
  void engineMicrosPerApply() throws Exception {
    assumeTrue(Boolean.getBoolean("skiff.perf"), "set -Dskiff.perf=true to measure");
    var schemas = dev.skiff.apiserver.schema.ApiSchemas.withBuiltins();
    FieldManager fm = new FieldManager(schemas);
    var d = dev.skiff.apiserver.registry.BuiltInResources.all().stream().filter(x -> x.kind.equals("Deployment")).findFirst().orElseThrow();
    var live = fm.apply(d, null, dev.skiff.apiserver.api.Json.parse(deployment(0, 0).getBytes()), "bench", true, null, java.time.Instant.now());
    int n = 20000;
    var threads = java.lang.management.ManagementFactory.getThreadMXBean();
    long t0 = 0;
    java.util.Map<String, Integer> samples = new java.util.HashMap<>();
    Thread me = Thread.currentThread();
    Thread sampler = new Thread(() -> {
      while (!Thread.currentThread().isInterrupted()) {
        StackTraceElement[] st = me.getStackTrace();
        for (int i = 0; i < Math.min(st.length, 12); i++) {
          if (st[i].getClassName().startsWith("dev.skiff")) {
            samples.merge(st[i].getClassName().replace("dev.skiff.apiserver.", "") + "." + st[i].getMethodName() + ":" + st[i].getLineNumber()
                + " <- " + (i > 0 ? st[0].getClassName().replaceAll(".*\\.", "") + "." + st[0].getMethodName() : ""), 1, Integer::sum);
            break;
          }
        }
        try {
          Thread.sleep(1);
        } catch (InterruptedException e) {
          return;
        }
      }
    });
    for (int i = 0; i < n; i++) {
      if (i == n / 2) {
        t0 = threads.getCurrentThreadCpuTime();
        sampler.start();
      }
      var cfg = dev.skiff.apiserver.api.Json.parse(deployment(0, i).getBytes());
      live = fm.apply(d, live.deepCopy(), cfg, "bench", true, null, java.time.Instant.now());
    }
    sampler.interrupt();
    System.out.printf("engine: %.1f us CPU per apply%n", (threads.getCurrentThreadCpuTime() - t0) / 1000.0 / (n / 2));
    if (Boolean.getBoolean("skiff.profile")) {
      samples.entrySet().stream().sorted(java.util.Map.Entry.<String, Integer>comparingByValue().reversed()).limit(25)
          .forEach(e -> System.out.println("  " + e.getValue() + " " + e.getKey()));
    }
  }

  @Test
  void appliesPerSecond() throws Exception {
    assumeTrue(Boolean.getBoolean("skiff.perf"), "set -Dskiff.perf=true to measure");
    try (TestServer s = TestServer.start()) {
      HttpClient http = s.http();
      System.out.println("body bytes: " + deployment(0, 0).length());
      AtomicLong done = new AtomicLong();
      AtomicLong failed = new AtomicLong();
      long warmupEnd = System.nanoTime() + Duration.ofSeconds(5).toNanos();
      long end = warmupEnd + Duration.ofSeconds(10).toNanos();
      var os = (com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean();
      long[] cpuAtWarmupEnd = {-1};
      try (var pool = Executors.newFixedThreadPool(CLIENTS)) {
        List<Future<?>> fs = new ArrayList<>();
        for (int c = 0; c < CLIENTS; c++) {
          int client = c;
          fs.add(pool.submit(() -> {
            long gen = 0;
            String url = s.url() + "/apis/apps/v1/namespaces/default/deployments/bench-" + client + "?fieldManager=bench&force=true";
            http.send(HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/apply-patch+yaml")
                .method("PATCH", HttpRequest.BodyPublishers.ofString(deployment(client, gen++))).build(),
                HttpResponse.BodyHandlers.ofByteArray());
            while (System.nanoTime() < end) {
              HttpRequest req = HttpRequest.newBuilder(URI.create(s.url()
                      + "/apis/apps/v1/namespaces/default/deployments/bench-" + client + "?fieldManager=bench&force=true"))
                  .header("Content-Type", CONTENT_TYPE)
                  .method("PATCH", HttpRequest.BodyPublishers.ofString(deployment(client, gen++)))
                  .build();
              HttpResponse<byte[]> r = http.send(req, HttpResponse.BodyHandlers.ofByteArray());
              if (r.statusCode() / 100 != 2) {
                failed.incrementAndGet();
                System.out.println(r.statusCode() + " " + new String(r.body()));
              }
              if (System.nanoTime() >= warmupEnd) {
                if (done.getAndIncrement() == 0) {
                  cpuAtWarmupEnd[0] = os.getProcessCpuTime();
                }
              }
            }
            return null;
          }));
        }
        for (Future<?> f : fs) {
          f.get();
        }
      }
      if (CONTENT_TYPE.startsWith("application/merge")) {
        System.out.println("(baseline: merge patch)");
      }
      long cpu = os.getProcessCpuTime() - cpuAtWarmupEnd[0];
      System.out.printf("server-side apply: %d applies in 10 s = %.0f/s (%d failed), protocol %s; "
          + "process CPU (server + in-process HTTP/2 clients) %.2f ms per apply, load average %.1f on %d CPUs%n", done.get(),
          done.get() / 10.0, failed.get(), http.version(), cpu / 1e6 / done.get(), os.getSystemLoadAverage(),
          os.getAvailableProcessors());
      assertThat(failed.get()).isZero();
      var obj = s.request("GET", "/apis/apps/v1/namespaces/default/deployments/bench-0", null, null).body();
      assertThat(obj).contains("\"manager\":\"bench\"");
      if (!CONTENT_TYPE.startsWith("application/merge")) {
        assertThat(obj).contains("\"operation\":\"Apply\"");
      }
    }
  }
}
