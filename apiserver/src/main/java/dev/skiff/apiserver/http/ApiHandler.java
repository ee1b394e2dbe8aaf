package dev.skiff.apiserver.http;

import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.auth.AuthenticationException;
import dev.skiff.apiserver.auth.Authenticator;
import dev.skiff.apiserver.auth.Authorizer;
import dev.skiff.apiserver.auth.RequestAttributes;
import dev.skiff.apiserver.auth.UserInfo;
import dev.skiff.apiserver.cache.CacheHub;
import dev.skiff.apiserver.registry.ResourceRegistry;
import dev.skiff.apiserver.registry.ResourceStore;
import java.nio.charset.StandardCharsets;
import java.security.cert.X509Certificate;
import java.util.function.BooleanSupplier;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The API server's one Jetty handler: the request pipeline authenticate → (authorize) → route →
 * resource handler, with every failure answered as a Kubernetes Status. Runs each request on its
 * own virtual thread (the handler blocks; DESIGN.md: a goroutine in the seeds is a virtual thread
 * here).
 */
public final class ApiHandler extends Handler.Abstract {
  private static final Logger LOG = LoggerFactory.getLogger(ApiHandler.class);
  private static volatile CacheHub hubRef;

  private final ResourceRegistry registry;
  private final Authenticator authenticator;
  private volatile Authorizer authorizer = Authorizer.ALLOW_ALL;
  private final java.util.Map<String, VirtualResource> virtuals = new java.util.concurrent.ConcurrentHashMap<>();
  private final ResourceHandler resources;
  private final OpenApiEndpoint openapi;
  private final Metrics metrics = new Metrics();
  private final BooleanSupplier ready;
  private final String version;
  private volatile Discovery discovery;

  public ApiHandler(ResourceRegistry registry, Authenticator authenticator, SchemaCheck schema, PatchApplier patches,
      TableWriterFactory tables, OpenApiEndpoint openapi, BooleanSupplier ready, java.time.Clock clock) {
    super(InvocationType.BLOCKING);
    this.registry = registry;
    this.authenticator = authenticator;
    this.openapi = openapi;
    this.ready = ready;
    this.resources = new ResourceHandler(schema, patches, tables.create(clock), clock);
    this.discovery = new Discovery(registry.descriptors());
    this.version = VersionInfo.json();
    hubRef = registry.hub();
    registry.onChange(() -> discovery = new Discovery(registry.descriptors()));
    metrics.caches(() -> {
      java.util.Map<String, dev.skiff.apiserver.cache.WatchCache> m = new java.util.HashMap<>();
      for (var d : registry.descriptors()) {
        m.put(d.storagePrefix(), registry.store(d.group, d.version, d.plural).cache());
      }
      return m;
    });
  }

  /** Drops a cached Table printer after its definition changed. */
  public void forgetPrinter(String group, String plural) {
    resources.forgetPrinter(group, plural);
  }

  /** Adds a decoder for a binary request media type (protobuf). */
  public void addBodyDecoder(BodyDecoder d) {
    resources.addDecoder(d);
  }

  /** The decoder registered for a binary request media type, or null (for virtual resources' bodies). */
  public BodyDecoder bodyDecoder(String mediaType) {
    return resources.decoder(mediaType);
  }

  /** Installs the authorizer (RBAC); until then everything authenticated is allowed. */
  public void setAuthorizer(Authorizer a) {
    this.authorizer = a;
  }

  /**
   * Serves a resource that is not stored (reviews, token requests) or a subresource
   * ({@code plural + "/" + sub}) with its own handler. Its descriptor must be registered too when
   * it should appear in discovery.
   */
  public void addVirtual(String group, String version, String resource, VirtualResource handler) {
    virtuals.put(group + "/" + version + "/" + resource, handler);
  }

  static CacheHub hub(ResourceStore store) {
    return hubRef;
  }

  public Metrics metrics() {
    return metrics;
  }

