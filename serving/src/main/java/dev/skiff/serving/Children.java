package dev.skiff.serving;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/** Ownership and metadata propagation shared by the reconcilers (knative.dev/pkg/kmeta). Stateless. */
final class Children {
  private Children() {}

  static final String LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

  /** The controller owner reference pointing at {@code owner} (kmeta.NewControllerRef). */
  static OwnerReference controllerRef(HasMetadata owner) {
    return new OwnerReferenceBuilder().withApiVersion(owner.getApiVersion()).withKind(owner.getKind())
        .withName(owner.getMetadata().getName()).withUid(owner.getMetadata().getUid())
        .withController(true).withBlockOwnerDeletion(true).build();
  }

  /** Whether {@code child}'s controller is {@code owner} (same UID). */
  static boolean controlledBy(HasMetadata child, HasMetadata owner) {
    if (child.getMetadata().getOwnerReferences() == null) {
      return false;
    }
    for (OwnerReference r : child.getMetadata().getOwnerReferences()) {
      if (Boolean.TRUE.equals(r.getController())) {
        return Objects.equals(r.getUid(), owner.getMetadata().getUid());
      }
    }
    return false;
  }

  /** A copy of {@code annotations} without kubectl's last-applied configuration (kmeta.FilterMap). */
  static Map<String, String> annotations(Map<String, String> annotations) {
    Map<String, String> out = new LinkedHashMap<>();
    if (annotations != null) {
      annotations.forEach((k, v) -> {
        if (!LAST_APPLIED.equals(k)) {
          out.put(k, v);
        }
      });
    }
    return out;
  }

  static Map<String, String> labels(Map<String, String> labels) {
    return labels == null ? new LinkedHashMap<>() : new LinkedHashMap<>(labels);
  }

  static boolean deleting(HasMetadata obj) {
    return obj.getMetadata().getDeletionTimestamp() != null;
  }
}
