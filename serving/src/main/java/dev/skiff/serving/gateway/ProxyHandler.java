package dev.skiff.serving.gateway;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway's request path: Host -> Route traffic split -> revision -> a pod slot (waiting
 * while the revision is at zero or at its containerConcurrency) -> the pod, streaming the
 * bodies both ways. Adds Forwarded / X-Forwarded-For / -Proto / -Host and X-Request-Id, drops
 * hop-by-hop headers (RFC 9110 §7.6.1, including those named in Connection), answers 504 when
 * the pod has not started its response within the revision's timeoutSeconds, and passes
 * {@code Upgrade} requests (WebSocket) through as a byte tunnel ({@link UpgradeTunnel}).
 * Requests to a pod whose port is named {@code h2c} go out as HTTP/2 (prior knowledge).
 * Thread-safe. Jetty runs the handler on a virtual thread (the handler is "blocking", so Jetty
 * dispatches it off the selector and both cores share the work); the common case (a verified pod
 * with a free slot) then forwards asynchronously without waiting, and a request that must wait
 * (breaker queue, activator hold, probing a fresh pod, a tunnel) blocks only its own virtual
 * thread.
 */
final class ProxyHandler extends Handler.Abstract {
  private static final Logger log = LoggerFactory.getLogger(ProxyHandler.class);
  static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "proxy-connection", "proxy-authenticate",
      "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "http2-settings");

  private final ServingView view;
  private final HttpClient http1;
  private final HttpClient h2c;
  private final Consumer<RevisionBackend> activator;
  private final Scheduler scheduler;
  /** Jetty's HttpClient for HTTP/1.1 pods too when false ({@code gateway.upstream=jetty}). */
  volatile boolean useHttp1Upstream = true;

  ProxyHandler(ServingView view, HttpClient http1, HttpClient h2c, Consumer<RevisionBackend> activator, Scheduler scheduler) {
    this.view = view;
    this.http1 = http1;
    this.h2c = h2c;
    this.activator = activator;
    this.scheduler = scheduler;
  }

  /** How long a drain waits for the Pod informer to show the pod terminating. */
  static final long DRAIN_SEEN_TIMEOUT_MS = 2000;
  /**
   * After the gateway saw the pod terminating: the time a request that picked the pod just
   * before needs to count itself in flight (microseconds; generous).
   */
  static final long DRAIN_SETTLE_MS = 100;

  @Override
  public boolean handle(Request req, Response resp, Callback cb) {
    String drain = req.getHeaders().get(Gateway.DRAIN_HEADER);
    if (drain != null && Gateway.DRAIN_PATH.equals(req.getHttpURI().getPath())) {
      if (Thread.currentThread().isVirtual()) {
        drain(req, resp, cb, drain);
      } else {
        Thread.ofVirtual().name("gateway-drain").start(() -> drain(req, resp, cb, drain));
      }
      return true;
    }
    String host = Request.getServerName(req);
    TrafficSplit split = view.lookup(host);
    if (split == null && req.getHeaders().get(HttpHeader.HOST) != null) {
      // HTTP/2 clients may carry the route's name in a Host field next to :authority.
      host = req.getHeaders().get(HttpHeader.HOST);
      split = view.lookup(host);
    }
    TrafficSplit.Target target = split == null ? null : split.pick();
    if (target == null) {
      Response.writeError(req, resp, cb, HttpStatus.NOT_FOUND_404, "no Route serves host " + host);
      return true;
    }
    RevisionBackend b = view.backend(target.namespace(), target.revision());
    b.requestStarted();
    long deadline = RevisionBackend.deadline(b.timeoutSeconds);
    String upgrade = req.getHeaders().get(HttpHeader.UPGRADE);
    boolean tunnel = upgrade != null && !"h2c".equalsIgnoreCase(upgrade)
        && req.getConnectionMetaData().getHttpVersion() == HttpVersion.HTTP_1_1;
    // Fast path, on the calling (selector or pool) thread without blocking: a verified pod has
    // a free slot now and no request is queued before this one.
    RevisionBackend.Endpoint ep = tunnel ? null : b.tryAcquire();
    if (ep != null && ep.verified) {
      forward(req, resp, cb, ep, host, deadline, done(b, ep));
      return true;
    }
    // Slow path on a virtual thread: probe a fresh pod, wait in the breaker's queue or the
    // activator's hold, or run a tunnel.
    String h = host;
    RevisionBackend.Endpoint fresh = ep;
    Runnable slow = () -> {
      if (fresh != null) {
        probeAndForward(req, resp, cb, b, fresh, h, deadline, false);
      } else {
        waitAndForward(req, resp, cb, b, h, deadline, tunnel);
      }
    };
    if (Thread.currentThread().isVirtual()) {
      slow.run();
    } else {
      Thread.ofVirtual().name("gateway-wait").start(slow);
    }
    return true;
  }

