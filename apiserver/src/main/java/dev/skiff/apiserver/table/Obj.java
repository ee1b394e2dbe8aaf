package dev.skiff.apiserver.table;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.MissingNode;
import java.time.Duration;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Read helpers over Jackson trees that give Go's zero-value semantics: a missing string is "",
 * a missing number is 0, a missing list is empty. Printers upstream run on typed internal objects
 * where absent fields are zero values, so reading JSON this way reproduces their output.
 */
final class Obj {
  private Obj() {}

  static JsonNode at(JsonNode node, String... path) {
    JsonNode cur = node == null ? MissingNode.getInstance() : node;
    for (String p : path) {
      cur = cur.path(p);
    }
    return cur;
  }

  static String str(JsonNode node, String... path) {
    JsonNode n = at(node, path);
    return n.isValueNode() && !n.isNull() ? n.asText() : "";
  }

  static boolean has(JsonNode node, String... path) {
    JsonNode n = at(node, path);
    return !n.isMissingNode() && !n.isNull();
  }

  static long num(JsonNode node, String... path) {
    return at(node, path).asLong(0);
  }

  static long numOr(JsonNode node, long dflt, String... path) {
    JsonNode n = at(node, path);
    return n.isNumber() ? n.asLong() : dflt;
  }

  static boolean bool(JsonNode node, String... path) {
    return at(node, path).asBoolean(false);
  }

  static List<JsonNode> list(JsonNode node, String... path) {
    JsonNode n = at(node, path);
    List<JsonNode> out = new ArrayList<>();
    if (n.isArray()) {
      n.forEach(out::add);
    }
    return out;
  }

  static int size(JsonNode node, String... path) {
    JsonNode n = at(node, path);
    return n.isContainerNode() ? n.size() : 0;
  }

  /** String-valued map (labels, annotations, nodeSelector) sorted by key. */
  static Map<String, String> map(JsonNode node, String... path) {
    JsonNode n = at(node, path);
    Map<String, String> out = new TreeMap<>();
    if (n.isObject()) {
      for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        out.put(e.getKey(), e.getValue().isNull() ? "" : e.getValue().asText());
      }
    }
    return out;
  }

  static String name(JsonNode obj) {
    return str(obj, "metadata", "name");
  }

  /** Parses an RFC3339 (or MicroTime) timestamp; null when absent or unparseable (Go zero Time). */
  static Instant time(JsonNode node, String... path) {
    String s = str(node, path);
    if (s.isEmpty()) {
      return null;
    }
    try {
      return OffsetDateTime.parse(s).toInstant();
    } catch (DateTimeParseException e) {
      try {
        return Instant.parse(s);
      } catch (DateTimeParseException e2) {
        return null;
      }
    }
  }

  /** {@code translateTimestampSince} in printers.go: "&lt;unknown&gt;" for the zero time. */
  static String since(Instant t, Instant now) {
    return t == null ? "<unknown>" : HumanDuration.format(Duration.between(t, now));
  }

  static String age(JsonNode obj, Instant now) {
    return since(time(obj, "metadata", "creationTimestamp"), now);
  }

  /** {@code labels.FormatLabels}: sorted {@code k=v} joined by commas, "&lt;none&gt;" if empty. */
  static String formatLabels(Map<String, String> labels) {
    if (labels.isEmpty()) {
      return "<none>";
    }
    StringBuilder sb = new StringBuilder();
    for (Map.Entry<String, String> e : new TreeMap<>(labels).entrySet()) {
      if (sb.length() > 0) {
        sb.append(',');
      }
      sb.append(e.getKey()).append('=').append(e.getValue());
    }
    return sb.toString();
  }

  /**
   * {@code metav1.LabelSelectorAsSelector(sel).String()}: requirements sorted by key, matchLabels
   * as {@code k=v}, In/NotIn as {@code k in (a,b)} with sorted values, Exists as {@code k},
   * DoesNotExist as {@code !k}. Both a missing and an empty selector print "".
   */
  static String selectorString(JsonNode selector) {
    if (selector == null || !selector.isObject()) {
      return "";
    }
    // TreeMap by key, then insertion order within the key (labels.Selector sorts stably by key).
    TreeMap<String, List<String>> reqs = new TreeMap<>();
    for (Map.Entry<String, String> e : map(selector, "matchLabels").entrySet()) {
      reqs.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(e.getKey() + "=" + e.getValue());
    }
    for (JsonNode expr : list(selector, "matchExpressions")) {
      String key = str(expr, "key");
      TreeSet<String> values = new TreeSet<>();
      list(expr, "values").forEach(v -> values.add(v.asText()));
      String op = str(expr, "operator");
      String r =
          switch (op) {
            case "In" -> key + " in (" + String.join(",", values) + ")";
            case "NotIn" -> key + " notin (" + String.join(",", values) + ")";
            case "Exists" -> key;
            case "DoesNotExist" -> "!" + key;
            default -> null;
          };
      if (r == null) {
        return "<invalid>";
      }
      reqs.computeIfAbsent(key, k -> new ArrayList<>()).add(r);
    }
    List<String> parts = new ArrayList<>();
    reqs.values().forEach(parts::addAll);
    return String.join(",", parts);
  }

  /** {@code metav1.FormatLabelSelector}: like {@link #selectorString} but "&lt;none&gt;" if empty. */
  static String formatLabelSelector(JsonNode selector) {
    String s = selectorString(selector);
    return s.isEmpty() ? "<none>" : s;
  }

  /** {@code layoutContainerCells}: comma-joined container names and images. */
  static String[] containerCells(JsonNode podSpec) {
    List<String> names = new ArrayList<>();
    List<String> images = new ArrayList<>();
    for (JsonNode c : list(podSpec, "containers")) {
      names.add(str(c, "name"));
      images.add(str(c, "image"));
    }
    return new String[] {String.join(",", names), String.join(",", images)};
  }

  /** Go's {@code net.JoinHostPort}: brackets around IPv6 literals. */
  static String joinHostPort(String host, long port) {
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
  }

  /** First condition of the type; upstream helpers stop at the first match. */
  static JsonNode condition(JsonNode conditions, String type) {
    if (conditions != null && conditions.isArray()) {
      for (JsonNode c : conditions) {
        if (type.equals(str(c, "type"))) {
          return c;
        }
      }
    }
    return null;
  }

  static boolean conditionTrue(JsonNode conditions, String type) {
    JsonNode c = condition(conditions, type);
    return c != null && "True".equals(str(c, "status"));
  }

  /** Quantities are printed as stored; a missing quantity is Go's zero Quantity, "0". */
  static String quantity(JsonNode node, String... path) {
    String s = str(node, path);
    return s.isEmpty() ? "0" : s;
  }
}
