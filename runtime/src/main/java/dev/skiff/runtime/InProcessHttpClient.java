package dev.skiff.runtime;

import io.fabric8.kubernetes.client.http.AsyncBody;
import io.fabric8.kubernetes.client.http.HttpClient;
import io.fabric8.kubernetes.client.http.HttpResponse;
import io.fabric8.kubernetes.client.http.StandardHttpClient;
import io.fabric8.kubernetes.client.http.StandardHttpRequest;
import io.fabric8.kubernetes.client.http.StandardWebSocketBuilder;
import io.fabric8.kubernetes.client.http.WebSocket;
import io.fabric8.kubernetes.client.http.WebSocketResponse;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.net.ssl.KeyManager;
import javax.net.ssl.X509KeyManager;

/**
 * The fabric8 {@code HttpClient} of {@link InProcessHttpClientFactory}: each request runs the API
 * server's handler on a virtual thread of its own, as Jetty runs each connection's request.
 */
final class InProcessHttpClient
    extends StandardHttpClient<InProcessHttpClient, InProcessHttpClientFactory, InProcessHttpClientBuilder> {

  /** What a client and the clients derived from it share: the calls in flight and the fallback. */
  static final class Shared {
    final InProcessApi api;
    final X509Certificate[] certificates;
    final Set<InProcessCall> calls = ConcurrentHashMap.newKeySet();
    private final InProcessHttpClientFactory factory;
    private final InProcessHttpClientBuilder builder;
    private StandardHttpClient<?, ?, ?> fallback;

    Shared(InProcessHttpClientFactory factory, InProcessHttpClientBuilder builder) {
      this.api = factory.api();
      this.factory = factory;
      this.builder = builder;
      this.certificates = clientCertificates(builder.getKeyManagers());
    }

    /** The loopback client for WebSockets, built on first use with the same TLS material. */
    synchronized StandardHttpClient<?, ?, ?> fallback() {
      if (fallback == null) {
        HttpClient.Builder b = factory.fallback().get().newBuilder();
        if (builder.getKeyManagers() != null || builder.getTrustManagers() != null) {
          b.sslContext(builder.getKeyManagers(), builder.getTrustManagers());
        }
        if (builder.getConnectTimeout() != null) {
          b.connectTimeout(builder.getConnectTimeout().toMillis(), TimeUnit.MILLISECONDS);
        }
        if (builder.getTlsVersions() != null) {
          b.tlsVersions(builder.getTlsVersions());
        }
        HttpClient c = b.build();
        if (!(c instanceof StandardHttpClient<?, ?, ?> s)) {
          c.close();
          throw new IllegalStateException("the fallback transport must be a fabric8 StandardHttpClient");
        }
        fallback = s;
      }
      return fallback;
    }

    synchronized void close() {
      for (InProcessCall c : calls) {
        c.cancel();
      }
      if (fallback != null) {
        fallback.close();
        fallback = null;
      }
    }
  }

  private final Shared shared;

  InProcessHttpClient(InProcessHttpClientBuilder builder, AtomicBoolean closed, Shared shared) {
    super(builder, closed);
    this.shared = shared;
  }

  Shared shared() {
    return shared;
  }

  @Override
  public CompletableFuture<HttpResponse<AsyncBody>> consumeBytesDirect(StandardHttpRequest request,
      AsyncBody.Consumer<List<ByteBuffer>> consumer) {
    if (isClosed()) {
      return CompletableFuture.failedFuture(new IOException("client closed"));
    }
    byte[] body;
    try {
      body = body(request.body());
    } catch (UncheckedIOException e) {
      return CompletableFuture.failedFuture(e.getCause());
    }
    Map<String, List<String>> headers = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
    request.headers().forEach((k, v) -> headers.computeIfAbsent(k, x -> new ArrayList<>()).addAll(v));
    if (request.getContentType() != null && !headers.containsKey("Content-Type")) {
      headers.put("Content-Type", List.of(request.getContentType()));
    }
    URI uri = request.uri();
    String target = (uri.getRawPath() == null || uri.getRawPath().isEmpty() ? "/" : uri.getRawPath())
        + (uri.getRawQuery() == null ? "" : "?" + uri.getRawQuery());
    InProcessApi.Request r = new InProcessApi.Request(request.method(), target, headers, body, shared.certificates);
    InProcessCall call = new InProcessCall(request, consumer, shared.calls::remove);
    shared.calls.add(call);
    Duration timeout = request.getTimeout();
    if (timeout != null && !timeout.isZero() && !timeout.isNegative()) {
      // As over HTTP: the timeout bounds the wait for the response head, not a watch's body.
      CompletableFuture.delayedExecutor(timeout.toMillis(), TimeUnit.MILLISECONDS).execute(() -> {
        if (call.response.completeExceptionally(new HttpTimeoutException("request timed out after " + timeout))) {
          call.cancel();
        }
      });
    }
    Thread.ofVirtual().name("skiff-inproc-request").start(() -> {
      try {
        shared.api.serve(r, call);
      } catch (Throwable t) {
        call.fail(t);
      }
    });
    return call.response;
  }

  @Override
  public CompletableFuture<WebSocketResponse> buildWebSocketDirect(StandardWebSocketBuilder builder,
      WebSocket.Listener listener) {
    // WebSockets (exec, attach, port-forward) go over loopback; the interceptors already ran.
    StandardHttpClient<?, ?, ?> loopback;
    try {
      loopback = shared.fallback();
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
    StandardWebSocketBuilder copy = new StandardWebSocketBuilder(loopback, builder.getBuilder());
    if (builder.getSubprotocol() != null) {
      copy.subprotocol(builder.getSubprotocol());
    }
    return loopback.buildWebSocketDirect(copy, listener);
  }

  @Override
  protected void doClose() {
    shared.close();
  }

  private static byte[] body(StandardHttpRequest.BodyContent content) {
    if (content == null) {
      return new byte[0];
    }
    if (content instanceof StandardHttpRequest.StringBodyContent s) {
      return s.getContent().getBytes(StandardCharsets.UTF_8);
    }
    if (content instanceof StandardHttpRequest.ByteArrayBodyContent b) {
      return b.getContent();
    }
    if (content instanceof StandardHttpRequest.InputStreamBodyContent in) {
      try (var stream = in.getContent()) {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
    throw new IllegalArgumentException("unsupported request body " + content.getClass().getName());
  }

  /** The chain a TLS handshake would present: the first client alias of the key managers. */
  static X509Certificate[] clientCertificates(KeyManager[] managers) {
    if (managers == null) {
      return null;
    }
    for (KeyManager m : managers) {
      if (m instanceof X509KeyManager km) {
        for (String type : new String[] {"EC", "RSA", "EdDSA", "Ed25519", "DSA"}) {
          String[] aliases = km.getClientAliases(type, null);
          if (aliases != null) {
            for (String alias : aliases) {
              X509Certificate[] chain = km.getCertificateChain(alias);
              if (chain != null && chain.length > 0) {
                return chain;
              }
            }
          }
        }
      }
    }
    return null;
  }
}
