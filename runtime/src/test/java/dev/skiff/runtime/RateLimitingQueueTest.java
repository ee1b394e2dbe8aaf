package dev.skiff.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** Exact delays on a fake clock, as client-go's rate_limiting_queue_test.go and default_rate_limiters_test.go. */
class RateLimitingQueueTest {

  private static void awaitLen(WorkQueue<?> q, int len) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
    while (q.len() != len && System.nanoTime() < deadline) {
      Thread.sleep(1);
    }
    assertThat(q.len()).isEqualTo(len);
  }

  @Test
  void rateLimitedAddsWaitExponentiallyAndForgetResets() throws Exception {
    FakeClock clock = new FakeClock();
    RateLimitingQueue<String> q = new RateLimitingQueue<>(
        RateLimiter.exponential(Duration.ofMillis(1), Duration.ofSeconds(1)), clock);
    try {
      q.addRateLimited("one");
      Thread.sleep(20);
      assertThat(q.len()).isZero();
      clock.step(Duration.ofMillis(1));
      awaitLen(q, 1);
      assertThat(q.numRequeues("one")).isEqualTo(1);

      assertThat(q.get()).isEqualTo("one");
      q.done("one");
      q.addRateLimited("one"); // 2 ms now
      clock.step(Duration.ofMillis(1));
      Thread.sleep(20);
      assertThat(q.len()).isZero();
      clock.step(Duration.ofMillis(1));
      awaitLen(q, 1);
      assertThat(q.numRequeues("one")).isEqualTo(2);

      q.forget("one");
      assertThat(q.numRequeues("one")).isZero();
      assertThat(q.get()).isEqualTo("one");
      q.done("one");
      q.addRateLimited("one"); // back to 1 ms
      clock.step(Duration.ofMillis(1));
      awaitLen(q, 1);
    } finally {
      q.shutDown();
    }
  }

  @Test
  void addAfterKeepsTheEarliestTime() throws Exception {
    FakeClock clock = new FakeClock();
    DelayingQueue<String> q = new DelayingQueue<>(clock);
    try {
      q.addAfter("a", Duration.ofSeconds(10));
      q.addAfter("a", Duration.ofMillis(50));
      q.addAfter("a", Duration.ofSeconds(20));
      q.addAfter("b", Duration.ofMillis(100));
      clock.step(Duration.ofMillis(50));
      awaitLen(q, 1);
      assertThat(q.get()).isEqualTo("a");
      clock.step(Duration.ofMillis(50));
      awaitLen(q, 1);
      assertThat(q.get()).isEqualTo("b");
      clock.step(Duration.ofSeconds(30));
      Thread.sleep(20);
      assertThat(q.len()).as("a was waiting once, not three times").isZero();
    } finally {
      q.shutDown();
    }
  }

  @Test
  void addAfterOnTheRealClock() throws Exception {
    DelayingQueue<String> q = new DelayingQueue<>();
    long start = System.nanoTime();
    q.addAfter("x", Duration.ofMillis(50));
    q.addAfter("now", Duration.ZERO);
    assertThat(q.get()).isEqualTo("now");
    assertThat(q.get()).isEqualTo("x");
    assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(Duration.ofMillis(50).toNanos());
    q.shutDown();
  }

  @Test
  void exponentialDelaysAreExactAndCapped() {
    RateLimiter<String> l = RateLimiter.exponential(Duration.ofMillis(1), Duration.ofSeconds(1));
    assertThat(l.when("one")).isEqualTo(Duration.ofMillis(1));
    assertThat(l.when("one")).isEqualTo(Duration.ofMillis(2));
    assertThat(l.when("one")).isEqualTo(Duration.ofMillis(4));
    assertThat(l.when("one")).isEqualTo(Duration.ofMillis(8));
    assertThat(l.when("one")).isEqualTo(Duration.ofMillis(16));
    assertThat(l.numRequeues("one")).isEqualTo(5);
    assertThat(l.when("two")).isEqualTo(Duration.ofMillis(1));
    assertThat(l.when("two")).isEqualTo(Duration.ofMillis(2));
    l.forget("one");
    assertThat(l.numRequeues("one")).isZero();
    assertThat(l.when("one")).isEqualTo(Duration.ofMillis(1));
    for (int i = 0; i < 200; i++) {
      l.when("big");
    }
    assertThat(l.when("big")).isEqualTo(Duration.ofSeconds(1));
  }

  @Test
  void bucketLetsABurstThroughThenSpacesByQps() {
    FakeClock clock = new FakeClock();
    RateLimiter<String> l = RateLimiter.bucket(10, 3, clock);
    assertThat(l.when("a")).isZero();
    assertThat(l.when("b")).isZero();
    assertThat(l.when("c")).isZero();
    assertThat(l.when("d")).isEqualTo(Duration.ofMillis(100));
    assertThat(l.when("e")).isEqualTo(Duration.ofMillis(200));
    clock.step(Duration.ofSeconds(1)); // refills to the burst, not beyond
    assertThat(l.when("f")).isZero();
    assertThat(l.when("g")).isZero();
    assertThat(l.when("h")).isZero();
    assertThat(l.when("i")).isEqualTo(Duration.ofMillis(100));
    assertThat(l.numRequeues("a")).isZero();
  }

  @Test
  void maxOfTakesTheLongestAndForgetsEverywhere() {
    FakeClock clock = new FakeClock();
    RateLimiter<String> l = RateLimiter.defaultController(clock);
    // client-go DefaultControllerRateLimiter: 5 ms per-item base; the 10 qps bucket has a burst of 100.
    for (int i = 0; i < 100; i++) {
      assertThat(l.when("k" + i)).isEqualTo(Duration.ofMillis(5));
    }
    assertThat(l.when("k100")).isEqualTo(Duration.ofMillis(100));
    assertThat(l.when("k0")).isEqualTo(Duration.ofMillis(200));
    assertThat(l.numRequeues("k0")).isEqualTo(2);
    l.forget("k0");
    assertThat(l.numRequeues("k0")).isZero();

    RateLimiter<String> fs = RateLimiter.maxOf(
        RateLimiter.fastSlow(Duration.ofMillis(5), Duration.ofSeconds(10), 2),
        RateLimiter.exponential(Duration.ofMillis(1), Duration.ofSeconds(1)));
    assertThat(fs.when("x")).isEqualTo(Duration.ofMillis(5));
    assertThat(fs.when("x")).isEqualTo(Duration.ofMillis(5));
    assertThat(fs.when("x")).isEqualTo(Duration.ofSeconds(10));
    assertThat(fs.numRequeues("x")).isEqualTo(3);
  }
}
