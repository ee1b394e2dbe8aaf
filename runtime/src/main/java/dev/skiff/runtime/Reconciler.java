package dev.skiff.runtime;

/**
 * Brings the world in line with the desired state of the object named by {@code key}
 * ({@link Keys}). Called by a {@link Controller}'s workers; never called concurrently for the same
 * key, but concurrently for different keys, so implementations must be thread-safe. A missing
 * object (deleted) should end quietly with {@link Result#done()}. Throwing retries the key with
 * backoff.
 */
@FunctionalInterface
public interface Reconciler {
  Result reconcile(String key) throws Exception;
}
