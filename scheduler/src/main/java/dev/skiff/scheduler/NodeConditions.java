package dev.skiff.scheduler;

import io.fabric8.kubernetes.api.model.NodeCondition;
import io.fabric8.kubernetes.api.model.Taint;

/**
 * Node conditions as the taints the node lifecycle controller would add
 * ({@code pkg/controller/nodelifecycle}: not-ready, unreachable, memory/disk/pid-pressure,
 * network-unavailable, all NoSchedule): a pod must tolerate them, so a not-ready or pressured node
 * is avoided even before a controller has tainted it. Taints already on the node are left to
 * {@link TaintToleration}.
 */
final class NodeConditions implements Plugin.Filter {
  static final String NAME = "NodeConditions";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Status filter(CycleState state, PodInfo pod, NodeInfo node) {
    for (Taint t : node.conditionTaints) {
      if (!Selectors.tolerates(pod.pod.getSpec().getTolerations(), t)) {
        return Status.unresolvable("node(s) had untolerated taint {" + t.getKey() + ": }");
      }
    }
    return Status.SUCCESS;
  }

  /** The taint the node lifecycle controller derives from a condition, or null. */
  static String taintKey(NodeCondition c) {
    return switch (c.getType()) {
      case "Ready" -> "True".equals(c.getStatus()) ? null
          : "Unknown".equals(c.getStatus()) ? "node.kubernetes.io/unreachable" : "node.kubernetes.io/not-ready";
      case "MemoryPressure" -> "True".equals(c.getStatus()) ? "node.kubernetes.io/memory-pressure" : null;
      case "DiskPressure" -> "True".equals(c.getStatus()) ? "node.kubernetes.io/disk-pressure" : null;
      case "PIDPressure" -> "True".equals(c.getStatus()) ? "node.kubernetes.io/pid-pressure" : null;
      case "NetworkUnavailable" -> "True".equals(c.getStatus()) ? "node.kubernetes.io/network-unavailable" : null;
      default -> null;
    };
  }
}
