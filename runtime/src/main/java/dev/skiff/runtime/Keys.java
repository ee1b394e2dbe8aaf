package dev.skiff.runtime;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReference;

/**
 * Work-queue keys: {@code namespace/name} for namespaced objects, {@code name} for cluster-scoped
 * ones (client-go's MetaNamespaceKeyFunc).
 */
public final class Keys {
  private Keys() {
  }

  public static String of(HasMetadata obj) {
    return of(obj.getMetadata().getNamespace(), obj.getMetadata().getName());
  }

  public static String of(String namespace, String name) {
    return namespace == null || namespace.isEmpty() ? name : namespace + "/" + name;
  }

  /** The namespace of a key, or {@code null} for a cluster-scoped key. */
  public static String namespace(String key) {
    int slash = key.indexOf('/');
    return slash < 0 ? null : key.substring(0, slash);
  }

  public static String name(String key) {
    return key.substring(key.indexOf('/') + 1);
  }

  /** The owner reference with {@code controller: true}, or {@code null}. */
  public static OwnerReference controllerOf(HasMetadata obj) {
    if (obj.getMetadata().getOwnerReferences() == null) {
      return null;
    }
    for (OwnerReference ref : obj.getMetadata().getOwnerReferences()) {
      if (Boolean.TRUE.equals(ref.getController())) {
        return ref;
      }
    }
    return null;
  }
}
