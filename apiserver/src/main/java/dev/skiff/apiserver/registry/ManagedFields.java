package dev.skiff.apiserver.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.Json;
import java.time.Instant;
import java.util.Iterator;
import java.util.Map;

/**
 * Records {@code metadata.managedFields} for non-apply writes: the writing manager gets an
 * {@code Update} entry owning, in FieldsV1 form, the fields it set (on create) or changed (on
 * update), merged with what it owned before. Lists whose elements carry a {@code name} are keyed
 * ({@code k:{"name":"web"}}); other lists are owned whole. Server-side apply (its own operation
 * and conflict rules) builds on this representation.
 */
final class ManagedFields {
  private ManagedFields() {}

  static void recordCreate(ObjectNode obj, WriteOptions opts, Instant now) {
    ObjectNode set = fieldSet(obj, true);
    ObjectNode meta = Meta.meta(obj);
    meta.remove("managedFields");
    if (set.isEmpty()) {
      return;
    }
    ArrayNode mf = meta.putArray("managedFields");
    mf.add(entry(manager(opts), opts, Json.text(obj, "apiVersion"), now, set));
  }

  static void recordUpdate(ObjectNode next, ObjectNode old, WriteOptions opts, Instant now) {
    ObjectNode changed = diff(next, old, opts.status());
    ObjectNode meta = Meta.meta(next);
    JsonNode previous = old.path("metadata").path("managedFields");
    ArrayNode mf = Json.array();
    String manager = manager(opts);
    String subresource = opts.status() ? "status" : null;
    ObjectNode mine = null;
    for (JsonNode e : previous) {
      if (manager.equals(e.path("manager").asText()) && "Update".equals(e.path("operation").asText())
          && java.util.Objects.equals(subresource, Json.text(e, "subresource"))) {
        mine = (ObjectNode) e.deepCopy();
      } else {
        mf.add(e);
      }
    }
    if (mine == null && changed.isEmpty()) {
      meta.set("managedFields", previous.isMissingNode() ? mf : previous);
      if (mf.isEmpty()) {
        meta.remove("managedFields");
      }
      return;
    }
    ObjectNode owned = mine == null ? Json.object() : (ObjectNode) mine.path("fieldsV1");
    merge(owned, changed);
    mf.add(entry(manager, opts, Json.text(next, "apiVersion"), now, owned));
    meta.set("managedFields", mf);
  }

  private static String manager(WriteOptions opts) {
    return opts.fieldManager() == null || opts.fieldManager().isEmpty() ? "unknown" : opts.fieldManager();
  }

  private static ObjectNode entry(String manager, WriteOptions opts, String apiVersion, Instant now, ObjectNode set) {
    ObjectNode e = Json.object();
    e.put("manager", manager);
    e.put("operation", opts.operation() == null ? "Update" : opts.operation());
    e.put("apiVersion", apiVersion);
    e.put("time", Meta.time(now));
    e.put("fieldsType", "FieldsV1");
    e.set("fieldsV1", set);
    if (opts.status()) {
      e.put("subresource", "status");
    }
    return e;
  }

  /** The FieldsV1 set of every leaf in {@code obj} (top-level server fields excluded). */
  private static ObjectNode fieldSet(JsonNode obj, boolean top) {
    ObjectNode out = Json.object();
    Iterator<Map.Entry<String, JsonNode>> it = obj.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      String k = e.getKey();
      if (top && (k.equals("apiVersion") || k.equals("kind"))) {
        continue;
      }
      if (top && k.equals("metadata")) {
        ObjectNode m = Json.object();
        for (String f : new String[] {"labels", "annotations", "finalizers", "ownerReferences"}) {
          JsonNode v = e.getValue().get(f);
          if (v != null && !v.isEmpty()) {
            m.set("f:" + f, valueSet(v));
          }
        }
        if (!m.isEmpty()) {
          out.set("f:metadata", m);
        }
        continue;
      }
      out.set("f:" + k, valueSet(e.getValue()));
    }
    return out;
  }

  private static JsonNode valueSet(JsonNode v) {
    if (v.isObject()) {
      ObjectNode s = fieldSet(v, false);
      if (!s.isEmpty()) {
        s.set(".", Json.object());
      }
      return s;
    }
    if (v.isArray() && v.size() > 0 && v.get(0).isObject() && v.get(0).has("name")) {
      ObjectNode s = Json.object();
      s.set(".", Json.object());
      for (JsonNode el : v) {
        ObjectNode key = Json.object();
        key.put("name", el.path("name").asText());
        ObjectNode elSet = fieldSet(el, false);
        elSet.set(".", Json.object());
        s.set("k:" + Json.string(key), elSet);
      }
      return s;
    }
    return Json.object();
  }

  /** Fields of {@code next} that differ from {@code old}. */
  private static ObjectNode diff(ObjectNode next, ObjectNode old, boolean statusOnly) {
    ObjectNode all = fieldSet(next, true);
    if (statusOnly) {
      ObjectNode s = Json.object();
      if (!java.util.Objects.equals(next.get("status"), old.get("status")) && all.has("f:status")) {
        s.set("f:status", all.get("f:status"));
      }
      return s;
    }
    ObjectNode out = Json.object();
    Iterator<Map.Entry<String, JsonNode>> it = all.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      String field = e.getKey().substring(2);
      JsonNode a = field.equals("metadata") ? next.get("metadata") : next.get(field);
      JsonNode b = field.equals("metadata") ? old.get("metadata") : old.get(field);
      if (field.equals("metadata")) {
        ObjectNode m = Json.object();
        Iterator<Map.Entry<String, JsonNode>> mi = e.getValue().fields();
        while (mi.hasNext()) {
          Map.Entry<String, JsonNode> me = mi.next();
          String f = me.getKey().substring(2);
          if (!java.util.Objects.equals(a.get(f), b.get(f))) {
            m.set(me.getKey(), me.getValue());
          }
        }
        if (!m.isEmpty()) {
          out.set("f:metadata", m);
        }
      } else if (!java.util.Objects.equals(a, b)) {
        out.set(e.getKey(), e.getValue());
      }
    }
    return out;
  }

  private static void merge(ObjectNode into, ObjectNode add) {
    Iterator<Map.Entry<String, JsonNode>> it = add.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      JsonNode have = into.get(e.getKey());
      if (have instanceof ObjectNode h && e.getValue() instanceof ObjectNode a) {
        merge(h, a);
      } else {
        into.set(e.getKey(), e.getValue());
      }
    }
  }
}
