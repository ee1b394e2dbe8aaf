package dev.skiff.runtime;

import java.time.Duration;
import java.util.List;

/**
 * Decides how long a key waits before it is retried ({@code default_rate_limiters.go}).
 * Implementations are thread-safe.
 */
public interface RateLimiter<K> {
  /** How long {@code key} should wait now; counts one more failure for it. */
  Duration when(K key);

  /** Drops {@code key}'s failure history (its processing succeeded). */
  void forget(K key);

  /** How many times {@code key} has been requeued since it was last forgotten. */
  int numRequeues(K key);

  /** Per key: {@code base * 2^failures}, capped at {@code max}. */
  static <K> RateLimiter<K> exponential(Duration base, Duration max) {
    return new ExponentialRateLimiter<>(base, max);
  }

  /**
   * Overall token bucket: {@code qps} tokens per second, at most {@code burst} saved up; each
   * {@link #when} takes one token and waits as long as the debt needs (x/time/rate reserve).
   */
  static <K> RateLimiter<K> bucket(double qps, int burst, Clock clock) {
    return new BucketRateLimiter<>(qps, burst, clock);
  }

  /** {@code fastDelay} for the first {@code maxFastAttempts} failures of a key, then {@code slowDelay}. */
  static <K> RateLimiter<K> fastSlow(Duration fastDelay, Duration slowDelay, int maxFastAttempts) {
    return new FastSlowRateLimiter<>(fastDelay, slowDelay, maxFastAttempts);
  }

  /** The longest of the limiters' delays; every limiter sees every call. */
  @SafeVarargs
  static <K> RateLimiter<K> maxOf(RateLimiter<K>... limiters) {
    List<RateLimiter<K>> copy = new java.util.ArrayList<>(limiters.length);
    for (RateLimiter<K> l : limiters) {
      copy.add(java.util.Objects.requireNonNull(l));
    }
    return new MaxOfRateLimiter<>(List.copyOf(copy));
  }

  /**
   * client-go's DefaultControllerRateLimiter: per-item exponential from 5 ms to 1000 s, and an
   * overall bucket of 10 qps with a burst of 100.
   */
  static <K> RateLimiter<K> defaultController() {
    return defaultController(Clock.system());
  }

  static <K> RateLimiter<K> defaultController(Clock clock) {
    return maxOf(exponential(Duration.ofMillis(5), Duration.ofSeconds(1000)), bucket(10, 100, clock));
  }
}
