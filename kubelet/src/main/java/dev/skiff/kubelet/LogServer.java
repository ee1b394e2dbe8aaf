package dev.skiff.kubelet;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.skiff.kubelet.cri.ContainerRuntime;
import dev.skiff.kubelet.cri.ContainerStatus;
import dev.skiff.kubelet.cri.CriLogFollower;
import io.fabric8.kubernetes.api.model.Pod;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.function.BiFunction;

/**
 * The agent's streaming server, for now plain HTTP on loopback (mutual TLS is later): serves
 * {@code GET /containerLogs/<namespace>/<pod>/<container>} as the kubelet does
 * (pkg/kubelet/server/server.go getContainerLogs and pkg/kubelet/kuberuntime/logs/logs.go
 * ReadLogs), reading the CRI log with {@code follow}, {@code previous}, {@code tailLines},
 * {@code sinceSeconds}, {@code sinceTime}, {@code timestamps} and {@code limitBytes}. A followed
 * log ends when the container has exited and its log is complete. One virtual thread per request.
 */
final class LogServer implements AutoCloseable {
  private final HttpServer server;
  private final String host;
  private final boolean tls;
  private final ContainerRuntime runtime;
  private final BiFunction<String, String, Pod> pods;

  /** {@code pods} looks a pod up by namespace and name (the agent's cache). */
  LogServer(int port, ContainerRuntime runtime, BiFunction<String, String, Pod> pods) throws IOException {
    this("127.0.0.1", port, null, runtime, pods);
  }

  /**
   * On {@code host}:{@code port}; with {@code tls} HTTPS that requires a client certificate
   * ({@link ServingTls}), else plain HTTP.
   */
  LogServer(String host, int port, javax.net.ssl.SSLContext tls, ContainerRuntime runtime,
      BiFunction<String, String, Pod> pods) throws IOException {
    this.runtime = runtime;
    this.pods = pods;
    this.host = host;
    this.tls = tls != null;
    if (tls != null) {
      com.sun.net.httpserver.HttpsServer https = com.sun.net.httpserver.HttpsServer.create(new InetSocketAddress(host, port), 64);
      https.setHttpsConfigurator(new com.sun.net.httpserver.HttpsConfigurator(tls) {
        @Override
        public void configure(com.sun.net.httpserver.HttpsParameters params) {
          javax.net.ssl.SSLParameters p = getSSLContext().getDefaultSSLParameters();
          p.setNeedClientAuth(true);
          params.setSSLParameters(p);
        }
      });
      server = https;
    } else {
      server = HttpServer.create(new InetSocketAddress(host, port), 64);
    }
    server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    server.createContext("/containerLogs/", this::logs);
    server.createContext("/healthz", ex -> answer(ex, 200, "ok"));
    server.start();
  }

