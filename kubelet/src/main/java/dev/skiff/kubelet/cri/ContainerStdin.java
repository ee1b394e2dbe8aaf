package dev.skiff.kubelet.cri;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A process container's stdin for {@code kubectl attach -i} (CRI ContainerConfig stdin and
 * stdin_once): a FIFO in the container's directory that becomes the container's fd 0.
 *
 * <ul>
 *   <li>{@code stdin: true} - FIFO {@code stdin}, opened read-write as fd 0, so the container
 *       itself keeps a writer: it never reads EOF, whoever attaches or detaches, and an agent
 *       restart does not close it (as containerd's shim keeps the FIFO open).
 *   <li>{@code stdinOnce: true} - FIFO {@code stdin-once}, opened read-only as fd 0; the agent
 *       holds the only writer from the start, hands it to the first attach with stdin and closes
 *       it when that attach detaches or its input ends: the container then reads EOF. Later
 *       attaches get no stdin. (An agent restart before that closes it too.)
 * </ul>
 *
 * Thread-safe.
 */
public final class ContainerStdin {
  /** The agent's writer of each stdinOnce container not yet attached, by container directory. */
  private static final Map<Path, FileChannel> HELD = new ConcurrentHashMap<>();

  private ContainerStdin() {}

  /**
   * Makes the FIFO in {@code dir} and returns the command prefix that installs it as fd 0 and
   * execs the rest (the pid does not change).
   */
  static List<String> create(Path dir, boolean once) throws IOException {
    Path fifo = dir.resolve(once ? "stdin-once" : "stdin");
    Files.deleteIfExists(fifo);
    try {
      Process p = new ProcessBuilder("mkfifo", "-m", "600", fifo.toString()).redirectErrorStream(true).start();
      String out = new String(p.getInputStream().readAllBytes());
      if (p.waitFor() != 0) {
        throw new ContainerConfigException("CreateContainerError", "creating the stdin FIFO: " + out.trim());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
    if (once) {
      // O_RDWR never blocks on a FIFO; holding it lets the container's read-only open go through.
      HELD.put(dir, readWrite(fifo));
    }
    return List.of("/bin/sh", "-c", (once ? "exec 0<\"$0\"" : "exec 0<>\"$0\"") + " && exec \"$@\"", fifo.toString());
  }

  /**
   * A writer to the container's stdin, or null when it has none (or its once-only stdin was
   * taken). Closing it closes the container's stdin only for stdinOnce.
   */
  static OutputStream open(Path dir) throws IOException {
    Path fifo = dir.resolve("stdin");
    if (Files.exists(fifo)) {
      return Channels.newOutputStream(readWrite(fifo));
    }
    FileChannel held = HELD.remove(dir);
    return held == null ? null : Channels.newOutputStream(held);
  }

  private static FileChannel readWrite(Path fifo) throws IOException {
    return FileChannel.open(fifo, StandardOpenOption.READ, StandardOpenOption.WRITE);
  }

  /** The container ended: drops the writer the agent held for it. */
  static void release(Path dir) {
    FileChannel held = HELD.remove(dir);
    if (held != null) {
      try {
        held.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
  }
}
