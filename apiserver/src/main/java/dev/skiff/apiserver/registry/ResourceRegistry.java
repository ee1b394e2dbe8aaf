package dev.skiff.apiserver.registry;

import dev.skiff.apiserver.cache.CacheHub;
import dev.skiff.apiserver.cache.WatchCache;
import dev.skiff.store.KeyValueStore;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Every served resource and its {@link ResourceStore}. Resources can be added and removed at run
 * time (CustomResourceDefinitions); listeners hear about it so discovery and OpenAPI follow.
 */
public final class ResourceRegistry {
  private final KeyValueStore kv;
  private final CacheHub hub;
  private final Clock clock;
  private final ResourceStrategy strategy;
  private final List<Admission> admissions = new CopyOnWriteArrayList<>();
  private final Map<String, ResourceStore> stores = new ConcurrentHashMap<>();
  private final List<ResourceDescriptor> order = new CopyOnWriteArrayList<>();
  private final List<Runnable> listeners = new CopyOnWriteArrayList<>();
  private volatile FieldTracker fieldTracker = dev.skiff.apiserver.ssa.FieldManager.untyped();

  public ResourceRegistry(KeyValueStore kv, CacheHub hub, Clock clock, ResourceStrategy strategy) {
    this.kv = kv;
    this.hub = hub;
    this.clock = clock;
    this.strategy = strategy;
  }

  public void addAdmission(Admission a) {
    admissions.add(a);
  }

  private final Admission chain = (d, obj, old, opts) -> {
    for (Admission a : admissions) {
      a.admit(d, obj, old, opts);
    }
  };

  /** Installs the managedFields tracker on every store, present and future. */
  public void setFieldTracker(FieldTracker t) {
    fieldTracker = t;
    stores.values().forEach(s -> s.setFieldTracker(t));
  }

  public ResourceStore add(ResourceDescriptor d) {
    WatchCache cache = hub.register(d.storagePrefix(), d.namespaced, d.fields);
    ResourceStore s = new ResourceStore(d, kv, hub, cache, strategy, chain, clock);
    s.setFieldTracker(fieldTracker);
    stores.put(id(d.group, d.version, d.plural), s);
    order.add(d);
    listeners.forEach(Runnable::run);
    return s;
  }

  public void remove(ResourceDescriptor d) {
    stores.remove(id(d.group, d.version, d.plural));
    order.remove(d);
    listeners.forEach(Runnable::run);
  }

  public void onChange(Runnable r) {
    listeners.add(r);
  }

  public ResourceStore store(String group, String version, String plural) {
    return stores.get(id(group, version, plural));
  }

  /** The store of a kind at its first-registered version (for internal callers). */
  public ResourceStore storeForKind(String group, String kind) {
    for (ResourceDescriptor d : order) {
      if (d.group.equals(group) && d.kind.equals(kind)) {
        return stores.get(id(d.group, d.version, d.plural));
      }
    }
    return null;
  }

  public List<ResourceDescriptor> descriptors() {
    return new ArrayList<>(order);
  }

  public CacheHub hub() {
    return hub;
  }

  private static String id(String group, String version, String plural) {
    return group + "/" + version + "/" + plural;
  }
}
