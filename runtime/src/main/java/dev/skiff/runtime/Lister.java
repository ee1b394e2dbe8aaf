package dev.skiff.runtime;

import java.util.List;

/**
 * A read-only view of an informer's cache. Objects returned are the cache's own instances:
 * never modify them; copy first (fabric8 model classes have {@code toBuilder()} / {@code edit()}).
 * Reads are thread-safe and never call the API server.
 */
public interface Lister<T> {
  /** The object, or {@code null}; {@code namespace} is null for cluster-scoped types. */
  T get(String namespace, String name);

  /** The object with work-queue key {@code key} ({@link Keys}), or {@code null}. */
  T getByKey(String key);

  List<T> list();

  List<T> list(String namespace);

  /** Objects whose index function {@code indexName} produced {@code value}. */
  List<T> byIndex(String indexName, String value);
}
