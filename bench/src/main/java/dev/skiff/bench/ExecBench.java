package dev.skiff.bench;

import dev.skiff.apiserver.ApiServer;
import dev.skiff.apiserver.pki.Kubeconfig;
import dev.skiff.kubelet.NodeAgent;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * exec through the API server (WebSocket v5.channel.k8s.io, what kubectl 1.30+ speaks) to the
 * node agent, all in one JVM, with the JDK's WebSocket client standing in for kubectl:
 * <ul>
 *   <li>{@code exec_true}: a whole {@code exec pod -- true} (upgrade, agent hop, process start,
 *       exit Status on channel 3, close), against {@code local_true}: starting {@code true} here;
 *   <li>{@code echo}: in an open {@code exec -i pod -- cat} session, one line on stdin (channel 0)
 *       until it comes back on stdout (channel 1), against {@code local_echo}: the same through
 *       a local {@code cat}'s pipes.
 * </ul>
 */
final class ExecBench {
  static final int RUNS = 300;
  static final int ECHOES = 2000;
  static final String NODE = "bench-node";

  private ExecBench() {}

  static void run() throws Exception {
    run(false);
  }

  /**
   * With {@code tls} ({@code ./skiff bench exec-tls}) the agent has serving credentials: the API
   * server reaches it over mutual TLS at the node's address (127.0.0.1 here), as every agent
   * started by {@code skiff server} or {@code skiff agent} is reached.
   */
  static void run(boolean tls) throws Exception {
    Path dir = Bench.tempDir("skiff-bench-exec-");
    ApiServer server = ApiServer.start(new ApiServer.Config(dir.resolve("api"), 0, "127.0.0.1"));
    KubernetesClient client = Clients.forKubeconfig(server.kubeconfig());
    Map<String, String> options = Map.of();
    if (tls) {
      var cert = server.pki().issueServingCertificate("system:node:" + NODE, java.util.List.of("system:nodes"),
          java.util.List.of("127.0.0.1"), false, java.time.Duration.ofDays(1));
      java.nio.file.Files.createDirectories(dir.resolve("tls"));
      Path crt = java.nio.file.Files.writeString(dir.resolve("tls/kubelet.crt"), cert.certificatePem());
      Path key = java.nio.file.Files.writeString(dir.resolve("tls/kubelet.key"), cert.privateKeyPem());
      Path ca = java.nio.file.Files.writeString(dir.resolve("tls/ca.crt"),
          dev.skiff.apiserver.pki.Pem.encodeCertificates(java.util.List.of(server.pki().caCertificate())));
      options = Map.of("node-ip", "127.0.0.1", "tls-cert-file", crt.toString(), "tls-private-key-file", key.toString(),
          "client-ca-file", ca.toString());
    }
    NodeAgent.Running agent = new NodeAgent().start(new ComponentContext(client, dir, NODE, options));
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .sslContext(Kubeconfig.read(server.kubeconfig()).sslContext())
        .executor(Executors.newVirtualThreadPerTaskExecutor()).build();
    String base = "wss://127.0.0.1:" + server.port() + "/api/v1/namespaces/default/pods/shell/exec?container=main";
    try {
      Pod p = new PodBuilder().withNewMetadata().withName("shell").endMetadata().withNewSpec().withNodeName(NODE)
          .addNewContainer().withName("main").withImage("busybox").withCommand("sleep", "3600").endContainer()
          .endSpec().build();
      client.pods().inNamespace("default").resource(p).create();
      client.pods().inNamespace("default").withName("shell")
          .waitUntilCondition(x -> x.getStatus() != null && "Running".equals(x.getStatus().getPhase()), 60, TimeUnit.SECONDS);

      for (int i = 0; i < 30; i++) {
        execTrue(http, base); // warm up both sides
        local(new ProcessBuilder("true"));
      }
      long[] exec = new long[RUNS];
      long[] local = new long[RUNS];
      for (int i = 0; i < RUNS; i++) {
        exec[i] = execTrue(http, base);
        local[i] = local(new ProcessBuilder("true"));
      }
      long[] remoteEcho = echo(http, base);
      long[] localEcho = localEcho();
      exec = Bench.sorted(exec);
      local = Bench.sorted(local);
      Map<String, Object> m = Bench.result(tls ? "exec-tls" : "exec");
      m.put("runs", RUNS);
      m.put("exec_true_p50_ms", Bench.round(Bench.pctMs(exec, 50), 2));
      m.put("exec_true_p99_ms", Bench.round(Bench.pctMs(exec, 99), 2));
      m.put("local_true_p50_ms", Bench.round(Bench.pctMs(local, 50), 2));
      m.put("local_true_p99_ms", Bench.round(Bench.pctMs(local, 99), 2));
      m.put("echoes", ECHOES);
      m.put("echo_p50_ms", Bench.round(Bench.pctMs(remoteEcho, 50), 3));
      m.put("echo_p99_ms", Bench.round(Bench.pctMs(remoteEcho, 99), 3));
      m.put("local_echo_p50_ms", Bench.round(Bench.pctMs(localEcho, 50), 3));
      m.put("local_echo_p99_ms", Bench.round(Bench.pctMs(localEcho, 99), 3));
      Bench.print(m);
    } finally {
      agent.close();
      dev.skiff.kubelet.cri.ProcessRuntime.removeAll(dir.resolve("kubelet")); // processes, namespaces, bridge
      client.close();
      server.close();
      Bench.deleteTree(dir);
    }
  }

