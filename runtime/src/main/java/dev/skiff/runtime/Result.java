package dev.skiff.runtime;

import java.time.Duration;
import java.util.Optional;

/**
 * What a {@link Reconciler} asks of its controller: {@link #done()} forgets the key's failures;
 * {@link #requeue()} retries it with rate-limited backoff (as after an exception, but quietly);
 * {@link #requeueAfter(Duration)} forgets its failures and looks again after a fixed delay.
 * Immutable.
 */
public final class Result {
  private static final Result DONE = new Result(false, null);
  private static final Result REQUEUE = new Result(true, null);

  private final boolean rateLimited;
  private final Duration after;

  private Result(boolean rateLimited, Duration after) {
    this.rateLimited = rateLimited;
    this.after = after;
  }

  public static Result done() {
    return DONE;
  }

  public static Result requeue() {
    return REQUEUE;
  }

  public static Result requeueAfter(Duration delay) {
    return new Result(false, delay);
  }

  /** True for {@link #requeue()}. */
  public boolean isRateLimitedRequeue() {
    return rateLimited;
  }

  /** The delay of {@link #requeueAfter(Duration)}. */
  public Optional<Duration> delay() {
    return Optional.ofNullable(after);
  }

  @Override
  public String toString() {
    return rateLimited ? "requeue" : after != null ? "requeueAfter(" + after + ")" : "done";
  }
}
