package dev.skiff.scheduler;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Filter: the node's allocatable minus what its pods request must cover the pod's effective
 * requests ({@link PodInfo#computeRequests}), one "Insufficient R" reason per short resource, and
 * the pod count must stay under allocatable pods. Score: LeastAllocated over cpu and memory with
 * weight 1 each, using the non-zero request defaults (upstream noderesources/fit.go,
 * least_allocated.go; plugin weight 1).
 */
final class NodeResourcesFit implements Plugin.Filter, Plugin.Score {
  static final String NAME = "NodeResourcesFit";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Status filter(CycleState state, PodInfo pod, NodeInfo node) {
    List<String> reasons = null;
    if (node.pods.size() + 1 > node.allocPods) {
      reasons = new ArrayList<>();
      reasons.add("Too many pods");
    }
    // cpu and memory from fields: this runs for hundreds of nodes per pod.
    if (pod.milliCpu > 0 && pod.milliCpu > node.allocMilliCpu - node.reqMilliCpu) {
      reasons = reasons == null ? new ArrayList<>() : reasons;
      reasons.add("Insufficient cpu");
    }
    if (pod.memory > 0 && pod.memory > node.allocMemory - node.reqMemory) {
      reasons = reasons == null ? new ArrayList<>() : reasons;
      reasons.add("Insufficient memory");
    }
    for (Map.Entry<String, Long> r : pod.requests.entrySet()) {
      long want = r.getValue();
      if (want <= 0 || r.getKey().equals("pods") || r.getKey().equals("cpu") || r.getKey().equals("memory")) {
        continue;
      }
      long free = node.allocatable.getOrDefault(r.getKey(), 0L) - node.requested.getOrDefault(r.getKey(), 0L);
      if (want > free) {
        if (reasons == null) {
          reasons = new ArrayList<>();
        }
        reasons.add("Insufficient " + r.getKey());
      }
    }
    if (reasons == null) {
      return Status.SUCCESS;
    }
    reasons.sort(null);
    return new Status(Status.Code.UNSCHEDULABLE, List.copyOf(reasons), null);
  }

  @Override
  public long score(CycleState state, PodInfo pod, NodeInfo node) {
    long cpu = least(node.allocMilliCpu, node.nonZeroMilliCpu + pod.nonZeroMilliCpu);
    long mem = least(node.allocMemory, node.nonZeroMemory + pod.nonZeroMemory);
    return (cpu + mem) / 2;
  }

  private static long least(long capacity, long requested) {
    if (capacity == 0 || requested > capacity) {
      return 0;
    }
    return (capacity - requested) * Scores.MAX / capacity;
  }

  @Override
  public int weight() {
    return 1;
  }
}
