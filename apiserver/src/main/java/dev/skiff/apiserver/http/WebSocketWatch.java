package dev.skiff.apiserver.http;

import dev.skiff.apiserver.api.ApiException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;
import org.eclipse.jetty.websocket.server.ServerWebSocketContainer;

/**
 * A watch served over WebSocket, as kube-apiserver does when the request asks to upgrade
 * (apiserver pkg/endpoints/handlers/watch.go: each event one message; text frames by default,
 * binary frames for the {@code binary.k8s.io} subprotocol). fabric8's default client opens every
 * watch this way.
 */
public final class WebSocketWatch implements Session.Listener.AutoDemanding {
  private static final String BINARY = "binary.k8s.io";

  private final WatchStream stream;
  private final boolean binary;

  private WebSocketWatch(WatchStream stream, boolean binary) {
    this.stream = stream;
    this.binary = binary;
  }

  static boolean requested(Exchange ex) {
    return "websocket".equalsIgnoreCase(ex.header("Upgrade"));
  }

  /** Upgrades the exchange; the watch then runs on its own virtual thread until either side closes. */
  static void upgrade(Exchange ex, WatchStream stream) throws Exception {
    ServerWebSocketContainer container = ServerWebSocketContainer.get(ex.request.getContext());
    if (container == null) {
      throw ApiException.badRequest("watch over websocket is not available");
    }
    boolean upgraded = container.upgrade((request, response, callback) -> {
      boolean bin = request.hasSubProtocol(BINARY);
      if (bin) {
        response.setAcceptedSubProtocol(BINARY);
      }
      return new WebSocketWatch(stream, bin);
    }, ex.request, ex.response, ex.callback);
    if (!upgraded) {
      throw ApiException.badRequest("invalid websocket upgrade request");
    }
    ex.markStreamed(101);
  }

  @Override
  public void onWebSocketOpen(Session session) {
    Thread.ofVirtual().name("watch-ws").start(() -> {
      try {
        stream.run(new Sink(session, binary));
      } catch (IOException e) {
        session.close();
      }
    });
  }

  /** Each frame is one message; a send blocks until written, so a slow client slows only itself. */
  private record Sink(Session session, boolean binary) implements WatchStream.FrameSink {
    @Override
    public void write(byte[] frame) throws IOException {
      if (!session.isOpen()) {
        throw new IOException("websocket closed");
      }
      CompletableFuture<Void> done = new CompletableFuture<>();
      Callback cb = Callback.from(() -> done.complete(null), done::completeExceptionally);
      if (binary) {
        session.sendBinary(ByteBuffer.wrap(frame), cb);
      } else {
        session.sendText(new String(frame, StandardCharsets.UTF_8), cb);
      }
      try {
        done.get();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException(e);
      } catch (ExecutionException e) {
        throw new IOException(e.getCause());
      }
    }

    @Override
    public void flush() {}

    @Override
    public void close() {
      if (session.isOpen()) {
        session.close(1000, "", Callback.NOOP);
      }
    }
  }
}
