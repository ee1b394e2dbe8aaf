package dev.skiff.controllers;

import io.fabric8.kubernetes.api.model.Affinity;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeSelector;
import io.fabric8.kubernetes.api.model.NodeSelectorRequirement;
import io.fabric8.kubernetes.api.model.NodeSelectorTerm;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.api.model.Toleration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Predicate;

/**
 * What the DaemonSet and node lifecycle controllers need of scheduling rules: node selectors,
 * required node affinity (matchExpressions and the {@code metadata.name} matchField) and taints
 * against tolerations ({@code component-helpers/scheduling/corev1}, {@code v1helper}). Stateless,
 * thread-safe.
 */
final class NodePredicates {
  private NodePredicates() {
  }

  /** nodeSelector and required node affinity of {@code spec} match {@code node}. */
  static boolean fitsNodeAffinity(PodSpec spec, Node node) {
    Map<String, String> labels = node.getMetadata().getLabels() == null ? Map.of() : node.getMetadata().getLabels();
    if (spec.getNodeSelector() != null) {
      for (var e : spec.getNodeSelector().entrySet()) {
        if (!e.getValue().equals(labels.get(e.getKey()))) {
          return false;
        }
      }
    }
    Affinity a = spec.getAffinity();
    if (a == null || a.getNodeAffinity() == null || a.getNodeAffinity().getRequiredDuringSchedulingIgnoredDuringExecution() == null) {
      return true;
    }
    NodeSelector sel = a.getNodeAffinity().getRequiredDuringSchedulingIgnoredDuringExecution();
    if (sel.getNodeSelectorTerms() == null) {
      return true;
    }
    for (NodeSelectorTerm t : sel.getNodeSelectorTerms()) {
      if (matches(t, node, labels)) {
        return true; // terms are ORed
      }
    }
    return false;
  }

  private static boolean matches(NodeSelectorTerm t, Node node, Map<String, String> labels) {
    boolean any = false;
    if (t.getMatchExpressions() != null) {
      for (NodeSelectorRequirement r : t.getMatchExpressions()) {
        any = true;
        if (!matches(r, labels.get(r.getKey()), labels.containsKey(r.getKey()))) {
          return false;
        }
      }
    }
    if (t.getMatchFields() != null) {
      for (NodeSelectorRequirement r : t.getMatchFields()) {
        any = true;
        String v = "metadata.name".equals(r.getKey()) ? node.getMetadata().getName() : null;
        if (!matches(r, v, v != null)) {
          return false;
        }
      }
    }
    return any; // an empty term matches nothing
  }

  private static boolean matches(NodeSelectorRequirement r, String v, boolean present) {
    List<String> vals = r.getValues() == null ? List.of() : r.getValues();
    return switch (r.getOperator()) {
      case "In" -> v != null && vals.contains(v);
      case "NotIn" -> v == null || !vals.contains(v);
      case "Exists" -> present;
      case "DoesNotExist" -> !present;
      case "Gt", "Lt" -> {
        try {
          long a = Long.parseLong(v);
          long b = Long.parseLong(vals.get(0));
          yield r.getOperator().equals("Gt") ? a > b : a < b;
        } catch (RuntimeException e) {
          yield false;
        }
      }
      default -> false;
    };
  }

  /** v1helper ToleratesTaint: one toleration matches the taint's key, value and effect. */
  static boolean tolerates(Toleration t, Taint taint) {
    if (t.getEffect() != null && !t.getEffect().isEmpty() && !t.getEffect().equals(taint.getEffect())) {
      return false;
    }
    if (t.getKey() != null && !t.getKey().isEmpty() && !t.getKey().equals(taint.getKey())) {
      return false;
    }
    String op = t.getOperator() == null || t.getOperator().isEmpty() ? "Equal" : t.getOperator();
    return switch (op) {
      case "Exists" -> true;
      case "Equal" -> Objects.equals(nz(t.getValue()), nz(taint.getValue()));
      default -> false;
    };
  }

  static boolean tolerates(List<Toleration> tolerations, Taint taint) {
    if (tolerations != null) {
      for (Toleration t : tolerations) {
        if (tolerates(t, taint)) {
          return true;
        }
      }
    }
    return false;
  }

  /** FindMatchingUntoleratedTaint: the first taint passing {@code filter} that no toleration tolerates, or null. */
  static Taint untolerated(List<Taint> taints, List<Toleration> tolerations, Predicate<Taint> filter) {
    if (taints != null) {
      for (Taint t : taints) {
        if (filter.test(t) && !tolerates(tolerations, t)) {
          return t;
        }
      }
    }
    return null;
  }

  static boolean isScheduleOrExecute(Taint t) {
    return "NoSchedule".equals(t.getEffect()) || "NoExecute".equals(t.getEffect());
  }

  private static String nz(String s) {
    return s == null ? "" : s;
  }
}
