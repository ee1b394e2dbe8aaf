package dev.skiff.scheduler;

import dev.skiff.runtime.Clock;
import io.fabric8.kubernetes.api.model.Pod;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Pending pods in three parts (upstream {@code backend/queue/scheduling_queue.go}): activeQ, a heap
 * ordered by priority then enqueue time (PrioritySort); backoffQ, pods waiting out their backoff
 * (1 s doubling per attempt to 10 s); and unschedulablePods, pods that failed and wait for a
 * cluster event that may help them. A pod is in at most one part, and not in any while it is
 * being scheduled ("in flight"): adding it again only updates the object.
 *
 * <p>Thread-safe. {@link #pop} blocks; {@link #flush} is called periodically by the owner.
 */
public final class SchedulingQueue {
  static final Duration INITIAL_BACKOFF = Duration.ofSeconds(1);
  static final Duration MAX_BACKOFF = Duration.ofSeconds(10);
  static final Duration MAX_IN_UNSCHEDULABLE = Duration.ofMinutes(5);

  enum Where { ACTIVE, BACKOFF, UNSCHEDULABLE, IN_FLIGHT }

  /** A queued pod with its scheduling history (upstream QueuedPodInfo). */
  static final class Entry {
    Pod pod;
    final String key;
    int attempts;
    long timestamp;
    long initialAttempt;
    long backoffExpiry;
    long unschedulableSince;
    long cycle;
    Where where;

    Entry(Pod pod, String key) {
      this.pod = pod;
      this.key = key;
    }

    int priority() {
      Integer p = pod.getSpec().getPriority();
      return p == null ? 0 : p;
    }
  }

  private final Clock clock;
  private final long initialBackoff;
  private final long maxBackoff;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition nonEmpty = lock.newCondition();
  private final Map<String, Entry> entries = new HashMap<>();
  private final PriorityQueue<Entry> active = new PriorityQueue<>(
      Comparator.comparingInt(Entry::priority).reversed().thenComparingLong(e -> e.timestamp));
  private final PriorityQueue<Entry> backoff = new PriorityQueue<>(Comparator.comparingLong(e -> e.backoffExpiry));
  private long schedulingCycle;
  private long moveRequestCycle = -1;
  private boolean closed;

  public SchedulingQueue(Clock clock) {
    this(clock, INITIAL_BACKOFF, MAX_BACKOFF);
  }

  SchedulingQueue(Clock clock, Duration initialBackoff, Duration maxBackoff) {
    this.clock = clock;
    this.initialBackoff = initialBackoff.toNanos();
    this.maxBackoff = maxBackoff.toNanos();
  }

  /** Adds a new pending pod, or updates the object of one already known. */
  public void add(Pod pod) {
    String key = key(pod);
    lock.lock();
    try {
      Entry e = entries.get(key);
      if (e != null) {
        Pod old = e.pod;
        e.pod = pod;
        if (e.where == Where.UNSCHEDULABLE && old != null && specOrLabelsChanged(old, pod)) {
          // An update may make it schedulable (upstream: Update moves it out of unschedulablePods);
          // status-only updates, such as our own PodScheduled condition, cannot (isPodUpdated).
          moveOut(e);
        }
        return;
      }
      e = new Entry(pod, key);
      e.timestamp = clock.nanoTime();
      e.initialAttempt = e.timestamp;
      entries.put(key, e);
      toActive(e);
    } finally {
      lock.unlock();
    }
  }

  /** Forgets the pod (deleted or bound by someone else). */
  public void delete(Pod pod) {
    String key = key(pod);
    lock.lock();
    try {
      Entry e = entries.get(key);
      if (e == null) {
        return;
      }
      if (e.where == Where.IN_FLIGHT) {
        // Dropped when the cycle reports back.
        e.pod = null;
        return;
      }
      remove(e);
    } finally {
      lock.unlock();
    }
  }

  /** The next pod to schedule, blocking; null once closed. Marks it in flight. */
  Entry pop() throws InterruptedException {
    lock.lock();
    try {
      while (active.isEmpty() && !closed) {
        nonEmpty.await();
      }
      if (closed) {
        return null;
      }
      Entry e = active.poll();
      e.where = Where.IN_FLIGHT;
      e.attempts++;
      e.cycle = ++schedulingCycle;
      return e;
    } finally {
      lock.unlock();
    }
  }

  /** Like {@link #pop} but waits at most {@code timeout}; null if nothing came. */
  Entry poll(Duration timeout) throws InterruptedException {
    lock.lock();
    try {
      long left = timeout.toNanos();
      while (active.isEmpty() && !closed && left > 0) {
        left = nonEmpty.awaitNanos(left);
      }
      if (closed || active.isEmpty()) {
        return null;
      }
      Entry e = active.poll();
      e.where = Where.IN_FLIGHT;
      e.attempts++;
      e.cycle = ++schedulingCycle;
      return e;
    } finally {
      lock.unlock();
    }
  }

  /** The cycle ended with the pod placed (assumed): it leaves the queue. */
  void done(Entry e) {
    lock.lock();
    try {
      if (entries.get(e.key) == e) {
        entries.remove(e.key);
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * The pod could not be placed. If a cluster event arrived while it was being scheduled it goes
   * to backoff (the event may have helped), otherwise to unschedulablePods; errors go to backoff.
   */
  void requeue(Entry e, boolean error) {
    lock.lock();
    try {
      if (entries.get(e.key) != e) {
        return;
      }
      if (e.pod == null) {
        entries.remove(e.key);
        return;
      }
      e.timestamp = clock.nanoTime();
      if (error || moveRequestCycle >= e.cycle) {
        toBackoff(e);
      } else {
        e.where = Where.UNSCHEDULABLE;
        e.unschedulableSince = e.timestamp;
      }
    } finally {
      lock.unlock();
    }
  }

  /** A failed bind: the pod goes back through backoff. Also used when re-adding a forgotten pod. */
  void requeueAfterBindFailure(Entry e) {
    lock.lock();
    try {
      if (e.pod == null) {
        return;
      }
      Entry cur = entries.get(e.key);
      if (cur != null && cur != e) {
        return;
      }
      entries.put(e.key, e);
      e.timestamp = clock.nanoTime();
      toBackoff(e);
    } finally {
      lock.unlock();
    }
  }

  /**
   * A cluster event that may make unschedulable pods fit (node added/updated, assigned pod
   * deleted): every unschedulable pod moves to backoff, or straight to active if its backoff has
   * already expired (upstream MoveAllToActiveOrBackoffQueue, without per-plugin queueing hints).
   */
  public void moveAllToActiveOrBackoff() {
    lock.lock();
    try {
      moveRequestCycle = schedulingCycle;
      for (Entry e : new ArrayList<>(entries.values())) {
        if (e.where == Where.UNSCHEDULABLE) {
          moveOut(e);
        }
      }
    } finally {
      lock.unlock();
    }
  }

  /** Moves completed backoffs to active and unschedulable leftovers older than 5 minutes. */
  public void flush() {
    lock.lock();
    try {
      long now = clock.nanoTime();
      while (!backoff.isEmpty() && backoff.peek().backoffExpiry - now <= 0) {
        toActive(backoff.poll());
      }
      long limit = MAX_IN_UNSCHEDULABLE.toNanos();
      for (Entry e : new ArrayList<>(entries.values())) {
        if (e.where == Where.UNSCHEDULABLE && now - e.unschedulableSince >= limit) {
          moveOut(e);
        }
      }
    } finally {
      lock.unlock();
    }
  }

  public void close() {
    lock.lock();
    try {
      closed = true;
      nonEmpty.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Where the pod is, or null; for tests. */
  Where where(String key) {
    lock.lock();
    try {
      Entry e = entries.get(key);
      return e == null ? null : e.where;
    } finally {
      lock.unlock();
    }
  }

  public int size() {
    lock.lock();
    try {
      return entries.size();
    } finally {
      lock.unlock();
    }
  }

  int activeSize() {
    lock.lock();
    try {
      return active.size();
    } finally {
      lock.unlock();
    }
  }

  /** Backoff for a pod with this many attempts: initial × 2^(attempts−1), capped. */
  long backoffNanos(int attempts) {
    if (attempts <= 0) {
      return 0;
    }
    long d = initialBackoff;
    for (int i = 1; i < attempts && d < maxBackoff; i++) {
      d *= 2;
    }
    return Math.min(d, maxBackoff);
  }

  private void moveOut(Entry e) {
    long expiry = e.timestamp + backoffNanos(e.attempts);
    if (expiry - clock.nanoTime() > 0) {
      toBackoff(e);
    } else {
      toActive(e);
    }
  }

  private void toActive(Entry e) {
    backoff.remove(e);
    e.where = Where.ACTIVE;
    active.add(e);
    nonEmpty.signal();
  }

  private void toBackoff(Entry e) {
    active.remove(e);
    e.where = Where.BACKOFF;
    e.backoffExpiry = e.timestamp + backoffNanos(e.attempts);
    backoff.add(e);
  }

  private void remove(Entry e) {
    entries.remove(e.key);
    if (e.where == Where.ACTIVE) {
      active.remove(e);
    } else if (e.where == Where.BACKOFF) {
      backoff.remove(e);
    }
  }

  static boolean specOrLabelsChanged(Pod a, Pod b) {
    return !java.util.Objects.equals(a.getSpec(), b.getSpec())
        || !java.util.Objects.equals(a.getMetadata().getLabels(), b.getMetadata().getLabels())
        || !java.util.Objects.equals(a.getMetadata().getAnnotations(), b.getMetadata().getAnnotations());
  }

  static String key(Pod pod) {
    return pod.getMetadata().getNamespace() + "/" + pod.getMetadata().getName();
  }

  /** For tests: waits until the active queue is non-empty. */
  boolean awaitActive(long timeout, TimeUnit unit) throws InterruptedException {
    lock.lock();
    try {
      long left = unit.toNanos(timeout);
      while (active.isEmpty() && left > 0) {
        left = nonEmpty.awaitNanos(left);
      }
      return !active.isEmpty();
    } finally {
      lock.unlock();
    }
  }
}
