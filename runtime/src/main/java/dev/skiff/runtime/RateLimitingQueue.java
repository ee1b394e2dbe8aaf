package dev.skiff.runtime;

/**
 * A {@link DelayingQueue} whose retries are spaced by a {@link RateLimiter}
 * ({@code rate_limiting_queue.go}): {@link #addRateLimited} is {@code addAfter(key,
 * limiter.when(key))}; {@link #forget} drops the key's failure history (call it when processing
 * succeeded). Thread-safe.
 */
public class RateLimitingQueue<K> extends DelayingQueue<K> {
  private final RateLimiter<K> limiter;

  public RateLimitingQueue(RateLimiter<K> limiter) {
    this(limiter, Clock.system());
  }

  public RateLimitingQueue(RateLimiter<K> limiter, Clock clock) {
    super(clock);
    this.limiter = limiter;
  }

  public void addRateLimited(K key) {
    addAfter(key, limiter.when(key));
  }

  public void forget(K key) {
    limiter.forget(key);
  }

  public int numRequeues(K key) {
    return limiter.numRequeues(key);
  }
}
