package dev.skiff.kubelet;

import static dev.skiff.kubelet.AgentFixture.phase;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Seed 003: restarting the engine must not break a container's stdout. The agent is stopped
 * as a SIGKILL would stop it (nothing flushed, copiers interrupted mid-write) and restarted.
 */
class AgentRestartTest {
  static AgentFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new AgentFixture();
  }

  @AfterAll
  static void stop() throws Exception {
    f.close();
  }

  @Test
  void aChattyContainerSurvivesThreeAgentCrashesWithEveryLineExactlyOnceAndNoSigpipe() throws Exception {
    f.apply(AgentFixture.pod("ticker", "Always",
        "trap 'touch \"$PWD/got-sigpipe\"; exit 141' PIPE; i=0; while true; do i=$((i+1)); echo $i; sleep 0.001; done"));
    Pod running = f.await("ticker", p -> "Running".equals(phase(p)));
    String uid = running.getMetadata().getUid();
    Path podDir = f.data.resolve("kubelet/pods").resolve(uid);
    String pid = Files.readString(podDir.resolve("containers/main.0/pid")).split(" ")[0];
    for (int i = 0; i < 3; i++) {
      Thread.sleep(700);
      f.agent.abandon();
      Thread.sleep(300); // the container keeps writing while no agent runs
      f.startAgent();
    }
    Thread.sleep(700);
    Pod after = f.await("ticker", p -> "Running".equals(phase(p)));
    var cs = after.getStatus().getContainerStatuses().get(0);
    assertThat(cs.getState().getRunning()).isNotNull();
    assertThat(cs.getRestartCount()).isZero();
    assertThat(Files.readString(podDir.resolve("containers/main.0/pid")).split(" ")[0]).isEqualTo(pid);
    assertThat(ProcessHandle.of(Long.parseLong(pid)).map(ProcessHandle::isAlive)).contains(true);
    assertThat(podDir.resolve("got-sigpipe")).doesNotExist();
    assertThat(podDir.resolve("containers/main.0/exit")).doesNotExist();

    Path log = f.data.resolve("kubelet/logs").resolve("default_ticker_" + uid).resolve("main/0.log");
    List<Long> numbers = new ArrayList<>();
    for (String line : Files.readAllLines(log)) {
      String[] parts = line.split(" ", 4);
      assertThat(parts[1]).isEqualTo("stdout");
      assertThat(parts[2]).isEqualTo("F");
      numbers.add(Long.parseLong(parts[3]));
    }
    assertThat(numbers.size()).isGreaterThan(100);
    for (int i = 0; i < numbers.size(); i++) {
      assertThat(numbers.get(i)).as("line %d", i).isEqualTo(i + 1L);
    }
    // kubectl reads the same log through the API server and the restarted agent.
    String tail = f.server.kubectl().run("logs", "ticker", "--tail=3").ok().out();
    assertThat(tail.lines().count()).isEqualTo(3);
  }

  @Test
  void anExitWhileTheAgentIsDownIsReportedWithItsRealExitCode() throws Exception {
    f.apply(AgentFixture.pod("quitter", "Never", "echo bye; sleep 1.5; exit 7"));
    f.await("quitter", p -> "Running".equals(phase(p)));
    f.agent.abandon();
    Path podDirs = f.data.resolve("kubelet/pods");
    assertThat(AgentFixture.until(Duration.ofSeconds(20), () -> {
      try (var s = Files.walk(podDirs)) {
        return s.anyMatch(p -> p.endsWith("main.0/exit") && p.toString().contains(uidOf("quitter")));
      } catch (Exception e) {
        return false;
      }
    })).isTrue();
    assertThat(phase(f.get("quitter"))).isEqualTo("Running"); // nobody reported it yet
    f.startAgent();
    Pod failed = f.await("quitter", p -> "Failed".equals(phase(p)));
    var t = failed.getStatus().getContainerStatuses().get(0).getState().getTerminated();
    assertThat(t.getExitCode()).isEqualTo(7);
    assertThat(t.getReason()).isEqualTo("Error");
    assertThat(f.server.kubectl().run("logs", "quitter").ok().out()).isEqualTo("bye\n");
  }

  private static String uidOf(String name) {
    return f.get(name).getMetadata().getUid();
  }
}
