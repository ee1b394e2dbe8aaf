package dev.skiff.serving.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The per-revision breaker, hold and split, without a server. */
class RevisionBackendTest {
  static RevisionBackend.Endpoint ep(int port) {
    RevisionBackend.Endpoint e = new RevisionBackend.Endpoint("127.0.0.1", port, false);
    e.verified = true;
    return e;
  }

  static long in(long seconds) {
    return System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
  }

  @Test
  void heldWhileNoPodPokesOnceAndIsReleasedByNewEndpoints() throws Exception {
    RevisionBackend b = new RevisionBackend("default", "r");
    AtomicInteger pokes = new AtomicInteger();
    CompletableFuture<RevisionBackend.Lease> held = CompletableFuture.supplyAsync(() -> {
      try {
        return b.acquire(in(30), x -> pokes.incrementAndGet());
      } catch (InterruptedException e) {
        throw new RuntimeException(e);
      }
    });
    assertThat(ServingFixture.until(java.time.Duration.ofSeconds(5), () -> pokes.get() == 1)).isTrue();
    assertThat(held).isNotDone();
    b.setEndpoints(List.of(ep(1000)));
    RevisionBackend.Lease lease = held.get(5, TimeUnit.SECONDS);
    assertThat(lease.endpoint().port).isEqualTo(1000);
    assertThat(pokes.get()).isEqualTo(1);
  }

  @Test
  void noPodUntilTheDeadlineIs503AndBusyUntilTheDeadlineIs504() throws Exception {
    RevisionBackend b = new RevisionBackend("default", "r");
    assertThat(b.acquire(System.nanoTime() + 50_000_000, x -> {}).failure()).isEqualTo(RevisionBackend.Failure.NO_PODS_TIMEOUT);
    b.containerConcurrency = 1;
    b.setEndpoints(List.of(ep(1000)));
    assertThat(b.tryAcquire()).isNotNull();
    assertThat(b.acquire(System.nanoTime() + 50_000_000, x -> {}).failure()).isEqualTo(RevisionBackend.Failure.BUSY_TIMEOUT);
  }

  @Test
  void containerConcurrencyIsPerPodAndWaitersAreServedInOrder() throws Exception {
    RevisionBackend b = new RevisionBackend("default", "r");
    b.containerConcurrency = 2;
    b.setEndpoints(List.of(ep(1), ep(2)));
    List<RevisionBackend.Endpoint> taken = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      taken.add(b.acquire(in(5), x -> {}).endpoint());
    }
    assertThat(taken).extracting(e -> e.port).containsExactlyInAnyOrder(1, 1, 2, 2);
    assertThat(b.tryAcquire()).isNull();
    List<Integer> order = new java.util.concurrent.CopyOnWriteArrayList<>();
    List<Thread> waiters = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      int id = i;
      waiters.add(Thread.ofVirtual().start(() -> {
        try {
          RevisionBackend.Lease l = b.acquire(in(10), x -> {});
          order.add(id);
          b.release(l.endpoint());
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }));
      Thread.sleep(50); // queue them in a known order
    }
    assertThat(order).isEmpty();
    b.release(taken.get(0));
    for (Thread t : waiters) {
      t.join(5000);
    }
    assertThat(order).containsExactly(0, 1, 2);
  }

  @Test
  void inFlightCountsSurviveAnEndpointRefresh() throws Exception {
    RevisionBackend b = new RevisionBackend("default", "r");
    b.containerConcurrency = 1;
    b.setEndpoints(List.of(ep(1)));
    RevisionBackend.Endpoint e = b.acquire(in(5), x -> {}).endpoint();
    b.setEndpoints(List.of(new RevisionBackend.Endpoint("127.0.0.1", 1, false), ep(2)));
    RevisionBackend.Endpoint second = b.acquire(in(5), x -> {}).endpoint();
    assertThat(second.port).isEqualTo(2); // pod 1 is still busy with the first request
    b.release(e);
  }

  @Test
  void smoothWeightedRoundRobinHonoursPercentagesExactly() {
    TrafficSplit s = new TrafficSplit(List.of(new TrafficSplit.Target("d", "a", 10), new TrafficSplit.Target("d", "b", 90),
        new TrafficSplit.Target("d", "c", 0)));
    Map<String, Integer> counts = new java.util.HashMap<>();
    for (int i = 0; i < 1000; i++) {
      counts.merge(s.pick().revision(), 1, Integer::sum);
    }
    assertThat(counts).containsEntry("a", 100).containsEntry("b", 900).doesNotContainKey("c");
  }

  @Test
  void hostsIgnorePortCaseAndTrailingDot() {
    assertThat(ServingView.normalizeHost("Hello.Default.LOCALHOST:8081")).isEqualTo("hello.default.localhost");
    assertThat(ServingView.normalizeHost("hello.default.localhost.")).isEqualTo("hello.default.localhost");
    assertThat(ServingView.normalizeHost("[::1]:80")).isEqualTo("[::1]");
  }
}
