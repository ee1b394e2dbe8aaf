package dev.skiff.kubelet.streaming;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One port-forward session: SPDY/3.1 carried as a byte stream in WebSocket binary messages
 * ({@code SPDY/3.1+portforward.k8s.io}; client-go tools/portforward/tunneling_connection.go),
 * with the port-forward stream protocol on top (kubelet
 * pkg/kubelet/cri/streaming/portforward/httpstream.go): for each local connection the client
 * opens an {@code error} stream and a {@code data} stream with the same {@code requestid} and a
 * {@code port} header. Every SYN_STREAM is answered with a SYN_REPLY; a data stream is joined to
 * a TCP connection to podIP:port (bytes both ways, FIN as a half-close); a failure to connect is
 * written to the error stream. Messages are treated as one byte stream (a frame may span
 * several). Frames are written one at a time. PING is echoed; flow control windows are granted
 * back as data is consumed (WINDOW_UPDATE).
 */
public final class PortForwardSession implements Session.Listener.AutoDemanding {
  private static final Logger log = LoggerFactory.getLogger(PortForwardSession.class);
  static final String SPDY_PROTOCOL = "SPDY/3.1+portforward.k8s.io";
  private static final byte[] EOF = new byte[0];

  private final StreamTarget target;
  private final BlockingQueue<byte[]> incoming = new ArrayBlockingQueue<>(64);
  private final Spdy spdy = new Spdy();
  private final Object writeLock = new Object();
  private final Map<Integer, Socket> sockets = new ConcurrentHashMap<>();
  /** requestid -> error stream id, to report connection failures on. */
  private final Map<String, Integer> errorStreams = new ConcurrentHashMap<>();
  private volatile Session session;
  private volatile boolean closed;

  PortForwardSession(StreamTarget target) {
    this.target = target;
  }

  @Override
  public void onWebSocketOpen(Session s) {
    this.session = s;
    Thread.ofVirtual().name("portforward-" + target.containerId()).start(this::readLoop);
  }

  @Override
  public void onWebSocketBinary(ByteBuffer payload, Callback callback) {
    byte[] b = new byte[payload.remaining()];
    payload.get(b);
    try {
      if (b.length > 0) {
        incoming.put(b);
      }
      callback.succeed();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      callback.fail(e);
    }
  }

  @Override
  public void onWebSocketClose(int statusCode, String reason) {
    shutdown();
  }

  @Override
  public void onWebSocketError(Throwable cause) {
    shutdown();
  }

  private void shutdown() {
    closed = true;
    incoming.offer(EOF);
    sockets.values().forEach(PortForwardSession::closeQuietly);
    sockets.clear();
  }

  private void readLoop() {
    try (DataInputStream in = new DataInputStream(new MessageStream())) {
      while (!closed) {
        Spdy.Frame f = Spdy.read(in);
        if (f.control()) {
          control(f);
        } else {
          data(f);
        }
      }
    } catch (IOException e) {
      log.debug("port-forward session ended: {}", e.toString());
    } finally {
      shutdown();
      Session s = session;
      if (s != null && s.isOpen()) {
        s.close(1000, "", Callback.NOOP);
      }
    }
  }

  private void control(Spdy.Frame f) throws IOException {
    byte[] p = f.payload();
    switch (f.type()) {
      case Spdy.SYN_STREAM -> {
        int id = Spdy.getInt(p, 0) & 0x7fffffff;
        Map<String, String> h = spdy.headers(p, 10);
        byte[] block = spdy.encodeHeaders(Map.of());
        byte[] reply = new byte[4 + block.length];
        System.arraycopy(Spdy.ints(id), 0, reply, 0, 4);
        System.arraycopy(block, 0, reply, 4, block.length);
        write(Spdy.control(Spdy.SYN_REPLY, 0, reply));
        String type = h.getOrDefault("streamtype", "");
        String requestId = h.getOrDefault("requestid", "");
        if (type.equals("error")) {
          errorStreams.put(requestId, id);
        } else if (type.equals("data")) {
          openData(id, h.getOrDefault("port", ""), requestId);
        }
      }
      case Spdy.RST_STREAM -> closeQuietly(sockets.remove(Spdy.getInt(p, 0) & 0x7fffffff));
      case Spdy.PING -> write(Spdy.control(Spdy.PING, 0, p));
      case Spdy.GOAWAY -> closed = true;
      default -> { } // SETTINGS, WINDOW_UPDATE, HEADERS: nothing to do
    }
  }

