package dev.skiff.kubelet;

import dev.skiff.kubelet.cri.Mount;
import dev.skiff.kubelet.sandbox.NamespaceLauncher;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the kubelet mounts into a container: its volumes ({@link VolumeManager}) and, where the
 * node can make mount namespaces, the pod's /etc/resolv.conf and /etc/hosts ({@link PodDns}).
 * As root every container gets them; in a user namespace only containers that need a mount
 * namespace for their volumes anyway (a pod without volumes keeps running as a plain process);
 * without either, none (and a container with volumes fails with CreateContainerError in the
 * runtime, never runs without them). Thread-safe.
 */
final class ContainerMounts {
  private static final Logger log = LoggerFactory.getLogger(ContainerMounts.class);
  private final VolumeManager volumes;
  private final PodDns dns;
  private final NamespaceLauncher.Mode mode;
  private final Path pods;

  ContainerMounts(VolumeManager volumes, PodDns dns, NamespaceLauncher.Mode mode, Path pods) {
    this.volumes = volumes;
    this.dns = dns;
    this.mode = mode;
    this.pods = pods;
  }

  /** The container's mounts, its volumes set up (or refreshed) first. */
  List<Mount> mounts(Pod pod, Container c, Map<String, String> env, String podIp) throws IOException {
    List<Mount> out = new ArrayList<>(volumes.mounts(pod, c, env));
    boolean dnsFiles = mode == NamespaceLauncher.Mode.ROOT || (mode == NamespaceLauncher.Mode.USER_NAMESPACE && !out.isEmpty());
    if (dnsFiles) {
      Path podDir = pods.resolve(pod.getMetadata().getUid());
      dev.skiff.kubelet.sandbox.SpareInodes.createDirectories(podDir);
      out.addAll(dns.mounts(pod, podDir, podIp));
    }
    return out;
  }

  /**
   * Rewrites the running pod's configMap, secret, downwardAPI and projected volumes whose
   * sources changed (and renews tokens due for it); errors are logged and retried next sync.
   */
  void refresh(Pod pod) {
    if (pod.getSpec().getVolumes() == null || pod.getSpec().getVolumes().isEmpty()) {
      return;
    }
    try {
      volumes.refresh(pod);
    } catch (IOException | RuntimeException e) {
      log.debug("refreshing volumes of pod {}: {}", pod.getMetadata().getName(), e.toString());
    }
  }

  void forget(String uid) {
    volumes.forget(uid);
  }
}
