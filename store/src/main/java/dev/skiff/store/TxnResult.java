package dev.skiff.store;

/**
 * Outcome of a conditional write. On success {@code revision} is the revision of the write and
 * {@code kv} the written value (null for delete). On failure {@code kv} is the current value of
 * the key (null when absent) so the caller can report a precise conflict without another read.
 */
public record TxnResult(boolean succeeded, long revision, KeyValue kv) {
  public static TxnResult ok(long revision, KeyValue kv) {
    return new TxnResult(true, revision, kv);
  }

  public static TxnResult failed(long revision, KeyValue current) {
    return new TxnResult(false, revision, current);
  }
}
