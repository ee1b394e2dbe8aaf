package dev.skiff.store;

import java.util.List;

/**
 * Receives changes from {@link KeyValueStore#watch}. Calls for one watch are never concurrent and
 * arrive in revision order with no gaps among the matching keys. Implementations must return
 * quickly (hand work to another thread); a slow listener delays every watch of the store.
 */
public interface WatchListener {
  void onEvents(List<WatchEvent> events);

  /** The watch ended because of {@code cause} (store closed, connection lost for good). */
  default void onClose(Throwable cause) {}
}
