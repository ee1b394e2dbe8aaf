package dev.skiff.runtime;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;

/** A clock that moves only when told to; for tests. Thread-safe. */
public final class FakeClock implements Clock {
  private final AtomicLong nanos = new AtomicLong();
  private final long epochMillisAtZero;
  private final List<Runnable> listeners = new CopyOnWriteArrayList<>();

  public FakeClock() {
    this(1_700_000_000_000L);
  }

  public FakeClock(long epochMillisAtZero) {
    this.epochMillisAtZero = epochMillisAtZero;
  }

  @Override
  public long nanoTime() {
    return nanos.get();
  }

  @Override
  public long currentTimeMillis() {
    return epochMillisAtZero + nanos.get() / 1_000_000;
  }

  @Override
  public void onAdvance(Runnable callback) {
    listeners.add(callback);
  }

  /** Moves time forward and wakes everything waiting on this clock. */
  public void step(Duration d) {
    if (d.isNegative()) {
      throw new IllegalArgumentException("time cannot go backwards: " + d);
    }
    nanos.addAndGet(d.toNanos());
    listeners.forEach(Runnable::run);
  }
}
