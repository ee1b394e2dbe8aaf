package dev.skiff.cli;

import dev.skiff.runtime.Component;
import java.util.List;

/** The components {@code skiff server} runs beside the API server, in start order. */
final class Components {
  private Components() {}

  static List<Component> all() {
    return List.of(
        // New components: one line each, in start order.
        new dev.skiff.controllers.ControllerManager(),
        new dev.skiff.serving.ServingControllers(),
        new dev.skiff.scheduler.Scheduler(),
        new dev.skiff.kubelet.NodeAgent(),
        new dev.skiff.network.ServiceProxy(),
        new dev.skiff.network.ClusterDns(),
        new dev.skiff.scheduler.NodeSimulator(),
        new dev.skiff.serving.gateway.Gateway()
    );
  }

  /** What `skiff agent` runs on a machine that joins a server: the per-node components. */
  static List<Component> agent() {
    return List.of(
        new dev.skiff.kubelet.NodeAgent(),
        new dev.skiff.network.ServiceProxy(),
        new dev.skiff.network.ClusterDns()
    );
  }
}
