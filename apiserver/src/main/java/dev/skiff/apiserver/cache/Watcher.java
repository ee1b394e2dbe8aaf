package dev.skiff.apiserver.cache;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One watch stream's view of the cache: a bounded queue of events the cache offers and the
 * stream's writer takes. A watcher that falls {@link #CAPACITY} events behind is terminated
 * instead of buffering without bound; its client relists (kube-apiserver's cacheWatcher does the
 * same when its channel stays full).
 */
public final class Watcher implements AutoCloseable {
  static final int CAPACITY = 8192;

  /** What a watcher is told: an event to send as {@code type} with {@code object}. */
  public record Item(CacheEvent event, String type, CachedObject object) {
    /** The shared, encoded-once watch frame of this item (only for items from events). */
    public byte[] frame() {
      return event.frame(type, object);
    }
  }

  private final WatchFilter filter;
  private final WatchCache cache;
  private final BlockingQueue<Item> queue = new ArrayBlockingQueue<>(CAPACITY);
  private volatile boolean terminated;
  private volatile boolean overflowed;

  Watcher(WatchCache cache, WatchFilter filter) {
    this.cache = cache;
    this.filter = filter;
  }

  /** Called by the cache under its lock; never blocks. */
  void offer(CacheEvent e) {
    if (terminated) {
      return;
    }
    boolean now = filter.matches(e.object);
    boolean before = e.previous != null && filter.matches(e.previous);
    Item item;
    if (e.type == CacheEvent.Type.DELETED) {
      item = before ? new Item(e, "DELETED", e.object) : null;
    } else if (now && before) {
      item = new Item(e, "MODIFIED", e.object);
    } else if (now) {
      item = new Item(e, "ADDED", e.object);
    } else if (before) {
      // The object left the selection: to this watcher it was deleted (cacher.go convertToWatchEvent).
      item = new Item(e, "DELETED", e.object);
    } else {
      item = null;
    }
    if (item != null && !queue.offer(item)) {
      overflowed = true;
      terminated = true;
      cache.remove(this);
    }
  }

  void offerInitial(Item item) {
    if (!queue.offer(item)) {
      overflowed = true;
      terminated = true;
    }
  }

  /** Next item, or null after {@code timeoutNanos} without one. */
  public Item poll(long timeoutNanos) throws InterruptedException {
    return queue.poll(timeoutNanos, TimeUnit.NANOSECONDS);
  }

  /** Takes whatever is queued now without waiting, up to {@code max} items. */
  public Item pollNow() {
    return queue.poll();
  }

  /** True once the watcher fell too far behind; the stream should end after draining. */
  public boolean isTerminated() {
    return terminated;
  }

  public boolean overflowed() {
    return overflowed;
  }

  @Override
  public void close() {
    terminated = true;
    cache.remove(this);
  }
}
