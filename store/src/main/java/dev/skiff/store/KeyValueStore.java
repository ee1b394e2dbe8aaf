package dev.skiff.store;

/**
 * An etcd-v3-shaped revisioned key-value store: the only way the API server persists objects.
 *
 * <p>Every successful write gets the next store-wide revision (strictly increasing, never reused,
 * also across restarts). A write call returns only once the write is durable for the
 * implementation (the embedded store has fsynced it). Conditional writes compare the key's
 * modRevision exactly as an etcd Txn(Compare(ModRevision(key) == n)) would, so the API server's
 * optimistic concurrency maps one to one onto them.
 *
 * <p>All methods are thread-safe. Reads are linearizable with respect to writes that have
 * returned.
 */
public interface KeyValueStore extends AutoCloseable {

  /** The revision of the latest write (0 for an empty, never-written store). */
  long currentRevision();

  /** The latest revision that has been compacted away (0 if never compacted). */
  long compactedRevision();

  /** The current value of {@code key}, or null. */
  KeyValue get(String key);

  /**
   * Keys starting with {@code prefix}, in byte order of the key, starting strictly after
   * {@code startAfter} when it is non-null, at most {@code limit} of them ({@code <= 0}: no limit),
   * read at the latest revision, which the result reports. (Historical reads are not part of the
   * SPI: the API server's watch cache serves every older view.)
   */
  RangeResult range(String prefix, String startAfter, int limit);

  /** Writes {@code value} if {@code key} does not exist. */
  TxnResult create(String key, byte[] value);

  /** Writes {@code value} if the key exists with modRevision {@code expectedModRevision}. */
  TxnResult update(String key, byte[] value, long expectedModRevision);

  /**
   * Deletes {@code key} if it exists and, when {@code expectedModRevision > 0}, has that
   * modRevision. The result's kv is the deleted value on success.
   */
  TxnResult delete(String key, long expectedModRevision);

  /**
   * Streams every change to keys starting with {@code prefix} with revision {@code > afterRevision},
   * first the history still kept, then live changes.
   *
   * @throws CompactedException if history after {@code afterRevision} is no longer complete
   */
  Watch watch(String prefix, long afterRevision, WatchListener listener);

  /** Discards history at and below {@code revision}; later reads and watches below it fail. */
  void compact(long revision);

  @Override
  void close();

  /** A running watch. Closing it stops delivery; no call to the listener starts afterwards. */
  interface Watch extends AutoCloseable {
    @Override
    void close();
  }
}
