package dev.skiff.kubelet.cri;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A process container's terminal (the spec's {@code tty: true}, CRI ContainerConfig tty), as
 * {@code kubectl run -it} and {@code kubectl attach -it} use it.
 *
 * <p>containerd's shim holds the pseudo-terminal's master so that it outlives the engine; here
 * the container's own process tree must hold it, because the agent may restart at any time (seed
 * 003). util-linux {@code script} does exactly that: it opens a pty, runs the command on the slave
 * as a session leader with it as controlling terminal, copies the container's stdin (the attach
 * FIFO, see {@link ContainerStdin}) to the master and the master's output to its stdout - the
 * container's raw stdout file, from which the CRI log is made and which attach follows byte by
 * byte. With stdin not a terminal, {@code script} leaves ECHO on, so typed input is echoed as a
 * terminal would. The terminal size is set on the slave from outside ({@code stty -F} on the
 * command's fd 0), which makes the kernel send SIGWINCH to its foreground process group.
 *
 * <p>Stateless; thread-safe.
 */
public final class ContainerTty {
  private final Path output;
  private final long pid;

  /** The terminal of the container whose shim is {@code pid} and whose raw stdout is {@code output}. */
  public ContainerTty(Path output, long pid) {
    this.output = output;
    this.pid = pid;
  }

  /** Everything the terminal printed (append-only; attach follows it from its current end). */
  public Path output() {
    return output;
  }

  /** The command line that runs {@code argv} on a new terminal; its exit code is the command's. */
  static List<String> wrap(List<String> argv) {
    StringBuilder cmd = new StringBuilder("exec");
    for (String a : argv) {
      cmd.append(" '").append(a.replace("'", "'\\''")).append('\'');
    }
    // -q no banner, -e the child's exit code, -f flush at once, /dev/null: no typescript file.
    // SHELL: script runs the command through $SHELL -c, whatever the container's env says.
    return List.of("/usr/bin/env", "SHELL=/bin/sh", "/usr/bin/script", "-qefc", cmd.toString(), "/dev/null");
  }

  /** Sets the terminal's size; false when the container has no terminal (any more). */
  public boolean resize(int columns, int rows) throws IOException {
    Path slave = slave();
    if (slave == null) {
      return false;
    }
    List<String> stty = new ArrayList<>(List.of("stty", "-F", slave.toString(), "rows", Integer.toString(rows),
        "cols", Integer.toString(columns)));
    try {
      Process p = new ProcessBuilder(stty).redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      return p.waitFor() == 0;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /**
   * The terminal as {@code /proc/<pid>/fd/0} of the process running on it: opening that reaches
   * the slave whatever the container's mount namespace calls it.
   */
  private Path slave() {
    return ProcessHandle.of(pid).stream().flatMap(h -> java.util.stream.Stream.concat(java.util.stream.Stream.of(h),
            h.descendants()))
        .map(h -> Path.of("/proc", Long.toString(h.pid()), "fd", "0"))
        .filter(fd -> {
          try {
            return Files.readSymbolicLink(fd).toString().startsWith("/dev/pts/");
          } catch (IOException | UnsupportedOperationException e) {
            return false;
          }
        })
        .findFirst().orElse(null);
  }
}
