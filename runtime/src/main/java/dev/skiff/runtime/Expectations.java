package dev.skiff.runtime;

import java.time.Duration;
import java.util.Collection;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What a controller expects to see in its informer after it created or deleted children, so that
 * it does not act again on a stale cache ({@code pkg/controller/controller_utils.go}
 * ControllerExpectations and UIDTrackingControllerExpectations). Keys are the controller's work
 * keys. A key with no record is satisfied; a record is satisfied when its counts are no longer
 * positive, or when it is older than {@link #TIMEOUT} (a lost watch event must not wedge the
 * controller forever). Thread-safe.
 */
public final class Expectations {
  /** ExpectationsTimeout in controller_utils.go. */
  public static final Duration TIMEOUT = Duration.ofMinutes(5);

  private static final class Record {
    final AtomicLong add = new AtomicLong();
    final AtomicLong del = new AtomicLong();
    final long timestamp;
    final Set<String> deletions = new HashSet<>(); // UID tracking: children whose deletion we await

    Record(long add, long del, long timestamp) {
      this.add.set(add);
      this.del.set(del);
      this.timestamp = timestamp;
    }

    boolean fulfilled() {
      return add.get() <= 0 && del.get() <= 0;
    }
  }

  private final Clock clock;
  private final Map<String, Record> records = new ConcurrentHashMap<>();

  public Expectations() {
    this(Clock.system());
  }

  public Expectations(Clock clock) {
    this.clock = clock;
  }

  /** Replaces {@code key}'s expectations: {@code count} creations are about to happen. */
  public void expectCreations(String key, int count) {
    records.put(key, new Record(count, 0, clock.nanoTime()));
  }

  /** Replaces {@code key}'s expectations: {@code count} deletions are about to happen. */
  public void expectDeletions(String key, int count) {
    records.put(key, new Record(0, count, clock.nanoTime()));
  }

  /**
   * Replaces {@code key}'s expectations with the deletion of the named children (their keys or
   * UIDs); {@link #deletionObserved(String, String)} then counts each child at most once, as
   * UIDTrackingControllerExpectations does for pods whose deletion is seen twice.
   */
  public void expectDeletions(String key, Collection<String> children) {
    Record r = new Record(0, children.size(), clock.nanoTime());
    r.deletions.addAll(children);
    records.put(key, r);
  }

  /** An expected creation was seen (or failed and will not be seen). */
  public void creationObserved(String key) {
    Record r = records.get(key);
    if (r != null) {
      r.add.decrementAndGet();
    }
  }

  /** An expected deletion was seen (or failed and will not be seen). */
  public void deletionObserved(String key) {
    Record r = records.get(key);
    if (r != null) {
      r.del.decrementAndGet();
    }
  }

  /** Deletion of a tracked child was seen; repeated observations of one child count once. */
  public void deletionObserved(String key, String child) {
    Record r = records.get(key);
    if (r == null) {
      return;
    }
    boolean removed;
    synchronized (r) {
      removed = r.deletions.remove(child);
    }
    if (removed) {
      r.del.decrementAndGet();
    }
  }

  /** Adds to the counts of an existing record (raiseExpectations); no-op without one. */
  public void raise(String key, int add, int del) {
    Record r = records.get(key);
    if (r != null) {
      r.add.addAndGet(add);
      r.del.addAndGet(del);
    }
  }

  /**
   * True if the controller may act on {@code key}: no record, counts fulfilled, or the record
   * expired (older than {@link #TIMEOUT}).
   */
  public boolean satisfied(String key) {
    Record r = records.get(key);
    if (r == null || r.fulfilled()) {
      return true;
    }
    return clock.nanoTime() - r.timestamp > TIMEOUT.toNanos();
  }

  /** Forgets {@code key} (its object was deleted). */
  public void delete(String key) {
    records.remove(key);
  }
}