  private static long local(ProcessBuilder pb) throws Exception {
    long t0 = System.nanoTime();
    pb.start().waitFor();
    return System.nanoTime() - t0;
  }

  /** One whole exec of {@code true}; nanoseconds until the Status arrived and the socket closed. */
  private static long execTrue(HttpClient http, String base) throws Exception {
    Session s = new Session();
    long t0 = System.nanoTime();
    WebSocket ws = http.newWebSocketBuilder().subprotocols("v5.channel.k8s.io")
        .buildAsync(URI.create(base + "&command=true&stdout=true&stderr=true"), s).get(30, TimeUnit.SECONDS);
    byte[] status;
    while ((status = s.messages.poll(30, TimeUnit.SECONDS)) != null && status[0] != 3) {
      // output: none for true
    }
    s.closed.get(30, TimeUnit.SECONDS);
    long t = System.nanoTime() - t0;
    if (status == null || !new String(status, 1, status.length - 1).contains("Success")) {
      throw new IllegalStateException("exec failed: " + (status == null ? "timeout" : new String(status)));
    }
    ws.abort();
    return t;
  }

  private static long[] echo(HttpClient http, String base) throws Exception {
    Session s = new Session();
    WebSocket ws = http.newWebSocketBuilder().subprotocols("v5.channel.k8s.io")
        .buildAsync(URI.create(base + "&command=cat&stdin=true&stdout=true&stderr=true"), s).get(30, TimeUnit.SECONDS);
    long[] out = new long[ECHOES];
    byte[] line = {0, 'x', '\n'};
    for (int i = 0; i < ECHOES + 100; i++) {
      long t0 = System.nanoTime();
      ws.sendBinary(ByteBuffer.wrap(line), true).get(30, TimeUnit.SECONDS);
      byte[] got = s.messages.poll(30, TimeUnit.SECONDS);
      if (got == null || got[0] != 1) {
        throw new IllegalStateException("no echo");
      }
      if (i >= 100) {
        out[i - 100] = System.nanoTime() - t0;
      }
    }
    ws.sendBinary(ByteBuffer.wrap(new byte[] {(byte) 255, 0}), true).get(30, TimeUnit.SECONDS);
    s.closed.get(30, TimeUnit.SECONDS);
    return Bench.sorted(out);
  }

  private static long[] localEcho() throws Exception {
    Process p = new ProcessBuilder("cat").start();
    long[] out = new long[ECHOES];
    OutputStream in = p.getOutputStream();
    InputStream o = p.getInputStream();
    byte[] buf = new byte[64];
    for (int i = 0; i < ECHOES + 100; i++) {
      long t0 = System.nanoTime();
      in.write(new byte[] {'x', '\n'});
      in.flush();
      o.read(buf);
      if (i >= 100) {
        out[i - 100] = System.nanoTime() - t0;
      }
    }
    in.close();
    p.waitFor();
    return Bench.sorted(out);
  }

  /** Collects binary messages (one per WebSocket message) and the close. */
  private static final class Session implements WebSocket.Listener {
    final BlockingQueue<byte[]> messages = new LinkedBlockingQueue<>();
    final CompletableFuture<Integer> closed = new CompletableFuture<>();
    private final java.io.ByteArrayOutputStream partial = new java.io.ByteArrayOutputStream();

    @Override
    public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
      byte[] b = new byte[data.remaining()];
      data.get(b);
      partial.writeBytes(b);
      if (last) {
        messages.add(partial.toByteArray());
        partial.reset();
      }
      ws.request(1);
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket ws, int code, String reason) {
      closed.complete(code);
      return null;
    }

    @Override
    public void onError(WebSocket ws, Throwable error) {
      closed.completeExceptionally(error);
    }
  }
}
