package dev.skiff.kubelet.streaming;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import org.eclipse.jetty.io.AbstractConnection;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.FutureCallback;

/**
 * What a Jetty HTTP/1.1 connection becomes after a {@code 101 Switching Protocols} that is not
 * WebSocket ({@code Upgrade: SPDY/3.1}): the raw bytes of the connection as a blocking
 * {@link InputStream} and {@link OutputStream}, handed to {@code session} on a virtual thread
 * once the upgrade is done. Install with the request attribute
 * {@code HttpStream.UPGRADE_CONNECTION_ATTRIBUTE} before answering 101 (Jetty then calls
 * {@code EndPoint.upgrade}). Bytes the client sent right behind its request are kept
 * ({@link Connection.UpgradeTo}). Reads are for one thread at a time; writes are serialized.
 */
final class UpgradedConnection extends AbstractConnection implements Connection.UpgradeTo {
  private final Consumer<UpgradedConnection> session;
  private final Duration idleTimeout;
  private final ByteBuffer readBuffer = BufferUtil.allocate(32 * 1024);
  private final Object writeLock = new Object();

  UpgradedConnection(EndPoint endPoint, Executor executor, Duration idleTimeout, Consumer<UpgradedConnection> session) {
    super(endPoint, executor);
    this.session = session;
    this.idleTimeout = idleTimeout;
  }

  @Override
  public void onUpgradeTo(ByteBuffer buffer) {
    if (buffer != null && buffer.hasRemaining()) {
      BufferUtil.append(readBuffer, buffer);
    }
  }

  @Override
  public void onOpen() {
    super.onOpen();
    getEndPoint().setIdleTimeout(idleTimeout.toMillis());
    // Reads are driven by input() on the session's thread, not by onFillable.
    Thread.ofVirtual().name("upgraded-" + getEndPoint().getRemoteSocketAddress()).start(() -> session.accept(this));
  }

  @Override
  public void onFillable() {
    // not used: see input()
  }

  /** The client's bytes; -1 once it closed its side (or the connection is gone). */
  InputStream input() {
    return new InputStream() {
      @Override
      public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
      }

      @Override
      public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
          return 0;
        }
        while (!readBuffer.hasRemaining()) {
          BufferUtil.clear(readBuffer);
          int n = getEndPoint().fill(readBuffer);
          if (n < 0) {
            return -1;
          }
          if (n == 0) {
            FutureCallback readable = new FutureCallback();
            getEndPoint().fillInterested(readable);
            await(readable);
          }
        }
        int n = Math.min(len, readBuffer.remaining());
        readBuffer.get(b, off, n);
        return n;
      }
    };
  }

  /** Writes to the client, each call blocking until written. */
  OutputStream output() {
    return new OutputStream() {
      @Override
      public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        synchronized (writeLock) {
          FutureCallback done = new FutureCallback();
          getEndPoint().write(done, ByteBuffer.wrap(b, off, len));
          await(done);
        }
      }
    };
  }

  /** Half-closes: the client reads EOF after everything written so far. */
  void shutdownOutput() {
    getEndPoint().shutdownOutput();
  }

  void closeConnection() {
    getEndPoint().close();
  }

  private static void await(FutureCallback cb) throws IOException {
    try {
      cb.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException();
    } catch (ExecutionException e) {
      throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
    }
  }
}
