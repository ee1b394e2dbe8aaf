package dev.skiff.kubelet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.Kubectl;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Plain SPDY/3.1 (no WebSocket) through the API server to the agent, with the real kubectl
 * 1.27-1.29: exec, attach, cp (port-forward with 1.27 and 1.30: {@link PortForwardTest}).
 */
class SpdyStreamingTest {
  static final List<String> OLD = List.of(Kubectl.V1_27, Kubectl.V1_28, Kubectl.V1_29);
  static AgentFixture f;

  @BeforeAll
  static void start() throws Exception {
    // loopback as the node IP: on a shared test machine other interfaces come and go
    f = new AgentFixture(java.util.Map.of("node-ip", "127.0.0.1"));
    f.startShellPod();
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
    Kubectl.Result r = f.attachToTalker(Kubectl.V1_29);
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
}
