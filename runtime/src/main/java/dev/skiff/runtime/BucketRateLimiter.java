package dev.skiff.runtime;

import java.time.Duration;

/** A token bucket shared by all keys, reserving like golang.org/x/time/rate's Limiter.Reserve. */
final class BucketRateLimiter<K> implements RateLimiter<K> {
  private final double qps;
  private final int burst;
  private final Clock clock;
  private double tokens;
  private long last;

  BucketRateLimiter(double qps, int burst, Clock clock) {
    if (qps <= 0 || burst < 1) {
      throw new IllegalArgumentException("qps must be > 0 and burst >= 1");
    }
    this.qps = qps;
    this.burst = burst;
    this.clock = clock;
    this.tokens = burst;
    this.last = clock.nanoTime();
  }

  @Override
  public synchronized Duration when(K key) {
    long now = clock.nanoTime();
    if (now > last) {
      tokens = Math.min(burst, tokens + (now - last) / 1e9 * qps);
      last = now;
    }
    tokens -= 1;
    return tokens >= 0 ? Duration.ZERO : Duration.ofNanos((long) Math.ceil(-tokens / qps * 1e9));
  }

  @Override
  public void forget(K key) {
  }

  @Override
  public int numRequeues(K key) {
    return 0;
  }
}
