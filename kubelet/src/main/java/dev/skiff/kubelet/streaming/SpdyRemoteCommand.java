package dev.skiff.kubelet.streaming;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * exec and attach over a plain SPDY/3.1 session (kubelet
 * pkg/kubelet/cri/streaming/remotecommand/httpstream.go), as kubectl up to 1.29 speaks them: the
 * client opens one stream per channel, named by its {@code streamType} header - {@code error},
 * then {@code stdin}, {@code stdout}, {@code stderr} as requested (no stderr with a TTY) and, from
 * v3 on with a TTY, {@code resize} (JSON terminal sizes, one per line). Once all expected streams
 * are there (within 30 s, as upstream's streamCreationTimeout) the {@link RemoteCommandSession}
 * runs with its channels mapped to the streams; stdin's FIN is the process's EOF.
 *
 * <p>The error stream gets, in v4, the final metav1.Status as JSON (NonZeroExitCode with its
 * ExitCode cause, so kubectl exits with the command's code); in v1-v3 the failure's message as
 * text, nothing on success. At the end stdout, stderr and error are finished and the connection
 * half-closed; the client closes it.
 */
final class SpdyRemoteCommand implements SpdyConnection.Handler {
  /** Newest first; "channel.k8s.io" is v1 (apimachinery pkg/util/remotecommand/constants.go). */
  static final List<String> PROTOCOLS = List.of("v4.channel.k8s.io", "v3.channel.k8s.io", "v2.channel.k8s.io",
      "channel.k8s.io");
  private static final ObjectMapper JSON = new ObjectMapper();

  private final RemoteCommandSession session;
  private final RemoteCommandSession.Options opts;
  private final String protocol;
  private final UpgradedConnection connection;
  private final int expected;
  private SpdyConnection.Stream error, stdin, stdout, stderr, resize;
  private int received;
  private volatile boolean started;

  SpdyRemoteCommand(StreamTarget target, RemoteCommandSession.Options opts, String protocol, LongSupplier alive,
      UpgradedConnection connection) {
    this.session = new RemoteCommandSession(target, opts, false, alive);
    this.opts = opts;
    this.protocol = protocol;
    this.connection = connection;
    boolean resizes = opts.tty() && !protocol.equals("v2.channel.k8s.io") && !protocol.equals("channel.k8s.io");
    this.expected = 1 + (opts.stdin() ? 1 : 0) + (opts.stdout() ? 1 : 0) + (opts.stderr() ? 1 : 0) + (resizes ? 1 : 0);
  }

  /** Runs the session on {@code connection}; returns when the client is gone. */
  void serve() {
    SpdyConnection spdy = new SpdyConnection(connection.input(), connection.output()::write);
    Thread.ofVirtual().start(() -> {
      try {
        Thread.sleep(TimeUnit.SECONDS.toMillis(30));
      } catch (InterruptedException e) {
        return;
      }
      if (!started) {
        connection.closeConnection(); // "timed out waiting for client to create streams"
      }
    });
    spdy.serve(this);
    connection.closeConnection();
  }

  @Override
  public synchronized void onStream(SpdyConnection.Stream s) {
    switch (s.header("streamtype")) {
      case "error" -> error = s;
      case "stdin" -> stdin = s;
      case "stdout" -> stdout = s;
      case "stderr" -> stderr = s;
      case "resize" -> resize = s;
      default -> {
        s.finish();
        return;
      }
    }
    if (++received == expected && !started) {
      started = true;
      begin();
    }
  }

  @Override
  public void onClose() {
    if (started) {
      session.clientGone();
    }
  }

  private void begin() {
    if (stdin != null) {
      InputStream in = stdin.input();
      Thread.ofVirtual().start(() -> {
        byte[] buf = new byte[32 * 1024];
        try (in) {
          int n;
          while ((n = in.read(buf)) >= 0) {
            session.stdin(java.util.Arrays.copyOf(buf, n));
          }
        } catch (IOException e) {
          // the session ended
        }
        session.stdinEof();
      });
    }
    if (resize != null) {
      InputStream in = resize.input();
      Thread.ofVirtual().start(() -> {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
          String line;
          while ((line = r.readLine()) != null) {
            session.resize(line);
          }
        } catch (IOException e) {
          // the session ended
        }
      });
    }
    session.start(new RemoteCommandSession.Transport() {
      @Override
      public void send(int channel, byte[] data, int off, int len) throws IOException {
        switch (channel) {
          case RemoteCommandSession.STDOUT -> write(stdout, data, off, len);
          case RemoteCommandSession.STDERR -> write(stderr, data, off, len);
          case RemoteCommandSession.ERROR -> status(new String(data, off, len, StandardCharsets.UTF_8));
          default -> { }
        }
      }

      @Override
      public void close() {
        for (SpdyConnection.Stream s : new SpdyConnection.Stream[] {stdout, stderr, error}) {
          if (s != null) {
            s.finish();
          }
        }
        // Half-close: the client reads everything, then closes (closing here could reset unread data).
        connection.shutdownOutput();
      }
    });
  }

  private static void write(SpdyConnection.Stream s, byte[] data, int off, int len) throws IOException {
    if (s != null) {
      s.write(data, off, len);
    }
  }

  private void status(String json) throws IOException {
    byte[] out;
    if (protocol.equals("v4.channel.k8s.io")) {
      out = json.getBytes(StandardCharsets.UTF_8);
    } else {
      JsonNode status = JSON.readTree(json);
      if ("Success".equals(status.path("status").asText())) {
        return;
      }
      out = status.path("message").asText("error").getBytes(StandardCharsets.UTF_8);
    }
    write(error, out, 0, out.length);
  }
}
