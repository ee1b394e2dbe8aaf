package dev.skiff.serving.gateway;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway's own HTTP/1.1 server: blocking sockets on virtual threads, one per accepted
 * connection ({@link Http1Connection}), in front of the shared request path ({@link RoutingProxy}).
 * It replaces Jetty's server side for HTTP/1.1 clients, whose per-request parse, generate and
 * selector re-arm cost about half the gateway's CPU on the 2-core benchmark (docs/benchmarks.md).
 *
 * <p>HTTP/2 stays Jetty's: a connection that opens with the h2c prior-knowledge preface, or asks
 * for {@code Upgrade: h2c}, is handed whole to a Jetty connector on a loopback port
 * ({@code h2cBackend}), its bytes relayed both ways; a PROXY protocol v1 line in front tells Jetty
 * the real client address (for X-Forwarded-For and the drain hook's loopback check).
 *
 * <p>Idle connections (waiting for a request head) are closed after {@code idleTimeoutMs} by a
 * sweeper thread, not by timed reads (a timed read parks with a timer per request).
 * Thread-safe.
 */
final class Http1Server implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Http1Server.class);

  final RoutingProxy proxy;
  private final InetSocketAddress h2cBackend;
  private final long idleTimeoutNanos;
  private final List<ServerSocket> listeners = new ArrayList<>();
  private final Set<Http1Connection> open = ConcurrentHashMap.newKeySet();
  /** Client sockets of connections relayed as bytes (h2c to Jetty, upgrades to pods). */
  private final Set<Socket> tunnels = ConcurrentHashMap.newKeySet();
  private final ThreadFactory connectionThreads = Thread.ofVirtual().name("gateway-conn-", 0).factory();
  private volatile boolean closed;
  private Thread sweeper;

  Http1Server(RoutingProxy proxy, InetSocketAddress h2cBackend, long idleTimeoutMs) {
    this(proxy, h2cBackend, idleTimeoutMs, 0);
  }

  /**
   * With {@code loops} > 0, connections are accepted as non-blocking channels and served first by
   * that many {@link Http1EventLoop}s, which hand what they do not serve themselves to virtual
   * threads ({@code gateway.frontend=loop}); with 0 each connection gets a virtual thread at once
   * ({@code gateway.frontend=threads}).
   */
  Http1Server(RoutingProxy proxy, InetSocketAddress h2cBackend, long idleTimeoutMs, int loops) {
    this.proxy = proxy;
    this.h2cBackend = h2cBackend;
    this.idleTimeoutNanos = TimeUnit.MILLISECONDS.toNanos(idleTimeoutMs);
    this.loopCount = loops;
  }

  private final int loopCount;
  private final List<Http1EventLoop> loops = new ArrayList<>();
  private final List<ServerSocketChannel> channelListeners = new ArrayList<>();
  private int nextLoop;

  /**
   * Listens on {@code port} at every address (0: the first picks a free port, the others follow
   * it) and starts accepting; on failure nothing stays bound. Returns the bound port.
   */
  int start(List<String> addresses, int port) throws IOException {
    if (loopCount > 0) {
      return startLoops(addresses, port);
    }
    try {
      for (String address : addresses) {
        ServerSocket ss = new ServerSocket();
        listeners.add(ss);
        ss.setReuseAddress(true);
        ss.bind(new InetSocketAddress(InetAddress.getByName(address), port), 1024);
        port = ss.getLocalPort();
      }
    } catch (IOException e) {
      closeListeners();
      throw e;
    }
    for (ServerSocket ss : listeners) {
      daemon("gateway-accept-" + ss.getLocalSocketAddress(), () -> accept(ss));
    }
    sweeper = daemon("gateway-idle", this::sweep);
    return port;
  }

  private static Thread daemon(String name, Runnable r) {
    Thread t = new Thread(r, name);
    t.setDaemon(true);
    t.start();
    return t;
  }

  private void accept(ServerSocket ss) {
    while (!closed) {
      Socket s;
      try {
        s = ss.accept();
      } catch (IOException e) {
        if (!closed) {
          log.warn("gateway: accept on {} failed: {}", ss.getLocalSocketAddress(), e.toString());
        }
        continue;
      }
      try {
        s.setTcpNoDelay(true);
        Http1Connection c = new Http1Connection(this, s);
        open.add(c);
        if (closed) {
          c.close();
        }
        connectionThreads.newThread(c::run).start();
      } catch (IOException | RuntimeException e) {
        log.debug("gateway: dropping a connection: {}", e.toString());
        closeQuietly(s);
      }
    }
  }

  private int startLoops(List<String> addresses, int port) throws IOException {
    try {
      for (String address : addresses) {
        ServerSocketChannel ss = ServerSocketChannel.open();
        channelListeners.add(ss);
        ss.setOption(java.net.StandardSocketOptions.SO_REUSEADDR, true);
        ss.bind(new InetSocketAddress(InetAddress.getByName(address), port), 1024);
        port = ((InetSocketAddress) ss.getLocalAddress()).getPort();
      }
      for (int i = 0; i < loopCount; i++) {
        loops.add(new Http1EventLoop(this, proxy, "gateway-loop-" + i));
      }
    } catch (IOException e) {
      closeListeners();
      for (Http1EventLoop l : loops) {
        l.close();
      }
      throw e;
    }
    for (ServerSocketChannel ss : channelListeners) {
      daemon("gateway-accept-" + ss.socket().getLocalSocketAddress(), () -> acceptChannels(ss));
    }
    sweeper = daemon("gateway-idle", this::sweep);
    return port;
  }

  private void acceptChannels(ServerSocketChannel ss) {
    while (!closed) {
      SocketChannel ch;
      try {
        ch = ss.accept();
      } catch (IOException e) {
        if (!closed) {
          log.warn("gateway: accept on {} failed: {}", ss.socket().getLocalSocketAddress(), e.toString());
        }
        continue;
      }
      try {
        ch.setOption(java.net.StandardSocketOptions.TCP_NODELAY, true);
        ch.configureBlocking(false);
        Http1Connection c = new Http1Connection(this, ch.socket(), ch);
        open.add(c);
        if (closed) {
          c.close();
          continue;
        }
        loops.get(Math.floorMod(nextLoop++, loops.size())).adopt(c);
      } catch (IOException | RuntimeException e) {
        log.debug("gateway: dropping a connection: {}", e.toString());
        try {
          ch.close();
        } catch (IOException ignored) {
          // closing
        }
      }
    }
  }

  /**
   * Continues a connection an event loop hands over (its channel blocking again) on a virtual
   * thread: {@code rest} finishes the exchange the loop started (null: none), then the connection
   * is served as one accepted by the thread front end.
   */
  void resume(Http1Connection c, Runnable rest) {
    if (closed) {
      c.close();
    }
    connectionThreads.newThread(() -> c.resume(rest)).start();
  }

  /** Exchanges the event loops served themselves and the ones they handed to threads (tests). */
  long[] loopCounts() {
    long served = 0;
    long handedOff = 0;
    for (Http1EventLoop l : loops) {
      served += l.served;
      handedOff += l.handedOff;
    }
    return new long[] {served, handedOff};
  }

  void closed(Http1Connection c) {
    open.remove(c);
  }

  private void sweep() {
    while (!closed) {
      try {
        Thread.sleep(Math.min(1000, Math.max(1, TimeUnit.NANOSECONDS.toMillis(idleTimeoutNanos) / 4)));
      } catch (InterruptedException e) {
        return;
      }
      long now = System.nanoTime();
      for (Http1Connection c : open) {
        long since = c.idleSince;
        if (since != 0 && now - since > idleTimeoutNanos) {
          c.close();
          open.remove(c); // a connection on an event loop has no thread to do it
        }
      }
    }
  }

  /**
   * Hands a connection to Jetty's h2c connector: a PROXY v1 line with the client's address, the
   * bytes read so far ({@code buf[from, to)}), then both directions relayed until they close.
   */
  void handToJetty(Http1Connection c, Socket client, byte[] buf, int from, int to) throws IOException {
    Socket jetty = new Socket();
    try {
      jetty.connect(h2cBackend, 10_000);
      jetty.setTcpNoDelay(true);
    } catch (IOException e) {
      closeQuietly(jetty);
      throw e;
    }
    InetSocketAddress src = (InetSocketAddress) client.getRemoteSocketAddress();
    InetSocketAddress dst = (InetSocketAddress) client.getLocalSocketAddress();
    String family = src.getAddress() instanceof java.net.Inet6Address ? "TCP6" : "TCP4";
    byte[] proxyLine = ("PROXY " + family + " " + src.getAddress().getHostAddress() + " " + dst.getAddress().getHostAddress()
        + " " + src.getPort() + " " + dst.getPort() + "\r\n").getBytes(StandardCharsets.ISO_8859_1);
    byte[] first = new byte[proxyLine.length + (to - from)];
    System.arraycopy(proxyLine, 0, first, 0, proxyLine.length);
    System.arraycopy(buf, from, first, proxyLine.length, to - from);
    open.remove(c);
    tunnel(client, first, jetty, new byte[0], () -> { });
  }

  /**
   * {@link #relay} of a client connection this server accepted: closing the server cuts it too
   * (a tunnel left open would also hold Jetty's graceful stop to its timeout).
   */
  void tunnel(Socket client, byte[] toOther, Socket other, byte[] toClient, Runnable done) {
    tunnels.add(client);
    relay(client, toOther, other, toClient, () -> {
      tunnels.remove(client);
      done.run();
    });
    if (closed) {
      closeQuietly(client); // closed while it was being handed over
    }
  }

  /**
   * Relays bytes both ways between {@code client} and {@code other} on two virtual threads:
   * {@code toOther} is sent to {@code other} first, {@code toClient} to the client. A side's end
   * of stream half-closes the other; when both directions ended (or one failed) both sockets are
   * closed and {@code done} runs once.
   */
  static void relay(Socket client, byte[] toOther, Socket other, byte[] toClient, Runnable done) {
    AtomicInteger open = new AtomicInteger(2);
    Runnable end = () -> {
      if (open.decrementAndGet() == 0) {
        closeQuietly(client);
        closeQuietly(other);
        done.run();
      }
    };
    Thread.ofVirtual().name("gateway-tunnel").start(() -> pump(client, other, toOther, end));
    Thread.ofVirtual().name("gateway-tunnel").start(() -> pump(other, client, toClient, end));
  }

  private static void pump(Socket from, Socket to, byte[] first, Runnable end) {
    try {
      OutputStream out = to.getOutputStream();
      if (first.length > 0) {
        out.write(first);
        out.flush();
      }
      InputStream in = from.getInputStream();
      byte[] b = new byte[16 * 1024];
      int n;
      while ((n = in.read(b)) >= 0) {
        if (n > 0) {
          out.write(b, 0, n);
        }
      }
      to.shutdownOutput();
    } catch (IOException e) {
      // One side failed: cut both.
      closeQuietly(from);
      closeQuietly(to);
    } finally {
      end.run();
    }
  }

  static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException ignored) {
      // closing
    }
  }

  private void closeListeners() {
    for (ServerSocketChannel ss : channelListeners) {
      try {
        ss.close();
      } catch (IOException ignored) {
        // closing
      }
    }
    for (ServerSocket ss : listeners) {
      try {
        ss.close();
      } catch (IOException ignored) {
        // closing
      }
    }
  }

  /** Stops accepting and closes every connection and tunnel (requests in flight fail). */
  @Override
  public void close() {
    closed = true;
    closeListeners();
    if (sweeper != null) {
      sweeper.interrupt();
    }
    for (Http1EventLoop l : loops) {
      l.close();
    }
    for (Http1Connection c : open) {
      c.close();
    }
    for (Socket s : tunnels) {
      closeQuietly(s); // both pumps end and close the other side
    }
  }
}
