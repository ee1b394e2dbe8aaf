package dev.skiff.network;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Forwards TCP connections accepted on one address to the {@link Balancer}'s endpoints, with
 * blocking sockets and two threads per connection (one per direction) from the given factory.
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

  private final ServerSocket server;
  private final Balancer balancer;
  private final ThreadFactory threads;
  private final String name;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  /** Binds {@code bind} (throws if it cannot) and starts accepting. */
  TcpForwarder(InetSocketAddress bind, Balancer balancer, ThreadFactory threads, String name) throws IOException {
    this.balancer = balancer;
    this.threads = threads;
    this.name = name;
    ServerSocket s = new ServerSocket();
    try {
      s.setReuseAddress(true);
      s.bind(bind, 1024);
    } catch (IOException e) {
      s.close();
      throw e;
    }
    this.server = s;
    threads.newThread(this::acceptLoop).start();
  }

  InetSocketAddress localAddress() {
    return (InetSocketAddress) server.getLocalSocketAddress();
  }

  /** Connections open now (both ends counted once). */
  int openConnections() {
    return open.size() / 2;
  }

  private void acceptLoop() {
    while (!closed) {
      Socket client;
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

  private void serve(Socket client) {
    Socket upstream = null;
    Set<InetSocketAddress> tried = new HashSet<>();
    for (int attempt = 0; attempt < DIAL_TIMEOUTS_MS.length; attempt++) {
      InetSocketAddress ep = balancer.pick(client.getInetAddress(), tried);
      if (ep == null) {
        break;
      }
      tried.add(ep);
      Socket s = new Socket();
      try {
        s.setTcpNoDelay(true);
        s.connect(ep, DIAL_TIMEOUTS_MS[attempt]);
        upstream = s;
        break;
      } catch (IOException e) {
        log.debug("{}: connect to {} failed: {}", name, ep, e.toString());
        closeQuietly(s);
      }
    }
    if (upstream == null) {
      log.debug("{}: no endpoint accepted a connection from {}", name, client.getRemoteSocketAddress());
      closeQuietly(client);
      return;
    }
    try {
      client.setTcpNoDelay(true);
    } catch (SocketException e) {
      // harmless
    }
    open.add(client);
    open.add(upstream);
    AtomicInteger done = new AtomicInteger();
    Socket up = upstream;
    threads.newThread(() -> pipe(up, client, done)).start();
    pipe(client, up, done);
  }

  /** Copies from → to until EOF, then half-closes; the second direction to finish closes both. */
  private void pipe(Socket from, Socket to, AtomicInteger done) {
    byte[] buf = new byte[BUFFER];
    boolean clean = false;
    try {
      InputStream in = from.getInputStream();
      OutputStream out = to.getOutputStream();
      int n;
      while ((n = in.read(buf)) >= 0) {
        out.write(buf, 0, n);
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
    for (Socket s : open) {
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
