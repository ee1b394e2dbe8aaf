package dev.skiff.kubelet.cri;

/** What a sandbox needs: the pod's identity (CRI PodSandboxMetadata). */
public record PodSandboxConfig(String uid, String namespace, String name) {}
