package dev.skiff.serving;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.SocketAddress;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Resolves image tags to digests against the registry's HTTP API (Docker Registry v2 / OCI
 * distribution: {@code HEAD /v2/<repo>/manifests/<tag>}, reading {@code Docker-Content-Digest};
 * on 401 an anonymous Bearer token from the {@code WWW-Authenticate} realm), as Knative's
 * revision reconciler does with go-containerregistry (pkg/reconciler/revision/resolve.go).
 *
 * <p>Proxies: {@code https_proxy}/{@code HTTPS_PROXY} for https registries,
 * {@code http_proxy}/{@code HTTP_PROXY} for http ones, except hosts matching {@code no_proxy}/
 * {@code NO_PROXY} (comma-separated host names, domain suffixes, {@code *}); the component options
 * {@code serving.https-proxy}, {@code serving.http-proxy}, {@code serving.no-proxy} override the
 * environment (seed 001: a cluster behind a proxy). Every resolution has a deadline (config-deployment
 * {@code digest-resolution-timeout}, default 10 s), so an unreachable registry is an error, never
 * a hang.
 *
 * <p>Resolution is asynchronous: {@link #resolve} answers at once with the finished outcome or
 * null while it runs, and calls the listener with the key when it finishes. Thread-safe.
 */
final class ImageDigestResolver {
  /** A finished resolution: a digest, or the error message. */
  record Outcome(String digest, String error) {}

  private static final List<String> ACCEPT = List.of(
      "application/vnd.docker.distribution.manifest.v2+json",
      "application/vnd.docker.distribution.manifest.list.v2+json",
      "application/vnd.oci.image.manifest.v1+json",
      "application/vnd.oci.image.index.v1+json");
  private static final Pattern PARAM = Pattern.compile("(\\w+)=\"([^\"]*)\"");

  private final Map<String, CompletableFuture<Outcome>> inFlight = new ConcurrentHashMap<>();
  private final Consumer<String> onDone;
  private final HttpClient http;

  /**
   * @param options component options (proxy overrides); may be empty
   * @param env the environment (System.getenv() in production)
   * @param onDone called with the key of a finished resolution
   */
  ImageDigestResolver(Map<String, String> options, Map<String, String> env, Consumer<String> onDone) {
    this.onDone = onDone;
    this.http = HttpClient.newBuilder()
        .proxy(new EnvProxySelector(
            first(options.get("serving.https-proxy"), env.get("https_proxy"), env.get("HTTPS_PROXY")),
            first(options.get("serving.http-proxy"), env.get("http_proxy"), env.get("HTTP_PROXY")),
            first(options.get("serving.no-proxy"), env.get("no_proxy"), env.get("NO_PROXY"))))
        .followRedirects(HttpClient.Redirect.NORMAL)
        .connectTimeout(Duration.ofSeconds(5))
        .build();
  }

  private static String first(String... vs) {
    for (String v : vs) {
      if (v != null && !v.isBlank()) {
        return v.trim();
      }
    }
    return null;
  }

  /**
   * The outcome for {@code key} (e.g. revision UID + container), starting a resolution of
   * {@code image} if none is known; null while in progress.
   */
  Outcome resolve(String key, String image, Duration timeout) {
    CompletableFuture<Outcome> f = inFlight.computeIfAbsent(key, k -> {
      CompletableFuture<Outcome> cf = new CompletableFuture<>();
      Thread.ofVirtual().name("digest-" + image).start(() -> {
        Outcome o;
        try {
          o = new Outcome(headDigest(image, timeout), null);
        } catch (Exception e) {
          o = new Outcome(null, message(image, e));
        }
        cf.complete(o);
        onDone.accept(k);
      });
      return cf;
    });
    return f.isDone() ? f.join() : null;
  }

  /** Forgets a finished outcome (so a failure is retried). */
  void forget(String key) {
    CompletableFuture<Outcome> f = inFlight.get(key);
    if (f != null && f.isDone()) {
      inFlight.remove(key, f);
    }
  }

  private static String message(String image, Exception e) {
    String m = e.getMessage() == null || e.getMessage().isBlank() ? e.getClass().getSimpleName() : e.getMessage();
    return "Unable to fetch image \"" + image + "\": failed to resolve image to digest: " + m;
  }

  /** The manifest digest of {@code image}'s tag (the digest itself when the image has one). */
  String headDigest(String image, Duration timeout) throws IOException, InterruptedException {
    ImageReference ref = ImageReference.parse(image);
    if (ref.digest() != null) {
      return ref.digest();
    }
    long deadline = System.nanoTime() + timeout.toNanos();
    URI uri = URI.create(ref.scheme() + "://" + ref.apiHost() + "/v2/" + ref.repository() + "/manifests/" + ref.tag());
    HttpResponse<Void> r = send(head(uri, null, deadline));
    if (r.statusCode() == 401) {
      String token = token(r.headers().firstValue("WWW-Authenticate").orElse(""), ref, deadline);
      if (token != null) {
        r = send(head(uri, "Bearer " + token, deadline));
      }
    }
    if (r.statusCode() / 100 != 2) {
      throw new IOException("HEAD " + uri + ": unexpected status code " + r.statusCode());
    }
    return r.headers().firstValue("Docker-Content-Digest")
        .orElseThrow(() -> new IOException("HEAD " + uri + ": no Docker-Content-Digest header"));
  }

  private HttpResponse<Void> send(HttpRequest req) throws IOException, InterruptedException {
    try {
      return http.send(req, HttpResponse.BodyHandlers.discarding());
    } catch (java.net.http.HttpTimeoutException e) {
      throw new IOException(req.method() + " \"" + req.uri() + "\": i/o timeout", e);
    } catch (java.net.ConnectException e) {
      throw new IOException(req.method() + " \"" + req.uri() + "\": dial tcp " + req.uri().getHost()
          + (req.uri().getPort() > 0 ? ":" + req.uri().getPort() : "") + ": connect: connection refused", e);
    } catch (IOException e) {
      throw new IOException(req.method() + " \"" + req.uri() + "\": " + (e.getMessage() == null ? e.toString() : e.getMessage()), e);
    }
  }

  private static HttpRequest head(URI uri, String auth, long deadline) throws IOException {
    long left = deadline - System.nanoTime();
    if (left <= 0) {
      throw new IOException("HEAD \"" + uri + "\": i/o timeout");
    }
    HttpRequest.Builder b = HttpRequest.newBuilder(uri).method("HEAD", HttpRequest.BodyPublishers.noBody())
        .timeout(Duration.ofNanos(left)).header("Accept", String.join(",", ACCEPT));
    if (auth != null) {
      b.header("Authorization", auth);
    }
    return b.build();
  }

  /** An anonymous token from a {@code Bearer realm="...",service="...",scope="..."} challenge. */
  private String token(String challenge, ImageReference ref, long deadline) throws IOException, InterruptedException {
    if (!challenge.toLowerCase(Locale.ROOT).startsWith("bearer")) {
      return null;
    }
    Map<String, String> p = new java.util.HashMap<>();
    Matcher m = PARAM.matcher(challenge);
    while (m.find()) {
      p.put(m.group(1).toLowerCase(Locale.ROOT), m.group(2));
    }
    String realm = p.get("realm");
    if (realm == null) {
      return null;
    }
    String scope = p.getOrDefault("scope", "repository:" + ref.repository() + ":pull");
    StringBuilder q = new StringBuilder(realm).append(realm.contains("?") ? "&" : "?");
    if (p.containsKey("service")) {
      q.append("service=").append(URLEncoder.encode(p.get("service"), StandardCharsets.UTF_8)).append('&');
    }
    q.append("scope=").append(URLEncoder.encode(scope, StandardCharsets.UTF_8));
    long left = deadline - System.nanoTime();
    if (left <= 0) {
      throw new IOException("GET \"" + realm + "\": i/o timeout");
    }
    HttpRequest req = HttpRequest.newBuilder(URI.create(q.toString())).timeout(Duration.ofNanos(left)).GET().build();
    HttpResponse<String> r;
    try {
      r = http.send(req, HttpResponse.BodyHandlers.ofString());
    } catch (IOException e) {
      throw new IOException("GET \"" + realm + "\": " + e.getMessage(), e);
    }
    Matcher t = Pattern.compile("\"(?:token|access_token)\"\\s*:\\s*\"([^\"]+)\"").matcher(r.body());
    return t.find() ? t.group(1) : null;
  }

  /** HTTP(S)_PROXY / NO_PROXY as curl and Go's httpproxy read them. */
  static final class EnvProxySelector extends ProxySelector {
    private final URI httpsProxy;
    private final URI httpProxy;
    private final List<String> noProxy;

    EnvProxySelector(String https, String http, String no) {
      this.httpsProxy = proxyUri(https);
      this.httpProxy = proxyUri(http);
      this.noProxy = no == null ? List.of() : java.util.Arrays.stream(no.split(",")).map(String::trim)
          .filter(s -> !s.isEmpty()).map(s -> s.toLowerCase(Locale.ROOT)).toList();
    }

    private static URI proxyUri(String v) {
      if (v == null) {
        return null;
      }
      return URI.create(v.contains("://") ? v : "http://" + v);
    }

    boolean bypass(String host) {
      String h = host.toLowerCase(Locale.ROOT);
      for (String n : noProxy) {
        if (n.equals("*")) {
          return true;
        }
        String suffix = n.startsWith(".") ? n : "." + n;
        String bare = n.startsWith(".") ? n.substring(1) : n;
        int colon = bare.indexOf(':');
        if (colon > 0) {
          bare = bare.substring(0, colon);
        }
        if (h.equals(bare) || h.endsWith(suffix)) {
          return true;
        }
      }
      return false;
    }

    @Override
    public List<Proxy> select(URI uri) {
      URI p = "https".equalsIgnoreCase(uri.getScheme()) ? httpsProxy : httpProxy;
      if (p == null || uri.getHost() == null || bypass(uri.getHost())) {
        return List.of(Proxy.NO_PROXY);
      }
      int port = p.getPort() > 0 ? p.getPort() : "https".equals(p.getScheme()) ? 443 : 80;
      return List.of(new Proxy(Proxy.Type.HTTP, InetSocketAddress.createUnresolved(p.getHost(), port)));
    }

    @Override
    public void connectFailed(URI uri, SocketAddress sa, IOException ioe) {}
  }
}
