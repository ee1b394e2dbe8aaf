package dev.skiff.kubelet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.kubelet.cri.ContainerStatus;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Phase and container states from runtime facts (kubelet_pods.go getPhase), table-driven. */
class PodStatusBuilderTest {
  static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");
  static final Clock CLOCK = Clock.fixed(T0.plusSeconds(60), ZoneOffset.UTC);

  static Pod pod(String policy) {
    return new PodBuilder().withNewMetadata().withName("p").withNamespace("ns").withUid("u").endMetadata()
        .withNewSpec().withRestartPolicy(policy).addNewContainer().withName("c").withImage("i").endContainer().endSpec()
        .build();
  }

  static ContainerStatus exited(int attempt, int code) {
    return new ContainerStatus("u.c." + attempt, "u", "c", attempt, ContainerStatus.State.EXITED, "i", T0, T0,
        T0.plusSeconds(1), code, code == 0 ? "Completed" : "Error", Path.of("x"));
  }

  static ContainerStatus running(int attempt) {
    return new ContainerStatus("u.c." + attempt, "u", "c", attempt, ContainerStatus.State.RUNNING, "i", T0, T0,
        null, 0, null, Path.of("x"));
  }

  @ParameterizedTest(name = "{0} exit {1} -> {2} / {3}")
  @CsvSource({
      "Never, 0, Succeeded, terminated",
      "Never, 1, Failed, terminated",
      "OnFailure, 0, Succeeded, terminated",
      // Restartable: terminated until the next sync restarts it or reports its back-off
      // (kubelet_pods.go convertToAPIContainerStatuses keeps the original state without a reason).
      "OnFailure, 2, Running, terminated",
      "Always, 0, Running, terminated",
      "Always, 1, Running, terminated",
  })
  void anExitedContainer(String policy, int code, String phase, String state) {
    var r = PodStatusBuilder.build(pod(policy), Map.of("c", List.of(exited(0, code))), Map.of(), false, "10.0.0.1", CLOCK);
    assertThat(r.status().getPhase()).isEqualTo(phase);
    var cs = r.status().getContainerStatuses().get(0);
    assertThat(cs.getState().getRunning()).as("never running after an exit").isNull();
    assertThat(state.equals("terminated") ? cs.getState().getTerminated() : cs.getState().getWaiting()).isNotNull();
    assertThat(r.terminal()).isEqualTo(phase.equals("Succeeded") || phase.equals("Failed"));
  }

  @Test
  void aContainerInBackOffWaitsWithTheReasonTheSyncGave() {
    String[] backOff = {"CrashLoopBackOff", "back-off 10s restarting failed container=c"};
    var r = PodStatusBuilder.build(pod("Always"), Map.of("c", List.of(exited(0, 1))), Map.of("c", backOff), false,
        "10.0.0.1", CLOCK);
    var cs = r.status().getContainerStatuses().get(0);
    assertThat(cs.getState().getWaiting().getReason()).isEqualTo("CrashLoopBackOff");
    assertThat(cs.getState().getWaiting().getMessage()).startsWith("back-off 10s");
    assertThat(cs.getLastState().getTerminated().getExitCode()).isEqualTo(1);
  }

  @Test
  void aRestartedContainerRunsWithItsLastTerminationAndRestartCount() {
    var r = PodStatusBuilder.build(pod("Always"), Map.of("c", List.of(exited(0, 1), running(1))), Map.of(), false,
        "10.0.0.1", CLOCK);
    var cs = r.status().getContainerStatuses().get(0);
    assertThat(r.status().getPhase()).isEqualTo("Running");
    assertThat(cs.getRestartCount()).isEqualTo(1);
    assertThat(cs.getReady()).isTrue();
    assertThat(cs.getLastState().getTerminated().getExitCode()).isEqualTo(1);
    assertThat(r.status().getConditions()).extracting(c -> c.getType() + "=" + c.getStatus())
        .contains("Ready=True", "ContainersReady=True", "Initialized=True", "PodScheduled=True");
    assertThat(r.status().getPodIP()).isEqualTo("10.0.0.1");
  }

  @Test
  void aDeletedPodEndsFailedUnlessEveryContainerSucceeded() {
    var killed = PodStatusBuilder.build(pod("Always"), Map.of("c", List.of(exited(0, 143))), Map.of(), true,
        "10.0.0.1", CLOCK);
    assertThat(killed.status().getPhase()).isEqualTo("Failed");
    assertThat(killed.status().getContainerStatuses().get(0).getState().getTerminated().getExitCode()).isEqualTo(143);
  }

  @Test
  void aContainerNotYetCreatedIsPendingContainerCreating() {
    var r = PodStatusBuilder.build(pod("Always"), Map.of(), Map.of(), false, "10.0.0.1", CLOCK);
    assertThat(r.status().getPhase()).isEqualTo("Pending");
    assertThat(r.status().getContainerStatuses().get(0).getState().getWaiting().getReason()).isEqualTo("ContainerCreating");
  }

  @Test
  void crashLoopBackOffDoublesFromTenSecondsToFiveMinutesAndResetsAfterTenMinutesRunning() {
    CrashLoopBackOff b = new CrashLoopBackOff();
    Instant t = T0;
    assertThat(b.check("k", t, t.plusSeconds(1), t.plusSeconds(1))).isNull(); // first restart: immediate
    t = t.plusSeconds(1);
    assertThat(b.check("k", t, t.plusSeconds(1), t.plusSeconds(1))).isEqualTo(Duration.ofSeconds(10));
    assertThat(b.check("k", t, t.plusSeconds(1), t.plusSeconds(11))).isNull();
    long[] expected = {20, 40, 80, 160, 300, 300};
    for (long e : expected) {
      t = t.plusSeconds(1000);
      assertThat(b.check("k", t, t.plusSeconds(1), t.plusSeconds(1))).isEqualTo(Duration.ofSeconds(e));
      assertThat(b.check("k", t, t.plusSeconds(1), t.plusSeconds(1 + e))).isNull();
    }
    t = t.plusSeconds(1000);
    // ran 10 minutes: back to an immediate restart, then 10 s
    assertThat(b.check("k", t, t.plusSeconds(600), t.plusSeconds(600))).isNull();
    assertThat(b.current("k")).isEqualTo(Duration.ofSeconds(10));
  }
}
