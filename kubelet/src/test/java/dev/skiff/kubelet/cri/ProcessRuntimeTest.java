package dev.skiff.kubelet.cri;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The process runtime on its own: shim, exit codes, CRI logs, stop, re-adoption. */
class ProcessRuntimeTest {
  static ContainerConfig sh(String name, int attempt, String script) {
    return new ContainerConfig(name, attempt, "busybox", List.of("sh", "-c", script),
        Map.of("PATH", "/usr/bin:/bin"), null);
  }

  @Test
  void runsAProcessAndWritesItsOutputAsACriLog() throws Exception {
    Path root = Files.createTempDirectory("rt");
    try (ProcessRuntime rt = new ProcessRuntime(root)) {
      CountDownLatch exited = new CountDownLatch(1);
      rt.onContainerExit(id -> exited.countDown());
      String sb = rt.runPodSandbox(new PodSandboxConfig("uid1", "ns", "p"));
      String id = rt.createContainer(sb, sh("c", 0, "echo one; echo two >&2; printf three; exit 7"));
      rt.startContainer(id);
      assertThat(exited.await(10, TimeUnit.SECONDS)).isTrue();
      ContainerStatus s = rt.containerStatus(id);
      assertThat(s.state()).isEqualTo(ContainerStatus.State.EXITED);
      assertThat(s.exitCode()).isEqualTo(7);
      assertThat(s.reason()).isEqualTo("Error");
      assertThat(rt.awaitLogComplete(id, 5000)).isTrue();
      List<String> lines = Files.readAllLines(s.logPath());
      assertThat(lines).hasSize(3);
      assertThat(lines).anyMatch(l -> l.matches("\\S+Z stdout F one"));
      assertThat(lines).anyMatch(l -> l.matches("\\S+Z stderr F two"));
      assertThat(lines).anyMatch(l -> l.matches("\\S+Z stdout P three"));
      assertThat(s.logPath().toString()).endsWith("logs/ns_p_uid1/c/0.log");
    }
  }

  @Test
  void aContainerWithoutCommandIsARunContainerError() throws Exception {
    try (ProcessRuntime rt = new ProcessRuntime(Files.createTempDirectory("rt"))) {
      String sb = rt.runPodSandbox(new PodSandboxConfig("uid1", "ns", "p"));
      var e = org.assertj.core.api.Assertions.catchThrowableOfType(ContainerConfigException.class,
          () -> rt.createContainer(sb, new ContainerConfig("c", 0, "nginx", List.of(), Map.of(), null)));
      assertThat(e.reason()).isEqualTo("RunContainerError");
      assertThat(e.getMessage()).contains("set command");
    }
  }

  @Test
  void stopSendsTermToTheGroupThenKillsTheTree() throws Exception {
    try (ProcessRuntime rt = new ProcessRuntime(Files.createTempDirectory("rt"))) {
      String sb = rt.runPodSandbox(new PodSandboxConfig("uid1", "ns", "p"));
      String polite = rt.createContainer(sb, sh("polite", 0, "sleep 100"));
      rt.startContainer(polite);
      String stubborn = rt.createContainer(sb, sh("stubborn", 0, "trap '' TERM; sleep 100 & sleep 100; wait"));
      rt.startContainer(stubborn);
      Thread.sleep(200);
      List<ProcessHandle> tree = ProcessHandle.of(Long.parseLong(Files.readString(
          rt.podDir(sb).resolve("containers/stubborn.0/pid")).split(" ")[0])).orElseThrow().descendants().toList();
      assertThat(tree).isNotEmpty();
      rt.stopContainer(polite, 2);
      assertThat(rt.containerStatus(polite).exitCode()).isEqualTo(143); // 128 + SIGTERM
      rt.stopContainer(stubborn, 2);
      assertThat(rt.containerStatus(stubborn).exitCode()).isEqualTo(137); // 128 + SIGKILL
      assertThat(tree).noneMatch(ProcessRuntimeTest::running);
    }
  }

  @Test
  void aNewRuntimeReadoptsRunningContainersAndReportsExitsThatHappenedMeanwhile() throws Exception {
    Path root = Files.createTempDirectory("rt");
    ProcessRuntime first = new ProcessRuntime(root);
    String sb = first.runPodSandbox(new PodSandboxConfig("uid1", "ns", "p"));
    String runs = first.createContainer(sb, sh("runs", 0, "sleep 100"));
    first.startContainer(runs);
    String ends = first.createContainer(sb, sh("ends", 0, "sleep 0.5; exit 42"));
    first.startContainer(ends);
    first.abandon();
    Thread.sleep(1000); // "ends" exits while no runtime watches it
    try (ProcessRuntime second = new ProcessRuntime(root)) {
      assertThat(second.containerStatus(runs).state()).isEqualTo(ContainerStatus.State.RUNNING);
      assertThat(second.containerStatus(ends).state()).isEqualTo(ContainerStatus.State.EXITED);
      assertThat(second.containerStatus(ends).exitCode()).isEqualTo(42);
      second.stopContainer(runs, 0);
      assertThat(second.containerStatus(runs).state()).isEqualTo(ContainerStatus.State.EXITED);
    }
  }

  @Test
  void aReusedPidIsNotAdopted() throws Exception {
    Path root = Files.createTempDirectory("rt");
    ProcessRuntime first = new ProcessRuntime(root);
    String sb = first.runPodSandbox(new PodSandboxConfig("uid1", "ns", "p"));
    String id = first.createContainer(sb, sh("c", 0, "sleep 100"));
    first.startContainer(id);
    first.abandon();
    // Pretend the recorded process was another one: same pid, different start time.
    Path pidFile = first.podDir(sb).resolve("containers/c.0/pid");
    String[] f = Files.readString(pidFile).trim().split(" ");
    Files.writeString(pidFile, f[0] + " " + (Long.parseLong(f[1]) - 1) + " " + f[2] + "\n");
    try (ProcessRuntime second = new ProcessRuntime(root)) {
      ContainerStatus s = second.containerStatus(id);
      assertThat(s.state()).isEqualTo(ContainerStatus.State.EXITED);
      assertThat(s.exitCode()).isEqualTo(255);
      assertThat(s.reason()).isEqualTo("Unknown");
    } finally {
      // the whole group: the shim and the container under it
      new ProcessBuilder("/bin/kill", "-s", "KILL", "--", "-" + f[0]).start().waitFor();
    }
  }

  /** Alive and not a zombie (orphans are reaped by whatever PID 1 the test machine has, maybe late). */
  static boolean running(ProcessHandle h) {
    try {
      String stat = Files.readString(Path.of("/proc/" + h.pid() + "/stat"));
      return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
    } catch (java.io.IOException e) {
      return false;
    }
  }
}
