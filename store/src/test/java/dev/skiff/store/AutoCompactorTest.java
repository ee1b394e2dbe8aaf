package dev.skiff.store;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import org.junit.jupiter.api.Test;

class AutoCompactorTest {
  /** A clock the test moves by hand. */
  static final class ManualClock extends Clock {
    Instant now = Instant.parse("2025-01-01T00:00:00Z");

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return now;
    }

    void advance(Duration d) {
      now = now.plus(d);
    }
  }

  private static void write(KeyValueStore store, int n) {
    for (int i = 0; i < n; i++) {
      store.create("/k/" + store.currentRevision(), new byte[1]);
    }
  }

  @Test
  void keepsRetentionWindowAndMinimumRevisions() {
    try (MemoryStore store = new MemoryStore()) {
      ManualClock clock = new ManualClock();
      AutoCompactor c = new AutoCompactor(store, Duration.ofMinutes(5), 100, clock);
      write(store, 500); // revision 500 at t=0
      assertThat(c.runOnce()).isZero(); // nothing is 5 minutes old yet
      for (int minute = 1; minute <= 4; minute++) {
        clock.advance(Duration.ofMinutes(1));
        write(store, 500);
        assertThat(c.runOnce()).isZero();
      }
      clock.advance(Duration.ofMinutes(1)); // t=5min: the t=0 sample (500) is old enough
      write(store, 500);
      assertThat(c.runOnce()).isEqualTo(500);
      assertThat(store.compactedRevision()).isEqualTo(500);
      clock.advance(Duration.ofMinutes(1)); // t=6min: the t=1min sample (1000)
      assertThat(c.runOnce()).isEqualTo(1000);
      assertThat(c.runOnce()).isZero(); // nothing new is old enough
    }
  }

  @Test
  void neverCompactsTheLastMinRevisions() {
    try (MemoryStore store = new MemoryStore()) {
      ManualClock clock = new ManualClock();
      AutoCompactor c = new AutoCompactor(store, Duration.ofMinutes(5), 1000, clock);
      write(store, 1500);
      c.runOnce();
      clock.advance(Duration.ofMinutes(10));
      assertThat(c.runOnce()).isEqualTo(500); // 1500 is old enough but only 500 may go
      assertThat(store.compactedRevision()).isEqualTo(500);
      clock.advance(Duration.ofMinutes(10));
      assertThat(c.runOnce()).isZero(); // idle store: still keeps 1000
    }
  }

  @Test
  void scheduledRunCompacts() throws Exception {
    try (MemoryStore store = new MemoryStore()) {
      write(store, 20);
      try (AutoCompactor c = new AutoCompactor(store, Duration.ZERO, 5, Clock.systemUTC()).start(Duration.ofMillis(10))) {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (store.compactedRevision() != 15 && System.nanoTime() < deadline) {
          Thread.sleep(10);
        }
      }
      assertThat(store.compactedRevision()).isEqualTo(15);
    }
  }
}
