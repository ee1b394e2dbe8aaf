package dev.skiff.kubelet;

import static dev.skiff.kubelet.AgentFixture.phase;
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
 * Plain SPDY/3.1 (no WebSocket) through the API server to the agent, with the real kubectl
 * 1.27-1.29 (exec, attach, cp) and 1.30 (whose port-forward is still SPDY).
 */
class SpdyStreamingTest {
  static final List<String> OLD = List.of(Kubectl.V1_27, Kubectl.V1_28, Kubectl.V1_29);
  static AgentFixture f;

  @BeforeAll
  static void start() throws Exception {
    // loopback as the node IP: on a shared test machine other interfaces come and go
    f = new AgentFixture(java.util.Map.of("node-ip", "127.0.0.1"));
    f.apply("""
        apiVersion: v1
        kind: Pod
        metadata: {name: shell}
        spec:
          nodeName: node-a
          terminationGracePeriodSeconds: 2
          containers:
          - name: main
            image: busybox
            command: [sleep, "3600"]
            workingDir: /tmp
            env:
            - {name: GREETING, value: hello-from-env}
        """);
    f.await("shell", p -> "Running".equals(phase(p)));
  }

  @AfterAll
  static void stop() throws Exception {
    f.close();
  }

  @Test
  void execOutputStderrAndExitCode() throws Exception {
    for (String binary : OLD) {
      Kubectl.Result r = f.server.kubectl(binary).run("exec", "shell", "--", "sh", "-c",
          "echo hi $GREETING; pwd; echo oops >&2; exit 3");
      assertThat(r.out()).as(binary + r.err()).isEqualTo("hi hello-from-env\n/tmp\n");
      assertThat(r.err()).as(binary).contains("oops").contains("command terminated with exit code 3");
      assertThat(r.code()).as(binary).isEqualTo(3);
      Kubectl.Result ok = f.server.kubectl(binary).run("exec", "shell", "--", "true");
      assertThat(ok.code()).as(binary + ": " + ok.err()).isZero();
    }
  }

  @Test
  void execWithStdinAndLargeOutput() throws Exception {
    for (String binary : OLD) {
      Kubectl.Result r = f.server.kubectl(binary).runWithInput("one\ntwo\n", "exec", "-i", "shell", "--", "sh", "-c",
          "tr a-z A-Z; echo done");
      assertThat(r.out()).as(binary + r.err()).isEqualTo("ONE\nTWO\ndone\n");
      assertThat(r.code()).isZero();
    }
    // more than SPDY's initial 64 KiB window both ways
    String big = "x".repeat(199) + "\n";
    Kubectl.Result r = f.server.kubectl(Kubectl.V1_27).runWithInput(big.repeat(2000), "exec", "-i", "shell", "--",
        "sh", "-c", "wc -c; seq 1 50000 | tail -c 100000 | wc -c");
    assertThat(r.out()).as(r.err()).isEqualTo("400000\n100000\n");
  }

  @Test
  void execWithATty() throws Exception {
    for (String binary : OLD) {
      String kubectl = binary + " --kubeconfig " + f.server.kubeconfig();
      Process p = new ProcessBuilder("script", "-qec", "stty cols 91 rows 27; " + kubectl
          + " exec -it shell -- sh -c 'tty; stty size; exit 5'", "/dev/null").redirectErrorStream(true).start();
      p.getOutputStream().close();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
      assertThat(out).as(binary).containsPattern("/dev/pts/\\d+").contains("27 91")
          .contains("command terminated with exit code 5");
    }
  }

  @Test
  void execErrors() throws Exception {
    Kubectl.Result r = f.server.kubectl(Kubectl.V1_27).run("exec", "shell", "-c", "nope", "--", "true");
    assertThat(r.code()).isNotZero();
    assertThat(r.err()).contains("container nope is not valid for pod shell");
    Kubectl.Result missing = f.server.kubectl(Kubectl.V1_28).run("exec", "shell", "--", "/no/such/binary");
    assertThat(missing.code()).isNotZero();
    assertThat(missing.err()).contains("/no/such/binary");
  }

  @Test
  void attachStreamsOutputUntilTheContainerExits() throws Exception {
    f.apply("""
        apiVersion: v1
        kind: Pod
        metadata: {name: talker}
        spec:
          nodeName: node-a
          restartPolicy: Never
          containers:
          - name: main
            image: busybox
            command: [sh, -c, 'sleep 3; for i in 1 2 3; do echo line$i; echo warn$i >&2; sleep 0.2; done']
        """);
    f.await("talker", p -> "Running".equals(phase(p)));
    Kubectl.Result r = f.server.kubectl(Kubectl.V1_29).run("attach", "talker", "-c", "main");
    assertThat(r.out()).as(r.err()).contains("line1\nline2\nline3\n");
    assertThat(r.err()).contains("warn1");
  }

  @Test
  void cpIntoAndOutOfAPod() throws Exception {
    Path dir = Files.createTempDirectory(f.data, "cp");
    Path src = dir.resolve("in.txt");
    Files.writeString(src, "copied in\n".repeat(10000));
    Path podDir = Files.createTempDirectory(f.data, "pod");
    for (String binary : List.of(Kubectl.V1_27, Kubectl.DEFAULT)) {
      String name = binary.endsWith("1.27") ? "a127" : "adefault";
      Kubectl.Result in = f.server.kubectl(binary).run("cp", src.toString(), "shell:" + podDir.resolve(name + ".txt"));
      assertThat(in.code()).as(binary + in.err()).isZero();
      assertThat(Files.readString(podDir.resolve(name + ".txt"))).isEqualTo(Files.readString(src));
      Path back = dir.resolve(name + "-back.txt");
      Kubectl.Result out = f.server.kubectl(binary).run("cp", "shell:" + podDir.resolve(name + ".txt"), back.toString());
      assertThat(out.code()).as(binary + out.err()).isZero();
      assertThat(Files.readString(back)).isEqualTo(Files.readString(src));
    }
  }

  @Test
  void portForwardWithKubectl127And130() throws Exception {
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
    f.await("web", p -> p.getStatus() != null && p.getStatus().getConditions() != null && p.getStatus().getConditions()
        .stream().anyMatch(c -> c.getType().equals("Ready") && c.getStatus().equals("True")));
    for (String binary : List.of(Kubectl.V1_27, Kubectl.V1_30)) {
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
          HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + local + "/x" + i))
              .build(), HttpResponse.BodyHandlers.ofString());
          assertThat(r.statusCode()).as(binary + err).isEqualTo(200);
          assertThat(r.body()).isEqualTo("hello through port-forward /x" + i);
        }
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
