package dev.skiff.kubelet.cri;

/**
 * What a sandbox needs (CRI PodSandboxConfig, reduced): the pod's identity and whether it uses
 * the host's network namespace (spec.hostNetwork) instead of its own.
 */
public record PodSandboxConfig(String uid, String namespace, String name, boolean hostNetwork, String hostname) {
  /** A sandbox with its own network (when the runtime provides pod networks). */
  public PodSandboxConfig(String uid, String namespace, String name) {
    this(uid, namespace, name, false, null);
  }

  /** Without a host name of its own (containers keep the node's). */
  public PodSandboxConfig(String uid, String namespace, String name, boolean hostNetwork) {
    this(uid, namespace, name, hostNetwork, null);
  }
}