  @Override
  public boolean handle(Request request, Response response, Callback callback) {
    long start = System.nanoTime();
    Exchange ex = new Exchange(request, response, callback);
    String path = request.getHttpURI().getDecodedPath();
    RequestInfo info = RequestInfo.parse(request.getMethod(), path, ex.flag("watch"));
    String metricVerb = info.verb().toUpperCase();
    try {
      if (serveUnauthenticated(ex, path)) {
        return true;
      }
      UserInfo user = authenticate(request);
      if (user == null) {
        throw ApiException.unauthorized();
      }
      user = impersonate(request, user);
      ex.user = user;
      dev.skiff.apiserver.auth.RequestUser.set(user);
      authorize(user, info, path);
      route(ex, info, path);
    } catch (ApiException e) {
      ex.error(e);
    } catch (AuthenticationException e) {
      ex.error(ApiException.unauthorized());
    } catch (RuntimeException e) {
      LOG.error("{} {}: {}", request.getMethod(), path, e.toString(), e);
      ex.error(ApiException.internal(e.toString()));
    } catch (Exception e) {
      ex.error(ApiException.internal(e.toString()));
    } finally {
      dev.skiff.apiserver.auth.RequestUser.set(null);
      if (!ex.answered()) {
        ex.error(ApiException.internal("no response"));
      }
      metrics.record(metricVerb, info.resource() == null ? "" : info.resource(), ex.status, System.nanoTime() - start);
    }
    return true;
  }

  private UserInfo authenticate(Request request) throws AuthenticationException {
    X509Certificate[] chain = null;
    Object ssl = request.getAttribute(EndPoint.SslSessionData.ATTRIBUTE);
    if (ssl instanceof EndPoint.SslSessionData data) {
      chain = data.peerCertificates();
    }
    return authenticator.authenticate(chain, request.getHeaders().get("Authorization"));
  }

  /**
   * Impersonate-User / Impersonate-Group headers (kubectl --as / --as-group), as kube-apiserver's
   * impersonation filter (pkg/endpoints/filters/impersonation.go): the requester must be allowed
   * to `impersonate` each user and group; the request then runs as that user.
   */
  private UserInfo impersonate(Request request, UserInfo user) {
    String asUser = request.getHeaders().get("Impersonate-User");
    java.util.List<String> asGroups = request.getHeaders().getValuesList("Impersonate-Group");
    if (asUser == null || asUser.isEmpty()) {
      if (!asGroups.isEmpty()) {
        throw ApiException.internal("requested [" + String.join(" ", asGroups) + "] without impersonating a user");
      }
      return user;
    }
    boolean serviceAccount = asUser.startsWith("system:serviceaccount:");
    String[] sa = serviceAccount ? asUser.split(":", 4) : null;
    RequestAttributes userCheck = serviceAccount && sa.length == 4
        ? new RequestAttributes(true, "impersonate", "", "v1", "serviceaccounts", null, sa[2], sa[3], null)
        : new RequestAttributes(true, "impersonate", "", "v1", "users", null, null, asUser, null);
    requireImpersonation(user, userCheck, "users", asUser);
    for (String g : asGroups) {
      requireImpersonation(user, new RequestAttributes(true, "impersonate", "", "v1", "groups", null, null, g, null), "groups", g);
    }
    java.util.List<String> groups = new java.util.ArrayList<>(asGroups);
    if (serviceAccount && sa.length == 4) {
      groups.add("system:serviceaccounts");
      groups.add("system:serviceaccounts:" + sa[2]);
    }
    return new UserInfo(asUser, groups);
  }

  private void requireImpersonation(UserInfo user, RequestAttributes attrs, String what, String name) {
    if (!authorizer.authorize(user, attrs).allowed()) {
      throw ApiException.forbidden(what + " \"" + name + "\" is forbidden: User \"" + user.name()
          + "\" cannot impersonate resource \"" + what + "\" in API group \"\" at the cluster scope");
    }
  }

