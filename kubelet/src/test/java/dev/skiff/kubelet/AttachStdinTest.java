package dev.skiff.kubelet;

import static dev.skiff.kubelet.AgentFixture.phase;
import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.Kubectl;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** kubectl attach -i to containers with stdin / stdinOnce, and kubectl run -i --rm, over WebSocket and SPDY. */
class AttachStdinTest {
  static AgentFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new AgentFixture();
  }

  @AfterAll
  static void stop() throws Exception {
    f.close();
  }

  static String pod(String name, boolean once, String script) {
    return """
        apiVersion: v1
        kind: Pod
        metadata: {name: %s}
        spec:
          nodeName: node-a
          restartPolicy: Never
          terminationGracePeriodSeconds: 2
          containers:
          - name: main
            image: busybox
            stdin: true
            stdinOnce: %s
            command: [sh, -c, %s]
        """.formatted(name, once, AgentFixture.quote(script));
  }

  @Test
  void stdinOnceEndsWithTheFirstAttachInWebSocketAndSpdy() throws Exception {
    for (String binary : java.util.List.of(Kubectl.DEFAULT, Kubectl.V1_27)) {
      String name = binary.equals(Kubectl.DEFAULT) ? "once-ws" : "once-spdy";
      f.apply(pod(name, true, "tr a-z A-Z; echo bye"));
      f.await(name, p -> "Running".equals(phase(p)));
      Kubectl.Result r = f.server.kubectl(binary).runWithInput("hello\nworld\n", "attach", "-i", name);
      assertThat(r.out()).as(binary + r.err()).contains("HELLO\nWORLD\nbye\n");
      f.await(name, p -> "Succeeded".equals(phase(p)));
    }
  }

  @Test
  void stdinStaysOpenAcrossAttaches() throws Exception {
    f.apply(pod("kept", false, "read a; echo got:$a; read b; echo got:$b"));
    f.await("kept", p -> "Running".equals(phase(p)));
    Process first = f.server.kubectl().start("attach", "-i", "kept");
    first.getOutputStream().write("one\n".getBytes(StandardCharsets.UTF_8));
    first.getOutputStream().close(); // the client's EOF does not close a stdin (not stdinOnce) container's stdin
    String out = readUntil(first.getInputStream(), "got:one", Duration.ofSeconds(30));
    assertThat(out).contains("got:one");
    first.destroy();
    first.waitFor(10, TimeUnit.SECONDS);
    assertThat(phase(f.get("kept"))).isEqualTo("Running"); // still reading: no EOF
    Kubectl.Result second = f.server.kubectl(Kubectl.V1_28).runWithInput("two\n", "attach", "-i", "kept");
    assertThat(second.out()).as(second.err()).contains("got:two");
    f.await("kept", p -> "Succeeded".equals(phase(p)));
  }

  @Test
  void runInteractiveRemovesThePodAfterwards() throws Exception {
    Kubectl.Result r = f.server.kubectl().runWithInput("shout\n", "run", "shouter", "-i", "--rm", "--restart=Never",
        "--image=busybox", "--overrides={\"apiVersion\":\"v1\",\"spec\":{\"nodeName\":\"node-a\"}}", "--command", "--",
        "tr", "a-z", "A-Z");
    assertThat(r.out()).as(r.err()).contains("SHOUT");
    assertThat(AgentFixture.until(Duration.ofSeconds(30), () -> f.get("shouter") == null)).isTrue();
  }

  @Test
  void runInteractiveWithATtyGivesTheContainerATerminalOfTheClientsSize() throws Exception {
    // kubectl run -it: stdin, stdinOnce and tty on the container, then attach -it; the typed line
    // is echoed by the container's terminal, a resize reaches it, and its exit ends the session.
    try (Terminal t = new Terminal(Kubectl.DEFAULT + " --kubeconfig " + f.server.kubeconfig()
        + " run termy -it --rm --restart=Never --image=busybox"
        + " --overrides='{\"apiVersion\":\"v1\",\"spec\":{\"nodeName\":\"node-a\"}}' --command -- sh", 91, 27)) {
      assertThat(t.await("pressing enter")).as(t::output).isTrue(); // attached
      // kubectl sends the size twice, +1 then exact, to make programs redraw
      t.type("tty; " + Terminal.sttySizeOnce(91, 27) + "; echo $((6*7))x");
      assertThat(t.await("42x")).as(t::output).isTrue();
      assertThat(t.output()).containsPattern("/dev/pts/\\d+").contains("27 91")
          .contains("echo $((6*7))x"); // echoed by the container's terminal
      t.resize("run termy", 100, 30);
      t.type(Terminal.sttySizeOnce(100, 30));
      assertThat(t.await("30 100")).as(t::output).isTrue();
      t.type("exit 3");
      t.exitCode();
      assertThat(t.output()).contains("pod default/termy terminated (Error)");
    }
    assertThat(AgentFixture.until(Duration.ofSeconds(30), () -> f.get("termy") == null)).isTrue();
  }

  private static String readUntil(InputStream in, String marker, Duration timeout) throws Exception {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    Thread t = Thread.ofVirtual().start(() -> {
      byte[] b = new byte[4096];
      int n;
      try {
        while ((n = in.read(b)) >= 0) {
          synchronized (buf) {
            buf.write(b, 0, n);
          }
        }
      } catch (java.io.IOException e) {
        // closed
      }
    });
    long deadline = System.nanoTime() + timeout.toNanos();
    while (System.nanoTime() < deadline) {
      synchronized (buf) {
        if (buf.toString(StandardCharsets.UTF_8).contains(marker)) {
          break;
        }
      }
      Thread.sleep(20);
    }
    synchronized (buf) {
      return buf.toString(StandardCharsets.UTF_8);
    }
  }
}
