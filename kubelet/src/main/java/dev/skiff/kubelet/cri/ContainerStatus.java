package dev.skiff.kubelet.cri;

import java.nio.file.Path;
import java.time.Instant;

/**
 * A container as the runtime sees it (CRI ContainerStatus). {@code exitCode} and
 * {@code finishedAt} are meaningful in state EXITED; {@code reason} is Completed, Error or
 * Unknown (exit code 255: the process vanished without a recorded exit, e.g. PID reused).
 */
public record ContainerStatus(String id, String sandboxId, String name, int attempt, State state, String image,
    Instant createdAt, Instant startedAt, Instant finishedAt, int exitCode, String reason, Path logPath) {

  /** CRI ContainerState. */
  public enum State { CREATED, RUNNING, EXITED }
}
