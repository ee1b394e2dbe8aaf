package dev.skiff.bench;

import dev.skiff.apiserver.ApiServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.StringRequestContent;
import org.eclipse.jetty.http.HttpMethod;

/**
 * Server-side apply of a changed ~3 KiB Deployment (two containers, 19 env vars each): 16
 * virtual-thread clients over one HTTP/2 connection, each re-applying its own Deployment with a
 * new image tag and env value every time, for 10 s after a 3 s warm-up. Target >= 1,500 applies/s.
 */
final class ApiApplyBench {
  static final int CLIENTS = 16;

  private ApiApplyBench() {}

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

  static void run() throws Exception {
    Path dir = Bench.tempDir("skiff-bench-apply-");
    ApiServer server = ApiServer.start(new ApiServer.Config(dir, 0, "127.0.0.1"));
    try {
      HttpClient client = Bench.h2Client(server);
      String base = "https://127.0.0.1:" + server.port() + "/apis/apps/v1/namespaces/default/deployments/bench-";
      long start = System.nanoTime();
      long measureFrom = start + 3_000_000_000L;
      long end = measureFrom + 10_000_000_000L;
      AtomicLong errors = new AtomicLong();
      List<long[]> lat = new ArrayList<>();
      int[] counts = new int[CLIENTS];
      List<Thread> threads = new ArrayList<>();
      for (int c = 0; c < CLIENTS; c++) {
        int id = c;
        long[] l = new long[100_000];
        lat.add(l);
        threads.add(Thread.ofVirtual().start(() -> {
          long gen = 0;
          int n = 0;
          while (true) {
            long t0 = System.nanoTime();
            if (t0 >= end) {
              break;
            }
            try {
              var r = client.newRequest(base + id + "?fieldManager=bench&force=true").method(HttpMethod.PATCH)
                  .body(new StringRequestContent("application/apply-patch+yaml", deployment(id, gen++)))
                  .timeout(60, java.util.concurrent.TimeUnit.SECONDS).send();
              long t1 = System.nanoTime();
              if (r.getStatus() != 200 && r.getStatus() != 201) {
                if (errors.getAndIncrement() < 3) {
                  System.err.println("apply -> " + r.getStatus() + " " + r.getContentAsString());
                }
              } else if (t0 >= measureFrom && t1 <= end && n < l.length) {
                l[n++] = t1 - t0;
              }
            } catch (Exception e) {
              errors.incrementAndGet();
            }
          }
          counts[id] = n;
        }));
      }
      for (Thread t : threads) {
        t.join();
      }
      int total = 0;
      for (int n : counts) {
        total += n;
      }
      long[] all = new long[total];
      int k = 0;
      for (int c = 0; c < CLIENTS; c++) {
        System.arraycopy(lat.get(c), 0, all, k, counts[c]);
        k += counts[c];
      }
      all = Bench.sorted(all);
      Map<String, Object> m = Bench.result("api-apply");
      m.put("applies_per_s", Bench.round(total / 10.0, 0));
      m.put("p50_ms", Bench.pctMs(all, 50));
      m.put("p99_ms", Bench.pctMs(all, 99));
      m.put("errors", errors.get());
      m.put("body_bytes", deployment(0, 0).length());
      m.put("clients", CLIENTS);
      Bench.print(m);
    } finally {
      server.close();
      Bench.deleteTree(dir);
    }
  }
}
