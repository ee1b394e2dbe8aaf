package dev.skiff.runtime;

import java.util.List;
import java.util.function.Function;

/**
 * A shared, indexed, list-then-watch cache of one resource type, with notifications.
 *
 * <p>Delivery contract (client-go {@code tools/cache/shared_informer.go}):
 * <ul>
 *   <li><b>Eventual consistency.</b> The cache eventually matches the server's state: if an
 *       object stops changing, the cache ends up holding its latest version (or not holding it,
 *       if deleted). It is a snapshot that lags; never treat it as the truth for a write decision
 *       without optimistic concurrency (resourceVersion).
 *   <li><b>Ordered per handler.</b> Each handler receives notifications for an object in the
 *       order the server produced them, but may not see every intermediate version (changes
 *       can coalesce across a relist). A deletion missed by the watch is delivered after a
 *       relist with {@code finalStateUnknown = true}.
 *   <li><b>Handlers must be quick.</b> Each handler has its own unbounded buffer, so a slow
 *       handler delays only itself, but it then lags behind the cache. Handlers should enqueue a
 *       key into a work queue and return; the work happens in workers.
 *   <li>By the time a handler sees a notification the cache already holds that state (or a
 *       newer one).
 * </ul>
 * Handlers added after the informer has synced first receive {@code onAdd} for every cached
 * object. Indexers must be added before the informer starts. Thread-safe.
 */
public interface Informer<T> {
  Class<T> type();

  Informer<T> addHandler(EventHandler<? super T> handler);

  /** Adds a named index; must be called before the informer starts. */
  Informer<T> addIndexer(String name, Function<T, List<String>> indexFunction);

  Lister<T> lister();

  /** True once the initial list has been delivered into the cache. */
  boolean hasSynced();
}
