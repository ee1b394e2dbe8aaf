package dev.skiff.apiserver.ssa;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.Json;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.HashMap;

/**
 * A set of field paths as a trie, the model behind FieldsV1 (structured-merge-diff
 * fieldpath.Set). Each node is reached by a path element in its serialized form:
 * {@code f:<field>}, {@code k:{"name":"x"}} (associative list item, keys sorted by name),
 * {@code v:<json>} (set list element), {@code i:<index>}. A node is a <em>member</em> when the
 * path to it is itself in the set (FieldsV1 writes it as {@code {}} when it has no children, or
 * as {@code ".": {}} next to its children). Not thread-safe; instances are per request.
 */
public final class FieldSet {
  /** Upstream PathElement order: field names, then keys, then values, then indexes. */
  static final Comparator<String> ORDER = Comparator.comparingInt(FieldSet::rank).thenComparing(Comparator.naturalOrder());

  private boolean member;
  private HashMap<String, FieldSet> children; // sorted (ORDER) only when written

  public FieldSet() {}

  private static int rank(String pe) {
    return switch (pe.isEmpty() ? ' ' : pe.charAt(0)) {
      case 'f' -> 0;
      case 'k' -> 1;
      case 'v' -> 2;
      case 'i' -> 3;
      default -> 4;
    };
  }

  public boolean member() {
    return member;
  }

  public FieldSet member(boolean m) {
    this.member = m;
    return this;
  }

  /** The child reached by {@code pe}, or null. */
  public FieldSet child(String pe) {
    return children == null ? null : children.get(pe);
  }

  public FieldSet childOrCreate(String pe) {
    if (children == null) {
      children = new HashMap<>();
    }
    return children.computeIfAbsent(pe, k -> new FieldSet());
  }

  /** Children by path element (live view, unordered; empty when none). */
  public Map<String, FieldSet> children() {
    return children == null ? Map.of() : children;
  }

  public boolean hasChildren() {
    return children != null && !children.isEmpty();
  }

  public boolean isEmpty() {
    if (member) {
      return false;
    }
    if (children != null) {
      for (FieldSet c : children.values()) {
        if (!c.isEmpty()) {
          return false;
        }
      }
    }
    return true;
  }

  /** Inserts the path given as path elements. */
  public FieldSet insert(String... path) {
    FieldSet n = this;
    for (String pe : path) {
      n = n.childOrCreate(pe);
    }
    n.member = true;
    return this;
  }

  public boolean contains(String... path) {
    FieldSet n = this;
    for (String pe : path) {
      n = n.child(pe);
      if (n == null) {
        return false;
      }
    }
    return n.member;
  }

  public FieldSet copy() {
    FieldSet c = new FieldSet();
    c.member = member;
    if (children != null) {
      for (Map.Entry<String, FieldSet> e : children.entrySet()) {
        c.childOrCreate(e.getKey()).addAll(e.getValue());
      }
    }
    return c;
  }

  /** In place union. */
  public FieldSet addAll(FieldSet other) {
    if (other == null) {
      return this;
    }
    member |= other.member;
    if (other.children != null) {
      for (Map.Entry<String, FieldSet> e : other.children.entrySet()) {
        childOrCreate(e.getKey()).addAll(e.getValue());
      }
    }
    return this;
  }

  /** In place difference: drops the members {@code other} has (fieldpath.Set.Difference). */
  public FieldSet removeAll(FieldSet other) {
    removeAllChanged(other);
    return this;
  }

  /** {@link #removeAll}, returning whether anything was removed. */
  public boolean removeAllChanged(FieldSet other) {
    if (other == null) {
      return false;
    }
    boolean changed = false;
    if (other.member && member) {
      member = false;
      changed = true;
    }
    if (children != null && other.children != null) {
      Iterator<Map.Entry<String, FieldSet>> it = children.entrySet().iterator();
      while (it.hasNext()) {
        Map.Entry<String, FieldSet> e = it.next();
        FieldSet o = other.children.get(e.getKey());
        if (o != null) {
          FieldSet c = e.getValue();
          changed |= c.removeAllChanged(o);
          if (!c.member && (c.children == null || c.children.isEmpty())) {
            it.remove();
          }
        }
      }
    }
    return changed;
  }

  /** Whether every member of this set is in {@code other}. */
  public boolean isSubsetOf(FieldSet other) {
    if (member && (other == null || !other.member)) {
      return false;
    }
    if (children != null) {
      for (Map.Entry<String, FieldSet> e : children.entrySet()) {
        FieldSet o = other == null ? null : other.child(e.getKey());
        if (!e.getValue().isSubsetOf(o)) {
          return false;
        }
      }
    }
    return true;
  }

