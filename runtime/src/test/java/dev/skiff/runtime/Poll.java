package dev.skiff.runtime;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/** Waits for a condition in tests. */
final class Poll {
  private Poll() {
  }

  static boolean until(Duration timeout, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(5);
    }
    return true;
  }
}
