package dev.skiff.scheduler;

import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.api.model.TaintBuilder;

/** Rejects nodes with spec.unschedulable unless the pod tolerates the unschedulable taint (upstream nodeunschedulable). */
final class NodeUnschedulable implements Plugin.Filter {
  static final String NAME = "NodeUnschedulable";
  static final String REASON = "node(s) were unschedulable";
  private static final Taint TAINT = new TaintBuilder().withKey("node.kubernetes.io/unschedulable").withEffect("NoSchedule").build();

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Status filter(CycleState state, PodInfo pod, NodeInfo node) {
    if (node.unschedulable
        && !Selectors.tolerates(pod.pod.getSpec().getTolerations(), TAINT)) {
      return Status.unresolvable(REASON);
    }
    return Status.SUCCESS;
  }
}
