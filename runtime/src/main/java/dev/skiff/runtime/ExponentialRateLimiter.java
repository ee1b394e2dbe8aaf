package dev.skiff.runtime;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

final class ExponentialRateLimiter<K> implements RateLimiter<K> {
  private final long baseNanos;
  private final long maxNanos;
  private final Map<K, Integer> failures = new HashMap<>();

  ExponentialRateLimiter(Duration base, Duration max) {
    this.baseNanos = base.toNanos();
    this.maxNanos = max.toNanos();
  }

  @Override
  public synchronized Duration when(K key) {
    int exp = failures.getOrDefault(key, 0);
    failures.put(key, exp + 1);
    // Overflow-safe as in client-go: once base * 2^exp passes max (or 2^exp overflows), use max.
    if (exp >= 62) {
      return Duration.ofNanos(maxNanos);
    }
    double backoff = baseNanos * Math.pow(2, exp);
    return Duration.ofNanos(backoff > maxNanos ? maxNanos : (long) backoff);
  }

  @Override
  public synchronized void forget(K key) {
    failures.remove(key);
  }

  @Override
  public synchronized int numRequeues(K key) {
    return failures.getOrDefault(key, 0);
  }
}
