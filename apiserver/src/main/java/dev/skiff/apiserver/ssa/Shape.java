package dev.skiff.apiserver.ssa;

import com.fasterxml.jackson.databind.JsonNode;
import dev.skiff.apiserver.schema.SchemaNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * What structured merge needs to know about one schema position (structured-merge-diff
 * schema.Atom): whether maps are granular or atomic, and how list elements are identified.
 * Built lazily from {@link SchemaNode}s and shared across requests (thread-safe). Positions
 * without a schema are {@link Kind#UNTYPED}: objects merge field by field, lists are atomic
 * (SMD's deduced type, as for custom resources without a structural schema).
 */
final class Shape {
  enum Kind { STRUCT, MAP, ATOMIC, LIST_MAP, LIST_SET, SCALAR, UNTYPED }

  static final Shape UNTYPED = new Shape(Kind.UNTYPED, null, List.of());

  /**
   * Go types marked {@code +structType=atomic} upstream; the published OpenAPI does not carry
   * that marker for them, so they are listed here (k8s.io/api core/v1 and meta/v1 types.go).
   */
  private static final Set<String> ATOMIC_STRUCTS = Set.of(
      "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
      "io.k8s.api.core.v1.LocalObjectReference",
      "io.k8s.api.core.v1.ObjectReference",
      "io.k8s.api.core.v1.TypedLocalObjectReference",
      "io.k8s.api.core.v1.ConfigMapKeySelector",
      "io.k8s.api.core.v1.SecretKeySelector",
      "io.k8s.api.core.v1.ObjectFieldSelector",
      "io.k8s.api.core.v1.ResourceFieldSelector",
      "io.k8s.api.core.v1.NodeSelector",
      "io.k8s.api.core.v1.NodeSelectorTerm",
      "io.k8s.api.core.v1.TopologySelectorTerm");

  final Kind kind;
  private final SchemaNode node;
  final List<String> keys; // list-map keys, sorted by name (the k: serialization order)
  private final ConcurrentHashMap<String, Shape> fields = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Boolean> declared = new ConcurrentHashMap<>();
  private volatile Shape elem;

  private Shape(Kind kind, SchemaNode node, List<String> keys) {
    this.kind = kind;
    this.node = node;
    this.keys = keys;
  }

  static Shape of(SchemaNode n) {
    if (n == null) {
      return UNTYPED;
    }
    JsonNode r = n.resolvedJson();
    String type = n.type().orElse(null);
    boolean hasProps = r.path("properties").isObject() && !r.path("properties").isEmpty();
    if ("array".equals(type) || (type == null && r.has("items"))) {
      String lt = n.listType().orElse("atomic");
      if (lt.equals("map") && !n.listMapKeys().isEmpty()) {
        List<String> keys = new ArrayList<>(n.listMapKeys());
        keys.sort(null);
        return new Shape(Kind.LIST_MAP, n, List.copyOf(keys));
      }
      return new Shape(lt.equals("set") ? Kind.LIST_SET : Kind.ATOMIC, n, List.of());
    }
    if ("object".equals(type) || hasProps || r.has("additionalProperties")) {
      String mapType = text(n.json(), "x-kubernetes-map-type").or(() -> text(r, "x-kubernetes-map-type")).orElse("granular");
      if (mapType.equals("atomic") || n.resolvedDefinitionName().map(ATOMIC_STRUCTS::contains).orElse(false)) {
        return new Shape(Kind.ATOMIC, n, List.of());
      }
      if (hasProps) {
        return new Shape(Kind.STRUCT, n, List.of());
      }
      if (r.has("additionalProperties") && !r.path("additionalProperties").isBoolean()) {
        return new Shape(Kind.MAP, n, List.of());
      }
      return UNTYPED;
    }
    if (type != null || n.isIntOrString()) {
      return new Shape(Kind.SCALAR, n, List.of());
    }
    return UNTYPED;
  }

  private static Optional<String> text(JsonNode n, String f) {
    JsonNode v = n.get(f);
    return v != null && v.isTextual() ? Optional.of(v.textValue()) : Optional.empty();
  }

  /** Objects at this position merge field by field. */
  boolean granularObject() {
    return kind == Kind.STRUCT || kind == Kind.MAP || kind == Kind.UNTYPED;
  }

  /** Whether {@code name} is a declared struct field (map entries are not). */
  boolean declares(String name) {
    if (kind != Kind.STRUCT) {
      return false;
    }
    Boolean d = declared.get(name);
    if (d == null) {
      d = node.field(name).isPresent();
      declared.putIfAbsent(name, d);
    }
    return d;
  }

  Shape field(String name) {
    if (kind == Kind.UNTYPED || node == null) {
      return UNTYPED;
    }
    if (kind == Kind.MAP) {
      return elem();
    }
    Shape s = fields.get(name);
    if (s == null) {
      Optional<SchemaNode> f = node.field(name);
      s = f.isPresent() ? of(f.get()) : node.additionalProperties().map(Shape::of).orElse(UNTYPED);
      fields.putIfAbsent(name, s);
    }
    return s;
  }

  Shape elem() {
    if (node == null) {
      return UNTYPED;
    }
    Shape e = elem;
    if (e == null) {
      Optional<SchemaNode> n = node.items().or(node::additionalProperties);
      e = n.map(Shape::of).orElse(UNTYPED);
      elem = e;
    }
    return e;
  }

  /**
   * The {@code k:} path element of an associative list item. A missing {@code protocol} key is
   * TCP, the default the upstream OpenAPI declares for port lists (SMD fills absent keys from
   * the schema default when matching items).
   */
  String itemKey(JsonNode item) {
    StringBuilder sb = new StringBuilder(32).append("k:{");
    boolean first = true;
    for (String key : keys) {
      JsonNode v = item.get(key);
      String json;
      if (v == null || v.isNull()) {
        if (!key.equals("protocol")) {
          continue;
        }
        json = "\"TCP\"";
      } else {
        json = scalarJson(v);
      }
      if (!first) {
        sb.append(',');
      }
      first = false;
      sb.append('"').append(key).append("\":").append(json);
    }
    return sb.append('}').toString();
  }

  static String valueKey(JsonNode v) {
    return "v:" + scalarJson(v);
  }

  /** Compact JSON of a value; scalars by hand (the hot path of item keys), others by Jackson. */
  static String scalarJson(JsonNode v) {
    if (v.isTextual()) {
      String t = v.textValue();
      StringBuilder sb = new StringBuilder(t.length() + 2).append('"');
      for (int i = 0; i < t.length(); i++) {
        char c = t.charAt(i);
        switch (c) {
          case '"' -> sb.append("\\\"");
          case '\\' -> sb.append("\\\\");
          case '\n' -> sb.append("\\n");
          case '\r' -> sb.append("\\r");
          case '\t' -> sb.append("\\t");
          default -> {
            if (c < 0x20) {
              sb.append(String.format("\\u%04x", (int) c));
            } else {
              sb.append(c);
            }
          }
        }
      }
      return sb.append('"').toString();
    }
    if (v.isIntegralNumber() || v.isBoolean()) {
      return v.asText();
    }
    return v.toString();
  }
}
