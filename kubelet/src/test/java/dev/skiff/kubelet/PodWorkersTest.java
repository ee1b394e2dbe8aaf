package dev.skiff.kubelet;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Pod workers with a recording syncer (as pod_workers_test.go does): the sequence of calls per pod. */
class PodWorkersTest {
  final ScheduledExecutorService timers = Executors.newSingleThreadScheduledExecutor();
  final List<String> calls = new CopyOnWriteArrayList<>();
  final AtomicInteger concurrent = new AtomicInteger();
  final AtomicInteger maxConcurrent = new AtomicInteger();
  volatile CountDownLatch gate = new CountDownLatch(0);
  volatile boolean terminal;

  final PodWorkers.PodSyncer recorder = new PodWorkers.PodSyncer() {
    @Override
    public PodWorkers.SyncResult syncPod(Pod pod) throws Exception {
      enter();
      try {
        calls.add("sync:" + pod.getMetadata().getResourceVersion());
        gate.await();
        return new PodWorkers.SyncResult(terminal, null);
      } finally {
        concurrent.decrementAndGet();
      }
    }

    @Override
    public void syncTerminatingPod(Pod pod, Long grace) {
      calls.add("terminating:" + pod.getMetadata().getResourceVersion() + ":" + grace);
    }

    @Override
    public void syncTerminatedPod(Pod pod) {
      calls.add("terminated:" + pod.getMetadata().getResourceVersion());
    }

    @Override
    public void forgetPod(String uid) {
      calls.add("forget");
    }

    private void enter() {
      int c = concurrent.incrementAndGet();
      maxConcurrent.accumulateAndGet(c, Math::max);
    }
  };

  @AfterEach
  void stop() {
    timers.shutdownNow();
  }

  static Pod pod(String rv) {
    return new PodBuilder().withNewMetadata().withName("p").withNamespace("ns").withUid("u1").withResourceVersion(rv)
        .endMetadata().build();
  }

  @Test
  void aPendingKillIsNeverOverwrittenByALaterUpdate() throws Exception {
    PodWorkers workers = new PodWorkers(recorder, timers);
    gate = new CountDownLatch(1);
    workers.updatePod(pod("1"), false, false, null);
    assertThat(AgentFixture.until(Duration.ofSeconds(5), () -> calls.contains("sync:1"))).isTrue();
    // While sync 1 runs: a kill, then an ordinary update (newer pod) arrives.
    workers.updatePod(pod("2"), true, false, 5L);
    workers.updatePod(pod("3"), false, false, null);
    gate.countDown();
    assertThat(AgentFixture.until(Duration.ofSeconds(5), () -> calls.size() >= 3)).isTrue();
    Thread.sleep(100);
    // The newest pod is used, but for termination; no ordinary sync after the kill.
    assertThat(calls).containsExactly("sync:1", "terminating:3:5", "terminated:3");
    assertThat(workers.stage("u1")).isEqualTo(PodWorkers.Stage.TERMINATED);
    workers.stop();
  }

  @Test
  void updatesCoalesceAndSyncsNeverOverlap() throws Exception {
    PodWorkers workers = new PodWorkers(recorder, timers);
    gate = new CountDownLatch(1);
    workers.updatePod(pod("1"), false, false, null);
    assertThat(AgentFixture.until(Duration.ofSeconds(5), () -> calls.contains("sync:1"))).isTrue();
    for (int i = 2; i <= 50; i++) {
      workers.updatePod(pod(Integer.toString(i)), false, false, null);
    }
    gate.countDown();
    assertThat(AgentFixture.until(Duration.ofSeconds(5), () -> calls.contains("sync:50"))).isTrue();
    Thread.sleep(100);
    assertThat(calls).containsExactly("sync:1", "sync:50");
    assertThat(maxConcurrent.get()).isEqualTo(1);
    workers.stop();
  }

  @Test
  void aTerminalPodIsTerminatedOnceAndForgottenWhenGone() throws Exception {
    PodWorkers workers = new PodWorkers(recorder, timers);
    terminal = true;
    workers.updatePod(pod("1"), false, false, null);
    assertThat(AgentFixture.until(Duration.ofSeconds(5), () -> calls.contains("terminated:1"))).isTrue();
    workers.updatePod(pod("2"), false, false, null); // an update after the end changes nothing
    Thread.sleep(100);
    assertThat(calls).containsExactly("sync:1", "terminating:1:null", "terminated:1");
    workers.updatePod(pod("3"), true, true, null);
    assertThat(AgentFixture.until(Duration.ofSeconds(5), () -> calls.contains("forget"))).isTrue();
    assertThat(calls).containsExactly("sync:1", "terminating:1:null", "terminated:1", "terminated:3", "forget");
    assertThat(workers.stage("u1")).isNull();
    workers.stop();
    assertThat(timers.awaitTermination(0, TimeUnit.MILLISECONDS)).isFalse();
  }
}
