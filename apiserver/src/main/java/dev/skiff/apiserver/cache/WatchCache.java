package dev.skiff.apiserver.cache;

import dev.skiff.apiserver.api.ApiException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The in-memory view of one stored resource (apiserver pkg/storage/cacher in spirit): every
 * current object in key order plus a window of recent events, fed only by the store's watch
 * through {@link CacheHub}. Lists copy references under a read lock and say which revision they
 * show; watches start from a revision by replaying the window and then receive live events, with
 * replay and registration atomic with respect to new events, so nothing is missed or repeated.
 *
 * <p>The window keeps at least {@link #MIN_EVENTS} events, and any event younger than
 * {@link #MIN_AGE_NANOS}, up to {@link #MAX_EVENTS}; older watch starts get 410 Expired.
 */
public final class WatchCache {
  static final int MIN_EVENTS = 1024;
  static final int MAX_EVENTS = 100_000;
  static final long MIN_AGE_NANOS = 75_000_000_000L; // kube's eventFreshDuration

  private final String prefix;
  private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
  private final TreeMap<String, CachedObject> objects = new TreeMap<>();
  private final ArrayDeque<CacheEvent> window = new ArrayDeque<>();
  private final List<Watcher> watchers = new CopyOnWriteArrayList<>();
  /** Every event with a revision above this is in the window. */
  private long windowStart;
  /** The hub's revision as of the last applied batch (global across resources). */
  private volatile long revision;
  /** Counts applied events, so readers can tell cheaply whether this resource changed at all. */
  private volatile long changes;

  WatchCache(String prefix, long startRevision) {
    this(prefix, startRevision, startRevision);
  }

  WatchCache(String prefix, long windowStart, long startRevision) {
    this.prefix = prefix;
    this.windowStart = windowStart;
    this.revision = startRevision;
  }

  public String prefix() {
    return prefix;
  }

  public long revision() {
    return revision;
  }

  /** A number that changes whenever an object of this resource is added, modified or deleted. */
  public long changeCount() {
    return changes;
  }

  public int size() {
    lock.readLock().lock();
    try {
      return objects.size();
    } finally {
      lock.readLock().unlock();
    }
  }

  public int watcherCount() {
    return watchers.size();
  }

  void load(CachedObject o) {
    objects.put(o.key(), o);
  }

  /** Applies one change; called by the hub's single dispatcher thread. */
  void apply(CacheEvent.Type type, CachedObject obj, long rev) {
    lock.writeLock().lock();
    try {
      CachedObject prev = type == CacheEvent.Type.DELETED ? objects.remove(obj.key()) : objects.put(obj.key(), obj);
      if (type == CacheEvent.Type.DELETED && prev == null) {
        return; // a delete of something we never saw (can happen after a relist race); nothing to tell
      }
      CacheEvent.Type t = type == CacheEvent.Type.DELETED ? type
          : prev == null ? CacheEvent.Type.ADDED : CacheEvent.Type.MODIFIED;
      CacheEvent e = new CacheEvent(t, obj, prev, rev);
      window.addLast(e);
      changes++;
      trim();
      for (Watcher w : watchers) {
        w.offer(e);
      }
    } finally {
      lock.writeLock().unlock();
    }
  }

  /**
   * Adds a historical event (one the current objects already reflect) to the window, so that a
   * watch resuming from before a restart can be served from the store's retained history.
   */
  void replay(CacheEvent.Type type, CachedObject obj, CachedObject prev, long rev) {
    lock.writeLock().lock();
    try {
      window.addLast(new CacheEvent(type, obj, prev, rev));
      trim();
    } finally {
      lock.writeLock().unlock();
    }
  }

  void advance(long rev) {
    revision = rev;
  }

  private void trim() {
    long now = System.nanoTime();
    while (window.size() > MIN_EVENTS) {
      CacheEvent first = window.peekFirst();
      if (window.size() <= MAX_EVENTS && now - first.createdNanos < MIN_AGE_NANOS) {
        break;
      }
      window.pollFirst();
      windowStart = first.revision;
    }
  }

  /** A consistent snapshot of the matching objects and the revision it shows. */
  public Snapshot list(WatchFilter filter) {
    lock.readLock().lock();
    try {
      NavigableMap<String, CachedObject> range = objects;
      if (filter.namespace() != null) {
        String p = prefix + filter.namespace() + "/";
        range = objects.subMap(p, true, p + Character.MAX_VALUE, false);
      }
      List<CachedObject> out = new ArrayList<>(range.size());
      boolean all = filter.labels().isEverything() && filter.fields().isEverything();
      for (CachedObject o : range.values()) {
        if (all || filter.matches(o)) {
          out.add(o);
        }
      }
      return new Snapshot(out, revision);
    } finally {
      lock.readLock().unlock();
    }
  }

  public CachedObject get(String key) {
    lock.readLock().lock();
    try {
      return objects.get(key);
    } finally {
      lock.readLock().unlock();
    }
  }

  /** Objects and the revision they show. */
  public record Snapshot(List<CachedObject> objects, long revision) {}

  /**
   * Starts a watch. With {@code initial} the current matching objects come first as ADDED (watch
   * with resourceVersion unset or 0, or sendInitialEvents); otherwise events after
   * {@code fromRevision} are replayed from the window.
   *
   * @return the watcher and the revision its initial state corresponds to
   */
  public Start watch(WatchFilter filter, long fromRevision, boolean initial) {
    Watcher w = new Watcher(this, filter);
    lock.readLock().lock();
    try {
      long at = revision;
      if (initial) {
        for (CachedObject o : list(filter).objects()) {
          w.offerInitial(new Watcher.Item(null, "ADDED", o));
        }
      } else {
        if (fromRevision < windowStart) {
          throw ApiException.expired("too old resource version: " + fromRevision + " (" + (windowStart + 1) + ")");
        }
        Iterator<CacheEvent> it = window.descendingIterator();
        ArrayDeque<CacheEvent> replay = new ArrayDeque<>();
        while (it.hasNext()) {
          CacheEvent e = it.next();
          if (e.revision <= fromRevision) {
            break;
          }
          replay.addFirst(e);
        }
        for (CacheEvent e : replay) {
          w.offer(e);
        }
      }
      watchers.add(w);
      return new Start(w, at);
    } finally {
      lock.readLock().unlock();
    }
  }

  public record Start(Watcher watcher, long revision) {}

  /** Ends every watch on this cache (its resource stopped being served: a deleted CRD). */
  public void closeWatchers() {
    for (Watcher w : watchers) {
      w.close();
    }
  }

  void remove(Watcher w) {
    watchers.remove(w);
  }

  /** Sizes for /metrics. */
  public Map<String, Long> stats() {
    return Map.of("objects", (long) size(), "events", (long) window.size(), "watchers", (long) watchers.size());
  }
}
