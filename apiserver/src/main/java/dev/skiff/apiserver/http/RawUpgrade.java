package dev.skiff.apiserver.http;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.io.AbstractConnection;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.HttpStream;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.FutureCallback;

/**
 * A protocol upgrade that is not WebSocket, proxied as raw bytes (kube-apiserver's
 * UpgradeAwareHandler for {@code Upgrade: SPDY/3.1}): the client gets {@code 101} with the
 * given headers, and from then on its connection and {@code backend} (already upgraded: it
 * answered 101) are joined byte for byte, each direction on its own virtual thread, a
 * half-close passed on as a half-close. Both are closed when both directions ended or either
 * failed. HTTP/1.1 only (an HTTP/2 request cannot upgrade).
 */
public final class RawUpgrade {
  /** As the kubelet's StreamingConnectionIdleTimeout: a quiet exec session stays up this long. */
  static final Duration IDLE_TIMEOUT = Duration.ofHours(4);

  private RawUpgrade() {}

  /** Whether the request asks for {@code Upgrade: <protocol>} (case-insensitive). */
  public static boolean requested(Exchange ex, String protocol) {
    String upgrade = ex.header("Upgrade");
    return upgrade != null && upgrade.trim().equalsIgnoreCase(protocol);
  }

  /** Answers 101 with {@code headers} and relays the connection to {@code backend} afterwards. */
  public static void relay(Exchange ex, Map<String, String> headers, Socket backend) {
    EndPoint endPoint = ex.request.getConnectionMetaData().getConnection().getEndPoint();
    Relay relay = new Relay(endPoint, ex.request.getConnectionMetaData().getConnector().getExecutor(), backend);
    ex.request.setAttribute(HttpStream.UPGRADE_CONNECTION_ATTRIBUTE, relay);
    ex.response.setStatus(101);
    headers.forEach((k, v) -> ex.response.getHeaders().put(k, v));
    ex.markStreamed(101);
    ex.callback.succeeded();
  }

  private static final class Relay extends AbstractConnection implements Connection.UpgradeTo {
    private final Socket backend;
    private final AtomicInteger open = new AtomicInteger(2);
    private volatile ByteBuffer early;

    Relay(EndPoint endPoint, java.util.concurrent.Executor executor, Socket backend) {
      super(endPoint, executor);
      this.backend = backend;
    }

    @Override
    public void onUpgradeTo(ByteBuffer buffer) {
      if (buffer != null && buffer.hasRemaining()) {
        early = BufferUtil.copy(buffer);
      }
    }

    @Override
    public void onOpen() {
      super.onOpen();
      getEndPoint().setIdleTimeout(IDLE_TIMEOUT.toMillis());
      Thread.ofVirtual().name("upgrade-to-backend").start(this::clientToBackend);
      Thread.ofVirtual().name("upgrade-to-client").start(this::backendToClient);
    }

    @Override
    public void onFillable() {
      // reads are done by clientToBackend
    }

    @Override
    public void onClose(Throwable cause) {
      super.onClose(cause);
      closeBackend();
    }

    private void clientToBackend() {
      ByteBuffer buf = BufferUtil.allocate(32 * 1024);
      try {
        OutputStream out = backend.getOutputStream();
        ByteBuffer first = early;
        if (first != null) {
          out.write(BufferUtil.toArray(first));
          out.flush();
        }
        while (true) {
          BufferUtil.clear(buf);
          int n = getEndPoint().fill(buf);
          if (n < 0) {
            backend.shutdownOutput();
            break;
          }
          if (n == 0) {
            FutureCallback readable = new FutureCallback();
            getEndPoint().fillInterested(readable);
            readable.get();
            continue;
          }
          out.write(BufferUtil.toArray(buf));
          out.flush();
        }
        done();
      } catch (IOException | ExecutionException | RuntimeException e) {
        abort();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        abort();
      }
    }

    private void backendToClient() {
      byte[] buf = new byte[32 * 1024];
      try {
        InputStream in = backend.getInputStream(); // not closed here: that would close the socket
        int n;
        while ((n = in.read(buf)) >= 0) {
          FutureCallback written = new FutureCallback();
          getEndPoint().write(written, ByteBuffer.wrap(buf, 0, n));
          written.get();
        }
        getEndPoint().shutdownOutput();
        done();
      } catch (IOException | ExecutionException | RuntimeException e) {
        abort();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        abort();
      }
    }

    private void done() {
      if (open.decrementAndGet() == 0) {
        abort();
      }
    }

    private void abort() {
      getEndPoint().close();
      closeBackend();
    }

    private void closeBackend() {
      try {
        backend.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
  }
}
