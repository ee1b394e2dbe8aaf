package dev.skiff.serving.gateway;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import org.eclipse.jetty.http.HttpFields;

/**
 * One client request and its response, as the gateway's request path ({@link RoutingProxy},
 * {@link Http1Upstream}, {@link UpgradeTunnel}) sees it, whichever front end accepted it: the
 * gateway's own HTTP/1.1 server ({@link Http1Connection}) or Jetty (h2c clients, and every client
 * with {@code gateway.frontend=jetty}; {@link JettyExchange}). Every method may block, and is
 * called from the request's one (virtual) thread; an exchange is not thread-safe.
 *
 * <p>Life cycle: the path reads the request, streams its body with {@link #copyBody} at most
 * once, sets the status and headers, writes the body with {@link #write} (the first write
 * commits the head) and ends with exactly one of {@link #succeeded}, {@link #failed},
 * {@link #sendError} or {@link #upgrade}.
 */
interface ClientExchange {
  String method();

  /** The request target's path and query ({@code /} when empty). */
  String pathQuery();

  /** The request target's path. */
  String path();

  /** The host to route by: the target's authority, else the Host header (port and all). */
  String authority();

  /** The request headers as the client sent them. */
  HttpFields headers();

  /** True for HTTP/1.x (where {@code Upgrade} applies), false for HTTP/2. */
  boolean http1();

  InetSocketAddress remote();

  /** The client's IP address as text (for X-Forwarded-For and Forwarded). */
  default String remoteHost() {
    InetSocketAddress r = remote();
    return r == null ? "unknown" : r.getAddress() != null ? r.getAddress().getHostAddress() : r.getHostString();
  }

  /** The request body's length, -1 when unknown (chunked, or HTTP/2 without content-length). */
  long contentLength();

  /** Whether the request may carry a body. */
  boolean hasBody();

  /**
   * Streams the whole request body into {@code out} (HTTP/1.1 chunked framing when
   * {@code chunked}, raw bytes otherwise); answers {@code Expect: 100-continue} first.
   */
  void copyBody(OutputStream out, boolean chunked) throws IOException;

  void setStatus(int status);

  /** The response headers, filled before the first {@link #write}. */
  HttpFields.Mutable responseHeaders();

  /** Writes the next piece of the response body, blocking; the first write commits the head. */
  void write(boolean last, ByteBuffer content) throws IOException;

  /** True once the response head was written (a failure then can only cut the connection). */
  boolean committed();

  /** Ends a response whose last piece was written. */
  void succeeded();

  /** Ends a failed exchange: an error response when nothing was committed, else a cut connection. */
  void failed(Throwable cause);

  /** Ends the exchange with a small error response, unless committed (then as {@link #failed}). */
  void sendError(int status, String message);

  /**
   * The pod answered an upgrade with {@code status} (101) and {@code headers}: sends them to the
   * client, then relays bytes both ways between the client and {@code pod} ({@code early} being
   * what the pod sent after its head) until both sides closed; {@code done} runs once then.
   * Returns at once; the tunnel runs on threads of its own.
   */
  void upgrade(int status, HttpFields headers, Socket pod, byte[] early, Runnable done) throws IOException;
}
