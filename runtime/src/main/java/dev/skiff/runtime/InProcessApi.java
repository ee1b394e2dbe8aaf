package dev.skiff.runtime;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.security.cert.X509Certificate;
import java.util.List;
import java.util.Map;

/**
 * An API server reachable in the same JVM: the seam through which {@link InProcessHttpClientFactory}
 * hands a component's requests straight to the server's request pipeline (authentication,
 * authorization, admission, storage) instead of over loopback TLS. The runtime only defines the
 * contract; the API server side implements it ({@code skiff server} wires the two), so components
 * still never depend on the API server.
 *
 * <p>The request is the one the component would have sent over HTTP, and the server authenticates
 * it exactly as over TLS: {@link Request#clientCertificates()} stands in for the certificate chain
 * the TLS handshake would have presented, and credentials in headers (bearer tokens, impersonation)
 * travel as headers.
 */
public interface InProcessApi {
  /**
   * Serves one request on the calling thread. Returns once the server's handler returned; for a
   * watch that is when the watch ends. The answer goes to {@code response}: at most one
   * {@link Response#head}, then any number of {@link Response#write}s, then exactly one of
   * {@link Response#end} or {@link Response#fail}.
   */
  void serve(Request request, Response response);

  /**
   * One request.
   *
   * @param method HTTP method
   * @param target the raw path and query, e.g. {@code /api/v1/namespaces/default/pods?watch=true}
   * @param headers request headers (names as sent; values in order)
   * @param body the request body, empty when there is none
   * @param clientCertificates the client certificate chain a TLS handshake would have presented,
   *     or null (then only header credentials authenticate)
   */
  record Request(String method, String target, Map<String, List<String>> headers, byte[] body,
      X509Certificate[] clientCertificates) {}

  /**
   * Where the server writes its answer; implemented by the client side. Thread-safety: the
   * server calls {@code head}/{@code write}/{@code end}/{@code fail} from one thread at a time;
   * {@code onCancel} and {@code isCancelled} may be called from any thread.
   */
  interface Response {
    /** Status and headers; called once, before the first {@link #write}. */
    void head(int status, Map<String, List<String>> headers);

    /**
     * One piece of the body. May block until the client wants more (flow control, as a full TCP
     * window would); the buffer is the caller's again when this returns. Throws once the client
     * cancelled, as a write to a reset connection does.
     */
    void write(ByteBuffer chunk) throws IOException;

    /** The body is complete. */
    void end();

    /** The response failed after (or instead of) its head. */
    void fail(Throwable cause);

    /**
     * Runs {@code r} once when the client cancels (a watch closed, a client closed); at once if it
     * already has. Lets a server stream that is waiting for events, not writing, stop at once.
     */
    void onCancel(Runnable r);

    boolean isCancelled();
  }
}
