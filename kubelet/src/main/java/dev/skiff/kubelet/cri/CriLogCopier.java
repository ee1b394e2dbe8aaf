package dev.skiff.kubelet.cri;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies a container's raw stdout and stderr files into its CRI-format log
 * ({@code <RFC3339Nano> stdout|stderr F|P <line>}, k8s.io/cri-api/pkg/apis/runtime/v1 and
 * pkg/kubelet/kuberuntime/logs/logs.go).
 *
 * <p>Why raw files and not pipes: the container writes to regular files opened O_APPEND, so no
 * agent restart or crash can ever give it EPIPE/SIGPIPE or block it (seed 003: a FIFO opened
 * O_WRONLY broke every container's stdout when the engine restarted). The copier is stateless
 * across restarts: how far each stream was copied is recomputed from the CRI log itself (content
 * bytes plus one newline per F line), after cutting a torn last line, so every byte reaches the
 * log exactly once even if the agent is SIGKILLed mid-write. Timestamps are the copy time (a few
 * milliseconds after the write while the agent runs; the recovery time for output written
 * while it was down).
 *
 * <p>Rotation ({@link LogRotation}): the copier is the log's only writer, so it rotates the log
 * itself between two writes. Exactly-once survives rotation through a small checkpoint beside
 * the log, {@code .<n>.log.offsets}: the stdout/stderr bytes held by all earlier (rotated) logs,
 * so recovery counts {@code offsets + the current log}. A rotation writes the new offsets to
 * {@code .offsets.next}, renames the log to {@code <log>.<timestamp>}, then renames
 * {@code .next} over {@code .offsets}; recovery finishes a rotation cut short (no current log
 * but a {@code .next}: it applies) or drops one that never happened (log still there).
 * Compression and removal of old rotated logs run on their own thread.
 *
 * <p>One virtual thread per copier; not thread-safe otherwise.
 */
final class CriLogCopier {
  private static final Logger log = LoggerFactory.getLogger(CriLogCopier.class);
  /** Lines longer than this are split into P chunks (containerd's default max line size is 16 KiB). */
  static final int MAX_LINE = 16 * 1024;
  private static final long POLL_MILLIS = 5;
  private static final long IDLE_POLL_MILLIS = 50;
  private static final int MAX_IDLE_POLLS = 1000;
  /** Empty polls at POLL_MILLIS after output before slowing down to IDLE_POLL_MILLIS. */
  private static final int FAST_POLLS = 20;
  static final DateTimeFormatter TS = DateTimeFormatter.ISO_INSTANT;

  private final Path stdout;
  private final Path stderr;
  private final Path logPath;
  private final BooleanSupplier exited;
  private final java.util.function.Supplier<LogRotation> rotation;
  private final java.util.concurrent.locks.ReentrantLock cleaning = new java.util.concurrent.locks.ReentrantLock();
  private volatile boolean closed;
  private Thread thread;
  private FileChannel out;

  CriLogCopier(Path stdout, Path stderr, Path logPath, BooleanSupplier exited) {
    this(stdout, stderr, logPath, exited, () -> LogRotation.DEFAULT);
  }

  CriLogCopier(Path stdout, Path stderr, Path logPath, BooleanSupplier exited,
      java.util.function.Supplier<LogRotation> rotation) {
    this.stdout = stdout;
    this.stderr = stderr;
    this.logPath = logPath;
    this.exited = exited;
    this.rotation = rotation;
  }

  void start(String name) {
    thread = Thread.ofVirtual().name("log-" + name).start(this::run);
  }

  /** Stops copying (abruptly is fine: the next copier recovers from the log). Waits briefly. */
  void close() {
    closed = true;
    if (thread != null) {
      try {
        thread.join(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Stops at once, mid-write if need be, as a SIGKILL of the agent would (tests of recovery). */
  void kill() {
    closed = true;
    if (thread != null) {
      thread.interrupt();
      try {
        thread.join(2000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Waits until the copier has drained everything after the container exited. */
  boolean awaitDrained(long millis) throws InterruptedException {
    return thread == null || thread.join(java.time.Duration.ofMillis(millis));
  }

  private void run() {
    try {
      long[] consumed = finishRotation(logPath);
      dev.skiff.kubelet.sandbox.SpareInodes.createFile(logPath);
      out = FileChannel.open(logPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
      long[] inLog = recover(out);
      Stream o = new Stream("stdout", stdout, consumed[0] + inLog[0]);
      Stream e = new Stream("stderr", stderr, consumed[1] + inLog[1]);
      int idle = 0;
      try {
        while (!closed) {
          boolean done = exited.getAsBoolean();
          int n = o.pump(out, false) + e.pump(out, false);
          if (done && n == 0) {
            o.pump(out, true);
            e.pump(out, true);
            return;
          }
          LogRotation policy = rotation.get();
          if (policy.maxSizeBytes() > 0 && out.size() >= policy.maxSizeBytes()) {
            rotate(o.offset, e.offset, policy);
          }
          // Poll fast while output flows, slower when idle (100 idle containers cost little).
          idle = n == 0 ? Math.min(idle + 1, MAX_IDLE_POLLS) : 0;
          if (n == 0) {
            Thread.sleep(idle < FAST_POLLS ? POLL_MILLIS : IDLE_POLL_MILLIS);
          }
        }
      } finally {
        o.close();
        e.close();
        out.close();
      }
    } catch (java.nio.channels.ClosedByInterruptException ex) {
      Thread.currentThread().interrupt();
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
    } catch (IOException ex) {
      log.warn("log copier for {} failed: {}", logPath, ex.toString());
    }
  }

  /** {@code .<n>.log.offsets}: bytes of stdout and stderr held by the rotated logs. */
  static Path offsetsFile(Path log) {
    return log.resolveSibling("." + log.getFileName() + ".offsets");
  }

  /**
   * Completes or drops a rotation an abrupt stop cut short, and returns the offsets the
   * rotated logs account for.
   */
  static long[] finishRotation(Path log) throws IOException {
    Path offsets = offsetsFile(log);
    Path next = offsets.resolveSibling(offsets.getFileName() + ".next");
    if (Files.exists(next)) {
      if (Files.exists(log)) {
        Files.delete(next); // the log was never renamed: that rotation did not happen
      } else {
        Files.move(next, offsets, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      }
    }
    long[] consumed = new long[2];
    if (Files.exists(offsets)) {
      String[] f = Files.readString(offsets).trim().split(" ");
      consumed[0] = Long.parseLong(f[0]);
      consumed[1] = Long.parseLong(f[1]);
    }
    return consumed;
  }

  /** Rotates between two writes: {@code stdoutBytes}/{@code stderrBytes} are all the logs hold so far. */
  private void rotate(long stdoutBytes, long stderrBytes, LogRotation policy) throws IOException {
    Path offsets = offsetsFile(logPath);
    Path next = offsets.resolveSibling(offsets.getFileName() + ".next");
    Path tmp = offsets.resolveSibling(offsets.getFileName() + ".tmp");
    Files.writeString(tmp, stdoutBytes + " " + stderrBytes + "\n");
    Files.move(tmp, next, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    out.close();
    Files.move(logPath, LogRotation.rotatedName(logPath), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
    Files.move(next, offsets, java.nio.file.StandardCopyOption.ATOMIC_MOVE, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    out = FileChannel.open(logPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
    Thread.ofVirtual().name("log-cleanup").start(() -> {
      cleaning.lock(); // one clean-up at a time per log; a later one sees the newer rotations
      try {
        policy.cleanUp(logPath);
      } catch (IOException ex) {
        log.warn("cleaning up rotated logs of {}: {}", logPath, ex.toString());
      } finally {
        cleaning.unlock();
      }
    });
  }

  /** Cuts a torn last line and returns how many bytes of stdout and stderr the log holds. */
  static long[] recover(FileChannel log) throws IOException {
    long size = log.size();
    long[] consumed = new long[2];
    if (size == 0) {
      return consumed;
    }
    byte[] all = new byte[(int) size];
    ByteBuffer buf = ByteBuffer.wrap(all);
    long pos = 0;
    while (buf.hasRemaining()) {
      int r = log.read(buf, pos);
      if (r < 0) {
        break;
      }
      pos += r;
    }
    int start = 0;
    int lastGood = 0;
    for (int i = 0; i < all.length; i++) {
      if (all[i] != '\n') {
        continue;
      }
      // <ts> <stream> <tag> <content>
      int s1 = indexOf(all, (byte) ' ', start, i);
      int s2 = s1 < 0 ? -1 : indexOf(all, (byte) ' ', s1 + 1, i);
      int s3 = s2 < 0 ? -1 : indexOf(all, (byte) ' ', s2 + 1, i);
      if (s3 < 0) {
        break; // corrupt: treat the rest as torn
      }
      String stream = new String(all, s1 + 1, s2 - s1 - 1, StandardCharsets.US_ASCII);
      boolean full = all[s2 + 1] == 'F';
      long bytes = (i - s3 - 1) + (full ? 1 : 0);
      consumed["stdout".equals(stream) ? 0 : 1] += bytes;
      start = i + 1;
      lastGood = i + 1;
    }
    if (lastGood < size) {
      log.truncate(lastGood);
    }
    return consumed;
  }

  private static int indexOf(byte[] a, byte b, int from, int to) {
    for (int i = from; i < to; i++) {
      if (a[i] == b) {
        return i;
      }
    }
    return -1;
  }

  /** One raw stream being tailed from a byte offset. */
  private static final class Stream {
    private final String name;
    private final Path path;
    long offset;
    private FileChannel in;
    /** Read chunk. Allocated per pump that finds output, never held while idle: an agent with
     *  100 quiet containers kept 2 x 64 KiB per container (12.8 MB of its heap) otherwise. */
    private static final int CHUNK = 64 * 1024;
    private byte[] pending = new byte[0];

    Stream(String name, Path path, long offset) {
      this.name = name;
      this.path = path;
      this.offset = offset;
    }

    /** Copies complete lines (all bytes if {@code eof}); returns the number of bytes read. */
    int pump(FileChannel out, boolean eof) throws IOException {
      if (in == null) {
        if (!Files.exists(path)) {
          return 0;
        }
        in = FileChannel.open(path, StandardOpenOption.READ);
      }
      int total = 0;
      long available = in.size() - (offset + pending.length);
      if (available <= 0 && !(eof && pending.length > 0)) {
        return 0; // nothing new (the common case of an idle container): no buffer at all
      }
      ByteBuffer buf = ByteBuffer.allocate((int) Math.max(1, Math.min(CHUNK, available)));
      java.io.ByteArrayOutputStream batch = new java.io.ByteArrayOutputStream();
      while (available > 0) {
        buf.clear();
        int r = in.read(buf, offset + pending.length);
        if (r <= 0) {
          break;
        }
        total += r;
        byte[] data = new byte[pending.length + r];
        System.arraycopy(pending, 0, data, 0, pending.length);
        System.arraycopy(buf.array(), 0, data, pending.length, r);
        int start = 0;
        for (int i = 0; i < data.length; i++) {
          if (data[i] == '\n') {
            line(batch, data, start, i, true);
            offset += i + 1 - start;
            start = i + 1;
          } else if (i + 1 - start >= MAX_LINE) {
            line(batch, data, start, i + 1, false);
            offset += i + 1 - start;
            start = i + 1;
          }
        }
        pending = java.util.Arrays.copyOfRange(data, start, data.length);
        if (r < buf.capacity()) {
          break;
        }
      }
      if (eof && pending.length > 0) {
        // The container ended without a final newline: a P line, so no newline is counted.
        line(batch, pending, 0, pending.length, false);
        offset += pending.length;
        pending = new byte[0];
      }
      if (batch.size() > 0) {
        ByteBuffer b = ByteBuffer.wrap(batch.toByteArray());
        while (b.hasRemaining()) {
          out.write(b, out.size());
        }
      }
      return total;
    }

    private void line(java.io.ByteArrayOutputStream batch, byte[] data, int from, int to, boolean full) {
      byte[] head = (TS.format(Instant.now()) + " " + name + (full ? " F " : " P ")).getBytes(StandardCharsets.US_ASCII);
      batch.write(head, 0, head.length);
      batch.write(data, from, to - from);
      batch.write('\n');
    }

    void close() throws IOException {
      if (in != null) {
        in.close();
      }
    }
  }
}
