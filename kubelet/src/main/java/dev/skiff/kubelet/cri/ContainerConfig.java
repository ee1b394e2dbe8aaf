package dev.skiff.kubelet.cri;

import java.util.List;
import java.util.Map;

/**
 * A container to create (CRI ContainerConfig): {@code argv} is command plus args after $(VAR)
 * expansion (empty when the spec has no command); {@code attempt} is the restart count of this
 * instance; {@code image} is recorded, never pulled; {@code mounts} are made inside the
 * container's own mount namespace (volumes, /etc/hosts, /etc/resolv.conf), in order.
 * {@code stdin} keeps a stdin open for attach (the spec's {@code stdin}); {@code stdinOnce}
 * closes it when the first attach detaches; {@code tty} runs the command on a terminal
 * ({@link ContainerTty}).
 */
public record ContainerConfig(String name, int attempt, String image, List<String> argv, Map<String, String> env,
    String workingDir, List<Mount> mounts, Resources resources, boolean stdin, boolean stdinOnce, boolean tty) {
  /** CRI LinuxContainerResources, reduced: limits enforced where the runtime can (0 = none). */
  public record Resources(long memoryLimitBytes, long cpuLimitMillis, long cpuRequestMillis) {
    public static final Resources NONE = new Resources(0, 0, 0);
  }

  public ContainerConfig {
    mounts = mounts == null ? List.of() : List.copyOf(mounts);
    resources = resources == null ? Resources.NONE : resources;
  }

  /** A container without resource limits. */
  public ContainerConfig(String name, int attempt, String image, List<String> argv, Map<String, String> env,
      String workingDir, List<Mount> mounts) {
    this(name, attempt, image, argv, env, workingDir, mounts, Resources.NONE);
  }

  /** A container without stdin. */
  public ContainerConfig(String name, int attempt, String image, List<String> argv, Map<String, String> env,
      String workingDir, List<Mount> mounts, Resources resources) {
    this(name, attempt, image, argv, env, workingDir, mounts, resources, false, false, false);
  }

  /** A container without mounts. */
  public ContainerConfig(String name, int attempt, String image, List<String> argv, Map<String, String> env,
      String workingDir) {
    this(name, attempt, image, argv, env, workingDir, List.of());
  }
}
