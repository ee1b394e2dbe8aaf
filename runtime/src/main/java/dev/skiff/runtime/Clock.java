package dev.skiff.runtime;

/**
 * The time source of queues, rate limiters, expectations and leader election, injectable so that
 * tests can assert exact delays ({@link FakeClock}). Implementations are thread-safe.
 */
public interface Clock {
  /** Monotonic nanoseconds; only differences are meaningful. */
  long nanoTime();

  /** Wall-clock milliseconds since the epoch (for timestamps written to the API). */
  long currentTimeMillis();

  /**
   * Registers a callback run whenever this clock jumps forward in a way that a timed wait on
   * the real clock would not notice (only fake clocks do). The system clock ignores it.
   */
  default void onAdvance(Runnable callback) {
  }

  /** The real clock. */
  static Clock system() {
    return SystemClock.INSTANCE;
  }
}

enum SystemClock implements Clock {
  INSTANCE;

  @Override
  public long nanoTime() {
    return System.nanoTime();
  }

  @Override
  public long currentTimeMillis() {
    return System.currentTimeMillis();
  }
}