  private void authorize(UserInfo user, RequestInfo info, String path) {
    String namespace = info.namespace();
    if (namespace == null && info.resourceRequest() && "namespaces".equals(info.resource()) && "".equals(info.group())
        && info.name() != null) {
      // requestinfo.go: a request for one namespace is a request in that namespace, so a
      // RoleBinding there can grant "get namespaces" on it.
      namespace = info.name();
    }
    RequestAttributes attrs = new RequestAttributes(info.resourceRequest(), info.verb(),
        info.group(), info.version(), info.resource(), info.subresource(), namespace, info.name(), path);
    Authorizer.Decision d = authorizer.authorize(user, attrs);
    if (d.allowed() && "get".equals(attrs.verb()) && "pods".equals(attrs.resource()) && "".equals(attrs.apiGroup())
        && attrs.subresource() != null && java.util.List.of("exec", "attach", "portforward").contains(attrs.subresource())) {
      // A WebSocket (GET) exec/attach/portforward also needs create, as a SPDY POST does
      // (kube-apiserver AuthorizePodWebsocketUpgradeCreatePermission, on since 1.31).
      attrs = new RequestAttributes(true, "create", info.group(), info.version(), info.resource(), info.subresource(),
          namespace, info.name(), path);
      d = authorizer.authorize(user, attrs);
    }
    if (!d.allowed()) {
      // apierrors.NewForbidden(GroupResource{group, resource}, name, ...): details carry them too.
      com.fasterxml.jackson.databind.node.ObjectNode details = Json.object();
      if (attrs.resourceRequest()) {
        if (attrs.name() != null && !attrs.name().isEmpty()) {
          details.put("name", attrs.name());
        }
        if (attrs.apiGroup() != null && !attrs.apiGroup().isEmpty()) {
          details.put("group", attrs.apiGroup());
        }
        details.put("kind", attrs.resource());
      }
      throw new ApiException(403, "Forbidden", forbiddenMessage(user, attrs, d.reason()), details);
    }
  }

  /**
   * kube-apiserver's wording: responsewriters/errors.go forbiddenMessage (HTML-escaped by its
   * sanitizer), wrapped by apimachinery's NewForbidden ("<resource.group> [\"name\"] is forbidden: "
   * or "forbidden: " for non-resource paths), with the authorizer's reason after ": ".
   */
  public static String forbiddenMessage(UserInfo user, RequestAttributes a, String reason) {
    String who = "User " + quote(user.name());
    String inner;
    String prefix;
    if (!a.resourceRequest()) {
      inner = who + " cannot " + a.verb() + " path " + quote(a.path());
      prefix = "forbidden: ";
    } else {
      String res = a.resource() + (a.subresource() == null || a.subresource().isEmpty() ? "" : "/" + a.subresource());
      String group = a.apiGroup() == null ? "" : a.apiGroup();
      inner = who + " cannot " + a.verb() + " resource " + quote(res) + " in API group " + quote(group)
          + (a.namespace() == null || a.namespace().isEmpty() ? " at the cluster scope" : " in the namespace " + quote(a.namespace()));
      String qualified = ApiException.qualified(group, a.resource());
      prefix = (a.name() == null || a.name().isEmpty() ? qualified : qualified + " " + quote(a.name())) + " is forbidden: ";
    }
    inner = inner.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    return prefix + (reason == null || reason.isEmpty() ? inner : inner + ": " + reason);
  }

  /** Go's %q for the printable strings that reach these messages. */
  private static String quote(String s) {
    return "\"" + (s == null ? "" : s.replace("\\", "\\\\").replace("\"", "\\\"")) + "\"";
  }

  private boolean serveUnauthenticated(Exchange ex, String path) {
    switch (path) {
      case "/healthz", "/livez" -> ex.send(200, "text/plain; charset=utf-8", "ok".getBytes(StandardCharsets.UTF_8));
      case "/readyz" -> {
        if (ready.getAsBoolean()) {
          ex.send(200, "text/plain; charset=utf-8", "ok".getBytes(StandardCharsets.UTF_8));
        } else {
          ex.send(500, "text/plain; charset=utf-8", "[-]informer-sync failed: not ready\nreadyz check failed".getBytes(StandardCharsets.UTF_8));
        }
      }
      case "/version", "/version/" -> ex.json(200, version.getBytes(StandardCharsets.UTF_8));
      default -> {
        return false;
      }
    }
    return true;
  }

