package dev.skiff.kubelet.sandbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.skiff.kubelet.cri.ContainerConfig;
import dev.skiff.kubelet.cri.ContainerStatus;
import dev.skiff.kubelet.cri.Mount;
import dev.skiff.kubelet.cri.PodSandboxConfig;
import dev.skiff.kubelet.cri.ProcessRuntime;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** The runtime's mount namespaces on their own: shadows of missing paths, read-only, files, nesting. */
class NamespaceLauncherTest {
  @Test
  void mountsAppearInsideOnlyAndMissingPathsAreShadowed() throws Exception {
    assumeTrue(NamespaceLauncher.detect() == NamespaceLauncher.Mode.ROOT);
    run(NamespaceLauncher.Mode.ROOT);
  }

  /** What a non-root agent does where unprivileged user namespaces work (root can make one too). */
  @Test
  void theSameWorksInAUserNamespace() throws Exception {
    assumeTrue(NamespaceLauncher.detect() != NamespaceLauncher.Mode.NONE);
    run(NamespaceLauncher.Mode.USER_NAMESPACE);
  }

  @Test
  void withoutAnyMountNamespaceAContainerWithMountsIsACreateContainerErrorNeverRunWithoutThem() throws Exception {
    Path root = Files.createTempDirectory("rt");
    try (ProcessRuntime rt = new ProcessRuntime(root, null, NamespaceLauncher.Mode.NONE)) {
      String sb = rt.runPodSandbox(new PodSandboxConfig("u1", "ns", "p"));
      var e = org.assertj.core.api.Assertions.catchThrowableOfType(dev.skiff.kubelet.cri.ContainerConfigException.class,
          () -> rt.createContainer(sb, new ContainerConfig("c", 0, "busybox", List.of("true"), Map.of(), null,
              List.of(new Mount("/data", root.toString(), false)))));
      assertThat(e.reason()).isEqualTo("CreateContainerError");
      assertThat(e.getMessage()).contains("/data").contains("mount namespace");
      // without mounts it runs as a plain process
      String id = rt.createContainer(sb, new ContainerConfig("plain", 0, "busybox", List.of("true"), Map.of(), null));
      rt.startContainer(id);
      rt.stopPodSandbox(sb, 0);
      rt.removePodSandbox(sb);
    }
  }

  /** Without cgroups (a runtime that may not use them) the memory limit becomes RLIMIT_DATA. */
  @Test
  void withoutCgroupsTheMemoryLimitIsAnRlimit() throws Exception {
    Path root = Files.createTempDirectory("rt");
    try (ProcessRuntime rt = new ProcessRuntime(root, null, NamespaceLauncher.Mode.NONE)) {
      String sb = rt.runPodSandbox(new PodSandboxConfig("u1", "ns", "p"));
      String id = rt.createContainer(sb, new ContainerConfig("c", 0, "busybox", List.of("sleep", "30"), Map.of(), null,
          List.of(), new ContainerConfig.Resources(64L << 20, 500, 0)));
      rt.startContainer(id);
      String pid = Files.readString(root.resolve("pods/u1/containers/c.0/pid")).split(" ")[0];
      String limits = "";
      for (int i = 0; i < 100 && !limits.contains("67108864"); i++) {
        Thread.sleep(20);
        // the shim's child (sleep) carries the limit; so does the shim after its exec
        limits = Files.readString(Path.of("/proc/" + pid + "/limits"));
      }
      assertThat(limits).containsPattern("Max data size\\s+67108864\\s+67108864");
      rt.stopPodSandbox(sb, 0);
      rt.removePodSandbox(sb);
    }
  }

  private static void run(NamespaceLauncher.Mode mode) throws Exception {
    Path root = Files.createTempDirectory("rt");
    Path vol = Files.createDirectories(root.resolve("vol"));
    Files.writeString(vol.resolve("f"), "vol-file");
    Path file = Files.writeString(root.resolve("single"), "single-file");
    assumeTrue(!Files.exists(Path.of("/skiff-test-x")) && !Files.exists(Path.of("/etc/skiff-test-y")));
    try (ProcessRuntime rt = new ProcessRuntime(root.resolve("k"), null, mode)) {
      CountDownLatch exited = new CountDownLatch(1);
      rt.onContainerExit(id -> exited.countDown());
      String sb = rt.runPodSandbox(new PodSandboxConfig("u1", "ns", "p"));
      String id = rt.createContainer(sb, new ContainerConfig("c", 0, "busybox", List.of("sh", "-c",
          "cat /skiff-test-x/deep/f; echo; cat /etc/skiff-test-y; echo; cat /skiff-test-x/deep/nested/f; echo;"
              + " touch /skiff-test-x/deep/nested/w 2>/dev/null && echo rw || echo ro; grep -c ^root: /etc/passwd; pwd"),
          Map.of("PATH", "/usr/bin:/bin"), null, List.of(
              new Mount("/skiff-test-x/deep", vol.toString(), false),
              new Mount("/etc/skiff-test-y", file.toString(), false),
              new Mount("/skiff-test-x/deep/nested", vol.toString(), true))));
      rt.startContainer(id);
      assertThat(exited.await(10, TimeUnit.SECONDS)).isTrue();
      ContainerStatus s = rt.containerStatus(id);
      rt.awaitLogComplete(id, 5000);
      String log = Files.readString(s.logPath());
      assertThat(s.exitCode()).as(log).isZero();
      assertThat(log).contains("stdout F vol-file").contains("stdout F single-file").contains("stdout F ro")
          .contains("stdout F 1").contains("stdout F " + root.resolve("k/pods/u1"));
      assertThat(Path.of("/skiff-test-x")).doesNotExist();
      assertThat(Path.of("/etc/skiff-test-y")).doesNotExist();
      rt.removePodSandbox(sb);
    }
  }
}
