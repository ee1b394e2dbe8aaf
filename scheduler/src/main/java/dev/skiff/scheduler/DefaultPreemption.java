package dev.skiff.scheduler;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * PostFilter: when a pod fits nowhere, find one node where evicting lower-priority pods lets it
 * fit, and the fewest, lowest-priority victims there (upstream {@code framework/preemption} and
 * {@code plugins/defaultpreemption}). Nodes rejected as UnschedulableAndUnresolvable are not
 * candidates. On a candidate, every lower-priority pod is removed, the filters must then pass,
 * and victims are reprieved in priority order while the pod still fits. The node chosen has the
 * lowest highest-victim priority, then the smallest priority sum, then the fewest victims.
 * PodDisruptionBudgets are not considered.
 *
 * <p>Runs on the scheduling thread with the cache lock held; not thread-safe.
 */
final class DefaultPreemption implements Plugin {
  static final String NAME = "DefaultPreemption";
  static final String NOT_HELPFUL = "Preemption is not helpful for scheduling";
  static final String NO_VICTIMS = "No preemption victims found for incoming pod";

  /** The node to nominate and the pods to evict; or, when none, the message for the FitError. */
  record Result(String node, List<PodInfo> victims, String message) {}

  private final Framework framework;

  DefaultPreemption(Framework framework) {
    this.framework = framework;
  }

  @Override
  public String name() {
    return NAME;
  }

  Result preempt(CycleState state, PodInfo pod, Framework.FitError err, List<NodeInfo> nodes) {
    if ("Never".equals(pod.pod.getSpec().getPreemptionPolicy())) {
      return new Result(null, List.of(), "preemption: not eligible due to preemptionPolicy=Never");
    }
    Map<String, Status> statuses = new HashMap<>();
    String best = null;
    List<PodInfo> bestVictims = null;
    for (NodeInfo ni : nodes) {
      Status s = err.nodeStatuses.get(ni.name);
      if (s == null || s.code() != Status.Code.UNSCHEDULABLE) {
        statuses.put(ni.name, Status.unresolvable(NOT_HELPFUL));
        continue;
      }
      List<PodInfo> victims = new ArrayList<>();
      Status vs = selectVictims(state, pod, ni, victims);
      if (!vs.isSuccess()) {
        statuses.put(ni.name, vs);
        continue;
      }
      if (best == null || better(victims, bestVictims)) {
        best = ni.name;
        bestVictims = victims;
      }
    }
    if (best != null) {
      return new Result(best, bestVictims, null);
    }
    Framework.FitError fe = new Framework.FitError(nodes.size(), statuses, null);
    return new Result(null, List.of(), "preemption: " + fe.getMessage());
  }

  private Status selectVictims(CycleState state, PodInfo pod, NodeInfo node, List<PodInfo> victims) {
    NodeInfo copy = node.copy();
    List<PodInfo> lower = new ArrayList<>();
    for (PodInfo p : node.pods.values()) {
      if (p.priority < pod.priority) {
        lower.add(p);
      }
    }
    if (lower.isEmpty()) {
      return Status.unresolvable(NO_VICTIMS);
    }
    lower.forEach(copy::removePod);
    Status fits = framework.runFilters(state, pod, copy);
    if (!fits.isSuccess()) {
      return fits;
    }
    // Reprieve the most important pods first; those that no longer fit become victims.
    lower.sort(Comparator.comparingInt((PodInfo p) -> p.priority).reversed());
    for (PodInfo p : lower) {
      copy.addPod(p);
      if (!framework.runFilters(state, pod, copy).isSuccess()) {
        copy.removePod(p);
        victims.add(p);
      }
    }
    return Status.SUCCESS;
  }

  /** pickOneNodeForPreemption without PDBs: lowest top victim priority, lowest sum, fewest. */
  private static boolean better(List<PodInfo> a, List<PodInfo> b) {
    int ta = a.stream().mapToInt(p -> p.priority).max().orElse(Integer.MIN_VALUE);
    int tb = b.stream().mapToInt(p -> p.priority).max().orElse(Integer.MIN_VALUE);
    if (ta != tb) {
      return ta < tb;
    }
    long sa = a.stream().mapToLong(p -> p.priority).sum();
    long sb = b.stream().mapToLong(p -> p.priority).sum();
    if (sa != sb) {
      return sa < sb;
    }
    return a.size() < b.size();
  }
}
