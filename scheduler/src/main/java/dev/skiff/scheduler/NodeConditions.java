package dev.skiff.scheduler;

import io.fabric8.kubernetes.api.model.NodeCondition;
import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.api.model.TaintBuilder;
import java.util.List;

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
    if (node.node.getStatus() == null || node.node.getStatus().getConditions() == null) {
      return Status.SUCCESS;
    }
    for (NodeCondition c : node.node.getStatus().getConditions()) {
      String key = switch (c.getType()) {
        case "Ready" -> "True".equals(c.getStatus()) ? null
            : "Unknown".equals(c.getStatus()) ? "node.kubernetes.io/unreachable" : "node.kubernetes.io/not-ready";
        case "MemoryPressure" -> "True".equals(c.getStatus()) ? "node.kubernetes.io/memory-pressure" : null;
        case "DiskPressure" -> "True".equals(c.getStatus()) ? "node.kubernetes.io/disk-pressure" : null;
        case "PIDPressure" -> "True".equals(c.getStatus()) ? "node.kubernetes.io/pid-pressure" : null;
        case "NetworkUnavailable" -> "True".equals(c.getStatus()) ? "node.kubernetes.io/network-unavailable" : null;
        default -> null;
      };
      if (key == null || hasTaint(node, key)) {
        continue;
      }
      Taint t = new TaintBuilder().withKey(key).withEffect("NoSchedule").build();
      if (!Selectors.tolerates(pod.pod.getSpec().getTolerations(), t)) {
        return Status.unresolvable("node(s) had untolerated taint {" + key + ": }");
      }
    }
    return Status.SUCCESS;
  }

  private static boolean hasTaint(NodeInfo node, String key) {
    List<Taint> ts = node.node.getSpec().getTaints();
    if (ts != null) {
      for (Taint t : ts) {
        if (key.equals(t.getKey())) {
          return true;
        }
      }
    }
    return false;
  }
}
