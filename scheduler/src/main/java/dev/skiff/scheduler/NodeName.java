package dev.skiff.scheduler;

/** A pod with spec.nodeName set fits only that node (upstream nodename). */
final class NodeName implements Plugin.Filter {
  static final String NAME = "NodeName";
  static final String REASON = "node(s) didn't match the requested node name";

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Status filter(CycleState state, PodInfo pod, NodeInfo node) {
    String want = pod.pod.getSpec().getNodeName();
    if (want != null && !want.isEmpty() && !want.equals(node.name)) {
      return Status.unresolvable(REASON);
    }
    return Status.SUCCESS;
  }
}
