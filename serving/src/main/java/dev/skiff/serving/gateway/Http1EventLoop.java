package dev.skiff.serving.gateway;

import java.io.EOFException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.util.BufferUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The fast path of the gateway's HTTP/1.1 front end ({@link Http1Server}, the default
 * {@code gateway.frontend=loop}): one platform thread with a {@link Selector} serves the common
 * exchange on non-blocking channels, with no thread wake-up at all. A request costs about four
 * socket calls (read the client, write the pod, read the pod, write the client), and one
 * {@code epoll_wait} is shared by every connection that became ready meanwhile. On the 2-core
 * benchmark the virtual-thread front end spent ~20% of the gateway's CPU parking and unparking
 * (a read that would block: EAGAIN, poller registration, poller wake-up, carrier futex wake-up).
 *
 * <p>The fast path: a complete request head without a body, or with a small Content-Length body
 * already read, and no {@code Upgrade}, {@code Expect}, h2c preface or drain hook; routed with
 * {@link RoutingProxy#route} (the calls {@link RoutingProxy#handle} makes) to a pod slot that is
 * free at once on a verified HTTP/1.1 pod. The request goes (with the same forwarded headers,
 * {@link RoutingProxy#forwardedHeaders}) on a pooled non-blocking keep-alive connection to the
 * pod; a response with a Content-Length body that fits the 16 KiB buffer goes to the client in
 * one write through the connection's own response code ({@link Http1Connection#write}). The
 * revision's timeoutSeconds is enforced as on the thread path: 504 when no response byte came by
 * the deadline (checked every {@value #SWEEP_MS} ms), never cut once started. A pooled connection
 * the pod closed is retried once on a new one (the request had no body and got no byte back).
 *
 * <p>Anything else goes to the thread path with the bytes already read: the channels are
 * deregistered, made blocking again, and a virtual thread continues the connection
 * ({@link Http1Connection#resume}) — from the buffered head (errors, upgrades, h2c, bodies to
 * stream, unknown hosts), after the routing (a revision at zero, a queue for
 * containerConcurrency, a pod not yet verified: {@link RoutingProxy#continueRouted}) or in the
 * middle of the response (chunked, large, close-delimited or interim responses:
 * {@link Http1Upstream#continueResponse}). Such a connection stays on its thread, as before.
 *
 * <p>Thread-safe: {@link #adopt} and {@link #close} may be called from any thread; everything
 * else runs on the loop's thread.
 */
final class Http1EventLoop implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(Http1EventLoop.class);
  /** How often deadlines are checked while exchanges are in flight (deadlines are whole seconds). */
  static final long SWEEP_MS = 20;
  /** The response buffer per pod connection: a response that does not fit goes to a thread. */
  private static final int RESPONSE_BUFFER = 16 * 1024;

  private final Http1Server server;
  private final RoutingProxy proxy;
  private final Selector selector;
  private final Thread thread;
  private final ConcurrentLinkedQueue<Http1Connection> incoming = new ConcurrentLinkedQueue<>();
  /** Idle pod connections per pod, LIFO (the loop's own: they are non-blocking and registered). */
  private final Map<RevisionBackend.Endpoint, ArrayDeque<Upstream>> idle = new HashMap<>();
  /** Hand-overs whose keys were cancelled; run after the next select deregistered them. */
  private List<Runnable> handoffs = new ArrayList<>();
  private List<Runnable> handoffsReady = new ArrayList<>();
  private int inFlight;
  private long lastSweep = System.nanoTime();
  private volatile boolean closed;
  /** Exchanges the loop completed itself, and hand-overs to threads (for tests; one writer). */
  volatile long served;
  volatile long handedOff;

  Http1EventLoop(Http1Server server, RoutingProxy proxy, String name) throws IOException {
    this.server = server;
    this.proxy = proxy;
    this.selector = Selector.open();
    this.thread = new Thread(this::run, name);
    thread.setDaemon(true);
    thread.start();
  }

  /** Serves a newly accepted connection (its channel non-blocking) on this loop. */
  void adopt(Http1Connection c) {
    c.loop = this;
    incoming.add(c);
    selector.wakeup();
    if (closed && incoming.remove(c)) {
      c.close(); // the loop is gone (the server stopped)
      server.closed(c);
    }
  }

  /** A client connection on the loop. */
  private static final class Client {
    final Http1Connection c;
    SelectionKey key;
    /** The exchange in flight, if any. */
    Upstream up;
    /** The client shut its side: no more requests after the buffered ones. */
    boolean eof;
    /** Close once the pending output is written. */
    boolean closeAfterFlush;

    Client(Http1Connection c) {
      this.c = c;
    }
  }

  /** A non-blocking connection to a pod, idle in the loop's pool or carrying one exchange. */
  private static final class Upstream {
    final SocketChannel ch;
    final RevisionBackend.Endpoint ep;
    SelectionKey key;
    final byte[] buf = new byte[RESPONSE_BUFFER];
    ByteBuffer in;
    int lim;
    ByteBuffer out;
    boolean connecting;
    boolean reused;
    // The exchange.
    Client client;
    Runnable done;
    long deadline;
    /** No response byte yet: the deadline applies. */
    boolean awaiting;
    boolean headRequest;
    boolean hasBody;
    byte[] request;

    Upstream(SocketChannel ch, RevisionBackend.Endpoint ep) {
      this.ch = ch;
      this.ep = ep;
      this.in = ByteBuffer.wrap(buf);
    }

    void close() {
      try {
        ch.close();
      } catch (IOException ignored) {
        // closing
      }
    }
  }

  private void run() {
    try {
      while (!closed) {
        List<Runnable> ready = handoffs;
        handoffs = handoffsReady;
        handoffsReady = ready;
        if (!ready.isEmpty()) {
          selector.selectNow(this::onKey); // deregisters the cancelled keys of the hand-overs
        } else {
          selector.select(this::onKey, inFlight > 0 ? SWEEP_MS : 1000);
        }
        for (Runnable r : ready) {
          try {
            r.run();
          } catch (RuntimeException e) {
            log.warn("gateway event loop: a hand-over failed", e);
          }
        }
        ready.clear();
        Http1Connection c;
        while ((c = incoming.poll()) != null) {
          register(c);
        }
        if (inFlight > 0) {
          long now = System.nanoTime();
          if (now - lastSweep >= TimeUnit.MILLISECONDS.toNanos(SWEEP_MS)) {
            lastSweep = now;
            sweepDeadlines(now);
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      if (!closed) {
        log.error("gateway event loop failed", e);
      }
    } finally {
      closeAll();
    }
  }

  private void register(Http1Connection c) {
    if (closed) {
      c.close();
      return;
    }
    Client cl = new Client(c);
    try {
      cl.key = c.channel.register(selector, SelectionKey.OP_READ, cl);
    } catch (IOException | RuntimeException e) {
      closeClient(cl);
      return;
    }
    if (c.hasBufferedInput()) {
      serveBuffered(cl); // back from a thread with a pipelined request
    } else {
      c.idleSince = System.nanoTime();
    }
  }

  private void onKey(SelectionKey k) {
    Object a = k.attachment();
    try {
      if (a instanceof Client cl) {
        if (k.isValid() && k.isWritable()) {
          onClientWritable(cl);
        }
        if (k.isValid() && k.isReadable()) {
          onClientReadable(cl);
        }
      } else if (a instanceof Upstream u) {
        if (k.isValid() && k.isConnectable()) {
          onConnected(u);
        }
        if (k.isValid() && k.isWritable()) {
          writeRequest(u);
        }
        if (k.isValid() && k.isReadable()) {
          onUpstreamReadable(u);
        }
      }
    } catch (CancelledKeyException e) {
      // closed meanwhile (the idle sweeper, or a failure handled above)
    } catch (RuntimeException e) {
      // A bug must cost one connection, as on a thread, not the loop and all its connections.
      log.warn("gateway event loop: dropping a connection after a failure", e);
      Client cl = a instanceof Client c ? c : a instanceof Upstream u ? u.client : null;
      if (a instanceof Upstream u) {
        u.close();
        if (cl != null && cl.up == u) {
          cl.up = null;
          inFlight--;
          u.done.run();
        }
      }
      if (cl != null) {
        closeClient(cl);
      }
    }
  }

  // ---- Client side ----

  private void onClientReadable(Client cl) {
    Http1Connection c = cl.c;
    int n;
    try {
      n = c.loopRead();
    } catch (IOException e) {
      if (cl.up != null) {
        cl.eof = true; // the exchange ends and finds the connection broken
        cl.key.interestOps(0);
        return;
      }
      closeClient(cl);
      return;
    }
    if (n < 0) {
      cl.eof = true;
      cl.key.interestOps(cl.key.interestOps() & ~SelectionKey.OP_READ); // at EOF it stays readable
    } else if (n == 0 && c.inputFull()) {
      cl.key.interestOps(cl.key.interestOps() & ~SelectionKey.OP_READ); // until a request is served
    }
    if (cl.up == null && !c.hasPendingOutput()) {
      serveBuffered(cl);
    }
  }

  private void onClientWritable(Client cl) {
    try {
      if (!cl.c.flushPending()) {
        return;
      }
    } catch (IOException e) {
      closeClient(cl);
      return;
    }
    if (cl.closeAfterFlush) {
      closeClient(cl);
      return;
    }
    cl.key.interestOps(cl.eof ? 0 : SelectionKey.OP_READ);
    if (cl.up == null) {
      serveBuffered(cl);
    }
  }

  /** Serves the complete requests in the client's buffer, one exchange at a time. */
  private void serveBuffered(Client cl) {
    Http1Connection c = cl.c;
    if (!cl.eof && (cl.key.interestOps() & SelectionKey.OP_READ) == 0 && !c.hasPendingOutput()) {
      cl.key.interestOps(SelectionKey.OP_READ); // reading was paused while the buffer was full
    }
    int end = c.loopHeadEnd();
    if (end == -1) {
      if (cl.eof) {
        closeClient(cl); // closed between requests (or mid-head, as the thread path does)
      } else if (c.idleSince == 0) {
        c.idleSince = System.nanoTime();
      }
      return;
    }
    c.idleSince = 0;
    if (end == -2) {
      handOff(cl, null); // a thread answers 431
      return;
    }
    try {
      c.parse(end, false);
    } catch (IOException e) {
      c.rewind();
      handOff(cl, null); // a thread answers the error (or hands h2c to Jetty) exactly as before
      return;
    }
    if (!c.loopEligible() || !proxy.useHttp1Upstream) {
      c.rewind();
      handOff(cl, null);
      return;
    }
    RoutingProxy.Routed r = proxy.route(c);
    if (r == null) {
      c.rewind();
      handOff(cl, null); // unknown host: the thread's handle() answers 404
      return;
    }
    RevisionBackend.Endpoint ep = r.ep();
    if (ep == null || !ep.verified || ep.h2c) {
      handOff(cl, () -> proxy.continueRouted(c, r)); // waiting, probing, HTTP/2 pods
      return;
    }
    byte[] body = c.takeBody();
    byte[] head = Http1Upstream.head(c, RoutingProxy.forwardedHeaders(c, r.host()), body != null);
    byte[] request = head;
    if (body != null) {
      request = java.util.Arrays.copyOf(head, head.length + body.length);
      System.arraycopy(body, 0, request, head.length, body.length);
    }
    Upstream u;
    try {
      u = takeIdle(ep);
      if (u == null) {
        u = connect(ep);
      }
    } catch (IOException e) {
      RoutingProxy.done(r.b(), ep).run();
      errorResponse(cl, HttpStatus.BAD_GATEWAY_502, "the revision's pod failed: " + e.getMessage());
      return;
    }
    u.client = cl;
    u.done = RoutingProxy.done(r.b(), ep);
    u.deadline = r.deadline();
    u.awaiting = true;
    u.headRequest = "HEAD".equals(c.method());
    u.hasBody = body != null;
    u.request = request;
    cl.up = u;
    inFlight++;
    send(u);
  }

  /** Answers a small error on the loop (as {@link Http1Connection#sendError}) and goes on. */
  private void errorResponse(Client cl, int status, String message) {
    served++;
    cl.c.responseHeaders().clear();
    cl.c.sendError(status, message);
    afterExchange(cl);
  }

  /** The exchange ended: the next buffered request, or close. */
  private void afterExchange(Client cl) {
    Http1Connection c = cl.c;
    if (!c.afterExchange()) {
      if (c.hasPendingOutput()) {
        cl.closeAfterFlush = true;
        cl.key.interestOps(SelectionKey.OP_WRITE);
      } else {
        closeClient(cl);
      }
      return;
    }
    if (c.hasPendingOutput()) {
      cl.key.interestOps(SelectionKey.OP_WRITE);
      return;
    }
    serveBuffered(cl);
  }

  /**
   * Continues the connection on a virtual thread, the channel blocking again: {@code rest}
   * (null: none) first, then as {@link Http1Connection#run}.
   */
  private void handOff(Client cl, Runnable rest) {
    handedOff++;
    cl.key.cancel();
    Http1Connection c = cl.c;
    handoffs.add(() -> {
      try {
        c.channel.configureBlocking(true);
      } catch (IOException | RuntimeException e) {
        // Closed meanwhile: the thread's first I/O fails and it ends the exchange as usual.
        log.debug("gateway: handing a connection over: {}", e.toString());
      }
      server.resume(c, rest);
    });
  }

  private void closeClient(Client cl) {
    if (cl.up != null) {
      Upstream u = cl.up;
      cl.up = null;
      inFlight--;
      u.close();
      u.done.run();
    }
    cl.c.close();
    server.closed(cl.c);
  }

  // ---- Pod side ----

  private Upstream takeIdle(RevisionBackend.Endpoint ep) {
    ArrayDeque<Upstream> q = idle.get(ep);
    if (q == null) {
      return null;
    }
    if (ep.pool.closed()) { // the pod left the Ready set
      idle.remove(ep);
      for (Upstream u : q) {
        u.close();
      }
      return null;
    }
    return q.pollFirst();
  }

  private void giveBack(Upstream u) {
    u.client = null;
    u.done = null;
    u.request = null;
    u.out = null;
    u.reused = true;
    u.lim = 0;
    if (u.ep.pool.closed() || closed) {
      u.close();
      return;
    }
    ArrayDeque<Upstream> q = idle.computeIfAbsent(u.ep, k -> new ArrayDeque<>());
    if (q.size() >= Http1Upstream.MAX_IDLE) {
      u.close();
      return;
    }
    q.addFirst(u);
  }

  private Upstream connect(RevisionBackend.Endpoint ep) throws IOException {
    SocketChannel ch = SocketChannel.open();
    try {
      ch.configureBlocking(false);
      ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
      Upstream u = new Upstream(ch, ep);
      u.connecting = !ch.connect(new InetSocketAddress(ep.host.replace("[", "").replace("]", ""), ep.port));
      u.key = ch.register(selector, u.connecting ? SelectionKey.OP_CONNECT : SelectionKey.OP_READ, u);
      return u;
    } catch (IOException | RuntimeException e) {
      ch.close();
      throw e;
    }
  }

  private void onConnected(Upstream u) {
    try {
      u.ch.finishConnect();
    } catch (IOException e) {
      failExchange(u, e);
      return;
    }
    u.connecting = false;
    u.key.interestOps(SelectionKey.OP_READ);
    if (u.client != null) {
      send(u);
    }
  }

  private void send(Upstream u) {
    if (u.connecting) {
      return; // sent once connected
    }
    u.out = ByteBuffer.wrap(u.request);
    writeRequest(u);
  }

  private void writeRequest(Upstream u) {
    if (u.out == null) {
      return;
    }
    try {
      u.ch.write(u.out);
    } catch (IOException e) {
      retryOrFail(u, e);
      return;
    }
    if (u.out.hasRemaining()) {
      u.key.interestOps(SelectionKey.OP_READ | SelectionKey.OP_WRITE);
    } else {
      u.out = null;
      if ((u.key.interestOps() & SelectionKey.OP_WRITE) != 0) {
        u.key.interestOps(SelectionKey.OP_READ);
      }
    }
  }

  private void onUpstreamReadable(Upstream u) {
    if (u.client == null) {
      // Idle in the pool: the pod closed it (or sent something unasked). Either way it is done.
      ArrayDeque<Upstream> q = idle.get(u.ep);
      if (q != null) {
        q.remove(u);
      }
      u.close();
      return;
    }
    int n;
    try {
      u.in.limit(u.buf.length).position(u.lim);
      n = u.ch.read(u.in);
    } catch (IOException e) {
      retryOrFail(u, e);
      return;
    }
    if (n < 0) {
      retryOrFail(u, new EOFException("the pod closed the connection"));
      return;
    }
    if (n == 0) {
      return;
    }
    u.lim += n;
    u.awaiting = false; // the response started: never cut for time (timeout.go)
    respond(u);
  }

  /**
   * A failure before any response byte: a reused connection, a request without a body, the first
   * attempt: once more on a new connection, as the thread path does. Else 502.
   */
  private void retryOrFail(Upstream u, IOException e) {
    if (u.lim == 0 && u.reused && !u.hasBody && u.awaiting) {
      Client cl = u.client;
      u.close();
      Upstream v;
      try {
        v = connect(u.ep);
      } catch (IOException e2) {
        failExchange(u, e2);
        return;
      }
      v.reused = false; // no second retry: only a reused connection is retried
      v.client = cl;
      v.done = u.done;
      v.deadline = u.deadline;
      v.awaiting = true;
      v.headRequest = u.headRequest;
      v.hasBody = u.hasBody;
      v.request = u.request;
      cl.up = v;
      send(v);
      return;
    }
    failExchange(u, e);
  }

  /** The exchange failed: 502 when nothing was written to the client (always, on this path). */
  private void failExchange(Upstream u, IOException e) {
    u.close();
    Client cl = u.client;
    u.client = null;
    if (cl == null) {
      return;
    }
    cl.up = null;
    inFlight--;
    u.done.run();
    if (u.lim > 0) {
      log.debug("gateway: the pod failed mid-response: {}", e.toString());
    }
    errorResponse(cl, HttpStatus.BAD_GATEWAY_502, "the revision's pod failed: " + e.getMessage());
  }

  private void sweepDeadlines(long now) {
    List<Upstream> late = null;
    for (SelectionKey k : selector.keys()) {
      if (k.attachment() instanceof Upstream u && u.client != null && u.awaiting && now - u.deadline >= 0) {
        if (late == null) {
          late = new ArrayList<>();
        }
        late.add(u);
      }
    }
    if (late != null) {
      for (Upstream u : late) {
        u.close();
        Client cl = u.client;
        u.client = null;
        cl.up = null;
        inFlight--;
        u.done.run();
        errorResponse(cl, HttpStatus.GATEWAY_TIMEOUT_504, "request timeout");
      }
    }
  }

  /**
   * The response bytes so far: when the whole response (head and Content-Length body) is there,
   * writes it to the client and ends the exchange; when it is one the loop does not serve
   * (chunked, close-delimited, too large, interim), hands both connections to a thread.
   */
  private void respond(Upstream u) {
    byte[] b = u.buf;
    int lim = u.lim;
    int headEnd = -1;
    for (int i = 0; i < lim; i++) {
      if (b[i] == '\n' && i > 0 && (b[i - 1] == '\n' || (b[i - 1] == '\r' && i >= 2 && b[i - 2] == '\n'))) {
        headEnd = i + 1;
        break;
      }
    }
    if (headEnd < 0) {
      if (lim == b.length) {
        handOffResponse(u); // a head over 16 KiB
      }
      return;
    }
    // Status line: "HTTP/1.1 200 OK".
    int eol = lineEnd(b, 0, headEnd);
    String status = new String(b, 0, trimCr(b, 0, eol), StandardCharsets.ISO_8859_1);
    int sp = status.indexOf(' ');
    if (sp < 0 || !status.startsWith("HTTP/")) {
      failExchange(u, new IOException("bad status line from the pod: " + status));
      return;
    }
    int code;
    try {
      int end = status.indexOf(' ', sp + 1);
      code = Integer.parseInt(end < 0 ? status.substring(sp + 1).trim() : status.substring(sp + 1, end));
    } catch (NumberFormatException e) {
      failExchange(u, new IOException("bad status line from the pod: " + status));
      return;
    }
    if (code < 200) {
      handOffResponse(u); // 100 Continue and other interim answers
      return;
    }
    boolean http10 = status.startsWith("HTTP/1.0");
    long contentLength = -1;
    boolean chunked = false;
    boolean close = http10;
    String connection = null;
    List<String> names = new ArrayList<>(16);
    List<String> values = new ArrayList<>(16);
    int p = eol + 1;
    while (p < headEnd) {
      int e = lineEnd(b, p, headEnd);
      int end = trimCr(b, p, e);
      if (end == 0 || end == p) {
        break;
      }
      int colon = p;
      while (colon < end && b[colon] != ':') {
        colon++;
      }
      if (colon < end && colon > p) {
        String name = new String(b, p, colon - p, StandardCharsets.ISO_8859_1).trim();
        String value = new String(b, colon + 1, end - colon - 1, StandardCharsets.ISO_8859_1).trim();
        if (name.equalsIgnoreCase("content-length")) {
          try {
            contentLength = Long.parseLong(value);
          } catch (NumberFormatException ex) {
            failExchange(u, new IOException("bad Content-Length from the pod: " + value));
            return;
          }
        } else if (name.equalsIgnoreCase("transfer-encoding")) {
          chunked = value.toLowerCase(Locale.ROOT).endsWith("chunked");
        } else if (name.equalsIgnoreCase("connection")) {
          connection = connection == null ? value : connection + "," + value;
          String v = value.toLowerCase(Locale.ROOT);
          if (v.contains("close")) {
            close = true;
          } else if (http10 && v.contains("keep-alive")) {
            close = false;
          }
        }
        names.add(name);
        values.add(value);
      }
      p = e + 1;
    }
    boolean noBody = u.headRequest || code == 204 || code == 304;
    int bodyLength = 0;
    if (!noBody) {
      if (chunked || contentLength < 0 || headEnd + contentLength > b.length) {
        handOffResponse(u); // streamed by a thread
        return;
      }
      bodyLength = (int) contentLength;
      if (lim < headEnd + bodyLength) {
        return; // more to come
      }
    }
    if (lim > headEnd + bodyLength) {
      close = true; // bytes nobody asked for: do not reuse the connection
    }
    Client cl = u.client;
    Http1Connection c = cl.c;
    Set<String> tokens = connection == null ? Set.of() : tokens(connection);
    c.setStatus(code);
    for (int i = 0; i < names.size(); i++) {
      String name = names.get(i);
      if (!RoutingProxy.isHopByHop(name) && (tokens.isEmpty() || !tokens.contains(name.toLowerCase(Locale.ROOT)))) {
        c.responseHeaders().add(name, values.get(i));
      }
    }
    cl.up = null;
    u.client = null;
    inFlight--;
    Runnable done = u.done;
    if (close) {
      u.close();
    } else {
      giveBack(u);
    }
    served++; // before the client can see the answer
    try {
      c.write(true, noBody ? BufferUtil.EMPTY_BUFFER : ByteBuffer.wrap(b, headEnd, bodyLength));
    } catch (IOException e) {
      done.run();
      c.failed(e);
      closeClient(cl);
      return;
    }
    done.run();
    c.succeeded();
    afterExchange(cl);
  }

  private static int lineEnd(byte[] b, int from, int to) {
    int i = from;
    while (i < to && b[i] != '\n') {
      i++;
    }
    return i;
  }

  private static int trimCr(byte[] b, int from, int eol) {
    return eol > from && b[eol - 1] == '\r' ? eol - 1 : eol;
  }

  private static Set<String> tokens(String connection) {
    Set<String> out = new java.util.HashSet<>();
    for (String t : connection.split(",")) {
      out.add(t.trim().toLowerCase(Locale.ROOT));
    }
    return out;
  }

  /** Hands the client and the pod connection, mid-response, to a thread that relays the rest. */
  private void handOffResponse(Upstream u) {
    Client cl = u.client;
    cl.up = null;
    u.client = null;
    inFlight--;
    handedOff++;
    u.key.cancel();
    cl.key.cancel();
    Http1Connection c = cl.c;
    Runnable done = u.done;
    boolean head = u.headRequest;
    handoffs.add(() -> {
      Http1Upstream.Conn conn = null;
      try {
        u.ch.configureBlocking(true);
        c.channel.configureBlocking(true);
        conn = new Http1Upstream.Conn(u.ch.socket(), u.buf, u.lim, u.reused);
      } catch (IOException | RuntimeException e) {
        log.debug("gateway: handing a response over: {}", e.toString());
        if (conn == null) {
          u.close();
        }
      }
      Http1Upstream.Conn pod = conn;
      server.resume(c, () -> {
        if (pod == null) {
          done.run();
          c.failed(new IOException("the pod connection was lost"));
          return;
        }
        Http1Upstream.continueResponse(pod, c, head, u.ep, done);
      });
    });
  }

  private void closeAll() {
    try {
      for (SelectionKey k : selector.keys()) {
        if (k.attachment() instanceof Client cl) {
          closeClient(cl);
        } else if (k.attachment() instanceof Upstream u) {
          u.close();
        }
      }
      for (Runnable r : handoffs) {
        r.run(); // their threads find the server closed
      }
      Http1Connection c;
      while ((c = incoming.poll()) != null) {
        c.close();
        server.closed(c);
      }
      idle.clear();
      selector.close();
    } catch (IOException | RuntimeException e) {
      log.debug("gateway event loop: closing: {}", e.toString());
    }
  }

  /** Stops the loop; it closes every connection it serves (exchanges in flight fail). */
  @Override
  public void close() {
    closed = true;
    selector.wakeup();
    try {
      thread.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
