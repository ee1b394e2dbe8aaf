package dev.skiff.runtime;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A {@link WorkQueue} that can also add a key after a delay ({@code delaying_queue.go}). A key
 * waiting for a delay that is added again with a shorter delay moves up; with a longer one it
 * keeps its earlier time. One virtual thread per queue moves keys whose time has come into the
 * queue; it ends at shutdown. Thread-safe.
 */
public class DelayingQueue<K> extends WorkQueue<K> {
  private record Waiting<K>(K key, long readyAt, long seq) {}

  private final Clock clock;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final PriorityQueue<Waiting<K>> waiting = new PriorityQueue<>((a, b) -> a.readyAt != b.readyAt
      ? Long.compare(a.readyAt, b.readyAt) : Long.compare(a.seq, b.seq));
  private final Map<K, Waiting<K>> known = new HashMap<>();
  private long seq;
  private volatile boolean stopped;
  private final Thread loop;

  public DelayingQueue() {
    this(Clock.system());
  }

  // The waiting loop only touches fields assigned before it starts, and subclasses add none it reads.
  @SuppressWarnings("this-escape")
  public DelayingQueue(Clock clock) {
    this.clock = clock;
    clock.onAdvance(this::wake);
    this.loop = Thread.ofVirtual().name("delaying-queue").start(this::waitingLoop);
  }

  /** Adds {@code key} once {@code delay} has passed on this queue's clock; now if not positive. */
  public void addAfter(K key, Duration delay) {
    if (shuttingDown()) {
      return;
    }
    if (delay.isZero() || delay.isNegative()) {
      add(key);
      return;
    }
    long readyAt = clock.nanoTime() + delay.toNanos();
    lock.lock();
    try {
      Waiting<K> old = known.get(key);
      if (old != null) {
        if (old.readyAt <= readyAt) {
          return;
        }
        waiting.remove(old);
      }
      Waiting<K> w = new Waiting<>(key, readyAt, seq++);
      known.put(key, w);
      waiting.add(w);
      changed.signal();
    } finally {
      lock.unlock();
    }
  }

  Clock clock() {
    return clock;
  }

  private void wake() {
    lock.lock();
    try {
      changed.signal();
    } finally {
      lock.unlock();
    }
  }

  @Override
  void onShutDown() {
    stopped = true;
    loop.interrupt();
  }

  private void waitingLoop() {
    lock.lock();
    try {
      while (!stopped) {
        long now = clock.nanoTime();
        Waiting<K> head;
        while ((head = waiting.peek()) != null && head.readyAt <= now) {
          waiting.poll();
          known.remove(head.key);
          add(head.key);
        }
        // Capped so that a clock that cannot signal still gets polled.
        long wait = head == null ? TimeUnit.SECONDS.toNanos(10) : Math.min(head.readyAt - now, TimeUnit.SECONDS.toNanos(10));
        changed.awaitNanos(wait);
      }
    } catch (InterruptedException e) {
      // shut down
    } finally {
      lock.unlock();
    }
  }
}
