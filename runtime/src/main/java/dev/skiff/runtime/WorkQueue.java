package dev.skiff.runtime;

import java.util.ArrayDeque;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A de-duplicating FIFO of keys with client-go's semantics ({@code util/workqueue/queue.go}).
 *
 * <p>State is an ordered queue, a <em>dirty</em> set (keys that need processing) and a
 * <em>processing</em> set (keys handed out by {@link #get()} and not yet {@link #done}), all
 * under one lock:
 * <ul>
 *   <li>{@link #add} of a dirty key is a no-op, so keys coalesce;
 *   <li>{@link #add} of a key being processed only marks it dirty; {@link #done} then puts it
 *       back, so a key is never handed to two workers at once and a change made while it was
 *       being processed causes exactly one more processing;
 *   <li>after {@link #shutDown}, adds are ignored and {@link #get} keeps returning what is
 *       queued, then {@code null}.
 * </ul>
 * Keys must have proper {@code equals}/{@code hashCode}; they are meant to be strings such as
 * {@code namespace/name}, never objects. All methods are thread-safe.
 */
public class WorkQueue<K> {
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final ArrayDeque<K> queue = new ArrayDeque<>();
  private final Set<K> dirty = new HashSet<>();
  private final Set<K> processing = new HashSet<>();
  private boolean shuttingDown;
  private boolean drain;

  /** Marks {@code key} as needing processing. */
  public void add(K key) {
    lock.lock();
    try {
      if (shuttingDown || !dirty.add(key)) {
        return;
      }
      if (processing.contains(key)) {
        return;
      }
      queue.addLast(key);
      changed.signal();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Blocks until a key is available and hands it out; the caller must call {@link #done} with it
   * when finished. Returns {@code null} once the queue is shut down and empty.
   */
  public K get() throws InterruptedException {
    lock.lock();
    try {
      while (queue.isEmpty() && !shuttingDown) {
        changed.await();
      }
      if (queue.isEmpty()) {
        return null;
      }
      K key = queue.pollFirst();
      processing.add(key);
      dirty.remove(key);
      return key;
    } finally {
      lock.unlock();
    }
  }

  /** Ends processing of {@code key}; if it was added meanwhile, it is queued again. */
  public void done(K key) {
    lock.lock();
    try {
      processing.remove(key);
      if (dirty.contains(key)) {
        queue.addLast(key);
        changed.signal();
      } else if (processing.isEmpty()) {
        changed.signalAll(); // a draining shutDownWithDrain waits for this
      }
    } finally {
      lock.unlock();
    }
  }

  /** Number of keys waiting to be handed out (not counting those being processed). */
  public int len() {
    lock.lock();
    try {
      return queue.size();
    } finally {
      lock.unlock();
    }
  }

  /** Ignores further adds and wakes all waiting {@link #get} calls; does not wait for workers. */
  public void shutDown() {
    lock.lock();
    try {
      shuttingDown = true;
      drain = false;
      changed.signalAll();
    } finally {
      lock.unlock();
    }
    onShutDown();
  }

  /**
   * Like {@link #shutDown} but blocks until every key handed out has been {@link #done}. Workers
   * must keep calling done; a worker that never does blocks this forever, as in client-go.
   */
  public void shutDownWithDrain() throws InterruptedException {
    lock.lock();
    try {
      shuttingDown = true;
      drain = true;
      changed.signalAll();
      while (drain && !processing.isEmpty()) {
        changed.await();
      }
    } finally {
      lock.unlock();
    }
    onShutDown();
  }

  public boolean shuttingDown() {
    lock.lock();
    try {
      return shuttingDown;
    } finally {
      lock.unlock();
    }
  }

  /** Hook for layers that own threads. */
  void onShutDown() {
  }
}
