package dev.skiff.serving.autoscaler;

import java.util.ArrayDeque;
import java.util.Deque;

/**
 * The KPA decision of one revision, as Knative's {@code pkg/autoscaler/scaling/autoscaler.go}
 * ({@code Scale}) computes it: desired pods from the stable and panic averages against the
 * per-pod target, bounded by the max scale-up/down rates, panic mode entered at the panic
 * threshold and left one stable window after the last over-threshold tick (never scaling down
 * while panicking), and the scale-down delay as a max over the delay window. Time is passed in
 * (milliseconds of a monotonic clock), so tests drive it without sleeping. Bounds
 * (min/max-scale), initial scale and scale to zero are applied by the {@link Autoscaler}.
 * Not thread-safe: one decider per revision, used from the scaling thread.
 */
public final class KpaDecider {
  /**
   * One decision.
   *
   * @param desired the desired pod count before min/max bounds (0 = no traffic in the window)
   * @param excessBurstCapacity Knative's EBC: negative means the activator should stay in the path
   */
  public record Decision(int desired, double observedStable, double observedPanic, boolean panicking,
      double excessBurstCapacity) {}

  private long panicTime = -1;
  private int maxPanicPods;
  private final Deque<long[]> delayWindow = new ArrayDeque<>();

  /**
   * Decides. {@code readyPods} is the number of Ready pods; {@code reachable} whether any Route
   * sends traffic to the revision (an unreachable one may be scaled down without the rate limit).
   */
  public Decision decide(AutoscalerConfig.Params p, long nowMs, double observedStable, double observedPanic,
      int readyPods, boolean reachable) {
    double ready = Math.max(1, readyPods);
    int maxScaleUp = (int) Math.ceil(p.maxScaleUpRate() * ready);
    int maxScaleDown = reachable ? (int) Math.floor(ready / p.maxScaleDownRate()) : 0;
    int dspc = (int) Math.ceil(observedStable / p.target());
    int dppc = (int) Math.ceil(observedPanic / p.target());
    if (p.activationScale() > 1) {
      if (dspc > 0 && p.activationScale() > dspc) {
        dspc = p.activationScale();
      }
      if (dppc > 0 && p.activationScale() > dppc) {
        dppc = p.activationScale();
      }
    }
    int desiredStable = Math.min(Math.max(dspc, maxScaleDown), maxScaleUp);
    int desiredPanic = Math.min(Math.max(dppc, maxScaleDown), maxScaleUp);

    boolean overThreshold = dppc / ready >= p.panicThreshold();
    if (overThreshold) {
      panicTime = nowMs; // enter, or stay: the panic lasts a stable window past the last spike
    } else if (panicTime >= 0 && panicTime + p.stableWindow().toMillis() < nowMs) {
      panicTime = -1;
      maxPanicPods = 0;
    }
    int desired = desiredStable;
    if (panicTime >= 0) {
      desired = Math.max(desired, desiredPanic);
      // Never scale down while panicking: only increases apply.
      if (desired > maxPanicPods) {
        maxPanicPods = desired;
      }
      desired = maxPanicPods;
    }
    long delay = p.scaleDownDelay().toMillis();
    if (reachable && delay > 0) {
      // Knative's max time-window: the desired count is the max over the last scaleDownDelay.
      while (!delayWindow.isEmpty() && delayWindow.peekFirst()[0] <= nowMs - delay) {
        delayWindow.pollFirst();
      }
      delayWindow.addLast(new long[] {nowMs, desired});
      for (long[] e : delayWindow) {
        desired = (int) Math.max(desired, e[1]);
      }
    }
    double ebc;
    if (p.targetBurstCapacity() == 0) {
      ebc = 0;
    } else if (p.targetBurstCapacity() < 0) {
      ebc = -1;
    } else {
      ebc = Math.floor(readyPods * p.total() - p.targetBurstCapacity() - observedPanic);
    }
    return new Decision(desired, observedStable, observedPanic, panicTime >= 0, ebc);
  }

  /** True while in panic mode. */
  public boolean panicking() {
    return panicTime >= 0;
  }
}
