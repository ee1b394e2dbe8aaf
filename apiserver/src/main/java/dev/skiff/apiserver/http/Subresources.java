package dev.skiff.apiserver.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.registry.Meta;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.ResourceStore;
import dev.skiff.apiserver.registry.WriteOptions;
import java.io.IOException;
import java.time.Instant;

/**
 * The status, scale, binding and finalize subresources. status reads and writes the whole object
 * but changes only {@code .status}; scale presents spec.replicas as autoscaling/v1 Scale;
 * pods/binding assigns a node once; namespaces/finalize replaces spec.finalizers.
 */
final class Subresources {
  private Subresources() {}

  static void handle(Exchange ex, RequestInfo info, ResourceStore store, ResourceHandler h, Negotiation neg)
      throws IOException {
    String sub = info.subresource();
    String verb = info.verb();
    switch (sub) {
      case "status" -> {
        switch (verb) {
          case "get" -> ex.json(200, ResourceHandler.served(store, store.get(info.namespace(), info.name())));
          case "update" -> h.update(ex, info, store, neg, "status");
          case "patch" -> h.patch(ex, info, store, neg, "status");
          default -> throw notAllowed();
        }
      }
      case "scale" -> scale(ex, info, store, h);
      case "binding" -> {
        if (!verb.equals("create")) {
          throw notAllowed();
        }
        binding(ex, info, store, h);
      }
      case "finalize" -> {
        if (!verb.equals("update")) {
          throw notAllowed();
        }
        ObjectNode body = h.decode(ex, store.descriptor(), ex.body(), true);
        ObjectNode r = store.guaranteedUpdate(null, info.name(), 0, cur -> {
          Json.with(cur, "spec").set("finalizers", body.path("spec").path("finalizers").deepCopy());
          return cur;
        }, h.writeOptions(ex, "finalize", "Update"), false);
        ex.json(200, Json.bytes(r));
      }
      default -> throw ApiException.notFound(store.descriptor().group, store.descriptor().plural + "/" + sub, info.name());
    }
  }

  private static ApiException notAllowed() {
    return ApiException.methodNotAllowed("the server does not allow this method on the requested resource");
  }

  private static void scale(Exchange ex, RequestInfo info, ResourceStore store, ResourceHandler h) {
    ResourceDescriptor d = store.descriptor();
    switch (info.verb()) {
      case "get" -> ex.json(200, Json.bytes(toScale(d, store.getObject(info.namespace(), info.name()))));
      case "update", "patch" -> {
        JsonNode body;
        byte[] raw = ex.body();
        try {
          body = h.readBody(ex, raw);
        } catch (IOException e) {
          throw ApiException.badRequest("error decoding request body: " + e.getMessage());
        }
        WriteOptions opts = h.writeOptions(ex, "scale", "Update"); // managedFields entry with subresource: scale
        String ct = ResourceHandler.contentType(ex);
        long[] expected = {0};
        ObjectNode result = store.guaranteedUpdate(info.namespace(), info.name(), 0, cur -> {
          ObjectNode scale = toScale(d, cur);
          ObjectNode desired;
          if (info.verb().equals("update")) {
            desired = body instanceof ObjectNode o ? o : Json.object();
            String rv = Meta.resourceVersion(desired);
            if (rv != null && !rv.isEmpty() && !rv.equals(Meta.resourceVersion(cur))) {
              throw ApiException.modified(d.group, d.plural, info.name());
            }
          } else {
            desired = dev.skiff.apiserver.patch.MergePatch.apply(scale, body) instanceof ObjectNode o ? o : scale;
            if (ct.equals("application/json-patch+json")) {
              desired = (ObjectNode) dev.skiff.apiserver.patch.JsonPatch.apply(scale, body);
            }
          }
          JsonNode replicas = desired.path("spec").path("replicas");
          if (!replicas.canConvertToInt() || replicas.asInt() < 0) {
            throw ApiException.invalid("autoscaling", "Scale", info.name(), java.util.List.of(
                ApiException.Cause.invalid("spec.replicas", replicas.isMissingNode() ? null : replicas,
                    "must be greater than or equal to 0")));
          }
          if (d.scaleSpecReplicasPath != null) {
            setPath(cur, d.scaleSpecReplicasPath, replicas.asInt());
          } else {
            Json.with(cur, "spec").put("replicas", replicas.asInt());
          }
          return cur;
        }, opts, false);
        ex.json(200, Json.bytes(toScale(d, result)));
      }
      default -> throw notAllowed();
    }
  }

