package dev.skiff.kubelet;

import static dev.skiff.kubelet.AgentFixture.phase;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.skiff.kubelet.sandbox.Cgroups;
import io.fabric8.kubernetes.api.model.Pod;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Properties;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Memory and CPU limits through cgroups (as root), and OOMKilled for a container the memory cgroup killed. */
class ResourceLimitsTest {
  static AgentFixture f;

  @BeforeAll
  static void start() throws Exception {
    Cgroups probe = Cgroups.detect("probe-" + ProcessHandle.current().pid());
    assumeTrue(probe != null, "cgroups need root and a memory controller");
    probe.removeIfEmpty();
    f = new AgentFixture();
  }

  @AfterAll
  static void stop() throws Exception {
    if (f != null) {
      f.close();
    }
  }

  static String limited(String name, String memory, String cpu, String script) {
    return """
        apiVersion: v1
        kind: Pod
        metadata: {name: %s}
        spec:
          nodeName: node-a
          restartPolicy: Never
          terminationGracePeriodSeconds: 1
          containers:
          - name: main
            image: busybox
            command: [sh, -c, %s]
            resources: {limits: {memory: %s, cpu: %s}}
        """.formatted(name, AgentFixture.quote(script), memory, cpu);
  }

  @Test
  void limitsAreWrittenToTheContainersCgroupsAndTheOomKillerIsReported() throws Exception {
    f.apply(limited("capped", "48Mi", "250m", "sleep 3600"));
    Pod capped = f.await("capped", p -> "Running".equals(phase(p)));
    Properties props = new Properties();
    try (var in = Files.newInputStream(f.data.resolve("kubelet/pods").resolve(capped.getMetadata().getUid())
        .resolve("containers/main.0/container.properties"))) {
      props.load(in);
    }
    String limits = "";
    for (String procs : props.getProperty("cgroups").split(",")) {
      Path dir = Path.of(procs).getParent();
      String pid = Files.readString(f.data.resolve("kubelet/pods").resolve(capped.getMetadata().getUid())
          .resolve("containers/main.0/pid")).split(" ")[0];
      assertThat(Files.readString(Path.of(procs))).contains(pid);
      for (String file : new String[] {"memory.limit_in_bytes", "memory.max", "cpu.cfs_quota_us", "cpu.max"}) {
        if (Files.exists(dir.resolve(file))) {
          limits += file + "=" + Files.readString(dir.resolve(file)).trim() + ";";
        }
      }
    }
    assertThat(limits).containsAnyOf("memory.limit_in_bytes=50331648;", "memory.max=50331648;")
        .containsAnyOf("cpu.cfs_quota_us=25000;", "cpu.max=25000 100000;");

    f.apply(limited("hog", "32Mi", "1", "perl -e '$x = \"a\" x (256*1024*1024); print length($x)'"));
    Pod hog = f.await("hog", p -> "Failed".equals(phase(p)));
    var t = hog.getStatus().getContainerStatuses().get(0).getState().getTerminated();
    assertThat(t.getExitCode()).isEqualTo(137);
    assertThat(t.getReason()).isEqualTo("OOMKilled");
    f.server.kubectl().run("delete", "pod", "capped", "hog", "--wait=false").ok();
  }
}
