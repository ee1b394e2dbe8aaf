package dev.skiff.runtime;

import java.time.Duration;
import java.util.List;

final class MaxOfRateLimiter<K> implements RateLimiter<K> {
  private final List<RateLimiter<K>> limiters;

  MaxOfRateLimiter(List<RateLimiter<K>> limiters) {
    this.limiters = limiters;
  }

  @Override
  public Duration when(K key) {
    Duration max = Duration.ZERO;
    for (RateLimiter<K> l : limiters) {
      Duration d = l.when(key);
      if (d.compareTo(max) > 0) {
        max = d;
      }
    }
    return max;
  }

  @Override
  public void forget(K key) {
    limiters.forEach(l -> l.forget(key));
  }

  @Override
  public int numRequeues(K key) {
    int max = 0;
    for (RateLimiter<K> l : limiters) {
      max = Math.max(max, l.numRequeues(key));
    }
    return max;
  }
}
