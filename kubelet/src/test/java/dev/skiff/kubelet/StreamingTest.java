package dev.skiff.kubelet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.Kubectl;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** exec and attach with the real kubectl through the API server to the agent's streaming server. */
class StreamingTest {
  static AgentFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new AgentFixture();
    f.startShellPod();
  }

  @AfterAll
  static void stop() throws Exception {
    f.close();
  }

  @Test
  void execReturnsOutputAndTheExitCodeWithKubectl132And133() throws Exception {
    for (String binary : java.util.List.of(Kubectl.DEFAULT, Kubectl.V1_33)) {
      Kubectl.Result r = f.server.kubectl(binary).run("exec", "shell", "--", "sh", "-c", "echo hi; echo oops >&2; exit 3");
      assertThat(r.out()).as(binary).isEqualTo("hi\n");
      assertThat(r.err()).as(binary).contains("oops").contains("command terminated with exit code 3");
      assertThat(r.code()).as(binary).isEqualTo(3);
      Kubectl.Result ok = f.server.kubectl(binary).run("exec", "shell", "--", "true");
      assertThat(ok.code()).as(binary + ": " + ok.err()).isZero();
    }
  }

  @Test
  void execRunsInTheContainersEnvironmentAndDirectory() throws Exception {
    Kubectl.Result r = f.server.kubectl().run("exec", "shell", "-c", "main", "--", "sh", "-c", "echo $GREETING; pwd");
    assertThat(r.out()).isEqualTo("hello-from-env\n/tmp\n");
  }

  @Test
  void execWithStdinPiped() throws Exception {
    Kubectl.Result r = f.server.kubectl().runWithInput("one\ntwo\n", "exec", "-i", "shell", "--", "sh", "-c",
        "tr a-z A-Z; echo done");
    assertThat(r.out()).isEqualTo("ONE\nTWO\ndone\n");
    assertThat(r.code()).isZero();
  }

  @Test
  void execWithATtyIsAnInteractiveShellOnAPseudoTerminalThatFollowsTheClientsSize() throws Exception {
    // A user at a terminal: kubectl exec -it ... sh, type a command, resize the window, exit 5.
    try (Terminal t = new Terminal(Kubectl.DEFAULT + " --kubeconfig " + f.server.kubeconfig() + " exec -it shell -- sh",
        91, 27)) {
      t.type("tty; " + Terminal.sttySizeOnce(91, 27) + "; echo $((6*7))x");
      assertThat(t.await("42x")).as(t::output).isTrue();
      assertThat(t.output()).containsPattern("/dev/pts/\\d+").contains("27 91");
      t.resize("exec -it shell", 100, 30);
      t.type(Terminal.sttySizeOnce(100, 30));
      assertThat(t.await("30 100")).as(t::output).isTrue();
      t.type("exit 5");
      assertThat(t.exitCode()).as(t::output).isEqualTo(5);
      assertThat(t.output()).contains("command terminated with exit code 5");
    }
  }

  @Test
  void execErrors() throws Exception {
    Kubectl.Result r = f.server.kubectl().run("exec", "shell", "-c", "nope", "--", "true");
    assertThat(r.code()).isNotZero();
    assertThat(r.err()).contains("container nope is not valid for pod shell");
    Kubectl.Result missing = f.server.kubectl().run("exec", "shell", "--", "/no/such/binary");
    assertThat(missing.code()).isNotZero();
    assertThat(missing.err()).contains("/no/such/binary");
  }

  @Test
  void execNeedsCreateOnPodsExecNotJustGet() throws Exception {
    f.apply("""
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: exec-get-only}
        rules:
        - {apiGroups: [""], resources: [pods, pods/exec], verbs: [get, list]}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {name: exec-get-only}
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: exec-get-only}
        subjects:
        - {apiGroup: rbac.authorization.k8s.io, kind: User, name: bob}
        """);
    Kubectl.Result r = f.server.kubectl().run("exec", "--as=bob", "shell", "--", "true");
    assertThat(r.code()).isNotZero();
    assertThat(r.err()).contains("cannot create resource \"pods/exec\"");
  }

  @Test
  void attachStreamsTheRunningContainersOutputUntilItExits() throws Exception {
    Kubectl.Result r = f.attachToTalker(Kubectl.DEFAULT);
    assertThat(r.out()).contains("line1\nline2\nline3\n");
    assertThat(r.err()).contains("warn1");
  }
}
