package dev.skiff.scheduler;

import io.fabric8.kubernetes.api.model.Affinity;
import io.fabric8.kubernetes.api.model.PreferredSchedulingTerm;
import java.util.Map;

/**
 * Filter: spec.nodeSelector and required node affinity. Score: the summed weights of the
 * matching preferred terms, normalized to 0..100 (upstream nodeaffinity, weight 2).
 */
final class NodeAffinity implements Plugin.Filter, Plugin.Score {
  static final String NAME = "NodeAffinity";
  static final String REASON = "node(s) didn't match Pod's node affinity/selector";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Status filter(CycleState state, PodInfo pod, NodeInfo node) {
    return fits(pod, node) ? Status.SUCCESS : Status.unresolvable(REASON);
  }

  /** Whether the node matches the pod's nodeSelector and required node affinity. */
  static boolean fits(PodInfo pod, NodeInfo node) {
    Map<String, String> sel = pod.pod.getSpec().getNodeSelector();
    if (sel != null) {
      for (var e : sel.entrySet()) {
        if (!e.getValue().equals(node.labels.get(e.getKey()))) {
          return false;
        }
      }
    }
    Affinity a = pod.pod.getSpec().getAffinity();
    if (a != null && a.getNodeAffinity() != null && a.getNodeAffinity().getRequiredDuringSchedulingIgnoredDuringExecution() != null) {
      return Selectors.matches(a.getNodeAffinity().getRequiredDuringSchedulingIgnoredDuringExecution(), node.node);
    }
    return true;
  }

  @Override
  public long score(CycleState state, PodInfo pod, NodeInfo node) {
    Affinity a = pod.pod.getSpec().getAffinity();
    if (a == null || a.getNodeAffinity() == null || a.getNodeAffinity().getPreferredDuringSchedulingIgnoredDuringExecution() == null) {
      return 0;
    }
    long sum = 0;
    for (PreferredSchedulingTerm t : a.getNodeAffinity().getPreferredDuringSchedulingIgnoredDuringExecution()) {
      if (t.getWeight() != null && t.getWeight() != 0 && t.getPreference() != null && Selectors.matches(t.getPreference(), node.node)) {
        sum += t.getWeight();
      }
    }
    return sum;
  }

  @Override
  public void normalize(CycleState state, PodInfo pod, long[] scores) {
    Scores.normalize(scores, false);
  }

  @Override
  public int weight() {
    return 2;
  }
}
