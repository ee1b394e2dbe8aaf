package dev.skiff.apiserver.knative;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.crd.CustomResources;

/**
 * Converts serving.knative.dev Services between the legacy v1alpha1 shape and the stored v1 shape,
 * as Knative 0.18 did (pkg/apis/serving/v1alpha1/service_conversion.go, release-0.18):
 *
 * <ul>
 *   <li>v1alpha1 to v1: {@code runLatest.configuration} becomes the template plus
 *       {@code traffic: [{latestRevision: true, percent: 100}]}; {@code pinned} becomes 100% to its
 *       revisionName; {@code release} becomes {@code current}/{@code candidate}/{@code latest} tags
 *       (a revision named {@code @latest} means latestRevision); {@code manual} cannot be migrated.
 *       A configuration's {@code revisionTemplate} (or {@code template}) becomes {@code template};
 *       a revision spec's single {@code container} becomes {@code containers[0]}; traffic
 *       {@code name} becomes {@code tag}; {@code servingState}, {@code generation} and
 *       {@code build} are dropped.
 *   <li>v1 to v1alpha1: 100% to the latest revision reads back as {@code runLatest} (with
 *       {@code revisionTemplate} and a single {@code container}, the seed's shape, so that
 *       {@code kubectl apply} of that YAML patches the same fields), 100% to one revision as
 *       {@code pinned}; anything else as the inline v1 fields, which v1alpha1 accepted since 0.6.
 *       Status gains v1alpha1's {@code domain} and {@code address.hostname} next to the URLs.
 * </ul>
 *
 * <p>Stateless and thread-safe.
 */
final class ServiceConversion implements CustomResources.Conversion {
  static final String V1 = "serving.knative.dev/v1";
  static final String V1ALPHA1 = "serving.knative.dev/v1alpha1";

  @Override
  public ObjectNode convert(ObjectNode obj, String toApiVersion) {
    String from = obj.path("apiVersion").asText(V1);
    if (from.equals(toApiVersion)) {
      return obj.deepCopy();
    }
    return V1.equals(toApiVersion) ? toV1(obj) : toV1alpha1(obj);
  }

  // ---------------------------------------------------------------- v1alpha1 -> v1

  static ObjectNode toV1(ObjectNode in) {
    ObjectNode out = in.deepCopy();
    out.put("apiVersion", V1);
    JsonNode spec = in.path("spec");
    ObjectNode v1spec = Json.object();
    ObjectNode template = null;
    ArrayNode traffic = null;
    if (spec.has("template")) {
      template = revisionTemplate(spec.get("template"));
    }
    if (spec.has("traffic")) {
      traffic = trafficToV1((ArrayNode) spec.get("traffic"));
    }
    if (spec.hasNonNull("runLatest")) {
      template = configurationTemplate(spec.path("runLatest").path("configuration"));
      traffic = Json.array();
      traffic.addObject().put("percent", 100).put("latestRevision", true);
    } else if (spec.hasNonNull("pinned")) {
      template = configurationTemplate(spec.path("pinned").path("configuration"));
      traffic = Json.array();
      traffic.addObject().put("revisionName", spec.path("pinned").path("revisionName").asText()).put("percent", 100)
          .put("latestRevision", false);
    } else if (spec.hasNonNull("release")) {
      JsonNode rel = spec.get("release");
      template = configurationTemplate(rel.path("configuration"));
      traffic = Json.array();
      JsonNode revs = rel.path("revisions");
      int rollout = rel.path("rolloutPercent").asInt(0);
      if (revs.size() >= 1) {
        target(traffic.addObject().put("tag", "current"), revs.get(0).asText()).put("percent", revs.size() == 2 ? 100 - rollout : 100);
      }
      if (revs.size() == 2) {
        target(traffic.addObject().put("tag", "candidate"), revs.get(1).asText()).put("percent", rollout);
      }
      traffic.addObject().put("tag", "latest").put("latestRevision", true).put("percent", 0);
    } else if (spec.has("manual")) {
      throw ApiException.badRequest("The specified Service mode \"manual\" cannot be migrated forward to serving.knative.dev/v1");
    }
    if (template != null) {
      v1spec.set("template", template);
    }
    if (traffic != null) {
      v1spec.set("traffic", traffic);
    }
    if (!spec.isMissingNode()) {
      out.set("spec", v1spec);
    }
    if (in.get("status") instanceof ObjectNode st) {
      ObjectNode s = st.deepCopy();
      s.remove("domain");
      s.remove("domainInternal");
      if (s.get("address") instanceof ObjectNode a) {
        a.remove("hostname");
      }
      if (s.get("traffic") instanceof ArrayNode t) {
        s.set("traffic", trafficToV1(t));
      }
      out.set("status", s);
    }
    return out;
  }