  /**
   * The drain hook (Knative queue-proxy's {@code /wait-for-drain}, pkg/queue/sharedmain): the
   * kubelet calls it before it sends SIGTERM to a terminating pod of the revision. Answers 200
   * once (1) the Pod informer shows a terminating pod of the revision, so the gateway sends it no
   * new request (at most {@value #DRAIN_SEEN_TIMEOUT_MS} ms: a gateway that lags still lets the
   * pod go), then (2) every request the gateway sent to pods that left the revision's Ready set
   * has completed, up to the revision's timeoutSeconds (the kubelet's grace period bounds it
   * anyway). Knative's queue-proxy sleeps drainSleepDuration (30 s) so remote load balancers
   * notice; our only load balancer is this in-process gateway, which learns from the Pod watch
   * within milliseconds, so waiting for "seen and idle" replaces the fixed sleep. Loopback
   * clients only; blocks a virtual thread.
   */
  private void drain(Request req, Response resp, Callback cb, String revision) {
    if (!isLoopback(req)) {
      Response.writeError(req, resp, cb, HttpStatus.FORBIDDEN_403, "drain requests are accepted from this host only");
      return;
    }
    int slash = revision.indexOf('/');
    if (slash <= 0) {
      Response.writeError(req, resp, cb, HttpStatus.BAD_REQUEST_400, "expected <namespace>/<revision>");
      return;
    }
    String ns = revision.substring(0, slash);
    String rev = revision.substring(slash + 1);
    try {
      long seenBy = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(DRAIN_SEEN_TIMEOUT_MS);
      while (!view.sawTerminatingPod(ns, rev) && System.nanoTime() < seenBy) {
        Thread.sleep(5);
      }
      Thread.sleep(DRAIN_SETTLE_MS);
      RevisionBackend b = view.existingBackend(ns, rev);
      long deadline = RevisionBackend.deadline(b == null ? 1 : b.timeoutSeconds);
      while (b != null && b.drainingInFlight() > 0 && System.nanoTime() < deadline) {
        Thread.sleep(10);
      }
      int left = b == null ? 0 : b.drainingInFlight();
      resp.setStatus(HttpStatus.OK_200);
      resp.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain");
      Content.Sink.write(resp, true, left == 0 ? "drained\n" : "gave up with " + left + " in flight\n", cb);
    } catch (InterruptedException e) {
      Response.writeError(req, resp, cb, HttpStatus.SERVICE_UNAVAILABLE_503, "gateway shutting down");
    }
  }

  private static boolean isLoopback(Request req) {
    SocketAddress a = req.getConnectionMetaData().getRemoteSocketAddress();
    return a instanceof InetSocketAddress i && i.getAddress() != null && i.getAddress().isLoopbackAddress();
  }

  private static Runnable done(RevisionBackend b, RevisionBackend.Endpoint ep) {
    return once(() -> {
      b.release(ep);
      b.requestDone();
    });
  }

  private void waitAndForward(Request req, Response resp, Callback cb, RevisionBackend b, String host, long deadline,
      boolean tunnel) {
    RevisionBackend.Lease lease;
    try {
      lease = b.acquire(deadline, activator);
    } catch (InterruptedException e) {
      b.requestDone();
      Response.writeError(req, resp, cb, HttpStatus.SERVICE_UNAVAILABLE_503, "gateway shutting down");
      return;
    }
    if (lease.failure() != null) {
      b.requestDone();
      // The activator answers 503 when no pod came up in time (handler.go); the queue-proxy's
      // timeout handler answers 504 when the response did not start in time (timeout.go).
      int status = switch (lease.failure()) {
        case NO_PODS_TIMEOUT, QUEUE_FULL -> HttpStatus.SERVICE_UNAVAILABLE_503;
        case BUSY_TIMEOUT -> HttpStatus.GATEWAY_TIMEOUT_504;
      };
      Response.writeError(req, resp, cb, status, status == 504 ? "request timeout" : "no ready pod for revision " + b.name);
      return;
    }
    probeAndForward(req, resp, cb, b, lease.endpoint(), host, deadline, tunnel);
  }

