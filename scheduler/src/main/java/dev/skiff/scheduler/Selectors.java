package dev.skiff.scheduler;

import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeSelector;
import io.fabric8.kubernetes.api.model.NodeSelectorRequirement;
import io.fabric8.kubernetes.api.model.NodeSelectorTerm;
import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.List;
import java.util.Map;

/** Label, node-selector and toleration matching, as in apimachinery and component-helpers. */
final class Selectors {
  private Selectors() {}

  /** metav1.LabelSelector: null matches nothing, empty matches everything. */
  static boolean matches(LabelSelector sel, Map<String, String> labels) {
    if (sel == null) {
      return false;
    }
    Map<String, String> l = labels == null ? Map.of() : labels;
    if (sel.getMatchLabels() != null) {
      for (var e : sel.getMatchLabels().entrySet()) {
        if (!e.getValue().equals(l.get(e.getKey()))) {
          return false;
        }
      }
    }
    if (sel.getMatchExpressions() != null) {
      for (LabelSelectorRequirement r : sel.getMatchExpressions()) {
        String v = l.get(r.getKey());
        List<String> vals = r.getValues() == null ? List.of() : r.getValues();
        boolean ok = switch (r.getOperator()) {
          case "In" -> v != null && vals.contains(v);
          case "NotIn" -> v == null || !vals.contains(v);
          case "Exists" -> v != null;
          case "DoesNotExist" -> v == null;
          default -> false;
        };
        if (!ok) {
          return false;
        }
      }
    }
    return true;
  }

  /** Required node affinity: terms are ORed (component-helpers nodeaffinity). */
  static boolean matches(NodeSelector sel, Node node) {
    if (sel == null || sel.getNodeSelectorTerms() == null) {
      return true;
    }
    for (NodeSelectorTerm t : sel.getNodeSelectorTerms()) {
      if (matches(t, node)) {
        return true;
      }
    }
    return false;
  }

  /** One term: its requirements are ANDed; an empty term matches nothing. */
  static boolean matches(NodeSelectorTerm t, Node node) {
    boolean any = false;
    Map<String, String> labels = node.getMetadata().getLabels() == null ? Map.of() : node.getMetadata().getLabels();
    if (t.getMatchExpressions() != null) {
      for (NodeSelectorRequirement r : t.getMatchExpressions()) {
        any = true;
        if (!matches(r, labels.get(r.getKey()))) {
          return false;
        }
      }
    }
    if (t.getMatchFields() != null) {
      for (NodeSelectorRequirement r : t.getMatchFields()) {
        any = true;
        String v = "metadata.name".equals(r.getKey()) ? node.getMetadata().getName() : null;
        if (!matches(r, v)) {
          return false;
        }
      }
    }
    return any;
  }

  private static boolean matches(NodeSelectorRequirement r, String v) {
    List<String> vals = r.getValues() == null ? List.of() : r.getValues();
    return switch (r.getOperator()) {
      case "In" -> v != null && vals.contains(v);
      case "NotIn" -> v == null || !vals.contains(v);
      case "Exists" -> v != null;
      case "DoesNotExist" -> v == null;
      case "Gt", "Lt" -> {
        if (v == null || vals.size() != 1) {
          yield false;
        }
        try {
          long a = Long.parseLong(v);
          long b = Long.parseLong(vals.get(0));
          yield r.getOperator().equals("Gt") ? a > b : a < b;
        } catch (NumberFormatException e) {
          yield false;
        }
      }
      default -> false;
    };
  }

  /** v1helper.TolerationsTolerateTaint. */
  static boolean tolerates(List<Toleration> tolerations, Taint taint) {
    if (tolerations == null) {
      return false;
    }
    for (Toleration t : tolerations) {
      if (t.getEffect() != null && !t.getEffect().isEmpty() && !t.getEffect().equals(taint.getEffect())) {
        continue;
      }
      if (t.getKey() != null && !t.getKey().isEmpty() && !t.getKey().equals(taint.getKey())) {
        continue;
      }
      String op = t.getOperator() == null || t.getOperator().isEmpty() ? "Equal" : t.getOperator();
      if (op.equals("Exists")) {
        return true;
      }
      if (op.equals("Equal") && java.util.Objects.equals(nz(t.getValue()), nz(taint.getValue()))) {
        return true;
      }
    }
    return false;
  }

  private static String nz(String s) {
    return s == null ? "" : s;
  }
}
