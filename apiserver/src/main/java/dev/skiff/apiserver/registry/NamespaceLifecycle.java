package dev.skiff.apiserver.registry;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.cache.CachedObject;
import dev.skiff.apiserver.cache.WatchCache;
import java.util.Set;

/**
 * The NamespaceLifecycle admission plugin (plugin/pkg/admission/namespace/lifecycle): nothing is
 * created in a namespace that does not exist or is being terminated, and the system namespaces
 * cannot be deleted.
 */
public final class NamespaceLifecycle implements Admission {
  public static final Set<String> IMMORTAL = Set.of("default", "kube-system", "kube-public", "kube-node-lease");

  private final ResourceStore store;
  private final WatchCache namespaces;
  private final String prefix;

  public NamespaceLifecycle(ResourceStore namespaceStore) {
    this.store = namespaceStore;
    this.namespaces = namespaceStore.cache();
    this.prefix = namespaceStore.descriptor().storagePrefix();
  }

  @Override
  public void admit(ResourceDescriptor d, ObjectNode obj, ObjectNode old, WriteOptions options) {
    if (!d.namespaced || old != null) {
      return;
    }
    String ns = Meta.namespace(obj);
    CachedObject n = namespaces.get(prefix + ns);
    if (n == null) {
      // Not in the cache yet may mean "created a moment ago": read consistently before refusing
      // (the upstream plugin falls back to a live lookup the same way). Throws NotFound if absent.
      n = store.get(null, ns);
    }
    if ("Terminating".equals(n.fields().get("status.phase")) && !d.kind.equals("Event")) {
      throw new ApiException(403, "Forbidden",
          d.plural + (d.group.isEmpty() ? "" : "." + d.group) + " \"" + Meta.name(obj) + "\" is forbidden: unable to create new content in namespace "
              + ns + " because it is being terminated", null);
    }
  }
}
