package dev.skiff.kubelet.streaming;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One port-forward session over WebSocket: SPDY/3.1 carried as a byte stream in binary messages
 * ({@code SPDY/3.1+portforward.k8s.io}; client-go tools/portforward/tunneling_connection.go), as
 * kubectl 1.31+ tunnels it. The messages are treated as one byte stream (a frame may span
 * several) and fed to a {@link SpdyConnection} running the {@link PortForwarder} protocol, the
 * same as a plain {@code Upgrade: SPDY/3.1} session; frames go out one message each.
 */
public final class PortForwardSession implements Session.Listener.AutoDemanding {
  private static final Logger log = LoggerFactory.getLogger(PortForwardSession.class);
  static final String SPDY_PROTOCOL = "SPDY/3.1+portforward.k8s.io";

  private final StreamTarget target;
  private final ChunkStream incoming = new ChunkStream(64, n -> { });
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
      incoming.put(b);
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
    incoming.end();
  }

  private void readLoop() {
    try (ChunkStream in = incoming) {
      new SpdyConnection(in, this::write).serve(new PortForwarder(target));
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

  private void write(byte[] frame) throws IOException {
    Session s = session;
    if (s == null || !s.isOpen()) {
      throw new IOException("session closed");
    }
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
