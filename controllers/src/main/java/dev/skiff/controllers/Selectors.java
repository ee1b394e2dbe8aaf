package dev.skiff.controllers;

import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import java.util.List;
import java.util.Map;

/**
 * metav1.LabelSelector matching ({@code apimachinery/pkg/apis/meta/v1/helpers.go
 * LabelSelectorAsSelector}): matchLabels and matchExpressions (In, NotIn, Exists, DoesNotExist) are
 * ANDed; a null selector matches nothing, an empty one everything. Stateless, thread-safe.
 */
final class Selectors {
  private Selectors() {
  }

  /**
   * Keys of the workloads of {@code kind} an object belongs to: its controller if it has one
   * (of that kind, else none), or for an orphan every candidate whose non-empty selector matches
   * it (the candidates that may adopt it).
   */
  static <T extends io.fabric8.kubernetes.api.model.HasMetadata> List<String> owners(
      io.fabric8.kubernetes.api.model.HasMetadata obj, String kind, List<T> candidates,
      java.util.function.Function<T, LabelSelector> selectorOf) {
    String ns = obj.getMetadata().getNamespace();
    io.fabric8.kubernetes.api.model.OwnerReference ref = dev.skiff.runtime.Keys.controllerOf(obj);
    if (ref != null) {
      return kind.equals(ref.getKind()) ? List.of(dev.skiff.runtime.Keys.of(ns, ref.getName())) : List.of();
    }
    List<String> out = new java.util.ArrayList<>();
    for (T c : candidates) {
      LabelSelector sel = selectorOf.apply(c);
      if (!isEmpty(sel) && matches(sel, obj.getMetadata().getLabels())) {
        out.add(dev.skiff.runtime.Keys.of(c));
      }
    }
    return out;
  }

  static boolean matches(LabelSelector selector, Map<String, String> labels) {
    if (selector == null) {
      return false;
    }
    Map<String, String> l = labels == null ? Map.of() : labels;
    if (selector.getMatchLabels() != null) {
      for (var e : selector.getMatchLabels().entrySet()) {
        if (!e.getValue().equals(l.get(e.getKey()))) {
          return false;
        }
      }
    }
    if (selector.getMatchExpressions() != null) {
      for (LabelSelectorRequirement r : selector.getMatchExpressions()) {
        String v = l.get(r.getKey());
        List<String> values = r.getValues() == null ? List.of() : r.getValues();
        boolean ok = switch (r.getOperator()) {
          case "In" -> v != null && values.contains(v);
          case "NotIn" -> v == null || !values.contains(v);
          case "Exists" -> l.containsKey(r.getKey());
          case "DoesNotExist" -> !l.containsKey(r.getKey());
          default -> false;
        };
        if (!ok) {
          return false;
        }
      }
    }
    return true;
  }

  /** True for a selector that matches everything (no labels, no expressions). */
  static boolean isEmpty(LabelSelector selector) {
    return selector != null && (selector.getMatchLabels() == null || selector.getMatchLabels().isEmpty())
        && (selector.getMatchExpressions() == null || selector.getMatchExpressions().isEmpty());
  }
}
