package dev.skiff.kubelet;

import dev.skiff.kubelet.cri.ContainerStatus;
import dev.skiff.kubelet.cri.ProcessRuntime;
import dev.skiff.kubelet.streaming.StreamTarget;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import java.util.ArrayList;
import java.util.List;

/** Resolves a pod's container for the streaming server from the agent's pod cache and runtime. Stateless. */
final class StreamTargets {
  private StreamTargets() {}

  static StreamTarget resolve(Pod pod, String name, String container, ProcessRuntime runtime, String nodeIp)
      throws StreamTarget.StreamException {
    if (pod == null) {
      throw new StreamTarget.StreamException(404, "pod \"" + name + "\" not found on this node");
    }
    List<Container> all = new ArrayList<>(pod.getSpec().getContainers());
    if (pod.getSpec().getInitContainers() != null) {
      all.addAll(pod.getSpec().getInitContainers());
    }
    Container spec = null;
    if (container == null || container.isEmpty()) {
      spec = all.get(0);
    } else {
      for (Container c : all) {
        if (c.getName().equals(container)) {
          spec = c;
        }
      }
    }
    if (spec == null) {
      throw new StreamTarget.StreamException(404, "container not found (\"" + container + "\")");
    }
    String cname = spec.getName();
    ContainerStatus latest = PodSync.last(runtime.listContainers(pod.getMetadata().getUid()).stream()
        .filter(s -> s.name().equals(cname)).toList());
    long pid = latest == null ? 0 : runtime.pid(latest.id());
    if (latest == null || latest.state() != ContainerStatus.State.RUNNING || pid <= 0) {
      // kubelet: "container not found" when the runtime has no running instance
      throw new StreamTarget.StreamException(400, "container not found (\"" + cname + "\")");
    }
    String podIp = pod.getStatus() != null && pod.getStatus().getPodIP() != null && !pod.getStatus().getPodIP().isEmpty()
        ? pod.getStatus().getPodIP() : nodeIp;
    String id = latest.id();
    return new StreamTarget(id, pid, latest.logPath(), spec, podIp, () -> runtime.openStdin(id),
        Boolean.TRUE.equals(spec.getTty()) ? runtime.tty(id, pid) : null);
  }
}
