package dev.skiff.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.runtime.FakeClock;
import io.fabric8.kubernetes.api.model.Pod;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SchedulerCacheTest {
  final FakeClock clock = new FakeClock();
  final SchedulerCache cache = new SchedulerCache(clock, Duration.ofSeconds(30));

  @Test
  void assumedPodsCountUntilConfirmedOrExpired() {
    cache.addOrUpdateNode(Fixtures.node("n", "zone-a", "4", Map.of()));
    Pod p = Fixtures.pod("ns", "p", "1").editMetadata().withUid("u1").endMetadata().build();
    PodInfo pi = new PodInfo(p);
    cache.assume(pi, "n");
    assertThat(cache.node("n").requested).containsEntry("cpu", 1000L);
    assertThat(cache.isAssumed("u1")).isTrue();
    // No deadline before the bind finished.
    clock.step(Duration.ofMinutes(5));
    assertThat(cache.cleanupExpired()).isZero();
    cache.finishBinding(pi);
    clock.step(Duration.ofSeconds(29));
    assertThat(cache.cleanupExpired()).isZero();
    clock.step(Duration.ofSeconds(1));
    assertThat(cache.cleanupExpired()).isEqualTo(1);
    assertThat(cache.node("n").requested).containsEntry("cpu", 0L);
  }

  @Test
  void theInformersCopyConfirmsAnAssumption() {
    cache.addOrUpdateNode(Fixtures.node("n", "zone-a", "4", Map.of()));
    Pod p = Fixtures.pod("ns", "p", "1").editMetadata().withUid("u1").endMetadata().build();
    PodInfo pi = new PodInfo(p);
    cache.assume(pi, "n");
    cache.finishBinding(pi);
    Pod bound = p.toBuilder().editSpec().withNodeName("n").endSpec().build();
    cache.addOrUpdatePod(bound);
    assertThat(cache.isAssumed("u1")).isFalse();
    clock.step(Duration.ofMinutes(1));
    assertThat(cache.cleanupExpired()).isZero();
    assertThat(cache.node("n").requested).containsEntry("cpu", 1000L);
    assertThat(cache.node("n").pods).hasSize(1);
    cache.removePod(bound);
    assertThat(cache.node("n").pods).isEmpty();
  }

  @Test
  void forgetUndoesAFailedBind() {
    cache.addOrUpdateNode(Fixtures.node("n", "zone-a", "4", Map.of()));
    PodInfo pi = new PodInfo(Fixtures.pod("ns", "p", "1").editMetadata().withUid("u1").endMetadata().build());
    cache.assume(pi, "n");
    cache.forget(pi);
    assertThat(cache.isPlaced("u1")).isFalse();
    assertThat(cache.node("n").requested).containsEntry("cpu", 0L);
  }

  @Test
  void initContainersCountAsMaxAndSidecarsAdd() {
    Pod p = Fixtures.pod("ns", "p", "1").editSpec()
        .addNewInitContainer().withName("init").withNewResources().addToRequests("cpu", new io.fabric8.kubernetes.api.model.Quantity("3")).endResources().endInitContainer()
        .addNewInitContainer().withName("sidecar").withRestartPolicy("Always").withNewResources().addToRequests("cpu", new io.fabric8.kubernetes.api.model.Quantity("500m")).endResources().endInitContainer()
        .addToOverhead("cpu", new io.fabric8.kubernetes.api.model.Quantity("100m"))
        .endSpec().build();
    // max(containers 1 + sidecar 0.5, init 3) + overhead 0.1
    assertThat(new PodInfo(p).milliCpu).isEqualTo(3100);
    Pod q = Fixtures.pod("ns", "q", "2").editSpec()
        .addNewInitContainer().withName("sidecar").withRestartPolicy("Always").withNewResources().addToRequests("cpu", new io.fabric8.kubernetes.api.model.Quantity("1")).endResources().endInitContainer()
        .addNewInitContainer().withName("init").withNewResources().addToRequests("cpu", new io.fabric8.kubernetes.api.model.Quantity("2")).endResources().endInitContainer()
        .endSpec().build();
    // The init container after the sidecar runs beside it: max(2 + 1 sidecar, 2 + 1) = 3
    assertThat(new PodInfo(q).milliCpu).isEqualTo(3000);
  }
}
