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
  private volatile boolean closed;
  private Thread thread;

  CriLogCopier(Path stdout, Path stderr, Path logPath, BooleanSupplier exited) {
    this.stdout = stdout;
    this.stderr = stderr;
    this.logPath = logPath;
    this.exited = exited;
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
    try (FileChannel out = FileChannel.open(logPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
        StandardOpenOption.READ)) {
      long[] consumed = recover(out);
      Stream o = new Stream("stdout", stdout, consumed[0]);
      Stream e = new Stream("stderr", stderr, consumed[1]);
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
          // Poll fast while output flows, slower when idle (100 idle containers cost little).
          idle = n == 0 ? Math.min(idle + 1, MAX_IDLE_POLLS) : 0;
          if (n == 0) {
            Thread.sleep(idle < FAST_POLLS ? POLL_MILLIS : IDLE_POLL_MILLIS);
          }
        }
      } finally {
        o.close();
        e.close();
      }
    } catch (InterruptedException ex) {
      Thread.currentThread().interrupt();
    } catch (IOException ex) {
      log.warn("log copier for {} failed: {}", logPath, ex.toString());
    }
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
    private long offset;
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
