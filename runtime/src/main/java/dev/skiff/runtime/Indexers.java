package dev.skiff.runtime;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReference;
import java.util.List;
import java.util.function.Function;

/** Common index functions for {@link Informer#addIndexer}. */
public final class Indexers {
  /** Index name of {@link #ownerUid()} (every owner, not only the controller). */
  public static final String BY_OWNER_UID = "ownerUid";
  /** Index name fabric8 maintains on every informer: objects by namespace. */
  public static final String BY_NAMESPACE = "namespace";

  private Indexers() {
  }

  public static <T extends HasMetadata> Function<T, List<String>> ownerUid() {
    return obj -> {
      List<OwnerReference> refs = obj.getMetadata().getOwnerReferences();
      return refs == null ? List.of() : refs.stream().map(OwnerReference::getUid).toList();
    };
  }

  /** Index name for {@link #label(String)}. */
  public static String byLabel(String labelKey) {
    return "label:" + labelKey;
  }

  /** Indexes objects by the value of label {@code labelKey} (objects without it are skipped). */
  public static <T extends HasMetadata> Function<T, List<String>> label(String labelKey) {
    return obj -> {
      var labels = obj.getMetadata().getLabels();
      String v = labels == null ? null : labels.get(labelKey);
      return v == null ? List.of() : List.of(v);
    };
  }
}
