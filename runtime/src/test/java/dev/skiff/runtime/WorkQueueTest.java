package dev.skiff.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** Black-box tests in the manner of client-go's util/workqueue/queue_test.go. */
class WorkQueueTest {

  @Test
  void manyProducersAndConsumersNeverShareAKey() throws Exception {
    WorkQueue<Integer> q = new WorkQueue<>();
    int producers = 50;
    int consumers = 10;
    Set<Integer> inFlight = ConcurrentHashMap.newKeySet();
    Set<Integer> processed = ConcurrentHashMap.newKeySet();
    AtomicBoolean overlap = new AtomicBoolean();
    List<Thread> producing = new ArrayList<>();
    for (int p = 0; p < producers; p++) {
      producing.add(Thread.ofVirtual().start(() -> {
        for (int i = 0; i < 50; i++) {
          q.add(i);
          Thread.yield();
        }
      }));
    }
    List<Thread> consuming = new ArrayList<>();
    for (int c = 0; c < consumers; c++) {
      consuming.add(Thread.ofVirtual().start(() -> {
        try {
          Integer k;
          while ((k = q.get()) != null) {
            if (!inFlight.add(k)) {
              overlap.set(true);
            }
            processed.add(k);
            Thread.sleep(0, 100_000);
            inFlight.remove(k);
            q.done(k);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }));
    }
    for (Thread t : producing) {
      t.join();
    }
    q.shutDownWithDrain();
    for (Thread t : consuming) {
      assertThat(t.join(java.time.Duration.ofSeconds(10))).isTrue();
    }
    assertThat(overlap).isFalse();
    assertThat(processed).hasSize(50);
    assertThat(q.len()).isZero();
  }

  @Test
  void addingADirtyKeyIsANoOp() throws Exception {
    WorkQueue<String> q = new WorkQueue<>();
    q.add("a");
    q.add("a");
    q.add("b");
    q.add("a");
    assertThat(q.len()).isEqualTo(2);
    assertThat(q.get()).isEqualTo("a");
    assertThat(q.get()).isEqualTo("b");
  }

  @Test
  void reAddWhileProcessingCausesExactlyOneMoreProcessing() throws Exception {
    WorkQueue<String> q = new WorkQueue<>();
    q.add("a");
    assertThat(q.get()).isEqualTo("a");
    q.add("a");
    q.add("a");
    assertThat(q.len()).as("a key in flight is not handed out again").isZero();
    q.done("a");
    assertThat(q.len()).isEqualTo(1);
    assertThat(q.get()).isEqualTo("a");
    q.done("a");
    assertThat(q.len()).isZero();
  }

  @Test
  void reAddUnderConcurrencyIsProcessedOnceMore() throws Exception {
    WorkQueue<String> q = new WorkQueue<>();
    AtomicInteger runs = new AtomicInteger();
    CountDownLatch inside = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    q.add("k");
    List<Thread> workers = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      workers.add(Thread.ofVirtual().start(() -> {
        try {
          String k;
          while ((k = q.get()) != null) {
            if (runs.incrementAndGet() == 1) {
              inside.countDown();
              release.await();
            }
            q.done(k);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }));
    }
    assertThat(inside.await(5, TimeUnit.SECONDS)).isTrue();
    for (int i = 0; i < 100; i++) {
      q.add("k"); // 100 changes while the first run is in progress
    }
    Thread.sleep(50);
    assertThat(runs).as("no second worker got the key while it was in flight").hasValue(1);
    release.countDown();
    q.shutDownWithDrain();
    Thread.sleep(50);
    q.shutDown();
    for (Thread t : workers) {
      t.join();
    }
    assertThat(runs).hasValue(2);
  }

  @Test
  void shutDownHandsOutWhatIsQueuedThenNull() throws Exception {
    WorkQueue<String> q = new WorkQueue<>();
    q.add("a");
    q.shutDown();
    q.add("b");
    assertThat(q.shuttingDown()).isTrue();
    assertThat(q.get()).isEqualTo("a");
    assertThat(q.get()).isNull();
  }

  @Test
  void shutDownWakesBlockedGetters() throws Exception {
    WorkQueue<String> q = new WorkQueue<>();
    Map<Integer, String> got = new ConcurrentHashMap<>();
    List<Thread> getters = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      int n = i;
      getters.add(Thread.ofVirtual().start(() -> {
        try {
          got.put(n, String.valueOf(q.get()));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }));
    }
    Thread.sleep(50);
    q.shutDown();
    for (Thread t : getters) {
      assertThat(t.join(java.time.Duration.ofSeconds(5))).isTrue();
    }
    assertThat(got.values()).containsOnly("null").hasSize(5);
  }

  @Test
  void shutDownWithDrainWaitsForKeysInFlight() throws Exception {
    WorkQueue<String> q = new WorkQueue<>();
    q.add("a");
    assertThat(q.get()).isEqualTo("a");
    CountDownLatch drained = new CountDownLatch(1);
    Thread.ofVirtual().start(() -> {
      try {
        q.shutDownWithDrain();
        drained.countDown();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    assertThat(drained.await(200, TimeUnit.MILLISECONDS)).as("drain waits for done").isFalse();
    assertThat(q.shuttingDown()).isTrue();
    q.done("a");
    assertThat(drained.await(5, TimeUnit.SECONDS)).isTrue();
  }
}
