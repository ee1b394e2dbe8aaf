package dev.skiff.scheduler;

import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.ArrayList;
import java.util.List;

/**
 * Filter: the pod must tolerate every NoSchedule and NoExecute taint. Score: fewer intolerable
 * PreferNoSchedule taints is better, normalized in reverse (upstream tainttoleration, weight 3).
 */
final class TaintToleration implements Plugin.Filter, Plugin.Score {
  static final String NAME = "TaintToleration";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Status filter(CycleState state, PodInfo pod, NodeInfo node) {
    for (Taint t : node.hardTaints) {
      if (!Selectors.tolerates(pod.pod.getSpec().getTolerations(), t)) {
        return Status.unresolvable("node(s) had untolerated taint {" + t.getKey() + ": " + (t.getValue() == null ? "" : t.getValue()) + "}");
      }
    }
    return Status.SUCCESS;
  }

  @Override
  public long score(CycleState state, PodInfo pod, NodeInfo node) {
    List<Taint> taints = node.preferTaints;
    if (taints.isEmpty()) {
      return 0;
    }
    // Only tolerations with an empty or PreferNoSchedule effect count here (upstream getAllTolerationPreferNoSchedule).
    List<Toleration> prefer = new ArrayList<>();
    if (pod.pod.getSpec().getTolerations() != null) {
      for (Toleration t : pod.pod.getSpec().getTolerations()) {
        if (t.getEffect() == null || t.getEffect().isEmpty() || t.getEffect().equals("PreferNoSchedule")) {
          prefer.add(t);
        }
      }
    }
    long n = 0;
    for (Taint t : taints) {
      if ("PreferNoSchedule".equals(t.getEffect()) && !Selectors.tolerates(prefer, t)) {
        n++;
      }
    }
    return n;
  }

  @Override
  public void normalize(CycleState state, PodInfo pod, long[] scores) {
    Scores.normalize(scores, true);
  }

  @Override
  public int weight() {
    return 3;
  }
}
