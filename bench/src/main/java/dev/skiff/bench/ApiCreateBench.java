package dev.skiff.bench;

import dev.skiff.apiserver.ApiServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpMethod;

/**
 * In-process server; 16 virtual-thread clients sharing one HTTP/2 connection POST 1 KiB ConfigMaps
 * for 10 s after a 2 s warm-up.
 */
final class ApiCreateBench {
  static final int CLIENTS = 16;
  static final long WARMUP_NANOS = 2_000_000_000L;
  static final long MEASURE_NANOS = 10_000_000_000L;

  private ApiCreateBench() {}

  static String configMap(String name, int payloadBytes) {
    String head = "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" + name
        + "\",\"labels\":{\"app\":\"bench\"}},\"data\":{\"payload\":\"";
    String pad = "x".repeat(Math.max(0, payloadBytes - head.length() - 3));
    return "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" + name
        + "\",\"labels\":{\"app\":\"bench\"}},\"data\":{\"payload\":\"" + pad + "\"}}";
  }

  static void run() throws Exception {
    Path dir = Bench.tempDir("skiff-bench-create-");
    ApiServer server = ApiServer.start(new ApiServer.Config(dir, 0, "127.0.0.1"));
    HttpClient client = Bench.h2Client(server);
    String uri = "https://127.0.0.1:" + server.port() + "/api/v1/namespaces/default/configmaps";
    try {
      long start = System.nanoTime();
      long measureFrom = start + WARMUP_NANOS;
      long end = measureFrom + MEASURE_NANOS;
      AtomicLong errors = new AtomicLong();
      List<long[]> perClient = new ArrayList<>();
      List<Thread> threads = new ArrayList<>();
      long[] counts = new long[CLIENTS];
      for (int c = 0; c < CLIENTS; c++) {
        int id = c;
        long[] lat = new long[200_000];
        perClient.add(lat);
        threads.add(Thread.ofVirtual().start(() -> {
          int n = 0;
          int seq = 0;
          while (true) {
            long t0 = System.nanoTime();
            if (t0 >= end) {
              break;
            }
            String body = configMap("cm-" + id + "-" + seq++, 1024);
            try {
              ContentResponse r = Bench.send(client, HttpMethod.POST, uri, body);
              long t1 = System.nanoTime();
              if (r.getStatus() != 201) {
                if (errors.getAndIncrement() < 3) {
                  System.err.println("POST -> " + r.getStatus() + " " + r.getContentAsString());
                }
              } else if (t0 >= measureFrom && t1 <= end && n < lat.length) {
                lat[n++] = t1 - t0;
              }
            } catch (Exception e) {
              if (errors.getAndIncrement() < 3) {
                e.printStackTrace();
              }
            }
          }
          counts[id] = n;
        }));
      }
      for (Thread t : threads) {
        t.join();
      }
      int total = 0;
      for (long n : counts) {
        total += (int) n;
      }
      long[] all = new long[total];
      int k = 0;
      for (int c = 0; c < CLIENTS; c++) {
        System.arraycopy(perClient.get(c), 0, all, k, (int) counts[c]);
        k += (int) counts[c];
      }
      java.util.Arrays.sort(all);
      Map<String, Object> m = Bench.result("api-create");
      m.put("creates_per_s", Bench.round(total / (MEASURE_NANOS / 1e9), 0));
      m.put("p50_ms", Bench.round(Bench.pctMs(all, 50), 2));
      m.put("p99_ms", Bench.round(Bench.pctMs(all, 99), 2));
      m.put("max_ms", Bench.round(Bench.pctMs(all, 100), 2));
      m.put("creates", total);
      m.put("errors", errors.get());
      m.put("object_bytes", configMap("cm-0-0", 1024).length());
      m.put("clients", CLIENTS);
      m.put("protocol", Bench.send(client, HttpMethod.GET, uri + "?limit=1", null).getVersion().asString());
      Bench.print(m);
    } finally {
      client.stop();
      server.close();
      Bench.deleteTree(dir);
    }
  }
}