  /**
   * exec, attach and portForward are served by the streaming server on {@code port}: requests
   * here are redirected to it (as the kubelet once redirected to the CRI streaming server).
   */
  void redirectStreaming(int port) {
    for (String prefix : List.of("/exec/", "/attach/", "/portForward/")) {
      server.createContext(prefix, ex -> {
        try (ex) {
          String q = ex.getRequestURI().getRawQuery();
          ex.getResponseHeaders().set("Location", (tls ? "wss://" : "ws://")
              + (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port + ex.getRequestURI().getRawPath()
              + (q == null ? "" : "?" + q));
          ex.sendResponseHeaders(302, -1);
        }
      });
    }
  }

  int port() {
    return server.getAddress().getPort();
  }

  @Override
  public void close() {
    server.stop(0);
  }

  private static void answer(HttpExchange ex, int code, String body) throws IOException {
    byte[] b = body.getBytes(StandardCharsets.UTF_8);
    ex.getResponseHeaders().set("Content-Type", "text/plain; charset=utf-8");
    ex.sendResponseHeaders(code, b.length == 0 ? -1 : b.length);
    try (OutputStream out = ex.getResponseBody()) {
      out.write(b);
    }
  }

  private void logs(HttpExchange ex) throws IOException {
    try (ex) {
      String[] parts = ex.getRequestURI().getPath().substring("/containerLogs/".length()).split("/");
      if (parts.length != 3) {
        answer(ex, 400, "expected /containerLogs/<namespace>/<pod>/<container>");
        return;
      }
      Map<String, String> q = query(ex.getRequestURI().getRawQuery());
      Pod pod = pods.apply(parts[0], parts[1]);
      if (pod == null) {
        answer(ex, 404, "pod \"" + parts[1] + "\" not found on this node");
        return;
      }
      String container = parts[2];
      List<ContainerStatus> instances = runtime.listContainers(pod.getMetadata().getUid()).stream()
          .filter(s -> s.name().equals(container)).toList();
      boolean previous = flag(q, "previous");
      ContainerStatus target = instances.isEmpty() ? null
          : previous ? (instances.size() >= 2 ? instances.get(instances.size() - 2) : null)
          : instances.get(instances.size() - 1);
      if (target == null) {
        answer(ex, 400, previous
            ? "previous terminated container \"" + container + "\" in pod \"" + parts[1] + "\" not found"
            : "container \"" + container + "\" in pod \"" + parts[1] + "\" is waiting to start: ContainerCreating");
        return;
      }
      ex.getResponseHeaders().set("Content-Type", "text/plain");
      ex.sendResponseHeaders(200, 0);
      OutputStream out = ex.getResponseBody();
      stream(target, q, flag(q, "follow") && !previous, out);
      out.close();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void stream(ContainerStatus target, Map<String, String> q, boolean follow, OutputStream out)
      throws IOException, InterruptedException {
    boolean timestamps = flag(q, "timestamps");
    long limit = q.containsKey("limitBytes") ? Long.parseLong(q.get("limitBytes")) : Long.MAX_VALUE;
    Instant since = q.containsKey("sinceTime") ? Instant.parse(q.get("sinceTime"))
        : q.containsKey("sinceSeconds") ? Instant.now().minusSeconds(Long.parseLong(q.get("sinceSeconds"))) : null;
    int tail = q.containsKey("tailLines") ? Integer.parseInt(q.get("tailLines")) : -1;
    long[] written = {0};
    // First pass: the current log (with tailLines applied; rotated files are not read, as the
    // kubelet reads only the current one), then follow appended lines, across rotations.
    try (CriLogFollower follower = new CriLogFollower(target.logPath(), false)) {
      Deque<byte[]> lines = new ArrayDeque<>(follower.poll());
      if (tail >= 0) {
        while (lines.size() > tail) {
          lines.removeFirst();
        }
      }
      for (byte[] l : lines) {
        if (!emit(l, since, timestamps, limit, written, out)) {
          return;
        }
      }
      out.flush();
      while (follow) {
        ContainerStatus now = runtime.containerStatus(target.id());
        boolean done = now == null || (now.state() == ContainerStatus.State.EXITED
            && runtime.awaitLogComplete(target.id(), 0));
        List<byte[]> more = follower.poll();
        for (byte[] l : more) {
          if (!emit(l, since, timestamps, limit, written, out)) {
            return;
          }
        }
        if (!more.isEmpty()) {
          out.flush();
        }
        if (done) {
          return;
        }
        if (more.isEmpty()) {
          Thread.sleep(20);
        }
      }
    }
  }

  /** Writes one CRI entry's content; false once limitBytes is reached. */
  private static boolean emit(byte[] line, Instant since, boolean timestamps, long limit, long[] written,
      OutputStream out) throws IOException {
    int s1 = indexOf(line, 0);
    int s2 = indexOf(line, s1 + 1);
    int s3 = indexOf(line, s2 + 1);
    if (s1 < 0 || s2 < 0 || s3 < 0) {
      return true;
    }
    String ts = new String(line, 0, s1, StandardCharsets.US_ASCII);
    if (since != null && Instant.parse(ts).isBefore(since)) {
      return true;
    }
    boolean full = line[s2 + 1] == 'F';
    var b = new java.io.ByteArrayOutputStream();
    if (timestamps) {
      b.writeBytes((ts + " ").getBytes(StandardCharsets.US_ASCII));
    }
    b.write(line, s3 + 1, line.length - s3 - 1);
    if (full) {
      b.write('\n');
    }
    byte[] bytes = b.toByteArray();
    long room = limit - written[0];
    if (bytes.length >= room) {
      out.write(bytes, 0, (int) room);
      written[0] = limit;
      return false;
    }
    out.write(bytes);
    written[0] += bytes.length;
    return true;
  }

  private static int indexOf(byte[] a, int from) {
    if (from <= 0 && from != 0) {
      return -1;
    }
    for (int i = from; i < a.length; i++) {
      if (a[i] == ' ') {
        return i;
      }
    }
    return -1;
  }

  private static boolean flag(Map<String, String> q, String name) {
    String v = q.get(name);
    return v != null && (v.isEmpty() || v.equals("true") || v.equals("1"));
  }

  private static Map<String, String> query(String raw) {
    Map<String, String> m = new HashMap<>();
    if (raw == null) {
      return m;
    }
    for (String kv : raw.split("&")) {
      int eq = kv.indexOf('=');
      String k = URLDecoder.decode(eq < 0 ? kv : kv.substring(0, eq), StandardCharsets.UTF_8);
      String v = eq < 0 ? "" : URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
      m.put(k, v);
    }
    return m;
  }
}