  /** With a slot on {@code ep}: waits until a fresh pod accepts connections, then sends. */
  private void probeAndForward(Request req, Response resp, Callback cb, RevisionBackend b, RevisionBackend.Endpoint ep,
      String host, long deadline, boolean tunnel) {
    Runnable done = done(b, ep);
    // The probe's connection becomes the first pooled one for HTTP/1.1 (no second connect; a
    // single-threaded app is not kept busy by an idle probe socket).
    boolean keep = !tunnel && !ep.h2c && useHttp1Upstream;
    if (!ep.verified && !awaitListening(ep, deadline, keep)) {
      done.run();
      Response.writeError(req, resp, cb, HttpStatus.GATEWAY_TIMEOUT_504, "the revision's pod did not accept connections in time");
      return;
    }
    if (tunnel) {
      UpgradeTunnel.start(req, resp, cb, ep, forwardedHeaders(req, host), deadline, done);
      return;
    }
    forward(req, resp, cb, ep, host, deadline, done);
  }

  private void forward(Request req, Response resp, Callback cb, RevisionBackend.Endpoint ep, String host,
      long deadlineNanos, Runnable done) {
    if (!ep.h2c && useHttp1Upstream) {
      // HTTP/1.1 to the pod: pooled sockets, blocking on this request's virtual thread.
      HttpFields.Mutable fields = forwardedHeaders(req, host);
      boolean body = hasBody(req);
      if (Thread.currentThread().isVirtual()) {
        Http1Upstream.exchange(req, resp, cb, ep, fields, body, deadlineNanos, done);
      } else {
        Thread.ofVirtual().name("gateway-forward").start(
            () -> Http1Upstream.exchange(req, resp, cb, ep, fields, body, deadlineNanos, done));
      }
      return;
    }
    HttpClient client = ep.h2c ? h2c : http1;
    org.eclipse.jetty.client.Request out = client.newRequest(ep.hostForUri(), ep.port)
        .method(req.getMethod())
        .path(req.getHttpURI().getPathQuery())
        .version(ep.h2c ? HttpVersion.HTTP_2 : HttpVersion.HTTP_1_1)
        .idleTimeout(0, TimeUnit.MILLISECONDS);
    HttpFields.Mutable fields = forwardedHeaders(req, host);
    out.headers(h -> {
      h.clear();
      h.add(fields);
    });
    if (hasBody(req)) {
      out.body(new RequestBody(req, req.getHeaders().get(HttpHeader.CONTENT_TYPE)));
    }
    Listener listener = new Listener(req, resp, cb, done);
    long left = deadlineNanos - System.nanoTime();
    listener.timer = scheduler.schedule(() -> listener.timeout(out), Math.max(1, left), TimeUnit.NANOSECONDS);
    out.send(listener);
  }