  static ObjectNode toScale(ResourceDescriptor d, ObjectNode obj) {
    ObjectNode s = Json.object();
    s.put("kind", "Scale");
    s.put("apiVersion", "autoscaling/v1");
    ObjectNode m = s.putObject("metadata");
    JsonNode om = obj.path("metadata");
    for (String f : new String[] {"name", "namespace", "uid", "resourceVersion", "creationTimestamp"}) {
      if (om.has(f)) {
        m.set(f, om.get(f));
      }
    }
    if (d.scaleSpecReplicasPath != null) {
      // Custom resources: the CRD's specReplicasPath / statusReplicasPath / labelSelectorPath
      // (apiextensions-apiserver pkg/registry/customresource/storage.go scaleFromCustomResource).
      s.putObject("spec").put("replicas", path(obj, d.scaleSpecReplicasPath).asInt(0));
      s.putObject("status").put("replicas", path(obj, d.scaleStatusReplicasPath).asInt(0));
      if (d.scaleLabelSelectorPath != null && path(obj, d.scaleLabelSelectorPath).isTextual()) {
        ((ObjectNode) s.get("status")).put("selector", path(obj, d.scaleLabelSelectorPath).asText());
      }
      return s;
    }
    s.putObject("spec").put("replicas", obj.path("spec").path("replicas").asInt(0));
    ObjectNode st = s.putObject("status");
    st.put("replicas", obj.path("status").path("replicas").asInt(0));
    String sel = selectorString(obj.path("spec").path("selector"));
    if (!sel.isEmpty()) {
      st.put("selector", sel);
    }
    return s;
  }

  private static JsonNode path(JsonNode obj, String dotted) {
    JsonNode cur = obj;
    for (String seg : dotted.split("\\.")) {
      cur = cur.path(seg);
    }
    return cur;
  }

  private static void setPath(ObjectNode obj, String dotted, int value) {
    String[] segs = dotted.split("\\.");
    ObjectNode cur = obj;
    for (int i = 0; i < segs.length - 1; i++) {
      cur = Json.with(cur, segs[i]);
    }
    cur.put(segs[segs.length - 1], value);
  }

  /** A LabelSelector as its string form (metav1.LabelSelectorAsSelector(...).String()). */
  static String selectorString(JsonNode sel) {
    java.util.List<String> parts = new java.util.ArrayList<>();
    java.util.TreeMap<String, String> ml = new java.util.TreeMap<>();
    sel.path("matchLabels").fields().forEachRemaining(e -> ml.put(e.getKey(), e.getValue().asText()));
    ml.forEach((k, v) -> parts.add(k + "=" + v));
    for (JsonNode r : sel.path("matchExpressions")) {
      String key = r.path("key").asText();
      String op = r.path("operator").asText();
      java.util.List<String> vals = new java.util.ArrayList<>();
      r.path("values").forEach(v -> vals.add(v.asText()));
      java.util.Collections.sort(vals);
      switch (op) {
        case "In" -> parts.add(key + " in (" + String.join(",", vals) + ")");
        case "NotIn" -> parts.add(key + " notin (" + String.join(",", vals) + ")");
        case "Exists" -> parts.add(key);
        case "DoesNotExist" -> parts.add("!" + key);
        default -> { }
      }
    }
    java.util.Collections.sort(parts);
    return String.join(",", parts);
  }

  private static void binding(Exchange ex, RequestInfo info, ResourceStore store, ResourceHandler h) {
    JsonNode body;
    try {
      body = h.readBody(ex, ex.body());
    } catch (IOException e) {
      throw ApiException.badRequest("error decoding request body: " + e.getMessage());
    }
    String node = body.path("target").path("name").asText("");
    if (node.isEmpty()) {
      throw ApiException.invalid("", "Binding", info.name(), java.util.List.of(ApiException.Cause.required("target.name")));
    }
    String uid = Json.text(body.path("metadata"), "uid");
    WriteOptions opts = h.writeOptions(ex, null, "Update");
    store.guaranteedUpdate(info.namespace(), info.name(), 0, pod -> {
      if (Meta.deleting(pod)) {
        throw ApiException.conflict("", "pods", info.name(), "pod is being deleted, cannot be assigned to a host");
      }
      if (uid != null && !uid.equals(Meta.uid(pod))) {
        throw ApiException.conflict("", "pods", info.name(), "Precondition failed: UID in precondition: " + uid);
      }
      String have = Json.text(pod.path("spec"), "nodeName");
      if (have != null && !have.isEmpty()) {
        throw ApiException.conflict("", "pods/binding", info.name(), "pod " + info.name() + " is already assigned to node \"" + have + "\"");
      }
      Json.with(pod, "spec").put("nodeName", node);
      // pkg/registry/core/pod/storage/storage.go setPodHostAndAnnotations: PodScheduled=True.
      ObjectNode status = Json.with(pod, "status");
      ArrayNode conds = status.has("conditions") && status.get("conditions").isArray()
          ? (ArrayNode) status.get("conditions") : status.putArray("conditions");
      ObjectNode cond = null;
      for (JsonNode c : conds) {
        if ("PodScheduled".equals(c.path("type").asText())) {
          cond = (ObjectNode) c;
        }
      }
      if (cond == null) {
        cond = conds.addObject();
        cond.put("type", "PodScheduled");
      }
      cond.put("status", "True");
      cond.putNull("lastProbeTime");
      cond.put("lastTransitionTime", Meta.time(Instant.now()));
      cond.remove("reason");
      cond.remove("message");
      return pod;
    }, new WriteOptions(opts.fieldManager(), opts.dryRun(), "binding", "Update"), false);
    ObjectNode s = Json.object();
    s.put("kind", "Status");
    s.put("apiVersion", "v1");
    s.putObject("metadata");
    s.put("status", "Success");
    s.put("code", 201);
    ex.json(201, Json.bytes(s));
  }
}
