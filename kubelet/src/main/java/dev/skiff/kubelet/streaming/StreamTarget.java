package dev.skiff.kubelet.streaming;

import io.fabric8.kubernetes.api.model.Container;
import java.nio.file.Path;

/**
 * A running container as the streaming server needs it: its id, its shim's pid (exec enters its
 * environment), its CRI log (attach follows it), its spec, the pod's IP (port-forward), its
 * stdin for attach (null: none) and its terminal (null: none; attach with a tty follows that).
 */
public record StreamTarget(String containerId, long pid, Path logPath, Container spec, String podIp, Stdin stdin,
    dev.skiff.kubelet.cri.ContainerTty tty) {

  /** A container without stdin. */
  public StreamTarget(String containerId, long pid, Path logPath, Container spec, String podIp) {
    this(containerId, pid, logPath, spec, podIp, null, null);
  }

  /** Opens the container's stdin for one attach. */
  @FunctionalInterface
  public interface Stdin {
    /** A writer to the container's stdin, or null when it has none; closing it ends this attach's input. */
    java.io.OutputStream open() throws java.io.IOException;
  }

  /** Finds the running container {@code container} of pod {@code namespace/pod} on this node. */
  @FunctionalInterface
  public interface Resolver {
    /**
     * @param container the container name, or null/empty for the pod's only (or first) one
     * @throws StreamException (with an HTTP status) when there is no such running container
     */
    StreamTarget resolve(String namespace, String pod, String container) throws StreamException;
  }

  /** Why a stream cannot start; {@code status} is the HTTP status to answer. */
  public static final class StreamException extends Exception {
    private final int status;

    public StreamException(int status, String message) {
      super(message);
      this.status = status;
    }

    public int status() {
      return status;
    }
  }
}
