package dev.skiff.store;

/**
 * A change, as etcd reports it. For PUT {@code kv} is the new value; for DELETE {@code kv} holds
 * the key, an empty value and the deleting revision as modRevision. {@code prev} is the value
 * before the change (null for a create).
 */
public record WatchEvent(Type type, KeyValue kv, KeyValue prev) {
  public enum Type { PUT, DELETE }

  /** The revision at which this change happened. */
  public long revision() {
    return kv.modRevision();
  }
}
