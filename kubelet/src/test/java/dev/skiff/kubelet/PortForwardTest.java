package dev.skiff.kubelet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.Kubectl;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * kubectl port-forward to an HTTP server running in a pod: SPDY/3.1 tunnelled in WebSocket
 * (kubectl 1.31+) and plain SPDY/3.1 upgraded from HTTP (1.27-1.30).
 */
class PortForwardTest {
  static AgentFixture f;

  @BeforeAll
  static void start() throws Exception {
    // loopback as the node IP: on a shared test machine other interfaces come and go
    f = new AgentFixture(java.util.Map.of("node-ip", "127.0.0.1"));
  }

  @AfterAll
  static void stop() throws Exception {
    f.close();
  }

  @Test
  void portForwardReachesAnHttpServerInThePodWithEveryKubectl() throws Exception {
    // The pod's server is a single-file Java program (the JDK is the one tool every test machine has).
    Path src = f.data.resolve("Hello.java");
    Files.writeString(src, """
        import com.sun.net.httpserver.HttpServer;
        import java.net.InetSocketAddress;
        public class Hello {
          public static void main(String[] a) throws Exception {
            HttpServer s = HttpServer.create(new InetSocketAddress(Integer.parseInt(System.getenv("PORT"))), 0);
            s.createContext("/", ex -> {
              byte[] b = ("hello through port-forward " + ex.getRequestURI()).getBytes();
              ex.sendResponseHeaders(200, b.length);
              ex.getResponseBody().write(b);
              ex.close();
            });
            s.start();
          }
        }
        """);
    int port;
    try (var ss = new java.net.ServerSocket(0)) {
      port = ss.getLocalPort();
    }
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    f.apply("""
        apiVersion: v1
        kind: Pod
        metadata: {name: web}
        spec:
          nodeName: node-a
          terminationGracePeriodSeconds: 2
          containers:
          - name: main
            image: busybox
            command: [%s, %s]
            ports: [{containerPort: %d}]
            readinessProbe:
              tcpSocket: {port: %d}
              periodSeconds: 1
        """.formatted(java, src, port, port));
    try {
      f.await("web", p -> p.getStatus() != null && p.getStatus().getConditions() != null && p.getStatus().getConditions()
        .stream().anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True")));
    } catch (AssertionError e) {
      throw new AssertionError(f.client.v1().events().inNamespace("default").list().getItems().stream()
          .map(ev -> ev.getReason() + ": " + ev.getMessage()).toList().toString(), e);
    }
    for (String binary : List.of(Kubectl.DEFAULT, Kubectl.V1_30, Kubectl.V1_27)) {
      Process pf = f.server.kubectl(binary).start("port-forward", "pod/web", ":" + port);
      try {
        BufferedReader out = new BufferedReader(new InputStreamReader(pf.getInputStream(), StandardCharsets.UTF_8));
        String line = CompletableFuture.supplyAsync(() -> {
          try {
            return out.readLine();
          } catch (java.io.IOException e) {
            return null;
          }
        }, r -> Thread.ofVirtual().start(r)).get(30, TimeUnit.SECONDS);
        Matcher m = Pattern.compile("Forwarding from 127\\.0\\.0\\.1:(\\d+) -> " + port).matcher(String.valueOf(line));
        assertThat(m.find()).as(binary + ": " + line).isTrue();
        int local = Integer.parseInt(m.group(1));
        StringBuilder err = new StringBuilder();
        Thread.ofVirtual().start(() -> {
          try {
            err.append(new String(pf.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
          } catch (java.io.IOException e) {
            // gone
          }
        });
        HttpClient http = HttpClient.newHttpClient();
        for (int i = 0; i < 3; i++) { // several connections over the same SPDY session
          HttpResponse<String> r;
          try {
            r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + local + "/x" + i))
                .build(), HttpResponse.BodyHandlers.ofString());
          } catch (java.io.IOException e) {
            pf.waitFor(5, TimeUnit.SECONDS);
            throw new AssertionError(binary + ": " + err, e);
          }
          assertThat(r.statusCode()).as(binary + err).isEqualTo(200);
          assertThat(r.body()).isEqualTo("hello through port-forward /x" + i);
        }
        // a larger body both ways through SPDY's flow control
        HttpResponse<String> big = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + local + "/"
            + "a".repeat(6000))).build(), HttpResponse.BodyHandlers.ofString());
        assertThat(big.body()).endsWith("a".repeat(6000));
      } finally {
        pf.destroy();
        pf.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }
}
