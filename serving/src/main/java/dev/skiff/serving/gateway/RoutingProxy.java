package dev.skiff.serving.gateway;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.Locale;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.InputStreamResponseListener;
import org.eclipse.jetty.client.OutputStreamRequestContent;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.util.BufferUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gateway's request path, the same for every front end ({@link ClientExchange}): Host ->
 * Route traffic split -> revision -> a pod slot (waiting while the revision is at zero or at its
 * containerConcurrency) -> the pod, streaming the bodies both ways. Adds Forwarded /
 * X-Forwarded-For / -Proto / -Host and X-Request-Id, drops hop-by-hop headers (RFC 9110 §7.6.1,
 * including those named in Connection), answers 504 when the pod has not started its response
 * within the revision's timeoutSeconds, and passes {@code Upgrade} requests (WebSocket) through as
 * a byte tunnel ({@link UpgradeTunnel}). HTTP/1.1 pods are reached with {@link Http1Upstream};
 * pods whose port is named {@code h2c} with Jetty's HTTP/2 client (prior knowledge).
 *
 * <p>Thread-safe. {@link #handle} blocks its caller, which must be a virtual thread, until the
 * exchange has ended (a tunnel goes on on threads of its own).
 */
final class RoutingProxy {
  private static final Logger log = LoggerFactory.getLogger(RoutingProxy.class);

  /**
   * Whether {@code name} (any case) is hop-by-hop: a length switch and one comparison, no
   * lower-cased copy and no hashing (the set lookup showed in the profile).
   */
  static boolean isHopByHop(String name) {
    return switch (name.length()) {
      case 2 -> name.equalsIgnoreCase("te");
      case 7 -> name.equalsIgnoreCase("trailer") || name.equalsIgnoreCase("upgrade");
      case 10 -> name.equalsIgnoreCase("connection") || name.equalsIgnoreCase("keep-alive");
      case 14 -> name.equalsIgnoreCase("http2-settings");
      case 16 -> name.equalsIgnoreCase("proxy-connection");
      case 17 -> name.equalsIgnoreCase("transfer-encoding");
      case 18 -> name.equalsIgnoreCase("proxy-authenticate");
      case 19 -> name.equalsIgnoreCase("proxy-authorization");
      default -> false;
    };
  }

  /** How long a drain waits for the Pod informer to show the pod terminating. */
  static final long DRAIN_SEEN_TIMEOUT_MS = 2000;
  /**
   * After the gateway saw the pod terminating: the time a request that picked the pod just
   * before needs to count itself in flight (microseconds; generous).
   */
  static final long DRAIN_SETTLE_MS = 100;

  private final ServingView view;
  private final HttpClient http1;
  private final HttpClient h2c;
  private final Consumer<RevisionBackend> activator;
  /** Jetty's HttpClient for HTTP/1.1 pods too when false ({@code gateway.upstream=jetty}). */
  final boolean useHttp1Upstream;

  RoutingProxy(ServingView view, HttpClient http1, HttpClient h2c, Consumer<RevisionBackend> activator,
      boolean useHttp1Upstream) {
    this.view = view;
    this.http1 = http1;
    this.h2c = h2c;
    this.activator = activator;
    this.useHttp1Upstream = useHttp1Upstream;
  }

  /** Serves one exchange to its end; blocks the calling virtual thread. */
  void handle(ClientExchange ex) {
    HttpFields headers = ex.headers();
    String drain = headers.get(Gateway.DRAIN_HEADER);
    if (drain != null && Gateway.DRAIN_PATH.equals(ex.path())) {
      drain(ex, drain);
      return;
    }
    String host = ex.authority();
    TrafficSplit split = view.lookup(host);
    if (split == null && headers.get(HttpHeader.HOST) != null) {
      // HTTP/2 clients may carry the route's name in a Host field next to :authority.
      host = headers.get(HttpHeader.HOST);
      split = view.lookup(host);
    }
    TrafficSplit.Target target = split == null ? null : split.pick();
    if (target == null) {
      ex.sendError(HttpStatus.NOT_FOUND_404, "no Route serves host " + host);
      return;
    }
    RevisionBackend b = view.backend(target.namespace(), target.revision());
    b.requestStarted();
    long deadline = RevisionBackend.deadline(b.timeoutSeconds);
    String upgrade = headers.get(HttpHeader.UPGRADE);
    boolean tunnel = upgrade != null && !"h2c".equalsIgnoreCase(upgrade) && ex.http1();
    if (tunnel) {
      waitAndForward(ex, b, host, deadline, true);
      return;
    }
    // Common case: a verified pod has a free slot now and no request is queued before this one.
    continueRouted(ex, new Routed(b, host, deadline, b.tryAcquire()));
  }

  /**
   * A request routed to revision {@code b} (counted with {@link RevisionBackend#requestStarted})
   * and the pod slot {@link RevisionBackend#tryAcquire} gave ({@code ep}, null when none was free).
   */
  record Routed(RevisionBackend b, String host, long deadline, RevisionBackend.Endpoint ep) {}

  /**
   * The first half of {@link #handle} for a plain request (no upgrade, no drain hook), which
   * never blocks: routes by host, counts the request and tries for a free pod slot. Null when no
   * Route serves the host (nothing was counted; {@link #handle} answers it). The event loop
   * forwards a verified HTTP/1.1 slot itself and passes anything else to
   * {@link #continueRouted} on a thread.
   */
  Routed route(ClientExchange ex) {
    String host = ex.authority();
    TrafficSplit split = view.lookup(host);
    if (split == null && ex.headers().get(HttpHeader.HOST) != null) {
      host = ex.headers().get(HttpHeader.HOST);
      split = view.lookup(host);
    }
    TrafficSplit.Target target = split == null ? null : split.pick();
    if (target == null) {
      return null;
    }
    RevisionBackend b = view.backend(target.namespace(), target.revision());
    b.requestStarted();
    return new Routed(b, host, RevisionBackend.deadline(b.timeoutSeconds), b.tryAcquire());
  }

  /** The rest of {@link #handle} after {@link #route}: blocks the calling virtual thread. */
  void continueRouted(ClientExchange ex, Routed r) {
    RevisionBackend.Endpoint ep = r.ep();
    if (ep != null && ep.verified) {
      forward(ex, ep, r.host(), r.deadline(), done(r.b(), ep));
    } else if (ep != null) {
      probeAndForward(ex, r.b(), ep, r.host(), r.deadline(), false);
    } else {
      waitAndForward(ex, r.b(), r.host(), r.deadline(), false);
    }
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
   * clients only.
   */
  private void drain(ClientExchange ex, String revision) {
    InetSocketAddress a = ex.remote();
    if (a == null || a.getAddress() == null || !a.getAddress().isLoopbackAddress()) {
      ex.sendError(HttpStatus.FORBIDDEN_403, "drain requests are accepted from this host only");
      return;
    }
    int slash = revision.indexOf('/');
    if (slash <= 0) {
      ex.sendError(HttpStatus.BAD_REQUEST_400, "expected <namespace>/<revision>");
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
      ex.setStatus(HttpStatus.OK_200);
      ex.responseHeaders().put(HttpHeader.CONTENT_TYPE, "text/plain");
      String body = left == 0 ? "drained\n" : "gave up with " + left + " in flight\n";
      ex.write(true, ByteBuffer.wrap(body.getBytes(java.nio.charset.StandardCharsets.UTF_8)));
      ex.succeeded();
    } catch (InterruptedException e) {
      ex.sendError(HttpStatus.SERVICE_UNAVAILABLE_503, "gateway shutting down");
    } catch (IOException e) {
      ex.failed(e);
    }
  }

  static Runnable done(RevisionBackend b, RevisionBackend.Endpoint ep) {
    return once(() -> {
      b.release(ep);
      b.requestDone();
    });
  }

  private void waitAndForward(ClientExchange ex, RevisionBackend b, String host, long deadline, boolean tunnel) {
    RevisionBackend.Lease lease;
    try {
      lease = b.acquire(deadline, activator);
    } catch (InterruptedException e) {
      b.requestDone();
      ex.sendError(HttpStatus.SERVICE_UNAVAILABLE_503, "gateway shutting down");
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
      ex.sendError(status, status == 504 ? "request timeout" : "no ready pod for revision " + b.name);
      return;
    }
    probeAndForward(ex, b, lease.endpoint(), host, deadline, tunnel);
  }

  /** With a slot on {@code ep}: waits until a fresh pod accepts connections, then sends. */
  private void probeAndForward(ClientExchange ex, RevisionBackend b, RevisionBackend.Endpoint ep, String host,
      long deadline, boolean tunnel) {
    Runnable done = done(b, ep);
    // The probe's connection becomes the first pooled one for HTTP/1.1 (no second connect; a
    // single-threaded app is not kept busy by an idle probe socket).
    boolean keep = !tunnel && !ep.h2c && useHttp1Upstream;
    if (!ep.verified && !awaitListening(ep, deadline, keep)) {
      done.run();
      ex.sendError(HttpStatus.GATEWAY_TIMEOUT_504, "the revision's pod did not accept connections in time");
      return;
    }
    if (tunnel) {
      UpgradeTunnel.start(ex, ep, forwardedHeaders(ex, host), deadline, done);
      return;
    }
    forward(ex, ep, host, deadline, done);
  }

  private void forward(ClientExchange ex, RevisionBackend.Endpoint ep, String host, long deadlineNanos, Runnable done) {
    HttpFields.Mutable fields = forwardedHeaders(ex, host);
    if (!ep.h2c && useHttp1Upstream) {
      Http1Upstream.exchange(ex, ep, fields, ex.hasBody(), deadlineNanos, done);
    } else {
      viaJettyClient(ex, ep, fields, deadlineNanos, done);
    }
  }

  /**
   * The pod through Jetty's HttpClient (HTTP/2 for h2c pods; HTTP/1.1 with
   * {@code gateway.upstream=jetty}), blocking on this thread: the same deadline rule (504 when
   * the response head is late, never cut once started) and header filtering as
   * {@link Http1Upstream}.
   */
  private void viaJettyClient(ClientExchange ex, RevisionBackend.Endpoint ep, HttpFields fields, long deadlineNanos,
      Runnable done) {
    HttpClient client = ep.h2c ? h2c : http1;
    org.eclipse.jetty.client.Request out = client.newRequest(ep.hostForUri(), ep.port)
        .method(ex.method())
        .path(ex.pathQuery())
        .version(ep.h2c ? HttpVersion.HTTP_2 : HttpVersion.HTTP_1_1)
        .idleTimeout(0, TimeUnit.MILLISECONDS);
    out.headers(h -> {
      h.clear();
      h.add(fields);
    });
    OutputStreamRequestContent content = null;
    if (ex.hasBody()) {
      content = new OutputStreamRequestContent(fields.get(HttpHeader.CONTENT_TYPE));
      out.body(content);
    }
    InputStreamResponseListener listener = new InputStreamResponseListener();
    out.send(listener);
    try {
      if (content != null) {
        OutputStreamRequestContent c = content;
        try (OutputStream os = c.getOutputStream()) {
          ex.copyBody(os, false);
        }
      }
      org.eclipse.jetty.client.Response r;
      try {
        r = listener.get(Math.max(1, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (TimeoutException e) {
        out.abort(e);
        done.run();
        ex.sendError(HttpStatus.GATEWAY_TIMEOUT_504, "request timeout");
        return;
      }
      ex.setStatus(r.getStatus());
      HttpFields.Mutable h = ex.responseHeaders();
      Set<String> tokens = connectionTokens(r.getHeaders());
      for (HttpField f : r.getHeaders()) {
        String n = f.getLowerCaseName();
        if (!isHopByHop(n) && !tokens.contains(n)) {
          h.add(f);
        }
      }
      byte[] buf = new byte[16 * 1024];
      try (InputStream in = listener.getInputStream()) {
        int n;
        while ((n = in.read(buf)) >= 0) {
          if (n > 0) {
            ex.write(false, ByteBuffer.wrap(buf, 0, n));
          }
        }
      }
      ex.write(true, BufferUtil.EMPTY_BUFFER);
      done.run();
      ex.succeeded();
    } catch (Exception e) {
      if (e instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
      out.abort(e);
      done.run();
      if (!ex.committed()) {
        log.debug("proxying to the pod failed: {}", e.toString());
        ex.responseHeaders().clear();
        ex.sendError(HttpStatus.BAD_GATEWAY_502, "the revision's pod failed: " + e.getMessage());
      } else {
        ex.failed(e);
      }
    }
  }

  static Set<String> connectionTokens(HttpFields in) {
    if (!in.contains(HttpHeader.CONNECTION)) { // rare with HTTP/1.1 keep-alive: no set otherwise
      return Set.of();
    }
    Set<String> tokens = new HashSet<>();
    for (String v : in.getValuesList(HttpHeader.CONNECTION)) {
      for (String t : v.split(",")) {
        tokens.add(t.trim().toLowerCase(Locale.ROOT));
      }
    }
    return tokens;
  }

  /** The request headers to send to the pod: end-to-end ones plus the forwarding headers. */
  static HttpFields.Mutable forwardedHeaders(ClientExchange ex, String host) {
    HttpFields in = ex.headers();
    Set<String> connectionTokens = connectionTokens(in);
    boolean upgrade = in.contains(HttpHeader.UPGRADE) && !"h2c".equalsIgnoreCase(in.get(HttpHeader.UPGRADE));
    HttpFields.Mutable out = HttpFields.build(in.size() + 6);
    for (HttpField f : in) {
      String name = f.getLowerCaseName();
      if (upgrade && (name.equals("upgrade") || name.equals("connection"))) {
        out.add(f); // kept for the tunnel: the app must see the upgrade request as sent
        continue;
      }
      if (isHopByHop(name) || name.equals("content-length") || name.equals("x-forwarded-for") || name.equals("forwarded")
          || (!connectionTokens.isEmpty() && connectionTokens.contains(name))) {
        continue; // the last two are added below, with this hop appended
      }
      out.add(f);
    }
    if (!out.contains(HttpHeader.HOST)) {
      String authority = ex.authority();
      out.put(HttpHeader.HOST, authority != null ? authority : host);
    }
    String client = ex.remoteHost();
    String xff = in.get(HttpHeader.X_FORWARDED_FOR);
    out.add(HttpHeader.X_FORWARDED_FOR, xff == null ? client : xff + ", " + client);
    if (!in.contains(HttpHeader.X_FORWARDED_PROTO)) {
      out.add(HttpHeader.X_FORWARDED_PROTO, "http");
    }
    if (!in.contains(HttpHeader.X_FORWARDED_HOST)) {
      out.add(HttpHeader.X_FORWARDED_HOST, out.get(HttpHeader.HOST));
    }
    // RFC 7239: append this hop; IPv6 and ports must be quoted.
    String forNode = client.contains(":") ? "\"[" + client + "]\"" : client;
    String hop = "for=" + forNode + ";host=" + quoteIfNeeded(out.get(HttpHeader.HOST)) + ";proto=http";
    String fwd = in.get(HttpHeader.FORWARDED);
    out.add(HttpHeader.FORWARDED, fwd == null ? hop : fwd + ", " + hop);
    if (!in.contains("X-Request-Id")) {
      // Random (version 4) without SecureRandom, whose lock is contended at high request rates.
      java.util.concurrent.ThreadLocalRandom r = java.util.concurrent.ThreadLocalRandom.current();
      long msb = (r.nextLong() & ~0xF000L) | 0x4000L;
      long lsb = (r.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;
      out.add("X-Request-Id", new UUID(msb, lsb).toString());
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

  static Runnable once(Runnable r) {
    java.util.concurrent.atomic.AtomicBoolean ran = new java.util.concurrent.atomic.AtomicBoolean();
    return () -> {
      if (ran.compareAndSet(false, true)) {
        r.run();
      }
    };
  }

  /**
   * A pod turns Ready when its process runs (no readiness probe) or when the kubelet's probe
   * passed; the app may still be binding its port. Like Knative's activator, which probes a new
   * pod before sending it requests, the first request to a pod waits until a TCP connection
   * succeeds (every few ms, up to the deadline), so no request is lost to "connection refused"
   * and none is sent twice. With {@code pool} the connection is kept as the pod's first pooled
   * one. Blocks the request's virtual thread only.
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
      } catch (IOException e) {
        try {
          s.close();
        } catch (IOException ignored) {
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
}
