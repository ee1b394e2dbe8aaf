package dev.skiff.apiserver.ssa;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.Json;
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
    return kind == Kind.STRUCT && node.field(name).isPresent();
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
    ObjectNode k = Json.object();
    for (String key : keys) {
      JsonNode v = item.get(key);
      if (v == null || v.isNull()) {
        if (key.equals("protocol")) {
          k.put(key, "TCP");
        }
        continue;
      }
      k.set(key, v);
    }
    return "k:" + Json.string(k);
  }

  static String valueKey(JsonNode v) {
    return "v:" + Json.string(v);
  }
}
