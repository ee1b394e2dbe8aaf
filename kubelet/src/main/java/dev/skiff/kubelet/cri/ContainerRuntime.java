package dev.skiff.kubelet.cri;

import java.io.IOException;
import java.util.List;
import java.util.function.Consumer;

/**
 * The node agent's container runtime SPI, kept close to the CRI RuntimeService
 * (k8s.io/cri-api/pkg/apis/runtime/v1/api.proto) so that a containerd implementation can follow:
 * a pod sandbox holds containers; containers are created, started, stopped and removed by id;
 * status and list report what the runtime knows, which after an agent restart includes
 * containers started by a previous agent (re-adopted) and exits that happened meanwhile.
 *
 * <p>Implementations are thread-safe. Exec, attach and port-forward are not part of this SPI yet.
 */
public interface ContainerRuntime extends AutoCloseable {
  /** The runtime's name and version as reported in nodeInfo.containerRuntimeVersion. */
  String version();

  /** Creates (or finds, idempotently) the pod's sandbox; returns its id. */
  String runPodSandbox(PodSandboxConfig config) throws IOException;

  /** Stops every container of the sandbox with the given grace (seconds), then SIGKILL. */
  void stopPodSandbox(String sandboxId, long gracePeriodSeconds);

  /**
   * The sandbox's IP when it has its own network (CRI PodSandboxStatus.network.ip); null when it
   * uses the host's network (the kubelet then reports the node IP).
   */
  default String podSandboxIp(String sandboxId) {
    return null;
  }

  /** Removes the sandbox, its containers and its logs. Its containers must have exited. */
  void removePodSandbox(String sandboxId) throws IOException;

  /**
   * Creates a container (not yet running).
   *
   * @throws ContainerConfigException when the configuration cannot run (no command)
   */
  String createContainer(String sandboxId, ContainerConfig config) throws IOException;

  /** Starts a created container. */
  void startContainer(String containerId) throws IOException;

  /**
   * Stops a running container: SIGTERM to its process group, then after {@code timeoutSeconds}
   * SIGKILL to the whole process tree. Blocks until it has exited. No-op if not running.
   */
  void stopContainer(String containerId, long timeoutSeconds);

  /** Removes an exited container and its log file. */
  void removeContainer(String containerId) throws IOException;

  /** The container's status, or null if unknown. */
  ContainerStatus containerStatus(String containerId);

  /** Every container of the sandbox (or of all sandboxes when {@code sandboxId} is null). */
  List<ContainerStatus> listContainers(String sandboxId);

  /**
   * Waits up to {@code millis} until an exited container's log holds all of its output; true if
   * it does (false while the container runs).
   */
  boolean awaitLogComplete(String containerId, long millis) throws InterruptedException;

  /** Sandbox ids this runtime holds (including those from before an agent restart). */
  List<String> listPodSandboxes();

  /**
   * Registers the lifecycle event listener, called with a container id as soon as that
   * container's process exits (the event source for the lifecycle event generator).
   */
  void onContainerExit(Consumer<String> listener);

  /** Stops background work (log copiers, exit watchers) without touching containers. */
  @Override
  void close();
}
