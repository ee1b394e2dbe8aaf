package dev.skiff.apiserver.defaults;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;

/**
 * Tree helpers with Go's "nil pointer" reading of JSON: a field that is absent or JSON null is
 * unset and gets the default; any present value, including "" for strings that are not pointers
 * upstream, is handled per field by the callers.
 */
final class Json {
  private Json() {}

  static boolean unset(JsonNode parent, String field) {
    JsonNode n = parent.get(field);
    return n == null || n.isNull();
  }

  /** Unset or the empty string: Go's zero value for a non-pointer string field. */
  static boolean emptyString(JsonNode parent, String field) {
    JsonNode n = parent.get(field);
    return n == null || n.isNull() || (n.isTextual() && n.asText().isEmpty());
  }

  static void defaultString(ObjectNode parent, String field, String value) {
    if (emptyString(parent, field)) {
      parent.put(field, value);
    }
  }

  /** For pointer fields ({@code *string}): only nil is defaulted, "" is kept. */
  static void defaultStringPtr(ObjectNode parent, String field, String value) {
    if (unset(parent, field)) {
      parent.put(field, value);
    }
  }

  static void defaultInt(ObjectNode parent, String field, long value) {
    if (unset(parent, field)) {
      parent.put(field, value);
    }
  }

  static void defaultBool(ObjectNode parent, String field, boolean value) {
    if (unset(parent, field)) {
      parent.put(field, value);
    }
  }

  /** The object at {@code field}, created when unset. */
  static ObjectNode obj(ObjectNode parent, String field) {
    JsonNode n = parent.get(field);
    if (n instanceof ObjectNode o) {
      return o;
    }
    return parent.putObject(field);
  }

  /** The object at {@code field} or null when it is not an object (nothing to default). */
  static ObjectNode objOrNull(JsonNode parent, String field) {
    if (parent == null) {
      return null;
    }
    JsonNode n = parent.get(field);
    return n instanceof ObjectNode o ? o : null;
  }

  static ObjectNode objAt(JsonNode root, String... path) {
    JsonNode cur = root;
    for (String p : path) {
      if (cur == null) {
        return null;
      }
      cur = cur.get(p);
    }
    return cur instanceof ObjectNode o ? o : null;
  }

  /** The object elements of the array at {@code field}. */
  static List<ObjectNode> items(JsonNode parent, String field) {
    List<ObjectNode> out = new ArrayList<>();
    if (parent != null && parent.get(field) instanceof ArrayNode arr) {
      for (JsonNode n : arr) {
        if (n instanceof ObjectNode o) {
          out.add(o);
        }
      }
    }
    return out;
  }
}
