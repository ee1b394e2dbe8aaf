package dev.skiff.runtime;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

final class FastSlowRateLimiter<K> implements RateLimiter<K> {
  private final Duration fast;
  private final Duration slow;
  private final int maxFast;
  private final Map<K, Integer> failures = new HashMap<>();

  FastSlowRateLimiter(Duration fast, Duration slow, int maxFast) {
    this.fast = fast;
    this.slow = slow;
    this.maxFast = maxFast;
  }

  @Override
  public synchronized Duration when(K key) {
    int n = failures.merge(key, 1, Integer::sum);
    return n <= maxFast ? fast : slow;
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
