package dev.skiff.apiserver.rbac;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.auth.Authorizer;
import dev.skiff.apiserver.auth.RequestAttributes;
import dev.skiff.apiserver.auth.UserInfo;
import dev.skiff.apiserver.http.ApiHandler;
import dev.skiff.apiserver.http.BodyDecoder;
import dev.skiff.apiserver.http.Exchange;
import dev.skiff.apiserver.http.RequestInfo;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.ResourceRegistry;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The review APIs, served by code (pkg/registry/authorization/* and authentication/selfsubjectreview):
 * authorization.k8s.io/v1 SelfSubjectAccessReview, SelfSubjectRulesReview, SubjectAccessReview,
 * LocalSubjectAccessReview, and authentication.k8s.io/v1 SelfSubjectReview. Each accepts a POST
 * of the review and answers 201 with its status filled in; creating one is itself authorized
 * like any create (system:basic-user grants the self reviews to everyone authenticated).
 */
public final class AccessReviews {
  static final String AUTHZ = "authorization.k8s.io";
  static final String AUTHN = "authentication.k8s.io";
  public static final String PROTOBUF = "application/vnd.kubernetes.protobuf";

  private final ApiHandler handler;
  private final Authorizer authorizer;
  private final RbacAuthorizer rbac;

  private AccessReviews(ApiHandler handler, Authorizer authorizer, RbacAuthorizer rbac) {
    this.handler = handler;
    this.authorizer = authorizer;
    this.rbac = rbac;
  }

  /** Registers the review resources (for discovery) and their handlers. */
  public static void install(ResourceRegistry registry, ApiHandler handler, RbacAuthorizer rbac) {
    AccessReviews r = new AccessReviews(handler, rbac, rbac);
    r.add(registry, AUTHZ, "SelfSubjectAccessReview", "selfsubjectaccessreviews", false, r::selfSubjectAccessReview);
    r.add(registry, AUTHZ, "SelfSubjectRulesReview", "selfsubjectrulesreviews", false, r::selfSubjectRulesReview);
    r.add(registry, AUTHZ, "SubjectAccessReview", "subjectaccessreviews", false, r::subjectAccessReview);
    r.add(registry, AUTHZ, "LocalSubjectAccessReview", "localsubjectaccessreviews", true, r::localSubjectAccessReview);
    r.add(registry, AUTHN, "SelfSubjectReview", "selfsubjectreviews", false, r::selfSubjectReview);
    // kubectl 1.27's `auth whoami` asks v1beta1 only (v1 went GA in 1.28).
    r.add(registry, AUTHN, "v1beta1", "SelfSubjectReview", "selfsubjectreviews", false, r::selfSubjectReview);
  }

  private interface Review {
    void fill(Exchange ex, RequestInfo info, ObjectNode review);
  }

  private void add(ResourceRegistry registry, String group, String kind, String plural, boolean namespaced, Review review) {
    add(registry, group, "v1", kind, plural, namespaced, review);
  }

  private void add(ResourceRegistry registry, String group, String version, String kind, String plural, boolean namespaced,
      Review review) {
    ResourceDescriptor.Builder b = ResourceDescriptor.builder(group, version, kind, plural).verbs("create");
    if (!namespaced) {
      b.clusterScoped();
    }
    ResourceDescriptor d = b.build();
    // Registered like a stored resource so discovery and OpenAPI list it; the virtual handler
    // below answers every request for it, so its (empty) store is never used.
    registry.add(d);
    handler.addVirtual(group, version, plural, (ex, info) -> {
      if (!ex.method().equals("POST") || info.name() != null) {
        throw ApiException.methodNotAllowed("the server does not allow this method on the requested resource");
      }
      ObjectNode obj = decode(handler, ex, d);
      String k = Json.text(obj, "kind");
      if (k != null && !k.isEmpty() && !k.equals(kind)) {
        throw ApiException.badRequest("the body of the request was not a " + kind + " (kind " + k + ")");
      }
      obj.put("apiVersion", group + "/" + version);
      obj.put("kind", kind);
      ObjectNode meta = obj.with("metadata");
      meta.putNull("creationTimestamp");
      review.fill(ex, info, obj);
      ex.json(201, Json.bytes(obj));
    });
  }

  /** JSON or YAML, or a binary media type through the handler's registered decoder. */
  public static ObjectNode decode(ApiHandler handler, Exchange ex, ResourceDescriptor d) {
    String ct = ex.header("Content-Type");
    ct = ct == null ? "" : ct.split(";")[0].trim().toLowerCase();
    byte[] body = ex.body();
    BodyDecoder binary = handler.bodyDecoder(ct);
    if (binary != null) {
      return binary.decode(d, body);
    }
    if (ct.equals(PROTOBUF)) {
      throw ApiException.unsupportedMediaType("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml");
    }
    try {
      JsonNode n = ct.equals("application/yaml") ? Json.yaml().readTree(body) : Json.MAPPER.readTree(body);
      if (n instanceof ObjectNode o) {
        return o;
      }
    } catch (IOException e) {
      throw ApiException.badRequest("error decoding request body: " + e.getMessage());
    }
    throw ApiException.badRequest("Object 'Kind' is missing in request body");
  }

  private void selfSubjectAccessReview(Exchange ex, RequestInfo info, ObjectNode review) {
    access(ex.user, review, null);
  }

  private void localSubjectAccessReview(Exchange ex, RequestInfo info, ObjectNode review) {
    ObjectNode spec = review.with("spec");
    String ns = info.namespace();
    JsonNode ra = spec.get("resourceAttributes");
    if (ra instanceof ObjectNode attrs) {
      String given = Json.text(attrs, "namespace");
      if (given == null || given.isEmpty()) {
        attrs.put("namespace", ns);
      } else if (!given.equals(ns)) {
        throw ApiException.badRequest("spec.resourceAttributes.namespace must match namespace: " + ns);
      }
    } else {
      throw ApiException.badRequest("disallowed on this kind of request: nonResourceAttributes");
    }
    review.with("metadata").put("namespace", ns);
    access(subject(spec), review, ns);
  }

  private void subjectAccessReview(Exchange ex, RequestInfo info, ObjectNode review) {
    access(subject(review.with("spec")), review, null);
  }

  private static UserInfo subject(ObjectNode spec) {
    String user = Json.text(spec, "user");
    List<String> groups = new ArrayList<>();
    spec.path("groups").forEach(g -> groups.add(g.asText()));
    if ((user == null || user.isEmpty()) && groups.isEmpty()) {
      throw ApiException.invalid(AUTHZ, "SubjectAccessReview", "",
          List.of(new ApiException.Cause("FieldValueRequired", "Required value: at least one of user or group must be specified", "spec.user")));
    }
    Map<String, List<String>> extra = new LinkedHashMap<>();
    spec.path("extra").fields().forEachRemaining(e -> {
      List<String> v = new ArrayList<>();
      e.getValue().forEach(x -> v.add(x.asText()));
      extra.put(e.getKey(), v);
    });
    return new UserInfo(user == null ? "" : user, Json.text(spec, "uid"), groups, extra);
  }

  private void access(UserInfo user, ObjectNode review, String namespace) {
    ObjectNode spec = review.with("spec");
    RequestAttributes attrs;
    JsonNode ra = spec.get("resourceAttributes");
    JsonNode na = spec.get("nonResourceAttributes");
    if (ra != null && ra.isObject()) {
      attrs = new RequestAttributes(true, ra.path("verb").asText(""), ra.path("group").asText(""),
          ra.path("version").asText(""), ra.path("resource").asText(""), emptyToNull(ra.path("subresource").asText("")),
          emptyToNull(ra.path("namespace").asText("")), emptyToNull(ra.path("name").asText("")), "");
    } else if (na != null && na.isObject()) {
      attrs = new RequestAttributes(false, na.path("verb").asText(""), null, null, null, null, null, null,
          na.path("path").asText(""));
    } else {
      throw ApiException.invalid(AUTHZ, Json.text(review, "kind"), "",
          List.of(new ApiException.Cause("FieldValueRequired", "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified", "spec.resourceAttributes")));
    }
    Authorizer.Decision d = authorizer.authorize(user, attrs);
    ObjectNode status = review.putObject("status");
    status.put("allowed", d.allowed());
    if (!d.reason().isEmpty()) {
      status.put("reason", d.reason());
    }
  }

  private void selfSubjectRulesReview(Exchange ex, RequestInfo info, ObjectNode review) {
    String ns = review.path("spec").path("namespace").asText("");
    RbacAuthorizer.Policy.Rules rules = rbac.rulesFor(ex.user, ns);
    ObjectNode status = review.putObject("status");
    ArrayNode res = status.putArray("resourceRules");
    boolean superuser = ex.user.groups().contains(RbacAuthorizer.SUPERUSER_GROUP);
    if (superuser) {
      ObjectNode all = res.addObject();
      all.putArray("verbs").add("*");
      all.putArray("apiGroups").add("*");
      all.putArray("resources").add("*");
    }
    for (PolicyRule r : rules.resourceRules()) {
      ObjectNode o = res.addObject();
      strings(o.putArray("verbs"), r.verbs());
      strings(o.putArray("apiGroups"), r.apiGroups());
      strings(o.putArray("resources"), r.resources());
      if (!r.resourceNames().isEmpty()) {
        strings(o.putArray("resourceNames"), r.resourceNames());
      }
    }
    ArrayNode non = status.putArray("nonResourceRules");
    if (superuser) {
      ObjectNode all = non.addObject();
      all.putArray("verbs").add("*");
      all.putArray("nonResourceURLs").add("*");
    }
    for (PolicyRule r : rules.nonResourceRules()) {
      ObjectNode o = non.addObject();
      strings(o.putArray("verbs"), r.verbs());
      strings(o.putArray("nonResourceURLs"), r.nonResourceURLs());
    }
    status.put("incomplete", !rules.errors().isEmpty());
    if (!rules.errors().isEmpty()) {
      status.put("evaluationError", String.join(", ", rules.errors()));
    }
  }

  private void selfSubjectReview(Exchange ex, RequestInfo info, ObjectNode review) {
    ObjectNode ui = review.putObject("status").putObject("userInfo");
    UserInfo u = ex.user;
    ui.put("username", u.name());
    if (!u.uid().isEmpty()) {
      ui.put("uid", u.uid());
    }
    strings(ui.putArray("groups"), u.groups());
    if (!u.extra().isEmpty()) {
      ObjectNode extra = ui.putObject("extra");
      u.extra().forEach((k, v) -> strings(extra.putArray(k), v));
    }
  }

  private static void strings(ArrayNode a, List<String> values) {
    values.forEach(a::add);
  }

  private static String emptyToNull(String s) {
    return s == null || s.isEmpty() ? null : s;
  }
}
