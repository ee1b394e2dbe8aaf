package dev.skiff.apiserver.serviceaccount;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.http.ApiHandler;
import dev.skiff.apiserver.rbac.AccessReviews;
import dev.skiff.apiserver.registry.Meta;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.ResourceStore;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The serviceaccounts/token subresource (pkg/registry/core/serviceaccount/storage/token.go):
 * a POSTed authentication.k8s.io/v1 TokenRequest comes back with status.token, a JWT for the
 * service account, and status.expirationTimestamp. Audiences default to the issuer; the lifetime
 * defaults to one hour and may not be below ten minutes (validation of expirationSeconds).
 */
public final class TokenRequests {
  private static final ResourceDescriptor TOKEN_REQUEST =
      ResourceDescriptor.builder("authentication.k8s.io", "v1", "TokenRequest", "tokenrequests").build();

  private TokenRequests() {}

  public static void install(ApiHandler handler, dev.skiff.apiserver.registry.ResourceRegistry registry, ServiceAccountTokens tokens,
      Clock clock) {
    ResourceStore serviceAccounts = registry.storeForKind("", "ServiceAccount");
    handler.addVirtual("", "v1", "serviceaccounts/token", (ex, info) -> {
      if (!ex.method().equals("POST")) {
        throw ApiException.methodNotAllowed("the server does not allow this method on the requested resource");
      }
      ObjectNode req = AccessReviews.decode(handler, ex, TOKEN_REQUEST);
      ObjectNode sa = serviceAccounts.getObject(info.namespace(), info.name());
      ObjectNode spec = req.with("spec");
      List<String> audiences = new ArrayList<>();
      spec.path("audiences").forEach(a -> audiences.add(a.asText()));
      if (audiences.isEmpty()) {
        audiences.add(ServiceAccountTokens.ISSUER);
      }
      JsonNode es = spec.get("expirationSeconds");
      long seconds = es == null || es.isNull() ? 3600 : es.asLong();
      if (seconds < 600) {
        throw ApiException.invalid("authentication.k8s.io", "TokenRequest", "",
            List.of(ApiException.Cause.invalid("spec.expirationSeconds", seconds, "may not specify a duration less than 10 minutes")));
      }
      if (seconds > (1L << 32)) {
        throw ApiException.invalid("authentication.k8s.io", "TokenRequest", "",
            List.of(ApiException.Cause.invalid("spec.expirationSeconds", seconds, "may not specify a duration larger than 2^32 seconds")));
      }
      Instant now = clock.instant();
      Instant exp = now.plusSeconds(seconds);
      ServiceAccountTokens.BoundObject bound = bound(registry, info.namespace(), info.name(), spec.get("boundObjectRef"));
      String token = tokens.sign(info.namespace(), info.name(), Meta.uid(sa), audiences, now, exp, bound);
      req.put("apiVersion", "authentication.k8s.io/v1");
      req.put("kind", "TokenRequest");
      ObjectNode meta = req.with("metadata");
      meta.put("name", info.name());
      meta.put("namespace", info.namespace());
      meta.put("creationTimestamp", Meta.time(now));
      ArrayNode aud = spec.putArray("audiences");
      audiences.forEach(aud::add);
      spec.put("expirationSeconds", seconds);
      if (!spec.has("boundObjectRef")) {
        spec.putNull("boundObjectRef");
      }
      ObjectNode status = req.putObject("status");
      status.put("token", token);
      status.put("expirationTimestamp", Meta.time(exp));
      ex.json(201, Json.bytes(req));
    });
  }

  /** token.go's boundObjectRef checks: the Pod (running as this account) or Secret must exist, uid matching. */
  private static ServiceAccountTokens.BoundObject bound(dev.skiff.apiserver.registry.ResourceRegistry registry, String ns,
      String saName, JsonNode ref) {
    if (ref == null || !ref.isObject()) {
      return null;
    }
    String kind = ref.path("kind").asText("");
    String apiVersion = ref.path("apiVersion").asText("");
    String name = ref.path("name").asText("");
    String group = apiVersion.contains("/") ? apiVersion.substring(0, apiVersion.indexOf('/')) : "";
    if (!group.isEmpty() || !(kind.equals("Pod") || kind.equals("Secret"))) {
      throw ApiException.badRequest("cannot bind token to object of type " + (group.isEmpty() ? "" : group + "/")
          + (apiVersion.contains("/") ? apiVersion.substring(apiVersion.indexOf('/') + 1) : apiVersion) + ", Kind=" + kind);
    }
    ObjectNode obj = registry.storeForKind("", kind).getObject(ns, name);
    if (kind.equals("Pod") && !saName.equals(obj.path("spec").path("serviceAccountName").asText())) {
      throw ApiException.badRequest("cannot bind token for serviceaccount \"" + saName
          + "\" to pod running with different serviceaccount name.");
    }
    String uid = Meta.uid(obj);
    String wanted = ref.path("uid").asText("");
    if (!wanted.isEmpty() && !wanted.equals(uid)) {
      throw ApiException.conflict("", kind, name, "the UID in the bound object reference (" + wanted
          + ") does not match the UID in record. The object might have been deleted and then recreated");
    }
    return new ServiceAccountTokens.BoundObject(kind, name, uid);
  }
}