  private static ObjectNode target(ObjectNode t, String revision) {
    if ("@latest".equals(revision)) {
      t.put("latestRevision", true);
    } else {
      t.put("revisionName", revision).put("latestRevision", false);
    }
    return t;
  }

  private static ObjectNode configurationTemplate(JsonNode configuration) {
    JsonNode t = configuration.has("template") ? configuration.get("template") : configuration.path("revisionTemplate");
    return revisionTemplate(t);
  }

  private static ObjectNode revisionTemplate(JsonNode t) {
    ObjectNode out = t.isObject() ? ((ObjectNode) t).deepCopy() : Json.object();
    if (out.get("spec") instanceof ObjectNode spec) {
      JsonNode container = spec.remove("container");
      if (container != null && container.isObject()) {
        ArrayNode cs = spec.has("containers") && spec.get("containers").isArray() ? (ArrayNode) spec.get("containers")
            : spec.putArray("containers");
        if (cs.isEmpty()) {
          cs.add(container);
        }
      }
      spec.remove("servingState");
      spec.remove("generation");
      spec.remove("concurrencyModel");
    } else {
      out.putObject("spec");
    }
    return out;
  }

  private static ArrayNode trafficToV1(ArrayNode in) {
    ArrayNode out = Json.array();
    for (JsonNode t : in) {
      ObjectNode o = ((ObjectNode) t).deepCopy();
      JsonNode name = o.remove("name");
      if (name != null && !o.has("tag")) {
        o.set("tag", name);
      }
      out.add(o);
    }
    return out;
  }

  // ---------------------------------------------------------------- v1 -> v1alpha1

  static ObjectNode toV1alpha1(ObjectNode in) {
    ObjectNode out = in.deepCopy();
    out.put("apiVersion", V1ALPHA1);
    JsonNode spec = in.path("spec");
    if (spec.isObject()) {
      ObjectNode a = Json.object();
      JsonNode traffic = spec.path("traffic");
      JsonNode template = spec.path("template");
      if (isRunLatest(traffic)) {
        a.putObject("runLatest").putObject("configuration").set("revisionTemplate", legacyTemplate(template));
      } else if (isPinned(traffic)) {
        ObjectNode p = a.putObject("pinned");
        p.put("revisionName", traffic.get(0).path("revisionName").asText());
        p.putObject("configuration").set("revisionTemplate", legacyTemplate(template));
      } else {
        if (!template.isMissingNode()) {
          a.set("template", template.deepCopy());
        }
        if (!traffic.isMissingNode()) {
          a.set("traffic", traffic.deepCopy());
        }
      }
      out.set("spec", a);
    }
    if (in.get("status") instanceof ObjectNode st) {
      ObjectNode s = st.deepCopy();
      String url = s.path("url").asText("");
      if (url.contains("://")) {
        s.put("domain", host(url));
      }
      String addr = s.path("address").path("url").asText("");
      if (addr.contains("://")) {
        s.put("domainInternal", host(addr));
        ((ObjectNode) s.get("address")).put("hostname", host(addr));
      }
      out.set("status", s);
    }
    return out;
  }

  private static String host(String url) {
    String h = url.substring(url.indexOf("://") + 3);
    int slash = h.indexOf('/');
    return slash < 0 ? h : h.substring(0, slash);
  }

  private static boolean isRunLatest(JsonNode traffic) {
    if (!traffic.isArray() || traffic.size() != 1) {
      return false;
    }
    JsonNode t = traffic.get(0);
    return t.path("latestRevision").asBoolean(false) && t.path("percent").asInt(0) == 100
        && t.path("tag").asText("").isEmpty() && t.path("revisionName").asText("").isEmpty()
        && t.path("configurationName").asText("").isEmpty();
  }

  private static boolean isPinned(JsonNode traffic) {
    if (!traffic.isArray() || traffic.size() != 1) {
      return false;
    }
    JsonNode t = traffic.get(0);
    return !t.path("revisionName").asText("").isEmpty() && t.path("percent").asInt(0) == 100
        && t.path("tag").asText("").isEmpty();
  }

  /** A v1 template with one container read back as v1alpha1's single {@code container}. */
  private static ObjectNode legacyTemplate(JsonNode template) {
    ObjectNode t = template.isObject() ? ((ObjectNode) template).deepCopy() : Json.object();
    if (t.get("spec") instanceof ObjectNode spec && spec.get("containers") instanceof ArrayNode cs && cs.size() == 1) {
      spec.remove("containers");
      spec.set("container", cs.get(0));
    }
    return t;
  }
}
