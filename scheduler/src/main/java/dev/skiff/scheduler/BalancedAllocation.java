package dev.skiff.scheduler;

/**
 * Favors nodes whose cpu and memory use stay balanced after placing the pod:
 * {@code (1 − |fcpu − fmem| / 2) × 100} with fractions capped at 1; pods without requests are
 * skipped (upstream noderesources/balanced_allocation.go, weight 1).
 */
final class BalancedAllocation implements Plugin.Score {
  static final String NAME = "NodeResourcesBalancedAllocation";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public long score(CycleState state, PodInfo pod, NodeInfo node) {
    if (pod.milliCpu == 0 && pod.memory == 0) {
      return 0;
    }
    double fc = fraction(node.reqMilliCpu + pod.milliCpu, node.allocMilliCpu);
    double fm = fraction(node.reqMemory + pod.memory, node.allocMemory);
    double std = Math.abs(fc - fm) / 2;
    return (long) ((1 - std) * Scores.MAX);
  }

  private static double fraction(long requested, long allocatable) {
    if (allocatable == 0) {
      return 1;
    }
    return Math.min(1.0, (double) requested / allocatable);
  }

  @Override
  public int weight() {
    return 1;
  }
}
