package dev.skiff.apiserver.ssa;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.Json;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The typed-value operations of structured-merge-diff (typed/tofieldset.go, merge.go,
 * remove.go, compare.go) over Jackson trees: the field set of a value, the merge of an applied
 * configuration into the live object, pruning of fields an applier stopped applying, and the
 * added/modified/removed comparison that moves ownership. Top-level fields that no manager
 * owns (apiVersion, kind, server-set metadata) are skipped, as upstream's stripMeta does.
 */
final class StructuredMerge {
  private StructuredMerge() {}

  /** Metadata fields never tracked (managedfields internal/stripmeta.go, plus server-set deletion fields). */
  private static final Set<String> STRIPPED_META = Set.of("name", "namespace", "creationTimestamp", "selfLink", "uid",
      "clusterName", "generation", "managedFields", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds");

  static boolean skipped(int depth, String parentField, String field) {
    if (depth == 0) {
      return field.equals("apiVersion") || field.equals("kind");
    }
    return depth == 1 && parentField.equals("metadata") && STRIPPED_META.contains(field);
  }

  /** Numbers compare by value (an applied 3 equals a stored 3 whatever its Java type). */
  static final Comparator<JsonNode> VALUE_EQ = (a, b) -> {
    if (a.equals(b)) {
      return 0;
    }
    if (a.isNumber() && b.isNumber()) {
      return a.decimalValue().compareTo(b.decimalValue());
    }
    return 1;
  };

  static boolean same(JsonNode a, JsonNode b) {
    return a.equals(VALUE_EQ, b);
  }

  // ------------------------------------------------------------------ field sets

  /** The field set of a whole object (typed/tofieldset.go). */
  static FieldSet toSet(ObjectNode obj, Shape root) {
    FieldSet out = new FieldSet();
    objectSet(obj, root, out, 0, "", false);
    return out;
  }

  /**
   * {@code added}: the set of a value that did not exist before, as the comparison records it:
   * every map, list and list item in it is a member too (upstream's Go zero values make struct
   * fields exist already, so structs are not).
   */
  private static void objectSet(ObjectNode o, Shape s, FieldSet here, int depth, String name, boolean added) {
    for (Map.Entry<String, JsonNode> e : o.properties()) {
      String k = e.getKey();
      if (skipped(depth, name, k)) {
        continue;
      }
      JsonNode v = e.getValue();
      FieldSet c = here.childOrCreate("f:" + k);
      Shape fs = s.field(k);
      valueSet(v, fs, c, depth + 1, k, added);
      if (v.isNull() || (v.isObject() && v.isEmpty()) || !s.declares(k)
          || (added && v.isContainerNode() && fs.kind != Shape.Kind.STRUCT)) {
        c.member(true);
      }
    }
  }

  static void valueSet(JsonNode v, Shape s, FieldSet here, int depth, String name, boolean added) {
    if (v.isObject()) {
      if (s.kind == Shape.Kind.ATOMIC || !s.granularObject()) {
        here.member(true);
        return;
      }
      objectSet((ObjectNode) v, s, here, depth, name, added);
    } else if (v.isArray()) {
      if (s.kind == Shape.Kind.LIST_MAP) {
        Shape el = s.elem();
        for (JsonNode item : v) {
          FieldSet c = here.childOrCreate(s.itemKey(item));
          valueSet(item, el, c, depth + 1, "", added);
          c.member(true);
        }
      } else if (s.kind == Shape.Kind.LIST_SET) {
        for (JsonNode item : v) {
          here.childOrCreate(Shape.valueKey(item)).member(true);
        }
      } else {
        here.member(true);
      }
    } else {
      here.member(true);
    }
  }

  // ------------------------------------------------------------------ merge

  /** Merges {@code cfg} into {@code live} in place (typed/merge.go; the applied value wins). */
  static void mergeObject(ObjectNode live, ObjectNode cfg, Shape s) {
    for (Map.Entry<String, JsonNode> e : cfg.properties()) {
      String k = e.getKey();
      JsonNode cv = e.getValue();
      if (cv.isNull()) {
        live.remove(k); // an explicit null owns the field and clears it
        continue;
      }
      JsonNode lv = live.get(k);
      Shape fs = s.field(k);
      live.set(k, lv == null ? own(cv) : mergeValue(lv, cv, fs));
    }
  }

  static JsonNode mergeValue(JsonNode lv, JsonNode cv, Shape s) {
    if (lv.isObject() && cv.isObject() && s.granularObject()) {
      mergeObject((ObjectNode) lv, (ObjectNode) cv, s);
      return lv;
    }
    if (lv.isArray() && cv.isArray()) {
      if (s.kind == Shape.Kind.LIST_MAP) {
        return mergeListMap((ArrayNode) lv, (ArrayNode) cv, s);
      }
      if (s.kind == Shape.Kind.LIST_SET) {
        ArrayNode out = ((ArrayNode) lv).deepCopy();
        Set<String> have = new HashSet<>();
        lv.forEach(x -> have.add(Shape.valueKey(x)));
        for (JsonNode x : cv) {
          if (have.add(Shape.valueKey(x))) {
            out.add(own(x));
          }
        }
        return out;
      }
    }
    return own(cv);
  }

  /**
   * The applied configuration is never modified (a retried update applies it again): containers
   * taken from it are copied, scalars are immutable and shared.
   */
  private static JsonNode own(JsonNode v) {
    return v.isContainerNode() ? v.deepCopy() : v;
  }

  /** Items keep the live order; items only in the applied list are appended in its order. */
  private static ArrayNode mergeListMap(ArrayNode lv, ArrayNode cv, Shape s) {
    Shape el = s.elem();
    Map<String, JsonNode> applied = new LinkedHashMap<>();
    for (JsonNode item : cv) {
      applied.put(s.itemKey(item), item);
    }
    ArrayNode out = Json.array();
    for (JsonNode item : lv) {
      JsonNode a = applied.remove(s.itemKey(item));
      out.add(a == null ? item : mergeValue(item, a, el));
    }
    applied.values().forEach(v -> out.add(own(v)));
    return out;
  }

  // ------------------------------------------------------------------ prune

  /**
   * Removes from {@code merged} what the applier owned last time ({@code last}) and nobody owns
   * now ({@code owned}, every manager's set including the applier's new one) — merge/update.go
   * prune, addBackOwnedItems and addBackDanglingItems: only paths in {@code last} are removed,
   * a path is kept while anything at or under it is owned.
   */
  static void prune(JsonNode value, Shape s, FieldSet last, FieldSet owned, int depth, String name) {
    prune(value, s, last, owned, depth, name, List.of());
  }

  /** {@code keys}: the key fields of a list item that stays, which identify it and so stay too. */
  private static void prune(JsonNode value, Shape s, FieldSet last, FieldSet owned, int depth, String name, List<String> keys) {
    if (!last.hasChildren()) {
      return;
    }
    if (value.isObject()) {
      ObjectNode o = (ObjectNode) value;
      for (Map.Entry<String, FieldSet> e : last.children().entrySet()) {
        String pe = e.getKey();
        if (!pe.startsWith("f:")) {
          continue;
        }
        String f = pe.substring(2);
        JsonNode v = o.get(f);
        if (v == null || skipped(depth, name, f) || keys.contains(f)) {
          continue;
        }
        FieldSet w = owned == null ? null : owned.child(pe);
        if (pruneChild(v, s.field(f), e.getValue(), w, depth + 1, f, List.of())) {
          o.remove(f);
        }
      }
    } else if (value.isArray() && (s.kind == Shape.Kind.LIST_MAP || s.kind == Shape.Kind.LIST_SET)) {
      ArrayNode a = (ArrayNode) value;
      Shape el = s.elem();
      for (int i = a.size() - 1; i >= 0; i--) {
        JsonNode item = a.get(i);
        String pe = s.kind == Shape.Kind.LIST_MAP ? s.itemKey(item) : Shape.valueKey(item);
        FieldSet l = last.child(pe);
        if (l == null) {
          continue;
        }
        FieldSet w = owned == null ? null : owned.child(pe);
        if (pruneChild(item, el, l, w, depth + 1, "", s.keys)) {
          a.remove(i);
        }
      }
    }
  }

  /** Returns whether the value at this path is to be removed whole. */
  private static boolean pruneChild(JsonNode v, Shape s, FieldSet l, FieldSet w, int depth, String name, List<String> keys) {
    boolean ownedBelow = w != null && !w.isEmpty();
    if (!ownedBelow && l.member()) {
      return true;
    }
    if (v.isContainerNode() && !v.isEmpty()) {
      prune(v, s, l, ownedBelow ? w : null, depth, name, keys);
      // A container emptied by pruning that nobody owns goes too (Go's omitempty would drop it).
      return v.isEmpty() && !ownedBelow;
    }
    return false;
  }

  // ------------------------------------------------------------------ compare

  /** Added, modified and removed paths between two versions of an object (typed/compare.go). */
  static final class Comparison {
    final FieldSet added = new FieldSet();
    final FieldSet modified = new FieldSet();
    final FieldSet removed = new FieldSet();

    FieldSet changed() {
      return added.copy().addAll(modified);
    }

    boolean isSame() {
      return added.isEmpty() && modified.isEmpty() && removed.isEmpty();
    }
  }

  static Comparison compare(ObjectNode lhs, ObjectNode rhs, Shape root) {
    Comparison c = new Comparison();
    compareObjects(lhs, rhs, root, c, new ArrayList<>(), 0, "");
    return c;
  }

  private static void compareObjects(ObjectNode l, ObjectNode r, Shape s, Comparison c, List<String> path, int depth, String name) {
    for (Map.Entry<String, JsonNode> e : l.properties()) {
      String k = e.getKey();
      if (skipped(depth, name, k)) {
        continue;
      }
      path.add("f:" + k);
      compareValues(e.getValue(), r.get(k), s.field(k), c, path, depth + 1, k, !s.declares(k));
      path.removeLast();
    }
    for (Map.Entry<String, JsonNode> e : r.properties()) {
      String k = e.getKey();
      if (l.has(k) || skipped(depth, name, k)) {
        continue;
      }
      path.add("f:" + k);
      compareValues(null, e.getValue(), s.field(k), c, path, depth + 1, k, !s.declares(k));
      path.removeLast();
    }
  }

  /**
   * {@code item}: the path is a map entry or list item, which is itself a member when added or
   * removed; a struct field is a member only when it is a leaf.
   */
  private static void compareValues(JsonNode l, JsonNode r, Shape s, Comparison c, List<String> path, int depth,
      String name, boolean item) {
    if (l == null || r == null) {
      JsonNode v = l == null ? r : l;
      FieldSet into = node(l == null ? c.added : c.removed, path);
      valueSet(v, s, into, depth, name, true);
      if (item || (v.isContainerNode() && s.kind != Shape.Kind.STRUCT) || v.isNull() || (v.isObject() && v.isEmpty())) {
        into.member(true);
      }
      return;
    }
    if (l.isObject() && r.isObject() && s.granularObject() && s.kind != Shape.Kind.ATOMIC) {
      compareObjects((ObjectNode) l, (ObjectNode) r, s, c, path, depth, name);
      return;
    }
    if (l.isArray() && r.isArray() && (s.kind == Shape.Kind.LIST_MAP || s.kind == Shape.Kind.LIST_SET)) {
      Map<String, JsonNode> li = index(l, s);
      Map<String, JsonNode> ri = index(r, s);
      Shape el = s.elem();
      for (Map.Entry<String, JsonNode> e : li.entrySet()) {
        path.add(e.getKey());
        JsonNode rv = ri.get(e.getKey());
        if (s.kind == Shape.Kind.LIST_SET) {
          if (rv == null) {
            node(c.removed, path).member(true);
          }
        } else {
          compareValues(e.getValue(), rv, el, c, path, depth + 1, "", true);
        }
        path.removeLast();
      }
      for (Map.Entry<String, JsonNode> e : ri.entrySet()) {
        if (li.containsKey(e.getKey())) {
          continue;
        }
        path.add(e.getKey());
        if (s.kind == Shape.Kind.LIST_SET) {
          node(c.added, path).member(true);
        } else {
          compareValues(null, e.getValue(), el, c, path, depth + 1, "", true);
        }
        path.removeLast();
      }
      return;
    }
    if (!same(l, r)) {
      node(c.modified, path).member(true);
    }
  }

  private static Map<String, JsonNode> index(JsonNode list, Shape s) {
    Map<String, JsonNode> out = new HashMap<>();
    for (JsonNode item : list) {
      out.putIfAbsent(s.kind == Shape.Kind.LIST_MAP ? s.itemKey(item) : Shape.valueKey(item), item);
    }
    return out;
  }

  private static FieldSet node(FieldSet root, List<String> path) {
    FieldSet n = root;
    for (String pe : path) {
      n = n.childOrCreate(pe);
    }
    return n;
  }
}
