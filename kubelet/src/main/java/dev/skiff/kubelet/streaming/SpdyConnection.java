package dev.skiff.kubelet.streaming;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The server side of one SPDY/3.1 session (what apimachinery pkg/util/httpstream/spdy and
 * moby/spdystream give the kubelet), over any byte transport: a plain upgraded HTTP connection
 * ({@code Upgrade: SPDY/3.1}, kubectl up to 1.30) or WebSocket messages
 * ({@code SPDY/3.1+portforward.k8s.io}, kubectl 1.31+). The frames and header compression are
 * {@link Spdy}'s.
 *
 * <p>Every SYN_STREAM is answered with a SYN_REPLY and handed to the {@link Handler} as a
 * {@link Stream}: the peer's DATA arrives on {@link Stream#input()} (EOF at its FIN; a window
 * update is sent as it is consumed), and {@link Stream#write}/{@link Stream#finish} send. PING
 * is echoed; RST_STREAM ends a stream's input; GOAWAY or the transport's EOF ends the session.
 * A stream whose input is not consumed holds up the reader once 64 of its frames are queued
 * (back-pressure on the transport). Frames are written one at a time; thread-safe.
 */
final class SpdyConnection {
  private static final Logger log = LoggerFactory.getLogger(SpdyConnection.class);

  /** Writes whole frames to the transport (called under the session's write lock). */
  @FunctionalInterface
  interface FrameWriter {
    void write(byte[] frame) throws IOException;
  }

  /** Gets the session's streams, on the reader's thread: it must not block for long. */
  interface Handler {
    void onStream(Stream stream) throws IOException;

    /** The session ended (transport closed or GOAWAY). */
    default void onClose() {}
  }

  private final Spdy spdy = new Spdy();
  private final InputStream transport;
  private final FrameWriter writer;
  private final Object writeLock = new Object();
  private final Map<Integer, Stream> streams = new ConcurrentHashMap<>();
  private volatile boolean closed;

  SpdyConnection(InputStream transport, FrameWriter writer) {
    this.transport = transport;
    this.writer = writer;
  }

  /** Reads frames until the session ends, then fails every open stream's input. Blocking. */
  void serve(Handler handler) {
    try (DataInputStream in = new DataInputStream(transport)) {
      while (!closed) {
        Spdy.Frame f = Spdy.read(in);
        if (f.control()) {
          control(f, handler);
        } else {
          Stream s = streams.get(f.streamId());
          if (s != null) {
            s.receive(f.payload(), (f.flags() & Spdy.FLAG_FIN) != 0);
          }
        }
      }
    } catch (IOException e) {
      log.debug("SPDY session ended: {}", e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      closed = true;
      streams.values().forEach(Stream::endInput);
      handler.onClose();
    }
  }

  boolean closed() {
    return closed;
  }

  /** Sends GOAWAY (last good stream: the highest seen) so the peer stops opening streams. */
  void goAway() {
    int last = streams.keySet().stream().mapToInt(Integer::intValue).max().orElse(0);
    try {
      write(Spdy.control(Spdy.GOAWAY, 0, Spdy.ints(last, 0)));
    } catch (IOException e) {
      // gone already
    }
  }

  private void control(Spdy.Frame f, Handler handler) throws IOException, InterruptedException {
    byte[] p = f.payload();
    switch (f.type()) {
      case Spdy.SYN_STREAM -> {
        int id = Spdy.getInt(p, 0) & 0x7fffffff;
        Map<String, String> headers;
        byte[] reply;
        synchronized (writeLock) { // the header compression contexts are shared by the session
          headers = spdy.headers(p, 10);
          byte[] block = spdy.encodeHeaders(Map.of());
          reply = new byte[4 + block.length];
          System.arraycopy(Spdy.ints(id), 0, reply, 0, 4);
          System.arraycopy(block, 0, reply, 4, block.length);
          writer.write(Spdy.control(Spdy.SYN_REPLY, 0, reply));
        }
        Stream s = new Stream(id, headers);
        streams.put(id, s);
        if ((f.flags() & Spdy.FLAG_FIN) != 0) {
          s.endInput();
        }
        handler.onStream(s);
      }
      case Spdy.RST_STREAM -> {
        Stream s = streams.remove(Spdy.getInt(p, 0) & 0x7fffffff);
        if (s != null) {
          s.reset = true;
          s.endInput();
        }
      }
      case Spdy.PING -> write(Spdy.control(Spdy.PING, 0, p));
      case Spdy.GOAWAY -> closed = true;
      default -> { } // SETTINGS, WINDOW_UPDATE, HEADERS: the peers here do not need them
    }
  }

  private void write(byte[] frame) throws IOException {
    synchronized (writeLock) {
      writer.write(frame);
    }
  }

  /** One SPDY stream opened by the peer. */
  final class Stream {
    final int id;
    private final Map<String, String> headers;
    // flow control: once read, the peer may send as much again (SPDY/3.1 section 2.6.8)
    private final ChunkStream incoming = new ChunkStream(64, n -> {
      if (!closed) {
        SpdyConnection.this.write(Spdy.control(Spdy.WINDOW_UPDATE, 0, Spdy.ints(id(), n)));
      }
    });
    private volatile boolean finished;
    private volatile boolean reset;

    Stream(int id, Map<String, String> headers) {
      this.id = id;
      this.headers = headers;
    }

    /** A header of the SYN_STREAM (names are lower case), or "". */
    String header(String name) {
      return headers.getOrDefault(name, "");
    }

    /** For the flow-control callback, built before the constructor assigns {@code id}. */
    private int id() {
      return id;
    }

    private void receive(byte[] data, boolean fin) throws InterruptedException {
      incoming.put(data);
      if (fin) {
        endInput();
      }
    }

    private void endInput() {
      incoming.end();
      if (finished) {
        streams.remove(id);
      }
    }

    /** The peer's data; EOF at its FIN, a reset, or the session's end. */
    InputStream input() {
      return incoming;
    }

    /** Sends data on this stream (split into frames of at most 32 KiB). */
    void write(byte[] b, int off, int len) throws IOException {
      if (finished || reset) {
        throw new IOException("stream " + id + " is closed");
      }
      while (len > 0) {
        int n = Math.min(len, 32 * 1024);
        SpdyConnection.this.write(Spdy.data(id, 0, b, off, n));
        off += n;
        len -= n;
      }
    }

    /** Half-closes this stream (an empty DATA frame with FIN). Idempotent. */
    void finish() {
      if (finished || reset) {
        return;
      }
      finished = true;
      try {
        SpdyConnection.this.write(Spdy.data(id, Spdy.FLAG_FIN, new byte[0], 0, 0));
      } catch (IOException e) {
        // the session is gone
      }
      if (incoming.ended()) {
        streams.remove(id);
      }
    }
  }
}
