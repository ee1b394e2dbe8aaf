package dev.skiff.apiserver.http;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;
import java.util.function.Supplier;
import javax.net.ssl.SSLSession;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpURI;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.EofException;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.server.Components;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.ConnectionMetaData;
import org.eclipse.jetty.server.Context;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpStream;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Session;
import org.eclipse.jetty.server.TunnelSupport;
import org.eclipse.jetty.util.Attributes;
import org.eclipse.jetty.util.Callback;

/**
 * Serves requests from the same JVM through the API handler without a connection: the request is
 * handed to {@link ApiHandler#handle} as Jetty request/response objects built in memory, so it
 * takes exactly the path a request over TLS takes (authentication, impersonation, authorization,
 * admission, metrics). The client certificate chain is presented as the TLS session's peer
 * certificates, so a request authenticates as the same user and groups as over loopback.
 *
 * <p>Not supported: protocol upgrades (WebSocket watches, exec/attach/port-forward); a client
 * sends those over the network. {@link #serve} blocks its calling thread while the handler runs
 * (as Jetty runs a request on its own virtual thread). Thread-safe.
 */
public final class InProcessDispatcher {
  private static final AtomicLong IDS = new AtomicLong();

  private final Handler handler;
  private final String authority;

  /**
   * @param handler the API server's handler
   * @param authority host:port the requests appear to be sent to (discovery reports it)
   */
  public InProcessDispatcher(Handler handler, String authority) {
    this.handler = handler;
    this.authority = authority;
  }

  /** Where the answer goes; see the runtime's {@code InProcessApi.Response} for the contract. */
  public interface Sink {
    void head(int status, Map<String, List<String>> headers);

    /** May block (flow control); throws once the client is gone. */
    void write(ByteBuffer chunk) throws IOException;

    void end();

    void fail(Throwable cause);

    /** Runs {@code r} once when the client cancels. */
    void onCancel(Runnable r);
  }

  /**
   * Serves one request on the calling thread.
   *
   * @param target raw path and query
   * @param certificates the client certificate chain, or null
   */
  public void serve(String method, String target, Map<String, List<String>> headers, byte[] body,
      X509Certificate[] certificates, Sink sink) {
    HttpFields.Mutable fields = HttpFields.build();
    headers.forEach((name, values) -> values.forEach(v -> fields.add(name, v)));
    LocalRequest request = new LocalRequest(method, HttpURI.from("https://" + authority + target), fields.asImmutable(),
        body == null ? new byte[0] : body, sink);
    if (certificates != null && certificates.length > 0) {
      request.setAttribute(EndPoint.SslSessionData.ATTRIBUTE, new PeerCertificates(certificates));
    }
    LocalResponse response = new LocalResponse(request, sink);
    Callback done = response.completion();
    try {
      if (!handler.handle(request, response, done)) {
        response.setStatus(404);
        response.write(true, null, done);
      }
    } catch (Throwable t) {
      done.failed(t);
    }
  }

  /** Jetty's defaults (query parsing reads the URI compliance from here). */
  private static final ConnectionMetaData CONNECTION = new LocalConnection();

  private static final class LocalConnection extends Attributes.Mapped implements ConnectionMetaData {
    private final HttpConfiguration config = new HttpConfiguration();
    private final java.net.InetSocketAddress address = new java.net.InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0);

    @Override
    public String getId() {
      return "in-process";
    }

    @Override
    public HttpConfiguration getHttpConfiguration() {
      return config;
    }

    @Override
    public HttpVersion getHttpVersion() {
      return HttpVersion.HTTP_2;
    }

    @Override
    public String getProtocol() {
      return "in-process";
    }

    @Override
    public Connection getConnection() {
      return null;
    }

    @Override
    public Connector getConnector() {
      return null;
    }

    @Override
    public boolean isPersistent() {
      return true;
    }

    @Override
    public boolean isSecure() {
      return true;
    }

    @Override
    public java.net.SocketAddress getRemoteSocketAddress() {
      return address;
    }

