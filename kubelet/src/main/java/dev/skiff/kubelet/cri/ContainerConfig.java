package dev.skiff.kubelet.cri;

import java.util.List;
import java.util.Map;

/**
 * A container to create (CRI ContainerConfig): {@code argv} is command plus args after $(VAR)
 * expansion (empty when the spec has no command); {@code attempt} is the restart count of this
 * instance; {@code image} is recorded, never pulled.
 */
public record ContainerConfig(String name, int attempt, String image, List<String> argv, Map<String, String> env,
    String workingDir) {}
