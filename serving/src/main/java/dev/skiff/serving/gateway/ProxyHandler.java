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
 * Thread-safe; runs on Jetty's virtual threads (a request waiting for a slot blocks only its own).
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

  ProxyHandler(ServingView view, HttpClient http1, HttpClient h2c, Consumer<RevisionBackend> activator, Scheduler scheduler) {
    this.view = view;
    this.http1 = http1;
    this.h2c = h2c;
    this.activator = activator;
    this.scheduler = scheduler;
  }

  @Override
  public boolean handle(Request req, Response resp, Callback cb) throws Exception {
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
    RevisionBackend.Lease lease;
    try {
      lease = b.acquire(deadline, activator);
    } catch (InterruptedException e) {
      b.requestDone();
      Thread.currentThread().interrupt();
      Response.writeError(req, resp, cb, HttpStatus.SERVICE_UNAVAILABLE_503, "gateway shutting down");
      return true;
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
      return true;
    }
    RevisionBackend.Endpoint ep = lease.endpoint();
    Runnable done = once(() -> {
      b.release(ep);
      b.requestDone();
    });
    String upgrade = req.getHeaders().get(HttpHeader.UPGRADE);
    if (upgrade != null && !"h2c".equalsIgnoreCase(upgrade) && req.getConnectionMetaData().getHttpVersion() == HttpVersion.HTTP_1_1) {
      UpgradeTunnel.start(req, resp, cb, ep, forwardedHeaders(req, host), deadline, done);
      return true;
    }
    forward(req, resp, cb, ep, host, deadline, done);
    return true;
  }

  private void forward(Request req, Response resp, Callback cb, RevisionBackend.Endpoint ep, String host,
      long deadlineNanos, Runnable done) {
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

  /** The request headers to send to the pod: end-to-end ones plus the forwarding headers. */
  static HttpFields.Mutable forwardedHeaders(Request req, String host) {
    HttpFields in = req.getHeaders();
    Set<String> connectionTokens = new HashSet<>();
    for (String v : in.getValuesList(HttpHeader.CONNECTION)) {
      for (String t : v.split(",")) {
        connectionTokens.add(t.trim().toLowerCase(Locale.ROOT));
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
      out.put("X-Request-Id", UUID.randomUUID().toString());
    }
    return out;
  }

  private static String quoteIfNeeded(String v) {
    return v != null && v.matches("[A-Za-z0-9.\\-_~!#$%&'*+^`|]+") ? v : "\"" + (v == null ? "" : v.replace("\"", "")) + "\"";
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
