package dev.skiff.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConfigMap;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** Work runs only while its process leads, over informers it gets afresh each term. */
class LeaderElectedTest extends ClusterTest {
  static final Map<String, String> FAST = Map.of(
      "t.leaseDurationSeconds", "2", "t.renewDeadlineSeconds", "1", "retryPeriodMillis", "200");

  static LeaderElected start(String name, List<String> log) {
    return LeaderElected.start(client, "leader-elected-test", name, FAST, "t", "test", Clock.system(),
        (informers, recorder) -> {
          Informer<ConfigMap> cms = informers.informerFor(ConfigMap.class);
          log.add("start " + name);
          return () -> log.add("stop " + name + " synced=" + cms.hasSynced());
        });
  }

  @Test
  void onlyTheLeaderRunsTheWorkAndAHandoverStartsItOnTheOther() throws Exception {
    List<String> log = new CopyOnWriteArrayList<>();
    LeaderElected a = start("a", log);
    assertThat(Poll.until(Duration.ofSeconds(10), a::isLeader)).isTrue();
    LeaderElected b = start("b", log);
    Thread.sleep(600); // three retry periods: b campaigns and loses
    assertThat(b.isLeader()).isFalse();
    assertThat(log).containsExactly("start a");
    assertThat(a.identity()).startsWith("a_");

    a.close(); // releases the lease: b takes over without waiting for it to expire
    assertThat(Poll.until(Duration.ofSeconds(10), b::isLeader)).isTrue();
    assertThat(Poll.until(Duration.ofSeconds(5), () -> log.size() == 3)).isTrue();
    assertThat(log).containsExactly("start a", "stop a synced=true", "start b");
    b.close();
    assertThat(log).hasSize(4).last().asString().startsWith("stop b");
  }
}
