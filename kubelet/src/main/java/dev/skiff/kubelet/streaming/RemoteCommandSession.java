package dev.skiff.kubelet.streaming;

import com.pty4j.PtyProcess;
import com.pty4j.PtyProcessBuilder;
import com.pty4j.WinSize;
import dev.skiff.kubelet.cri.ContainerExec;
import dev.skiff.kubelet.cri.CriLogFollower;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.function.LongSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One exec or attach session over WebSocket in the Kubernetes channel protocol
 * ({@code v4.channel.k8s.io} / {@code v5.channel.k8s.io}; apimachinery
 * pkg/util/remotecommand/constants.go and kubelet pkg/kubelet/cri/streaming/remotecommand):
 * every binary message starts with a channel byte - 0 stdin (client to server), 1 stdout,
 * 2 stderr, 3 error (one metav1.Status JSON at the end), 4 resize ({"Width":w,"Height":h}),
 * 255 close (v5 only; payload: the channel closed by the client, 0 = stdin EOF).
 *
 * <p>exec starts the command in the container's environment ({@link ContainerExec}); with
 * {@code tty} it runs on a pseudo-terminal (pty4j), stdout carries the terminal and there is no
 * stderr. attach follows the container's CRI log from now on (stdout and stderr as their own
 * channels) until the container exits, and with stdin writes to the container's stdin
 * ({@link StreamTarget.Stdin}; closed when the client's input ends or it detaches). The session ends with
 * the Status on channel 3 and a normal close (1000).
 *
 * <p>Sends are serialized; each blocks until written, so a slow client slows only this session.
 */
public final class RemoteCommandSession implements Session.Listener.AutoDemanding {
  private static final Logger log = LoggerFactory.getLogger(RemoteCommandSession.class);
  static final int STDIN = 0, STDOUT = 1, STDERR = 2, ERROR = 3, RESIZE = 4, CLOSE = 255;
  private static final Pattern SIZE = Pattern.compile("\"Width\"\\s*:\\s*(\\d+).*?\"Height\"\\s*:\\s*(\\d+)", Pattern.DOTALL);

  /** What to run: exec (command) or attach (command null). */
  record Options(List<String> command, boolean stdin, boolean stdout, boolean stderr, boolean tty) {}

  private final StreamTarget target;
  private final Options opts;
  private final boolean v5;
  private final LongSupplier alive; // attach: the container's pid while it runs, 0 once exited
  private volatile Transport transport;
  private volatile Process process;
  private volatile OutputStream stdin;
  private volatile WinSize pendingSize;
  private final java.util.concurrent.CountDownLatch sizeKnown = new java.util.concurrent.CountDownLatch(1);
  private final Object sendLock = new Object();
  private volatile boolean finished;
  /**
   * Stdin that arrives before the process (and its stdin) exists is kept here, in order, and
   * written when it starts - not waited for on the reader's thread, where it would hold up a
   * terminal size sent behind it (exec -t waits for that size before it starts the process).
   */
  private final Object stdinLock = new Object();
  private final java.io.ByteArrayOutputStream earlyStdin = new java.io.ByteArrayOutputStream();
  private boolean earlyEof;
  private boolean stdinReady;

  RemoteCommandSession(StreamTarget target, Options opts, boolean v5, LongSupplier alive) {
    this.target = target;
    this.opts = opts;
    this.v5 = v5;
    this.alive = alive;
  }

  /**
   * Where the session's output goes: WebSocket messages with a channel byte, or SPDY streams
   * ({@link SpdyRemoteCommand}). {@code send} blocks until written; {@code close} ends the
   * session after the status went out on {@link #ERROR}.
   */
  interface Transport {
    void send(int channel, byte[] data, int off, int len) throws IOException;

    void close();
  }

  @Override
  public void onWebSocketOpen(Session s) {
    start(new Transport() {
      @Override
      public void send(int channel, byte[] data, int off, int len) throws IOException {
        sendMessage(s, channel, data, off, len);
      }

      @Override
      public void close() {
        if (s.isOpen()) {
          s.close(1000, "", Callback.NOOP);
        }
      }
    });
  }

  /** Starts the exec or attach on a virtual thread, writing to {@code t}. */
  void start(Transport t) {
    this.transport = t;
    Thread.ofVirtual().name("stream-" + target.containerId()).start(opts.command() == null ? this::attach : this::exec);
  }

  @Override
  public void onWebSocketBinary(ByteBuffer payload, Callback callback) {
    try {
      if (!payload.hasRemaining()) {
        return;
      }
      int channel = payload.get() & 0xff;
      byte[] data = new byte[payload.remaining()];
      payload.get(data);
      switch (channel) {
        case STDIN -> stdin(data);
        case RESIZE -> resize(new String(data, StandardCharsets.UTF_8));
        case CLOSE -> {
          if (v5 && data.length > 0 && data[0] == STDIN) {
            stdinEof();
          }
        }
        default -> { }
      }
    } finally {
      callback.succeed();
    }
  }

  /** Client input for the process's stdin; input that arrives before the process exists is kept for it. */
  void stdin(byte[] data) {
    synchronized (stdinLock) {
      if (!stdinReady) {
        earlyStdin.writeBytes(data);
        return;
      }
      writeStdin(data);
    }
  }

  /** The client closed its stdin. */
  void stdinEof() {
    synchronized (stdinLock) {
      if (!stdinReady) {
        earlyEof = true;
        return;
      }
      try {
        closeStdin();
      } catch (IOException e) {
        log.debug("stdin of {}: {}", target.containerId(), e.toString());
      }
    }
  }

  /** The process and its stdin exist (or never will): early input goes in first. Idempotent. */
  private void stdinReady() {
    synchronized (stdinLock) {
      if (stdinReady) {
        return;
      }
      stdinReady = true;
      writeStdin(earlyStdin.toByteArray());
      earlyStdin.reset();
      if (earlyEof) {
        try {
          closeStdin();
        } catch (IOException e) {
          log.debug("stdin of {}: {}", target.containerId(), e.toString());
        }
      }
    }
  }

  private void writeStdin(byte[] data) {
    OutputStream in = stdin;
    if (in == null || data.length == 0) {
      return;
    }
    try {
      in.write(data);
      in.flush();
    } catch (IOException e) {
      log.debug("stdin of {}: {}", target.containerId(), e.toString()); // the process is gone
    }
  }

  @Override
  public void onWebSocketClose(int statusCode, String reason) {
    clientGone();
  }

  /** The client went away: an exec's process dies with it (kubelet kills it via the stream's context). */
  void clientGone() {
    if (!finished) {
      Process p = process;
      if (p != null) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
      }
      finished = true;
    }
  }

  /** A terminal size from the client, {@code {"Width":w,"Height":h}}. */
  void resize(String json) {
    Matcher m = SIZE.matcher(json);
    if (!m.find()) {
      return;
    }
    WinSize size = new WinSize(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)));
    Process p = process;
    if (p instanceof PtyProcess pty) {
      pty.setWinSize(size);
    } else {
      pendingSize = size; // the size to start the terminal with
      sizeKnown.countDown();
      resizeTerminal();
    }
  }

  /** The attached container's terminal, once attach follows it. */
  private volatile dev.skiff.kubelet.cri.ContainerTty terminal;
  private WinSize terminalSize;

  /**
   * Gives the attached terminal the latest size. Serialized, and always the latest: the reader's
   * thread (a resize) and the attach thread (the terminal found) may both get here, and two
   * {@code stty} runs finishing out of order would leave the older size.
   */
  private synchronized void resizeTerminal() {
    dev.skiff.kubelet.cri.ContainerTty tty = terminal;
    WinSize size = pendingSize;
    if (tty != null && size != null && !size.equals(terminalSize)) {
      try {
        tty.resize(size.getColumns(), size.getRows());
        terminalSize = size;
      } catch (IOException e) {
        log.debug("resizing the terminal of {}: {}", target.containerId(), e.toString());
      }
    }
  }

  private void closeStdin() throws IOException {
    OutputStream in = stdin;
    if (in != null && !(process instanceof PtyProcess)) {
      in.close(); // EOF for the command (a terminal has no EOF to give; the user types ^D)
    }
  }

  private void exec() {
    try {
      ContainerExec.Spec spec = ContainerExec.spec(target.pid(), opts.command());
      Process p;
      if (opts.tty()) {
        var env = new java.util.HashMap<>(spec.env());
        env.putIfAbsent("TERM", "xterm");
        // kubectl sends the terminal size right after connecting (always, for a tty session); wait
        // for it so the command starts at the client's size. 100 ms was too short on a loaded CI
        // machine; a client that never sends one costs a second, once.
        sizeKnown.await(1, java.util.concurrent.TimeUnit.SECONDS);
        WinSize size = pendingSize == null ? new WinSize(80, 24) : pendingSize;
        List<String> command = spec.command();
        if (spec.nsenter()) {
          // Through nsenter into the container's mount namespace the initial size pty4j gives the
          // terminal reads as 0x0 (reproduced outside Skiff); set it again from inside first.
          command = new java.util.ArrayList<>(command);
          command.addAll(command.indexOf("--") + 1, List.of("/bin/sh", "-c",
              "stty rows " + size.getRows() + " cols " + size.getColumns() + " 2>/dev/null; exec \"$@\"", "sh"));
        }
        p = new PtyProcessBuilder(command.toArray(String[]::new)).setEnvironment(env)
            .setDirectory(spec.workingDir().toString()).setInitialColumns(size.getColumns())
            .setInitialRows(size.getRows()).setRedirectErrorStream(true).setConsole(false).start();
      } else {
        ProcessBuilder pb = new ProcessBuilder(spec.command()).directory(spec.workingDir().toFile());
        pb.environment().clear();
        pb.environment().putAll(spec.env());
        if (!opts.stdin()) {
          pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        }
        p = pb.start();
      }
      process = p;
      if (opts.stdin()) {
        stdin = p.getOutputStream();
      } else if (!opts.tty()) {
        p.getOutputStream().close();
      }
      stdinReady();
      List<Thread> pumps = new ArrayList<>();
      pumps.add(pump(p.getInputStream(), STDOUT, opts.stdout() || opts.tty()));
      if (!opts.tty()) {
        pumps.add(pump(p.getErrorStream(), STDERR, opts.stderr()));
      }
      int code = p.waitFor();
      for (Thread t : pumps) {
        t.join(opts.tty() ? 500 : 5000); // a pty may stay open in a background child; do not hang on it
      }
      finish(code == 0 ? success() : exitStatus(code));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (IOException | RuntimeException e) {
      finish(failure("InternalError", "failed to exec in container: " + e.getMessage()));
    } finally {
      stdinReady();
    }
  }

  private Thread pump(InputStream in, int channel, boolean forward) {
    return Thread.ofVirtual().start(() -> {
      byte[] buf = new byte[32 * 1024];
      try (in) {
        int n;
        while ((n = in.read(buf)) >= 0) {
          if (forward && n > 0) {
            send(channel, buf, 0, n);
          }
        }
      } catch (IOException e) {
        // EOF on a pty is EIO; a closed session ends the pump too
      }
    });
  }

  /** What attach follows: {@link #pump} sends what is new and says whether there was any. */
  private interface Output extends AutoCloseable {
    boolean pump() throws IOException;

    @Override
    void close() throws IOException;
  }

  /**
   * Follows the container's output from its current end until the container exits: its CRI log
   * (kuberuntime logs format), or with a tty its terminal's output, byte by byte (a prompt has
   * no newline). The output is opened before stdin is connected: nothing the input causes is
   * missed.
   */
  private void attach() {
    dev.skiff.kubelet.cri.ContainerTty tty = opts.tty() ? target.tty() : null;
    try (Output out = tty != null ? terminalOutput(tty) : logOutput()) {
      if (tty != null) {
        // As exec -t: the client's size first (kubectl sends it at once), then its input.
        sizeKnown.await(1, java.util.concurrent.TimeUnit.SECONDS);
        terminal = tty;
        resizeTerminal();
      }
      openStdin();
      // After the exit: the log copier writes the last lines shortly after it (300 ms of quiet);
      // a terminal's output is written by the container itself (100 ms).
      long quietNanos = tty != null ? 100_000_000L : 300_000_000L;
      long exitedAt = 0;
      while (!finished) {
        if (out.pump()) {
          continue;
        }
        if (exitedAt == 0 && alive.getAsLong() == 0) {
          exitedAt = System.nanoTime();
        }
        if (exitedAt != 0 && System.nanoTime() - exitedAt > quietNanos) {
          break;
        }
        Thread.sleep(tty != null ? 5 : 10);
      }
      finish(success());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (IOException e) {
      finish(failure("InternalError", "attach: " + e.getMessage()));
    } finally {
      stdinReady();
      closeQuietly(stdin); // detached: a stdinOnce container's stdin ends here
    }
  }

  private Output logOutput() throws IOException {
    CriLogFollower f = new CriLogFollower(target.logPath(), true);
    return new Output() {
      @Override
      public boolean pump() throws IOException {
        List<byte[]> lines = f.poll();
        for (byte[] line : lines) {
          deliver(new String(line, StandardCharsets.UTF_8));
        }
        return !lines.isEmpty();
      }

      @Override
      public void close() throws IOException {
        f.close();
      }
    };
  }

  private Output terminalOutput(dev.skiff.kubelet.cri.ContainerTty tty) throws IOException {
    java.nio.channels.FileChannel in = java.nio.channels.FileChannel.open(tty.output(), java.nio.file.StandardOpenOption.READ);
    java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate(16 * 1024);
    long[] pos = {in.size()};
    return new Output() {
      @Override
      public boolean pump() throws IOException {
        buf.clear();
        int n = in.read(buf, pos[0]);
        if (n <= 0) {
          return false;
        }
        pos[0] += n;
        send(STDOUT, buf.array(), 0, n);
        return true;
      }

      @Override
      public void close() throws IOException {
        in.close();
      }
    };
  }

  /** Connects this attach's input to the container's stdin, when it asked for it and there is one. */
  private void openStdin() {
    if (opts.stdin() && target.stdin() != null) {
      try {
        stdin = target.stdin().open(); // null: the container has no stdin (input is dropped)
      } catch (IOException e) {
        log.debug("stdin of {}: {}", target.containerId(), e.toString());
      }
    }
    stdinReady();
  }

  private static void closeQuietly(OutputStream out) {
    if (out != null) {
      try {
        out.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
  }

  /** One CRI log line: {@code <time> <stream> <F|P> <content>}. */
  private void deliver(String line) throws IOException {
    String[] f = line.split(" ", 4);
    if (f.length < 3) {
      return;
    }
    boolean err = f[1].equals("stderr");
    if ((err && !opts.stderr() && !opts.tty()) || (!err && !opts.stdout())) {
      return;
    }
    String content = (f.length == 4 ? f[3] : "") + (f[2].equals("F") ? "\n" : "");
    byte[] b = content.getBytes(StandardCharsets.UTF_8);
    send(err && !opts.tty() ? STDERR : STDOUT, b, 0, b.length);
  }

  private void finish(String status) {
    if (finished) {
      return;
    }
    try {
      byte[] b = status.getBytes(StandardCharsets.UTF_8);
      send(ERROR, b, 0, b.length);
    } catch (IOException e) {
      // client gone
    }
    finished = true;
    Transport t = transport;
    if (t != null) {
      t.close();
    }
  }

  private void send(int channel, byte[] data, int off, int len) throws IOException {
    Transport t = transport;
    if (t == null) {
      throw new IOException("session closed");
    }
    t.send(channel, data, off, len);
  }

  private void sendMessage(Session s, int channel, byte[] data, int off, int len) throws IOException {
    if (!s.isOpen()) {
      throw new IOException("session closed");
    }
    ByteBuffer msg = ByteBuffer.allocate(len + 1);
    msg.put((byte) channel).put(data, off, len).flip();
    synchronized (sendLock) {
      CompletableFuture<Void> done = new CompletableFuture<>();
      s.sendBinary(msg, Callback.from(() -> done.complete(null), done::completeExceptionally));
      try {
        done.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException(e);
      } catch (ExecutionException e) {
        throw new IOException(e.getCause());
      }
    }
  }

  static String success() {
    return "{\"metadata\":{},\"status\":\"Success\"}";
  }

  /** kubelet: exec.CodeExitError -> NonZeroExitCode with an ExitCode cause (remotecommand/httpstream.go). */
  String exitStatus(int code) {
    String cmd = opts.command() == null ? "" : String.join(" ", opts.command());
    return "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"command terminated with non-zero exit code: "
        + "error executing command [" + jsonEscape(cmd) + "], exit code " + code + "\",\"reason\":\"NonZeroExitCode\","
        + "\"details\":{\"causes\":[{\"reason\":\"ExitCode\",\"message\":\"" + code + "\"}]}}";
  }

  static String failure(String reason, String message) {
    return "{\"metadata\":{},\"status\":\"Failure\",\"message\":\"" + jsonEscape(message) + "\",\"reason\":\""
        + reason + "\",\"code\":500}";
  }

  static String jsonEscape(String s) {
    StringBuilder b = new StringBuilder();
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        default -> {
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.toString();
  }
}
