package dev.skiff.kubelet;

import static dev.skiff.kubelet.AgentFixture.phase;
import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.kubelet.cri.LogRotation;
import io.fabric8.kubernetes.api.model.Pod;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Container log rotation with a tiny size ({@code --set kubelet.container-log-max-size=4Ki}):
 * seed 003's chatty container and abrupt agent restarts still give every line exactly once, in
 * order, across the rotated (gzipped) files; {@code kubectl logs -f} follows across rotations.
 */
class LogRotationAgentTest {
  static AgentFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new AgentFixture(java.util.Map.of("container-log-max-size", "4Ki", "container-log-max-files", "1000"));
  }

  @AfterAll
  static void stop() throws Exception {
    f.close();
  }

  @Test
  void everyLineExactlyOnceAcrossRotationsAndAgentCrashes() throws Exception {
    f.apply(AgentFixture.pod("ticker", "Always",
        "trap 'touch \"$PWD/got-sigpipe\"; exit 141' PIPE; i=0; while true; do i=$((i+1)); echo $i; sleep 0.001; done"));
    Pod running = f.await("ticker", p -> "Running".equals(phase(p)));
    String uid = running.getMetadata().getUid();
    Path podDir = f.data.resolve("kubelet/pods").resolve(uid);
    for (int i = 0; i < 3; i++) {
      Thread.sleep(700);
      f.agent.abandon();
      Thread.sleep(300); // the container keeps writing while no agent runs
      f.startAgent();
    }
    Thread.sleep(700);
    Pod after = f.await("ticker", p -> "Running".equals(phase(p)));
    assertThat(after.getStatus().getContainerStatuses().get(0).getRestartCount()).isZero();
    assertThat(podDir.resolve("got-sigpipe")).doesNotExist();

    Path log = f.data.resolve("kubelet/logs").resolve("default_ticker_" + uid).resolve("main/0.log");
    f.agent.abandon(); // a still picture: no rotation while the files are read
    List<Path> rotated = LogRotation.rotated(log);
    assertThat(rotated.size()).isGreaterThan(3);
    for (int i = 0; i < rotated.size(); i++) {
      // gzipped except the newest rotated file (the clean-up runs after each rotation)
      boolean gz = rotated.get(i).getFileName().toString().endsWith(".gz");
      if (i == rotated.size() - 1) {
        assertThat(gz).as(rotated.get(i).toString()).isFalse();
      }
    }
    assertThat(rotated.stream().filter(p -> p.getFileName().toString().endsWith(".gz")).count())
        .isGreaterThanOrEqualTo(rotated.size() - 3); // clean-up may lag the newest rotations a little
    List<Long> numbers = new ArrayList<>();
    List<Path> all = new ArrayList<>(rotated);
    all.add(log);
    for (Path p : all) {
      String text;
      try (InputStream in = p.getFileName().toString().endsWith(".gz")
          ? new GZIPInputStream(Files.newInputStream(p)) : Files.newInputStream(p)) {
        text = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      }
      assertThat(Files.size(p)).isLessThan(4096 + 64 * 1024); // rotated at 4Ki between two writes
      for (String line : text.lines().toList()) {
        String[] parts = line.split(" ", 4);
        assertThat(parts[2]).isEqualTo("F");
        numbers.add(Long.parseLong(parts[3]));
      }
    }
    assertThat(numbers.size()).isGreaterThan(500);
    for (int i = 0; i < numbers.size(); i++) {
      assertThat(numbers.get(i)).as("line %d", i).isEqualTo(i + 1L);
    }
    f.startAgent();
  }

  @Test
  void logsFollowAcrossRotationsAndTailReadsTheCurrentFile() throws Exception {
    f.apply(AgentFixture.pod("counter", "Never",
        "sleep 1; i=0; while [ $i -lt 1500 ]; do i=$((i+1)); echo line-$i-padding-padding-padding; sleep 0.002; done"));
    f.await("counter", p -> "Running".equals(phase(p)));
    Process follow = f.server.kubectl().start("logs", "-f", "counter");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Thread reader = Thread.ofVirtual().start(() -> {
      try {
        follow.getInputStream().transferTo(out);
      } catch (java.io.IOException e) {
        // ended
      }
    });
    assertThat(follow.waitFor(60, TimeUnit.SECONDS)).as("logs -f ends with the container").isTrue();
    reader.join(5000);
    List<String> lines = out.toString(StandardCharsets.UTF_8).lines().toList();
    assertThat(lines).isNotEmpty();
    int first = Integer.parseInt(lines.get(0).split("-")[1]);
    for (int i = 0; i < lines.size(); i++) {
      assertThat(lines.get(i)).as("no gap or duplicate across rotations").startsWith("line-" + (first + i) + "-");
    }
    assertThat(lines.getLast()).startsWith("line-1500-");
    assertThat(lines.size()).isGreaterThan(200); // it followed through many 4Ki files
    String tail = f.server.kubectl().run("logs", "counter", "--tail=3").ok().out();
    assertThat(tail.lines().toList()).extracting(l -> l.split("-")[1]).containsExactly("1498", "1499", "1500");
    String since = f.server.kubectl().run("logs", "counter", "--since=1h").ok().out();
    assertThat(since).endsWith("line-1500-padding-padding-padding\n");
  }
}
