package dev.skiff.apiserver.knative;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.TreeSet;

/**
 * The "(-old +new)" report Knative attaches to "Saw the following changes without a name change"
 * and "Immutable fields changed" (knative.dev/pkg/kmp.ShortDiff, a go-cmp diff): one entry per
 * changed leaf, {@code {root}.path:} then {@code -: old} and {@code +: new}. Stateless.
 */
final class TemplateDiff {
  private TemplateDiff() {}

  static String diff(JsonNode before, JsonNode after, String root) {
    StringBuilder sb = new StringBuilder();
    walk(before, after, "{" + root + "}", sb);
    return sb.toString();
  }

  private static void walk(JsonNode a, JsonNode b, String path, StringBuilder sb) {
    if (a.equals(b)) {
      return;
    }
    if (a.isObject() && b.isObject()) {
      TreeSet<String> keys = new TreeSet<>();
      a.fieldNames().forEachRemaining(keys::add);
      b.fieldNames().forEachRemaining(keys::add);
      for (String k : keys) {
        walk(a.path(k), b.path(k), path + "." + k, sb);
      }
      return;
    }
    if (a.isArray() && b.isArray() && a.size() == b.size()) {
      for (int i = 0; i < a.size(); i++) {
        walk(a.get(i), b.get(i), path + "[" + i + "]", sb);
      }
      return;
    }
    sb.append(path).append(":\n");
    if (!a.isMissingNode()) {
      sb.append("\t-: ").append(a).append('\n');
    }
    if (!b.isMissingNode()) {
      sb.append("\t+: ").append(b).append('\n');
    }
  }
}