  /**
   * A pod turns Ready when its process runs (no readiness probe) or when the kubelet's probe
   * passed; the app may still be binding its port. Like Knative's activator, which probes a new
   * pod before sending it requests, the first request to a pod waits until a TCP connection
   * succeeds (every few ms, up to the deadline), so no request is lost to "connection refused"
   * and none is sent twice. Blocks the request's virtual thread only.
   */
  static boolean awaitListening(RevisionBackend.Endpoint ep, long deadlineNanos, boolean pool) {
    long backoffMs = 1;
    while (true) {
      java.net.Socket s = new java.net.Socket();
      try {
        s.connect(new InetSocketAddress(ep.host.replace("[", "").replace("]", ""), ep.port), 1000);
        ep.verified = true;
        if (pool) {
          s.setTcpNoDelay(true);
          ep.pool.give(new Http1Upstream.Conn(s));
        } else {
          s.close();
        }
        return true;
      } catch (java.io.IOException e) {
        try {
          s.close();
        } catch (java.io.IOException ignored) {
          // not connected
        }
        if (System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backoffMs) > deadlineNanos) {
          return false;
        }
        try {
          Thread.sleep(backoffMs);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          return false;
        }
        backoffMs = Math.min(backoffMs * 2, 10);
      }
    }
  }

  /** The request headers to send to the pod: end-to-end ones plus the forwarding headers. */
  static HttpFields.Mutable forwardedHeaders(Request req, String host) {
    HttpFields in = req.getHeaders();
    Set<String> connectionTokens = Set.of();
    if (in.contains(HttpHeader.CONNECTION)) { // rare with HTTP/1.1 keep-alive clients: no set otherwise
      connectionTokens = new HashSet<>();
      for (String v : in.getValuesList(HttpHeader.CONNECTION)) {
        for (String t : v.split(",")) {
          connectionTokens.add(t.trim().toLowerCase(Locale.ROOT));
        }
      }
    }
    boolean upgrade = in.contains(HttpHeader.UPGRADE) && !"h2c".equalsIgnoreCase(in.get(HttpHeader.UPGRADE));
    HttpFields.Mutable out = HttpFields.build(in.size() + 6);
    for (HttpField f : in) {
      String name = f.getLowerCaseName();
      if (upgrade && (name.equals("upgrade") || name.equals("connection"))) {
        out.add(f); // kept for the tunnel: the app must see the upgrade request as sent
        continue;
      }
      if (HOP_BY_HOP.contains(name) || connectionTokens.contains(name) || name.equals("content-length")) {
        continue;
      }
      out.add(f);
    }
    if (!out.contains(HttpHeader.HOST)) {
      String authority = req.getHttpURI().getAuthority();
      out.put(HttpHeader.HOST, authority != null ? authority : host);
    }
    String client = remoteAddress(req);
    String xff = in.get(HttpHeader.X_FORWARDED_FOR);
    out.put(HttpHeader.X_FORWARDED_FOR, xff == null ? client : xff + ", " + client);
    if (!in.contains(HttpHeader.X_FORWARDED_PROTO)) {
      out.put(HttpHeader.X_FORWARDED_PROTO, "http");
    }
    if (!in.contains(HttpHeader.X_FORWARDED_HOST)) {
      out.put(HttpHeader.X_FORWARDED_HOST, out.get(HttpHeader.HOST));
    }
    // RFC 7239: append this hop; IPv6 and ports must be quoted.
    String forNode = client.contains(":") ? "\"[" + client + "]\"" : client;
    String hop = "for=" + forNode + ";host=" + quoteIfNeeded(out.get(HttpHeader.HOST)) + ";proto=http";
    String fwd = in.get(HttpHeader.FORWARDED);
    out.put(HttpHeader.FORWARDED, fwd == null ? hop : fwd + ", " + hop);
    if (!in.contains("X-Request-Id")) {
      // Random (version 4) without SecureRandom, whose lock is contended at high request rates.
      java.util.concurrent.ThreadLocalRandom r = java.util.concurrent.ThreadLocalRandom.current();
      long msb = (r.nextLong() & ~0xF000L) | 0x4000L;
      long lsb = (r.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
      out.put("X-Request-Id", new UUID(msb, lsb).toString());
    }
    return out;
  }

  /** RFC 7239 values that are not tokens (a host with a port, IPv6) are quoted strings. */
  private static String quoteIfNeeded(String v) {
    return v != null && isToken(v) ? v : "\"" + (v == null ? "" : v.replace("\"", "")) + "\"";
  }

  /** RFC 7230 token characters (a loop: a regex per request showed in the profile). */
  static boolean isToken(String v) {
    if (v.isEmpty()) {
      return false;
    }
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || ".-_~!#$%&'*+^`|".indexOf(c) >= 0;
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  private static String remoteAddress(Request req) {
    SocketAddress a = req.getConnectionMetaData().getRemoteSocketAddress();
    if (a instanceof InetSocketAddress i && i.getAddress() != null) {
      return i.getAddress().getHostAddress();
    }
    return Request.getRemoteAddr(req);
  }

  private static boolean hasBody(Request req) {
    long len = req.getLength();
    if (len >= 0) {
      return len > 0;
    }
    if (req.getHeaders().contains(HttpHeader.TRANSFER_ENCODING)) {
      return true;
    }
    // HTTP/2 without content-length: a body is possible unless the method never has one.
    if (req.getConnectionMetaData().getHttpVersion() == HttpVersion.HTTP_2) {
      String m = req.getMethod();
      return !(m.equals("GET") || m.equals("HEAD") || m.equals("DELETE") || m.equals("OPTIONS"));
    }
    return false;
  }

  static Runnable once(Runnable r) {
    AtomicBoolean ran = new AtomicBoolean();
    return () -> {
      if (ran.compareAndSet(false, true)) {
        r.run();
      }
    };
  }

  /** The client request's body: the server request's content, streamed. */
  private record RequestBody(Request req, String contentType) implements org.eclipse.jetty.client.Request.Content {
    @Override
    public String getContentType() {
      return contentType;
    }

    @Override
    public long getLength() {
      return req.getLength();
    }

    @Override
    public Content.Chunk read() {
      return req.read();
    }

    @Override
    public void demand(Runnable demandCallback) {
      req.demand(demandCallback);
    }

    @Override
    public void fail(Throwable failure) {
      req.fail(failure);
    }
  }

  /** Relays one response from the pod (the structure of Jetty's own ProxyHandler listener). */
  private static final class Listener extends Callback.Completable implements org.eclipse.jetty.client.Response.Listener {
    private final Request req;
    private final Response resp;
    private final Callback cb;
    private final Runnable done;
    private final AtomicBoolean started = new AtomicBoolean();
    private volatile boolean timedOut;
    volatile Scheduler.Task timer;

    Listener(Request req, Response resp, Callback cb, Runnable done) {
      super(InvocationType.NON_BLOCKING);
      this.req = req;
      this.resp = resp;
      this.cb = cb;
      this.done = done;
    }

    /** The revision's timeout passed: 504 unless the response has already started. */
    void timeout(org.eclipse.jetty.client.Request out) {
      if (started.compareAndSet(false, true)) {
        timedOut = true;
        out.abort(new TimeoutException("response did not start within the revision's timeoutSeconds"));
        done.run();
        Response.writeError(req, resp, cb, HttpStatus.GATEWAY_TIMEOUT_504, "request timeout");
      }
    }

    @Override
    public void onHeaders(org.eclipse.jetty.client.Response r) {
      if (!started.compareAndSet(false, true)) {
        r.abort(new TimeoutException("timed out"));
        return;
      }
      Scheduler.Task t = timer;
      if (t != null) {
        t.cancel();
      }
      resp.setStatus(r.getStatus());
      HttpFields.Mutable h = resp.getHeaders();
      Set<String> tokens = new HashSet<>();
      for (String v : r.getHeaders().getValuesList(HttpHeader.CONNECTION)) {
        for (String tok : v.split(",")) {
          tokens.add(tok.trim().toLowerCase(Locale.ROOT));
        }
      }
      for (HttpField f : r.getHeaders()) {
        String n = f.getLowerCaseName();
        if (!HOP_BY_HOP.contains(n) && !tokens.contains(n)) {
          h.add(f);
        }
      }
    }

    @Override
    public void onContent(org.eclipse.jetty.client.Response r, Content.Chunk chunk, Runnable demander) {
      if (!started.get()) {
        chunk.release();
        return;
      }
      chunk.retain(); // the caller releases it when this returns; the write is asynchronous
      resp.write(false, chunk.getByteBuffer(), new Callback() {
        @Override
        public void succeeded() {
          chunk.release();
          demander.run();
        }

        @Override
        public void failed(Throwable x) {
          chunk.release();
          r.abort(x);
        }

        @Override
        public InvocationType getInvocationType() {
          return InvocationType.NON_BLOCKING;
        }
      });
    }

    @Override
    public void onSuccess(org.eclipse.jetty.client.Response r) {
      resp.write(true, BufferUtil.EMPTY_BUFFER, this);
    }

    @Override
    public void onComplete(Result result) {
      if (result.isSucceeded()) {
        whenComplete((v, failure) -> {
          done.run();
          if (failure == null) {
            cb.succeeded();
          } else {
            cb.failed(failure);
          }
        });
        return;
      }
      Throwable failure = result.getFailure();
      if (timedOut) {
        return; // the timer answered 504
      }
      done.run();
      if (!resp.isCommitted() && started.get()) {
        resp.reset();
      }
      if (!resp.isCommitted()) {
        log.debug("proxying to the pod failed: {}", failure.toString());
        Response.writeError(req, resp, cb, HttpStatus.BAD_GATEWAY_502, "the revision's pod failed: " + failure.getMessage());
      } else {
        cb.failed(failure);
      }
    }
  }
}
