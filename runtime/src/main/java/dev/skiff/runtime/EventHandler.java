package dev.skiff.runtime;

/**
 * Receives an informer's notifications. See {@link Informer} for the delivery contract; handlers
 * must return quickly and should only enqueue keys.
 */
public interface EventHandler<T> {
  void onAdd(T obj);

  void onUpdate(T oldObj, T newObj);

  /**
   * {@code finalStateUnknown} is true when the deletion was inferred from a relist (the watch
   * missed it), so {@code obj} is the last state the cache knew.
   */
  void onDelete(T obj, boolean finalStateUnknown);
}