  private void route(Exchange ex, RequestInfo info, String path) throws Exception {
    if (info.resourceRequest()) {
      VirtualResource virtual = virtuals.get(info.group() + "/" + info.version() + "/" + info.resource()
          + (info.subresource() == null ? "" : "/" + info.subresource()));
      if (virtual != null) {
        virtual.handle(ex, info);
        return;
      }
      ResourceStore store = registry.store(info.group(), info.version(), info.resource());
      if (store == null) {
        throw notFound(path);
      }
      Negotiation neg = Negotiation.of(ex.header("Accept"));
      if (info.verb().equals("watch")) {
        metrics.watchOpened();
        try {
          resources.handle(ex, info, store, neg);
        } finally {
          metrics.watchClosed();
        }
      } else {
        resources.handle(ex, info, store, neg);
      }
      return;
    }
    if (!ex.method().equals("GET")) {
      throw ApiException.methodNotAllowed("the server does not allow this method on the requested resource");
    }
    Discovery disc = discovery;
    if (path.equals("/api") || path.equals("/apis")) {
      boolean core = path.equals("/api");
      String accept = ex.header("Accept");
      String aggregated = aggregatedVersion(accept);
      if (aggregated != null) {
        ex.send(200, "application/json;g=apidiscovery.k8s.io;v=" + aggregated + ";as=APIGroupDiscoveryList",
            disc.aggregated(core, aggregated));
      } else if (core) {
        ex.json(200, disc.apiVersions(ex.request.getHttpURI().getHost() + ":" + ex.request.getHttpURI().getPort()));
      } else {
        ex.json(200, disc.apiGroupList());
      }
      return;
    }
    if (info.parts().size() == 2 && info.parts().get(0).equals("api")) {
      byte[] b = disc.resourceList("", info.parts().get(1));
      if (b == null) {
        throw notFound(path);
      }
      ex.json(200, b);
      return;
    }
    if (info.parts().size() == 2 && info.parts().get(0).equals("apis")) {
      byte[] b = disc.apiGroup(info.parts().get(1));
      if (b == null) {
        throw notFound(path);
      }
      ex.json(200, b);
      return;
    }
    if (info.parts().size() == 3 && info.parts().get(0).equals("apis")) {
      byte[] b = disc.resourceList(info.parts().get(1), info.parts().get(2));
      if (b == null) {
        throw notFound(path);
      }
      ex.json(200, b);
      return;
    }
    if (path.startsWith("/openapi/v3")) {
      byte[] doc = openapi.document(path.substring("/openapi/v3".length()));
      if (doc == null) {
        throw notFound(path);
      }
      ex.json(200, doc);
      return;
    }
    if (OpenApiV2Route.matches(path)) {
      OpenApiV2Route.serve(ex, openapi, path);
      return;
    }
    if (path.equals("/metrics")) {
      ex.send(200, "text/plain; version=0.0.4; charset=utf-8", metrics.render().getBytes(StandardCharsets.UTF_8));
      return;
    }
    throw notFound(path);
  }

  /** "v2" or "v2beta1" when the client asked for aggregated discovery in that version. */
  static String aggregatedVersion(String accept) {
    if (accept == null) {
      return null;
    }
    for (String clause : accept.split(",")) {
      if (clause.contains("g=apidiscovery.k8s.io") && clause.contains("as=APIGroupDiscoveryList")) {
        if (clause.contains("v=v2beta1")) {
          return "v2beta1";
        }
        if (clause.contains("v=v2")) {
          return "v2";
        }
      }
    }
    return null;
  }

  private static ApiException notFound(String path) {
    return new ApiException(404, "NotFound", "the server could not find the requested resource", Json.object());
  }
}
