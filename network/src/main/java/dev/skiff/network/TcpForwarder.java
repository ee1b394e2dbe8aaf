package dev.skiff.network;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Forwards TCP connections accepted on one address to the {@link Balancer}'s endpoints. Accepting
 * and connecting run on threads from the given factory (one per new connection); the bytes are
 * then copied either by shared {@link NioLoops} (event loops, non-blocking) or, without loops, by
 * two blocking threads per connection from the factory.
 *
 * <p>Each accepted connection is bound to its endpoint for life: {@link #close()} only stops
 * accepting, so an endpoint leaving the Service (or the Service itself going away) never cuts an
 * established connection; it drains naturally. A connect failure moves to the next endpoint with
 * the user-space kube-proxy's growing dial timeouts (pkg/proxy/userspace/proxysocket.go,
 * EndpointDialTimeouts 250 ms, 500 ms, 1 s, 2 s). Half-closes are propagated. Thread-safe.
 */
final class TcpForwarder implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(TcpForwarder.class);
  private static final int[] DIAL_TIMEOUTS_MS = {250, 500, 1000, 2000};
  private static final int BUFFER = 32 * 1024;

  private final ServerSocketChannel server;
  private final Balancer balancer;
  private final ThreadFactory threads;
  private final NioLoops loops; // null: blocking copy threads
  private final String name;
  private final Set<SocketChannel> open = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  /** Binds {@code bind} (throws if it cannot) and starts accepting. */
  TcpForwarder(InetSocketAddress bind, Balancer balancer, ThreadFactory threads, NioLoops loops, String name)
      throws IOException {
    this.balancer = balancer;
    this.threads = threads;
    this.loops = loops;
    this.name = name;
    ServerSocketChannel s = ServerSocketChannel.open();
    try {
      s.setOption(StandardSocketOptions.SO_REUSEADDR, true);
      s.bind(bind, 1024);
    } catch (IOException e) {
      s.close();
      throw e;
    }
    this.server = s;
    threads.newThread(this::acceptLoop).start();
  }

  InetSocketAddress localAddress() {
    try {
      return (InetSocketAddress) server.getLocalAddress();
    } catch (IOException e) {
      return null;
    }
  }

  /** Connections open now (both ends counted once). */
  int openConnections() {
    return open.size() / 2;
  }

  private void acceptLoop() {
    while (!closed) {
      SocketChannel client;
      try {
        client = server.accept();
      } catch (IOException e) {
        if (!closed) {
          log.warn("{}: accept failed: {}", name, e.toString());
        }
        return;
      }
      threads.newThread(() -> serve(client)).start();
    }
  }

  private void serve(SocketChannel client) {
    SocketChannel upstream = null;
    Set<InetSocketAddress> tried = new HashSet<>();
    java.net.InetAddress from;
    try {
      from = ((InetSocketAddress) client.getRemoteAddress()).getAddress();
    } catch (IOException e) {
      closeQuietly(client);
      return;
    }
    for (int attempt = 0; attempt < DIAL_TIMEOUTS_MS.length; attempt++) {
      InetSocketAddress ep = balancer.pick(from, tried);
      if (ep == null) {
        break;
      }
      tried.add(ep);
      SocketChannel s = null;
      try {
        s = SocketChannel.open();
        s.setOption(StandardSocketOptions.TCP_NODELAY, true);
        s.socket().connect(ep, DIAL_TIMEOUTS_MS[attempt]);
        upstream = s;
        break;
      } catch (IOException e) {
        log.debug("{}: connect to {} failed: {}", name, ep, e.toString());
        if (s != null) {
          closeQuietly(s);
        }
      }
    }
    if (upstream == null) {
      log.debug("{}: no endpoint accepted a connection from {}", name, from);
      closeQuietly(client);
      return;
    }
    SocketChannel up = upstream;
    try {
      client.setOption(StandardSocketOptions.TCP_NODELAY, true);
      open.add(client);
      open.add(up);
      if (loops != null) {
        loops.add(client, up, () -> {
          open.remove(client);
          open.remove(up);
        });
        return;
      }
    } catch (IOException e) {
      closeQuietly(client);
      closeQuietly(up);
      open.remove(client);
      open.remove(up);
      return;
    }
    AtomicInteger done = new AtomicInteger();
    threads.newThread(() -> pipe(up, client, done)).start();
    pipe(client, up, done);
  }

  /** Copies from → to until EOF, then half-closes; the second direction to finish closes both. */
  private void pipe(SocketChannel from, SocketChannel to, AtomicInteger done) {
    ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER);
    boolean clean = false;
    try {
      while (from.read(buf) >= 0) {
        buf.flip();
        while (buf.hasRemaining()) {
          to.write(buf);
        }
        buf.clear();
      }
      to.shutdownOutput();
      clean = true;
    } catch (IOException e) {
      // reset or closed by the other direction: tear the pair down
    }
    if (!clean || done.incrementAndGet() == 2) {
      closeQuietly(from);
      closeQuietly(to);
      open.remove(from);
      open.remove(to);
    }
  }

  /** Stops accepting; established connections keep running (draining). */
  @Override
  public void close() {
    closed = true;
    closeQuietly(server);
  }

  /** Stops accepting and cuts every established connection (used when the proxy stops). */
  void closeAll() {
    close();
    for (SocketChannel s : open) {
      closeQuietly(s);
    }
    open.clear();
  }

  static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception e) {
      // nothing to do
    }
  }
}
