package dev.skiff.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.runtime.FakeClock;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class SchedulingQueueTest {
  final FakeClock clock = new FakeClock();
  final SchedulingQueue q = new SchedulingQueue(clock);

  static Pod pod(String name, int priority) {
    return new PodBuilder().withNewMetadata().withNamespace("ns").withName(name).withUid(name).endMetadata()
        .withNewSpec().withPriority(priority).endSpec().build();
  }

  @Test
  void activeOrdersByPriorityThenEnqueueTime() throws Exception {
    q.add(pod("low", 0));
    clock.step(Duration.ofMillis(1));
    q.add(pod("high", 100));
    clock.step(Duration.ofMillis(1));
    q.add(pod("low2", 0));
    assertThat(q.pop().key).isEqualTo("ns/high");
    assertThat(q.pop().key).isEqualTo("ns/low");
    assertThat(q.pop().key).isEqualTo("ns/low2");
  }

  @Test
  void aPodIsNeverQueuedTwice() throws Exception {
    q.add(pod("a", 0));
    q.add(pod("a", 0));
    assertThat(q.size()).isEqualTo(1);
    var e = q.pop();
    q.add(pod("a", 0)); // an update while in flight only replaces the object
    assertThat(q.activeSize()).isZero();
    assertThat(q.where("ns/a")).isEqualTo(SchedulingQueue.Where.IN_FLIGHT);
    q.requeue(e, false);
    assertThat(q.where("ns/a")).isEqualTo(SchedulingQueue.Where.UNSCHEDULABLE);
  }

  @Test
  void backoffDoublesFromOneSecondToTen() {
    assertThat(q.backoffNanos(1)).isEqualTo(Duration.ofSeconds(1).toNanos());
    assertThat(q.backoffNanos(2)).isEqualTo(Duration.ofSeconds(2).toNanos());
    assertThat(q.backoffNanos(4)).isEqualTo(Duration.ofSeconds(8).toNanos());
    assertThat(q.backoffNanos(5)).isEqualTo(Duration.ofSeconds(10).toNanos());
    assertThat(q.backoffNanos(30)).isEqualTo(Duration.ofSeconds(10).toNanos());
  }

  @Test
  void unschedulablePodsMoveOnClusterEventsThroughBackoff() throws Exception {
    q.add(pod("a", 0));
    var e = q.pop();
    q.requeue(e, false);
    assertThat(q.where("ns/a")).isEqualTo(SchedulingQueue.Where.UNSCHEDULABLE);
    q.moveAllToActiveOrBackoff();
    assertThat(q.where("ns/a")).isEqualTo(SchedulingQueue.Where.BACKOFF);
    clock.step(Duration.ofMillis(999));
    q.flush();
    assertThat(q.where("ns/a")).isEqualTo(SchedulingQueue.Where.BACKOFF);
    clock.step(Duration.ofMillis(1));
    q.flush();
    assertThat(q.where("ns/a")).isEqualTo(SchedulingQueue.Where.ACTIVE);
  }

  @Test
  void anEventDuringTheCycleSendsThePodToBackoffNotUnschedulable() throws Exception {
    q.add(pod("a", 0));
    var e = q.pop();
    q.moveAllToActiveOrBackoff();
    q.requeue(e, false);
    assertThat(q.where("ns/a")).isEqualTo(SchedulingQueue.Where.BACKOFF);
  }

  @Test
  void unschedulableLeftoversReturnAfterFiveMinutes() throws Exception {
    q.add(pod("a", 0));
    q.requeue(q.pop(), false);
    clock.step(Duration.ofMinutes(4));
    q.flush();
    assertThat(q.where("ns/a")).isEqualTo(SchedulingQueue.Where.UNSCHEDULABLE);
    clock.step(Duration.ofMinutes(1));
    q.flush();
    assertThat(q.where("ns/a")).isEqualTo(SchedulingQueue.Where.ACTIVE);
  }

  @Test
  void deletedPodsLeave() throws Exception {
    q.add(pod("a", 0));
    q.delete(pod("a", 0));
    assertThat(q.size()).isZero();
    q.add(pod("b", 0));
    var e = q.pop();
    q.delete(pod("b", 0));
    q.requeue(e, false);
    assertThat(q.size()).isZero();
  }
}