  /** Removes a whole subtree (fieldpath.Set.RecursiveDifference for one path element). */
  public void removeChild(String pe) {
    if (children != null) {
      children.remove(pe);
    }
  }

  /** Members in both sets. */
  public FieldSet intersection(FieldSet other) {
    FieldSet out = new FieldSet();
    if (other == null) {
      return out;
    }
    out.member = member && other.member;
    if (children != null && other.children != null) {
      for (Map.Entry<String, FieldSet> e : children.entrySet()) {
        FieldSet o = other.children.get(e.getKey());
        if (o != null) {
          FieldSet i = e.getValue().intersection(o);
          if (!i.isEmpty()) {
            out.childOrCreate(e.getKey()).addAll(i);
          }
        }
      }
    }
    return out;
  }

  /** Every member as a path string in upstream notation: {@code .spec.containers[name="web"].image}. */
  public List<String> paths() {
    List<String> out = new ArrayList<>();
    collect("", out);
    return out;
  }

  private void collect(String prefix, List<String> out) {
    if (member) {
      out.add(prefix);
    }
    for (Map.Entry<String, FieldSet> e : sorted()) {
      e.getValue().collect(prefix + render(e.getKey()), out);
    }
  }

  /** One path element as upstream fieldpath prints it. */
  static String render(String pe) {
    if (pe.startsWith("f:")) {
      return "." + pe.substring(2);
    }
    if (pe.startsWith("v:")) {
      return "[=" + pe.substring(2) + "]";
    }
    if (pe.startsWith("i:")) {
      return "[" + pe.substring(2) + "]";
    }
    if (pe.startsWith("k:")) {
      JsonNode key = Json.parse(pe.substring(2).getBytes(java.nio.charset.StandardCharsets.UTF_8));
      StringBuilder sb = new StringBuilder("[");
      Iterator<Map.Entry<String, JsonNode>> it = key.properties().iterator();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> e = it.next();
        sb.append(e.getKey()).append('=').append(Json.string(e.getValue()));
        if (it.hasNext()) {
          sb.append(',');
        }
      }
      return sb.append(']').toString();
    }
    return pe;
  }

  private List<Map.Entry<String, FieldSet>> sorted() {
    if (children == null) {
      return List.of();
    }
    List<Map.Entry<String, FieldSet>> l = new ArrayList<>(children.entrySet());
    if (l.size() > 1) {
      l.sort(Map.Entry.comparingByKey(ORDER));
    }
    return l;
  }

  /** FieldsV1 JSON of this set. */
  public ObjectNode toFieldsV1() {
    ObjectNode out = Json.object();
    write(out);
    return out;
  }

  /** Writes the children (and "." first when a member); returns whether any child was written. */
  private boolean write(ObjectNode out) {
    if (children == null) {
      return false;
    }
    if (member) {
      out.set(".", Json.object());
    }
    boolean any = false;
    for (Map.Entry<String, FieldSet> e : sorted()) {
      FieldSet c = e.getValue();
      ObjectNode o = Json.object();
      boolean wrote = c.hasChildren() && c.write(o);
      if (wrote || c.member) {
        out.set(e.getKey(), o);
        any = true;
      }
    }
    if (!any && member) {
      out.remove(".");
    }
    return any;
  }

  /** Parses FieldsV1; throws IllegalArgumentException when it is not a FieldsV1 tree. */
  public static FieldSet fromFieldsV1(JsonNode json) {
    FieldSet s = new FieldSet();
    if (json == null || json.isNull() || json.isMissingNode()) {
      return s;
    }
    if (!json.isObject()) {
      throw new IllegalArgumentException("FieldsV1 must be an object");
    }
    read(s, json);
    return s;
  }

  private static void read(FieldSet s, JsonNode json) {
    for (Map.Entry<String, JsonNode> e : json.properties()) {
      String k = e.getKey();
      JsonNode v = e.getValue();
      if (!v.isObject()) {
        throw new IllegalArgumentException("FieldsV1 values must be objects: " + k);
      }
      if (k.equals(".")) {
        s.member = true;
        continue;
      }
      if (k.length() < 2 || k.charAt(1) != ':' || "fkvi".indexOf(k.charAt(0)) < 0) {
        throw new IllegalArgumentException("invalid FieldsV1 path element: " + k);
      }
      FieldSet c = s.childOrCreate(k);
      if (v.isEmpty()) {
        c.member = true;
      } else {
        read(c, v);
      }
    }
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof FieldSet f && toFieldsV1().equals(f.toFieldsV1());
  }

  @Override
  public int hashCode() {
    return toFieldsV1().hashCode();
  }

  @Override
  public String toString() {
    return Json.string(toFieldsV1());
  }
}