    @Override
    public java.net.SocketAddress getLocalSocketAddress() {
      return address;
    }
  }

  private record PeerCertificates(X509Certificate[] peerCertificates) implements EndPoint.SslSessionData {
    @Override
    public SSLSession sslSession() {
      return null;
    }

    @Override
    public String sslSessionId() {
      return "in-process";
    }

    @Override
    public String cipherSuite() {
      return "in-process";
    }
  }

  /** A request whose whole body is in memory. */
  private static final class LocalRequest extends Attributes.Mapped implements Request {
    private final String id = "inproc-" + IDS.incrementAndGet();
    private final String method;
    private final HttpURI uri;
    private final HttpFields headers;
    private final Sink sink;
    private final long begin = System.nanoTime();
    private byte[] body;

    LocalRequest(String method, HttpURI uri, HttpFields headers, byte[] body, Sink sink) {
      this.method = method;
      this.uri = uri;
      this.headers = headers;
      this.body = body;
      this.sink = sink;
    }

    @Override
    public String getId() {
      return id;
    }

    @Override
    public Components getComponents() {
      return null;
    }

    @Override
    public ConnectionMetaData getConnectionMetaData() {
      return CONNECTION;
    }

    @Override
    public String getMethod() {
      return method;
    }

    @Override
    public HttpURI getHttpURI() {
      return uri;
    }

    @Override
    public Context getContext() {
      return null;
    }

    @Override
    public HttpFields getHeaders() {
      return headers;
    }

    @Override
    public void demand(Runnable demandCallback) {
      // the whole body is available: a reader that found nothing reads again and gets EOF
      demandCallback.run();
    }

    @Override
    public HttpFields getTrailers() {
      return null;
    }

    @Override
    public long getBeginNanoTime() {
      return begin;
    }

    @Override
    public long getHeadersNanoTime() {
      return begin;
    }

    @Override
    public boolean isSecure() {
      return true;
    }

    @Override
    public synchronized Content.Chunk read() {
      byte[] b = body;
      if (b == null) {
        return Content.Chunk.EOF;
      }
      body = null;
      return b.length == 0 ? Content.Chunk.EOF : Content.Chunk.from(ByteBuffer.wrap(b), true);
    }

    @Override
    public synchronized boolean consumeAvailable() {
      body = null;
      return true;
    }

    @Override
    public void fail(Throwable failure) {
      // nothing to abort: the body is in memory
    }

    @Override
    public void addIdleTimeoutListener(Predicate<java.util.concurrent.TimeoutException> onIdleTimeout) {
      // no connection, no idle timeout
    }

    @Override
    public void addFailureListener(Consumer<Throwable> onFailure) {
      // The client going away is this request's only asynchronous failure.
      sink.onCancel(() -> onFailure.accept(new EofException("cancelled by the in-process client")));
    }

    @Override
    public TunnelSupport getTunnelSupport() {
      return null;
    }

    @Override
    public void addHttpStreamWrapper(Function<HttpStream, HttpStream> wrapper) {
      throw new UnsupportedOperationException("in-process request");
    }

    @Override
    public Session getSession(boolean create) {
      return null;
    }
  }

  /** A response that hands its head and body to the sink as they are written. */
  private static final class LocalResponse implements Response {
    private final LocalRequest request;
    private final Sink sink;
    private final HttpFields.Mutable headers = HttpFields.build();
    private int status = 200;
    private boolean committed;
    private boolean last;
    private boolean succeeded;
    private Supplier<HttpFields> trailers;

    LocalResponse(LocalRequest request, Sink sink) {
      this.request = request;
      this.sink = sink;
    }

    /** The handler's completion callback: ends (or fails) the sink exactly once. */
    Callback completion() {
      AtomicBoolean once = new AtomicBoolean();
      return new Callback() {
        @Override
        public void succeeded() {
          if (once.compareAndSet(false, true)) {
            synchronized (LocalResponse.this) {
              commit();
              succeeded = true;
            }
            sink.end();
          }
        }

        @Override
        public void failed(Throwable x) {
          if (once.compareAndSet(false, true)) {
            sink.fail(x);
          }
        }
      };
    }

    private void commit() {
      if (committed) {
        return;
      }
      committed = true;
      Map<String, List<String>> map = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
      for (var f : headers) {
        map.computeIfAbsent(f.getName(), k -> new ArrayList<>()).add(f.getValue());
      }
      sink.head(status, map);
    }

    @Override
    public Request getRequest() {
      return request;
    }

    @Override
    public synchronized int getStatus() {
      return status;
    }

    @Override
    public synchronized void setStatus(int code) {
      if (!committed) {
        status = code;
      }
    }

    @Override
    public HttpFields.Mutable getHeaders() {
      return headers;
    }

    @Override
    public Supplier<HttpFields> getTrailersSupplier() {
      return trailers;
    }

    @Override
    public void setTrailersSupplier(Supplier<HttpFields> trailers) {
      this.trailers = trailers;
    }

    @Override
    public synchronized boolean isCommitted() {
      return committed;
    }

    @Override
    public synchronized boolean hasLastWrite() {
      return last;
    }

    @Override
    public synchronized boolean isCompletedSuccessfully() {
      return succeeded;
    }

    @Override
    public synchronized void reset() {
      if (committed) {
        throw new IllegalStateException("committed");
      }
      status = 200;
      headers.clear();
    }

    @Override
    public CompletableFuture<Void> writeInterim(int status, HttpFields headers) {
      return CompletableFuture.completedFuture(null);
    }

    @Override
    public void write(boolean last, ByteBuffer content, Callback callback) {
      try {
        synchronized (this) {
          commit();
          if (last) {
            this.last = true;
          }
        }
        if (content != null && content.hasRemaining()) {
          // Outside the lock: the sink may block until the client wants more.
          sink.write(content);
        }
        callback.succeeded();
      } catch (Throwable t) {
        callback.failed(t);
      }
    }
  }
}