  private void openData(int id, String portHeader, String requestId) throws IOException {
    int port;
    try {
      port = Integer.parseInt(portHeader);
    } catch (NumberFormatException e) {
      fail(id, requestId, "invalid port \"" + portHeader + "\"");
      return;
    }
    Socket s = new Socket();
    try {
      // With its own network namespace the pod's IP is routable from the node; else it is the node's.
      s.connect(new InetSocketAddress(target.podIp(), port), 5000);
      s.setTcpNoDelay(true);
    } catch (IOException e) {
      closeQuietly(s);
      fail(id, requestId, "an error occurred forwarding " + port + " -> " + port + ": error forwarding port " + port
          + " to pod " + target.containerId() + ": dial tcp " + target.podIp() + ":" + port + ": " + e.getMessage());
      return;
    }
    sockets.put(id, s);
    Thread.ofVirtual().name("portforward-" + port).start(() -> pump(id, s));
  }

  /** Container to client: DATA frames, then FIN at EOF. */
  private void pump(int id, Socket s) {
    byte[] buf = new byte[32 * 1024];
    try (InputStream in = s.getInputStream()) {
      int n;
      while ((n = in.read(buf)) >= 0) {
        if (n > 0) {
          write(Spdy.data(id, 0, buf, 0, n));
        }
      }
      write(Spdy.data(id, Spdy.FLAG_FIN, buf, 0, 0));
    } catch (IOException e) {
      // the socket was closed (reset by the client) or the session ended
    }
  }

  private void fail(int dataId, String requestId, String message) throws IOException {
    log.debug("port-forward: {}", message);
    Integer err = errorStreams.remove(requestId);
    if (err != null) {
      byte[] m = message.getBytes(StandardCharsets.UTF_8);
      write(Spdy.data(err, 0, m, 0, m.length));
      write(Spdy.data(err, Spdy.FLAG_FIN, m, 0, 0));
    }
    write(Spdy.data(dataId, Spdy.FLAG_FIN, new byte[0], 0, 0));
  }

  /** Client to container. */
  private void data(Spdy.Frame f) throws IOException {
    Socket s = sockets.get(f.streamId());
    if (s == null) {
      return; // the error stream's FIN, or a stream already closed
    }
    try {
      if (f.payload().length > 0) {
        OutputStream out = s.getOutputStream();
        out.write(f.payload());
        out.flush();
        write(Spdy.control(Spdy.WINDOW_UPDATE, 0, Spdy.ints(f.streamId(), f.payload().length)));
      }
      if ((f.flags() & Spdy.FLAG_FIN) != 0) {
        s.shutdownOutput();
      }
    } catch (IOException e) {
      closeQuietly(sockets.remove(f.streamId()));
    }
  }

  private void write(byte[] frame) throws IOException {
    Session s = session;
    if (s == null || !s.isOpen()) {
      throw new IOException("session closed");
    }
    synchronized (writeLock) {
      CompletableFuture<Void> done = new CompletableFuture<>();
      s.sendBinary(ByteBuffer.wrap(frame), Callback.from(() -> done.complete(null), done::completeExceptionally));
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

  private static void closeQuietly(Socket s) {
    if (s != null) {
      try {
        s.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
  }

  /** The WebSocket messages as one byte stream. */
  private final class MessageStream extends InputStream {
    private byte[] current = new byte[0];
    private int pos;

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      while (pos >= current.length) {
        try {
          current = incoming.take();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException(e);
        }
        pos = 0;
        if (current == EOF) {
          incoming.offer(EOF);
          return -1;
        }
      }
      int n = Math.min(len, current.length - pos);
      System.arraycopy(current, pos, b, off, n);
      pos += n;
      return n;
    }
  }
}
