package dev.skiff.serving.autoscaler;

/**
 * One-second buckets of a metric (average concurrency, or requests per second) over the last
 * {@code capacity} seconds, averaged over a window. A second with no record counts as 0; while
 * fewer seconds than the window have been recorded, the average is over the recorded seconds
 * only (Knative's partial-window semantics, {@code docs/scaling/README.md}). Times are
 * milliseconds of any monotonic clock. Not thread-safe: the {@link Autoscaler} confines each
 * window to its scaling thread.
 */
final class MetricWindow {
  private final double[] buckets;
  private long firstSecond = Long.MIN_VALUE;
  private long lastSecond = Long.MIN_VALUE;

  MetricWindow(int capacitySeconds) {
    buckets = new double[Math.max(1, capacitySeconds)];
  }

  /** Sets the value of the second containing {@code nowMs} (a later record of the same second wins). */
  void record(long nowMs, double value) {
    long sec = Math.floorDiv(nowMs, 1000);
    if (firstSecond == Long.MIN_VALUE) {
      firstSecond = sec;
    } else if (sec > lastSecond) {
      // Clear the seconds skipped since the last record: they had no traffic.
      for (long s = Math.max(lastSecond + 1, sec - buckets.length + 1); s < sec; s++) {
        buckets[(int) Math.floorMod(s, buckets.length)] = 0;
      }
    }
    if (sec < lastSecond) {
      return; // out of order: ignore
    }
    buckets[(int) Math.floorMod(sec, buckets.length)] = value;
    lastSecond = sec;
  }

  /** The average over the {@code windowMs} ending at {@code nowMs} (0 when nothing was recorded). */
  double average(long nowMs, long windowMs) {
    if (firstSecond == Long.MIN_VALUE) {
      return 0;
    }
    long now = Math.floorDiv(nowMs, 1000);
    long secs = Math.min(buckets.length, Math.max(1, windowMs / 1000));
    long from = Math.max(now - secs + 1, firstSecond);
    if (from > now) {
      return 0;
    }
    double sum = 0;
    for (long s = from; s <= now; s++) {
      if (s <= lastSecond && s > lastSecond - buckets.length) {
        sum += buckets[(int) Math.floorMod(s, buckets.length)];
      }
    }
    return sum / (now - from + 1);
  }
}
