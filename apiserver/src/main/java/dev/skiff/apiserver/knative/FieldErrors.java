package dev.skiff.apiserver.knative;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Knative's {@code apis.FieldError} (knative.dev/pkg/apis/field_error.go): problems collected with
 * their field paths, rendered the way Knative's webhook renders them: errors with the same message
 * and details are merged (their paths sorted and joined with ", "), the results are sorted and
 * joined by newlines, and each reads {@code <message>: <paths>[\n<details>]}. Not thread-safe.
 */
final class FieldErrors {
  private record Entry(String message, String details, String path) {}

  private final List<Entry> entries = new ArrayList<>();

  void add(String message, String path) {
    entries.add(new Entry(message, "", path));
  }

  void add(String message, String details, String path) {
    entries.add(new Entry(message, details == null ? "" : details, path));
  }

  /** apis.ErrMissingField. */
  void missing(String path) {
    add("missing field(s)", path);
  }

  /** apis.ErrInvalidValue. */
  void invalid(Object value, String path) {
    add("invalid value: " + value, path);
  }

  void invalid(Object value, String path, String details) {
    add("invalid value: " + value, details, path);
  }

  /** apis.ErrOutOfBoundsValue. */
  void outOfBounds(Object value, Object lower, Object upper, String path) {
    add("expected " + lower + " <= " + value + " <= " + upper, path);
  }

  /** apis.ErrDisallowedFields. */
  void disallowed(String path) {
    add("must not set the field(s)", path);
  }

  /** apis.ErrMultipleOneOf: one error naming every path. */
  void multipleOneOf(String... paths) {
    for (String p : paths) {
      add("expected exactly one, got both", p);
    }
  }

  /** apis.ErrMissingOneOf. */
  void missingOneOf(String... paths) {
    for (String p : paths) {
      add("expected exactly one, got neither", p);
    }
  }

  boolean isEmpty() {
    return entries.isEmpty();
  }

  /** The error text (FieldError.Error()). */
  String message() {
    Map<String, TreeSet<String>> merged = new LinkedHashMap<>();
    Map<String, String[]> parts = new LinkedHashMap<>();
    for (Entry e : entries) {
      String key = e.message() + "\u0000" + e.details();
      merged.computeIfAbsent(key, k -> new TreeSet<>()).add(e.path());
      parts.putIfAbsent(key, new String[] {e.message(), e.details()});
    }
    List<String> out = new ArrayList<>();
    for (var m : merged.entrySet()) {
      String[] p = parts.get(m.getKey());
      String s = p[0] + ": " + String.join(", ", m.getValue());
      out.add(p[1].isEmpty() ? s : s + "\n" + p[1]);
    }
    out.sort(null);
    return String.join("\n", out);
  }

  /**
   * The refusal as kube-apiserver reports a validating webhook's denial, with Knative's webhook
   * name, as 422 Invalid.
   */
  ApiException toException(String group, String kind, String name) {
    ObjectNode details = Json.object();
    if (name != null && !name.isEmpty()) {
      details.put("name", name);
    }
    details.put("group", group);
    details.put("kind", kind);
    return new ApiException(422, null, "admission webhook \"validation.webhook.serving.knative.dev\" denied the request: "
        + "validation failed: " + message(), details);
  }
}
