package dev.skiff.store;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * An in-memory {@link KeyValueStore} for tests: the same semantics as the durable stores (store-wide
 * revisions, conditional writes, history for watches, compaction), nothing survives {@link #close()}.
 *
 * <p>Thread-safe: every operation takes the store's monitor, which makes all of them trivially
 * linearizable. Watch listeners are called on a dispatcher thread, never under the monitor.
 */
public final class MemoryStore implements KeyValueStore {
  private final NavigableMap<String, KeyValue> index = new TreeMap<>(KeyOrder.COMPARATOR);
  /** Events of revisions compacted+1 .. revision, one per revision. */
  private final List<WatchEvent> history = new ArrayList<>();
  private long revision;
  private long compacted;
  private boolean closed;
  private final WatchDispatcher dispatcher;

  public MemoryStore() {
    dispatcher = new WatchDispatcher(new Source(), "skiff-memstore-watch");
  }

  @Override
  public synchronized long currentRevision() {
    return revision;
  }

  @Override
  public synchronized long compactedRevision() {
    return compacted;
  }

  @Override
  public synchronized KeyValue get(String key) {
    ensureOpen();
    return index.get(key);
  }

  @Override
  public synchronized RangeResult range(String prefix, String startAfter, int limit) {
    ensureOpen();
    List<KeyValue> out = new ArrayList<>();
    boolean more = false;
    NavigableMap<String, KeyValue> tail = startAfter != null && KeyOrder.compare(startAfter, prefix) >= 0
        ? index.tailMap(startAfter, false)
        : index.tailMap(prefix, true);
    for (Map.Entry<String, KeyValue> e : tail.entrySet()) {
      if (!e.getKey().startsWith(prefix)) {
        break;
      }
      if (limit > 0 && out.size() == limit) {
        more = true;
        break;
      }
      out.add(e.getValue());
    }
    return new RangeResult(List.copyOf(out), revision, more);
  }

  @Override
  public TxnResult create(String key, byte[] value) {
    checkKey(key);
    byte[] v = value.clone();
    TxnResult r;
    synchronized (this) {
      ensureOpen();
      KeyValue cur = index.get(key);
      if (cur != null) {
        return TxnResult.failed(revision, cur);
      }
      long rev = ++revision;
      KeyValue kv = new KeyValue(key, v, rev, rev, 1);
      index.put(key, kv);
      history.add(new WatchEvent(WatchEvent.Type.PUT, kv, null));
      r = TxnResult.ok(rev, kv);
    }
    dispatcher.signal();
    return r;
  }

  @Override
  public TxnResult update(String key, byte[] value, long expectedModRevision) {
    checkKey(key);
    byte[] v = value.clone();
    TxnResult r;
    synchronized (this) {
      ensureOpen();
      KeyValue cur = index.get(key);
      if (cur == null || cur.modRevision() != expectedModRevision) {
        return TxnResult.failed(revision, cur);
      }
      long rev = ++revision;
      KeyValue kv = new KeyValue(key, v, cur.createRevision(), rev, cur.version() + 1);
      index.put(key, kv);
      history.add(new WatchEvent(WatchEvent.Type.PUT, kv, cur));
      r = TxnResult.ok(rev, kv);
    }
    dispatcher.signal();
    return r;
  }

  @Override
  public TxnResult delete(String key, long expectedModRevision) {
    checkKey(key);
    TxnResult r;
    synchronized (this) {
      ensureOpen();
      KeyValue cur = index.get(key);
      if (cur == null || (expectedModRevision > 0 && cur.modRevision() != expectedModRevision)) {
        return TxnResult.failed(revision, cur);
      }
      long rev = ++revision;
      index.remove(key);
      history.add(new WatchEvent(WatchEvent.Type.DELETE, new KeyValue(key, new byte[0], 0, rev, 0), cur));
      r = TxnResult.ok(rev, cur);
    }
    dispatcher.signal();
    return r;
  }

  @Override
  public synchronized Watch watch(String prefix, long afterRevision, WatchListener listener) {
    ensureOpen();
    if (afterRevision < compacted) {
      throw new CompactedException(afterRevision + 1, compacted);
    }
    return dispatcher.register(prefix, afterRevision, listener);
  }

  @Override
  public synchronized void compact(long rev) {
    ensureOpen();
    if (rev > revision) {
      throw new IllegalArgumentException("cannot compact to future revision " + rev + " (current " + revision + ")");
    }
    if (rev <= compacted) {
      return;
    }
    history.subList(0, (int) (rev - compacted)).clear();
    compacted = rev;
  }

  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    dispatcher.close(new StoreException("store closed"));
  }

  private void ensureOpen() {
    if (closed) {
      throw new StoreException("store is closed");
    }
  }

  static void checkKey(String key) {
    if (key == null || key.isEmpty()) {
      throw new IllegalArgumentException("key must be non-empty");
    }
  }

  private final class Source implements WatchDispatcher.Source {
    @Override
    public long currentRevision() {
      return MemoryStore.this.currentRevision();
    }

    @Override
    public WatchDispatcher.Chunk read(long from, long to, Predicate<String> keyFilter) {
      synchronized (MemoryStore.this) {
        if (from <= compacted) {
          throw new CompactedException(from, compacted);
        }
        long last = Math.min(to, revision);
        List<WatchEvent> out = new ArrayList<>();
        for (long r = from; r <= last; r++) {
          WatchEvent e = history.get((int) (r - compacted - 1));
          if (keyFilter.test(e.kv().key())) {
            out.add(e);
          }
        }
        return new WatchDispatcher.Chunk(out, last);
      }
    }
  }
}
