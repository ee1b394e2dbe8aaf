package dev.skiff.kubelet.cri;

/**
 * A mount into a container (CRI Mount): {@code hostPath} (a directory or a file prepared by the
 * kubelet, or a hostPath volume) appears at {@code containerPath} inside the container's private
 * mount namespace, read-only when {@code readOnly}.
 */
public record Mount(String containerPath, String hostPath, boolean readOnly) {}
