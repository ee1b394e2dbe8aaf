package dev.skiff.store;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Compacts a store periodically, keeping at least {@code retention} of history (etcd under
 * Kubernetes keeps 5 minutes) and at least {@code minRevisions} revisions (kine keeps 1000).
 *
 * <p>How it knows how old a revision is: every run samples (now, current revision). A sample
 * taken at least {@code retention} ago says that every revision up to its value is older than
 * the retention, so the newest such sample is the compaction target, lowered to keep
 * {@code minRevisions}. History is therefore kept for between {@code retention} and
 * {@code retention + interval}.
 *
 * <p>Works with any {@link KeyValueStore}. {@link #runOnce()} is what the schedule calls; tests
 * call it directly with an injected {@link Clock}. Thread-safe.
 */
public final class AutoCompactor implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AutoCompactor.class);
  public static final Duration DEFAULT_RETENTION = Duration.ofMinutes(5);
  public static final long DEFAULT_MIN_REVISIONS = 1000;
  public static final Duration DEFAULT_INTERVAL = Duration.ofMinutes(1);

  private record Sample(Instant time, long revision) {}

  private final KeyValueStore store;
  private final Duration retention;
  private final long minRevisions;
  private final Clock clock;
  private final Deque<Sample> samples = new ArrayDeque<>(); // guarded by this, oldest first
  private ScheduledExecutorService scheduler;

  public AutoCompactor(KeyValueStore store, Duration retention, long minRevisions, Clock clock) {
    this.store = store;
    this.retention = retention;
    this.minRevisions = minRevisions;
    this.clock = clock;
  }

  /** A compactor with the default policy (5 minutes, 1000 revisions), running every minute. */
  public static AutoCompactor start(KeyValueStore store) {
    return new AutoCompactor(store, DEFAULT_RETENTION, DEFAULT_MIN_REVISIONS, Clock.systemUTC()).start(DEFAULT_INTERVAL);
  }

  /** Runs {@link #runOnce()} every {@code interval} on a daemon thread until {@link #close()}. */
  public synchronized AutoCompactor start(Duration interval) {
    if (scheduler != null) {
      throw new IllegalStateException("already started");
    }
    scheduler = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon().name("skiff-store-compactor").unstarted(r));
    long ms = interval.toMillis();
    scheduler.scheduleWithFixedDelay(() -> {
      try {
        runOnce();
      } catch (RuntimeException e) {
        log.warn("store compaction failed: {}", e.toString());
      }
    }, 0, ms, TimeUnit.MILLISECONDS);
    return this;
  }

  /**
   * Samples the store's revision and compacts to the newest revision that is older than the
   * retention and leaves {@code minRevisions}; returns the revision compacted to, or 0 if none.
   */
  public synchronized long runOnce() {
    Instant now = clock.instant();
    long current = store.currentRevision();
    samples.addLast(new Sample(now, current));
    Instant cutoff = now.minus(retention);
    Sample old = null;
    while (!samples.isEmpty() && !samples.peekFirst().time().isAfter(cutoff)) {
      old = samples.pollFirst();
    }
    if (old == null) {
      return 0;
    }
    samples.addFirst(old); // it may still be the best target next time
    long target = Math.min(old.revision(), current - minRevisions);
    if (target <= store.compactedRevision()) {
      return 0;
    }
    store.compact(target);
    log.debug("compacted store to revision {} (current {})", target, current);
    return target;
  }

  @Override
  public synchronized void close() {
    if (scheduler != null) {
      scheduler.shutdownNow();
      scheduler = null;
    }
  }
}
