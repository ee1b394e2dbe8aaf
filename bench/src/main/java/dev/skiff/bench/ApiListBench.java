package dev.skiff.bench;

import dev.skiff.apiserver.ApiServer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpMethod;

/**
 * In-process server; 10,000 ~3 KiB Pods created by 16 clients, then {@code GET /api/v1/pods} (full
 * JSON, no gzip) 10 times. Also the retained heap per stored Pod.
 */
final class ApiListBench {
  static final int PODS = 10_000;
  static final int CLIENTS = 16;
  static final int LISTS = 10;

  private ApiListBench() {}

  static String pod(int i) {
    String name = "web-" + i;
    return """
        {"apiVersion":"v1","kind":"Pod","metadata":{"name":"%1$s","namespace":"default",
        "labels":{"app":"web","tier":"frontend","release":"r%2$d","pod-template-hash":"5d8f9c7b6%3$d"},
        "annotations":{"prometheus.io/scrape":"true","prometheus.io/port":"9090",
        "kubectl.kubernetes.io/restartedAt":"2026-11-22T08:00:00Z","example.com/owner":"team-%3$d",
        "example.com/description":"Frontend web server for the storefront; serves the SPA and proxies API calls to the backend tier.",
        "example.com/git-commit":"9f2c4e1b7a3d5f60812c4e9b0a7d3f1e2c5b8a90"}},
        "spec":{"restartPolicy":"Always","terminationGracePeriodSeconds":30,"dnsPolicy":"ClusterFirst",
        "serviceAccountName":"default","nodeSelector":{"kubernetes.io/os":"linux"},
        "containers":[{"name":"web","image":"registry.example.com/team/web-frontend:1.27.%3$d",
        "imagePullPolicy":"IfNotPresent","args":["--port=8080","--metrics-port=9090","--log-level=info"],
        "env":[{"name":"POD_NAME","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}},
        {"name":"POD_NAMESPACE","valueFrom":{"fieldRef":{"fieldPath":"metadata.namespace"}}},
        {"name":"LOG_FORMAT","value":"json"},{"name":"CACHE_SIZE_MB","value":"256"},
        {"name":"UPSTREAM_URL","value":"http://backend.default.svc.cluster.local:8080/api/v1"},
        {"name":"FEATURE_FLAGS","value":"new-checkout,fast-search,dark-mode,beta-recommendations"},
        {"name":"DB_HOST","value":"postgres-primary.databases.svc.cluster.local"},{"name":"DB_PORT","value":"5432"},
        {"name":"DB_USER","valueFrom":{"secretKeyRef":{"name":"web-db","key":"username"}}},
        {"name":"DB_PASSWORD","valueFrom":{"secretKeyRef":{"name":"web-db","key":"password"}}},
        {"name":"REDIS_URL","value":"redis://redis-master.cache.svc.cluster.local:6379/0"},
        {"name":"OTEL_EXPORTER_OTLP_ENDPOINT","value":"http://otel-collector.observability.svc:4317"},
        {"name":"OTEL_SERVICE_NAME","value":"web-frontend"},{"name":"GOMAXPROCS","valueFrom":{"resourceFieldRef":{"resource":"limits.cpu"}}}],
        "ports":[{"name":"http","containerPort":8080,"protocol":"TCP"},{"name":"metrics","containerPort":9090,"protocol":"TCP"}],
        "resources":{"requests":{"cpu":"250m","memory":"256Mi"},"limits":{"cpu":"1","memory":"512Mi"}},
        "livenessProbe":{"httpGet":{"path":"/healthz","port":8080,"scheme":"HTTP"},"initialDelaySeconds":10,"periodSeconds":10,"timeoutSeconds":2,"failureThreshold":3},
        "readinessProbe":{"httpGet":{"path":"/ready","port":"http","scheme":"HTTP"},"initialDelaySeconds":5,"periodSeconds":5,"timeoutSeconds":1,"successThreshold":1,"failureThreshold":3},
        "volumeMounts":[{"name":"config","mountPath":"/etc/web","readOnly":true},{"name":"cache","mountPath":"/var/cache/web"}]}],
        "volumes":[{"name":"config","configMap":{"name":"web-config","defaultMode":420}},{"name":"cache","emptyDir":{"sizeLimit":"1Gi"}}],
        "tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}]}}
        """.formatted(name, i % 50, i % 10);
  }

  static void run() throws Exception {
    Path dir = Bench.tempDir("skiff-bench-list-");
    ApiServer server = ApiServer.start(new ApiServer.Config(dir, 0, "127.0.0.1"));
    HttpClient client = Bench.h2Client(server);
    String base = "https://127.0.0.1:" + server.port();
    String podsUri = base + "/api/v1/namespaces/default/pods";
    try {
      // Warm the code paths a little (and the list path) before the heap baseline.
      ContentResponse w = Bench.send(client, HttpMethod.GET, base + "/api/v1/pods", null);
      if (w.getStatus() != 200) {
        throw new IllegalStateException("list -> " + w.getStatus());
      }
      long heapBefore = Bench.usedHeapAfterGc();

      AtomicInteger next = new AtomicInteger();
      AtomicLong errors = new AtomicLong();
      long t0 = System.nanoTime();
      List<Thread> threads = new ArrayList<>();
      for (int c = 0; c < CLIENTS; c++) {
        threads.add(Thread.ofVirtual().start(() -> {
          int i;
          while ((i = next.getAndIncrement()) < PODS) {
            try {
              ContentResponse r = Bench.send(client, HttpMethod.POST, podsUri, pod(i));
              if (r.getStatus() != 201 && errors.getAndIncrement() < 3) {
                System.err.println("POST pod -> " + r.getStatus() + " " + r.getContentAsString());
              }
            } catch (Exception e) {
              if (errors.getAndIncrement() < 3) {
                e.printStackTrace();
              }
            }
          }
        }));
      }
      for (Thread t : threads) {
        t.join();
      }
      long createNanos = System.nanoTime() - t0;
      long heapAfter = Bench.usedHeapAfterGc();

      long[] times = new long[LISTS];
      long bytes = 0;
      Bench.getBytes(client, base + "/api/v1/pods"); // one untimed warm-up list
      for (int i = 0; i < LISTS; i++) {
        long s = System.nanoTime();
        bytes = Bench.getBytes(client, base + "/api/v1/pods");
        times[i] = System.nanoTime() - s;
      }
      long[] sorted = Bench.sorted(times);
      Map<String, Object> m = Bench.result("api-list");
      m.put("pods", PODS);
      m.put("pod_json_bytes", pod(1234).length());
      m.put("create_errors", errors.get());
      m.put("create_per_s", Bench.round(PODS / (createNanos / 1e9), 0));
      m.put("list_median_ms", Bench.round((sorted[LISTS / 2 - 1] + sorted[LISTS / 2]) / 2e6, 1));
      m.put("list_p90_ms", Bench.round(Bench.pctMs(sorted, 90), 1));
      m.put("list_min_ms", Bench.round(sorted[0] / 1e6, 1));
      m.put("list_bytes", bytes);
      m.put("heap_per_pod_kib", Bench.round((heapAfter - heapBefore) / (double) PODS / 1024.0, 2));
      m.put("heap_before_mb", Bench.round(heapBefore / 1048576.0, 1));
      m.put("heap_after_mb", Bench.round(heapAfter / 1048576.0, 1));
      m.put("max_heap_mb", Bench.round(Runtime.getRuntime().maxMemory() / 1048576.0, 0));
      m.put("clients", CLIENTS);
      Bench.print(m);
    } finally {
      client.stop();
      server.close();
      Bench.deleteTree(dir);
    }
  }
}
