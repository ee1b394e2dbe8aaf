package dev.skiff.bench;

import dev.skiff.apiserver.ApiServer;
import dev.skiff.apiserver.pki.Kubeconfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDate;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import javax.net.ssl.SSLContext;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.InputStreamResponseListener;
import org.eclipse.jetty.client.Request;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.client.StringRequestContent;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http2.client.HTTP2Client;
import org.eclipse.jetty.http2.client.transport.HttpClientTransportOverHTTP2;
import org.eclipse.jetty.io.ClientConnector;
import org.eclipse.jetty.util.ssl.SslContextFactory;

/** Shared helpers for the scenario benchmarks. */
final class Bench {
  static final String MACHINE = "2-core";

  private Bench() {}

  /** An HTTP/2 (ALPN h2) Jetty client that authenticates with the given SSLContext. */
  static HttpClient h2Client(SSLContext ctx) throws Exception {
    SslContextFactory.Client ssl = new SslContextFactory.Client();
    ssl.setSslContext(ctx);
    ssl.setEndpointIdentificationAlgorithm(null);
    ClientConnector connector = new ClientConnector();
    connector.setSslContextFactory(ssl);
    connector.setIdleTimeout(java.time.Duration.ofMinutes(10));
    HTTP2Client h2 = new HTTP2Client(connector);
    h2.setMaxConcurrentPushedStreams(0);
    HttpClient client = new HttpClient(new HttpClientTransportOverHTTP2(h2));
    client.setIdleTimeout(600_000);
    client.setMaxRequestsQueuedPerDestination(100_000);
    client.start();
    return client;
  }

  static HttpClient h2Client(ApiServer server) throws Exception {
    return h2Client(Kubeconfig.read(server.kubeconfig()).sslContext());
  }

  static ContentResponse send(HttpClient c, HttpMethod m, String uri, String json) throws Exception {
    Request r = c.newRequest(uri).method(m).timeout(60, TimeUnit.SECONDS).headers(h -> h.remove("Accept-Encoding"));
    if (json != null) {
      r.body(new StringRequestContent("application/json", json));
    }
    return r.send();
  }

  /** GETs a URI, streaming the body; returns the byte count (fails on a non-200). */
  static long getBytes(HttpClient c, String uri) throws Exception {
    InputStreamResponseListener l = new InputStreamResponseListener();
    c.newRequest(uri).idleTimeout(60, TimeUnit.SECONDS).headers(h -> h.remove("Accept-Encoding")).send(l);
    Response resp = l.get(60, TimeUnit.SECONDS);
    long n = 0;
    byte[] buf = new byte[64 * 1024];
    try (InputStream in = l.getInputStream()) {
      int r;
      while ((r = in.read(buf)) >= 0) {
        n += r;
      }
    }
    if (resp.getStatus() != 200) {
      throw new IOException("GET " + uri + " -> " + resp.getStatus());
    }
    return n;
  }

  static Path tempDir(String prefix) throws IOException {
    return Files.createTempDirectory(prefix);
  }

  static void deleteTree(Path p) {
    if (p == null || !Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      s.sorted(Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
    } catch (IOException ignored) {
      // best effort
    }
  }

  /** Percentile (0..100) of sorted nanos, in ms. */
  static double pctMs(long[] sortedNanos, double p) {
    if (sortedNanos.length == 0) {
      return Double.NaN;
    }
    int i = (int) Math.ceil(p / 100.0 * sortedNanos.length) - 1;
    i = Math.max(0, Math.min(sortedNanos.length - 1, i));
    return sortedNanos[i] / 1e6;
  }

  static long[] sorted(long[] a) {
    long[] c = a.clone();
    Arrays.sort(c);
    return c;
  }

  static double round(double v, int digits) {
    double f = Math.pow(10, digits);
    return Math.round(v * f) / f;
  }

  /**
   * The agent's pod sandbox pool for the pod benchmarks: {@code SKIFF_BENCH_SANDBOX_POOL} if set
   * (0 = as `skiff server` runs by default), else {@code def}.
   */
  static int sandboxPool(int def) {
    String v = System.getenv("SKIFF_BENCH_SANDBOX_POOL");
    return v == null || v.isBlank() ? def : Integer.parseInt(v.trim());
  }

  /**
   * Waits until the node agent under {@code dataDir} holds {@code size} pooled pod sandboxes
   * ({@code kubelet/network/ips/<ip>} files holding "-"), or until {@code deadlineNanos}.
   */
  static void awaitSandboxPool(java.nio.file.Path dataDir, int size, long deadlineNanos) throws Exception {
    java.nio.file.Path ips = dataDir.resolve("kubelet/network/ips");
    while (System.nanoTime() < deadlineNanos && java.nio.file.Files.isDirectory(ips)) {
      long pooled;
      try (var s = java.nio.file.Files.list(ips)) {
        pooled = s.filter(f -> {
          try {
            return java.nio.file.Files.readString(f).trim().equals("-");
          } catch (java.io.IOException e) {
            return false;
          }
        }).count();
      }
      if (pooled >= size) {
        return;
      }
      Thread.sleep(50);
    }
  }

  /**
   * The client an in-JVM component of {@code skiff server} gets, with the transport of the
   * environment variable SKIFF_BENCH_TRANSPORT ({@code in-jvm}, the server's default, or
   * {@code loopback}), so benchmarks can compare the two.
   */
  static io.fabric8.kubernetes.client.KubernetesClient componentClient(ApiServer server) {
    return transport().equals("loopback") ? dev.skiff.runtime.Clients.forKubeconfig(server.kubeconfig())
        : dev.skiff.runtime.Clients.inProcess(server.kubeconfig(), new dev.skiff.cli.InJvmApi(server));
  }

  static String transport() {
    String t = System.getenv("SKIFF_BENCH_TRANSPORT");
    return t == null || t.isEmpty() ? "in-jvm" : t;
  }

  static Map<String, Object> result(String bench) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("bench", bench);
    return m;
  }

  static void print(Map<String, Object> m) {
    m.put("machine", MACHINE);
    m.put("java", Runtime.version().toString());
    m.put("date", LocalDate.now().toString());
    StringBuilder sb = new StringBuilder("{");
    boolean first = true;
    for (Map.Entry<String, Object> e : m.entrySet()) {
      if (!first) {
        sb.append(',');
      }
      first = false;
      sb.append('"').append(e.getKey()).append("\":");
      Object v = e.getValue();
      if (v instanceof Number || v instanceof Boolean) {
        sb.append(v);
      } else if (v instanceof long[] arr) {
        sb.append(Arrays.toString(arr).replace(" ", ""));
      } else {
        sb.append('"').append(String.valueOf(v).replace("\\", "\\\\").replace("\"", "\\\"")).append('"');
      }
    }
    System.out.println(sb.append('}'));
    System.out.flush();
  }

  /** The value of the first {@code "key":"value"} in a JSON text at or after from, or null. */
  static String field(String json, String key, int from) {
    String k = "\"" + key + "\":\"";
    int i = json.indexOf(k, from);
    if (i < 0) {
      return null;
    }
    int s = i + k.length();
    int e = json.indexOf('"', s);
    return json.substring(s, e);
  }

  static long usedHeapAfterGc() throws InterruptedException {
    Runtime rt = Runtime.getRuntime();
    for (int i = 0; i < 4; i++) {
      System.gc();
      Thread.sleep(100);
    }
    return rt.totalMemory() - rt.freeMemory();
  }
}
