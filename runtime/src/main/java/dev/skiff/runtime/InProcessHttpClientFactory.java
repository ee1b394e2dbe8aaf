package dev.skiff.runtime;

import io.fabric8.kubernetes.client.http.HttpClient;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * A fabric8 HTTP transport that hands every request to an API server in the same JVM
 * ({@link InProcessApi}) instead of sending it over loopback TLS: no socket, no TLS, no HTTP
 * framing, and no vert.x/Netty loaded for it. Bodies stream with flow control (a watch is an
 * endless body the client pulls), {@code AsyncBody.cancel()} (a closed watch, a closed client)
 * frees the server side at once, and the request timeout bounds the wait for the response head
 * as over HTTP.
 *
 * <p>Authentication is the loopback one: the client certificate chain from the client's key
 * managers (what the TLS handshake would present) goes with every request, and header
 * credentials (bearer tokens, impersonation) travel as headers, so the server sees the same
 * user and groups and applies the same RBAC.
 *
 * <p>WebSocket requests (exec, attach, port-forward; watches too unless the client's config sets
 * {@code onlyHttpWatches}, which {@link Clients} does for this transport) are not served in-JVM:
 * they go over loopback through a client of the {@code fallback} factory, built on first use.
 * Thread-safe.
 */
public final class InProcessHttpClientFactory implements HttpClient.Factory {
  private final InProcessApi api;
  private final Supplier<HttpClient.Factory> fallback;

  /**
   * @param api the API server in this JVM
   * @param fallback the loopback transport for what is not served in-JVM (WebSockets); called at
   *     most once per client, only when needed
   */
  public InProcessHttpClientFactory(InProcessApi api, Supplier<HttpClient.Factory> fallback) {
    this.api = Objects.requireNonNull(api);
    this.fallback = Objects.requireNonNull(fallback);
  }

  InProcessApi api() {
    return api;
  }

  Supplier<HttpClient.Factory> fallback() {
    return fallback;
  }

  @Override
  public HttpClient.Builder newBuilder() {
    return new InProcessHttpClientBuilder(this);
  }

  /** Never chosen by fabric8's service loading: only when passed explicitly. */
  @Override
  public int priority() {
    return -100;
  }
}
