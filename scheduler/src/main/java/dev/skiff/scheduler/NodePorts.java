package dev.skiff.scheduler;

import io.fabric8.kubernetes.api.model.ContainerPort;

/**
 * Host-port conflicts (upstream nodeports): a wanted hostPort conflicts with a used one on the same
 * protocol and port when either address is 0.0.0.0 or they are equal. On nodes labelled
 * {@code skiff.dev/runtime=process} pods share the host's network, so declared containerPorts
 * count as host ports too.
 */
final class NodePorts implements Plugin.Filter {
  static final String NAME = "NodePorts";
  static final String REASON = "node(s) didn't have free ports for the requested pod ports";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Status filter(CycleState state, PodInfo pod, NodeInfo node) {
    if (node.usedPorts.isEmpty()) {
      return Status.SUCCESS;
    }
    for (ContainerPort p : pod.hostPorts) {
      if (conflicts(node, p.getProtocol(), p.getHostIP(), p.getHostPort())) {
        return Status.unschedulable(REASON);
      }
    }
    if (node.processRuntime()) {
      for (ContainerPort p : pod.containerPorts) {
        if (conflicts(node, p.getProtocol(), null, p.getContainerPort())) {
          return Status.unschedulable(REASON);
        }
      }
    }
    return Status.SUCCESS;
  }

  private static boolean conflicts(NodeInfo node, String protocol, String ip, int port) {
    String proto = protocol == null ? "TCP" : protocol;
    String addr = ip == null || ip.isEmpty() ? "0.0.0.0" : ip;
    if (addr.equals("0.0.0.0")) {
      String prefix = proto + "/";
      String suffix = "/" + port;
      for (String used : node.usedPorts.keySet()) {
        if (used.startsWith(prefix) && used.endsWith(suffix)) {
          return true;
        }
      }
      return false;
    }
    return node.usedPorts.containsKey(proto + "/" + addr + "/" + port)
        || node.usedPorts.containsKey(proto + "/0.0.0.0/" + port);
  }
}
