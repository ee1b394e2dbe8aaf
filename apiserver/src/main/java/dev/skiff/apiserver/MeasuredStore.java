package dev.skiff.apiserver;

import dev.skiff.store.KeyValue;
import dev.skiff.store.KeyValueStore;
import dev.skiff.store.RangeResult;
import dev.skiff.store.TxnResult;
import dev.skiff.store.WatchListener;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Supplier;

/**
 * Times every store call and renders the latencies as kube-apiserver's
 * {@code etcd_request_duration_seconds} histogram (by operation), for /metrics.
 */
final class MeasuredStore implements KeyValueStore {
  private static final double[] BUCKETS = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1};
  private static final String[] OPS = {"get", "list", "create", "update", "delete"};

  private final KeyValueStore store;
  private final AtomicLongArray counts = new AtomicLongArray(OPS.length * (BUCKETS.length + 1));
  private final AtomicLong[] sums = new AtomicLong[OPS.length];

  MeasuredStore(KeyValueStore store) {
    this.store = store;
    for (int i = 0; i < OPS.length; i++) {
      sums[i] = new AtomicLong();
    }
  }

  private <T> T timed(int op, Supplier<T> call) {
    long t0 = System.nanoTime();
    try {
      return call.get();
    } finally {
      long nanos = System.nanoTime() - t0;
      double s = nanos / 1e9;
      int b = 0;
      while (b < BUCKETS.length && s > BUCKETS[b]) {
        b++;
      }
      counts.incrementAndGet(op * (BUCKETS.length + 1) + b);
      sums[op].addAndGet(nanos);
    }
  }

  @Override
  public long currentRevision() {
    return store.currentRevision();
  }

  @Override
  public long compactedRevision() {
    return store.compactedRevision();
  }

  @Override
  public KeyValue get(String key) {
    return timed(0, () -> store.get(key));
  }

  @Override
  public RangeResult range(String prefix, String startAfter, int limit) {
    return timed(1, () -> store.range(prefix, startAfter, limit));
  }

  @Override
  public TxnResult create(String key, byte[] value) {
    return timed(2, () -> store.create(key, value));
  }

  @Override
  public TxnResult update(String key, byte[] value, long expectedModRevision) {
    return timed(3, () -> store.update(key, value, expectedModRevision));
  }

  @Override
  public TxnResult delete(String key, long expectedModRevision) {
    return timed(4, () -> store.delete(key, expectedModRevision));
  }

  @Override
  public Watch watch(String prefix, long afterRevision, WatchListener listener) {
    return store.watch(prefix, afterRevision, listener);
  }

  @Override
  public void compact(long revision) {
    store.compact(revision);
  }

  @Override
  public void close() {
    store.close();
  }

  String render() {
    StringBuilder sb = new StringBuilder();
    sb.append("# HELP etcd_request_duration_seconds Store request latency in seconds for each operation.\n");
    sb.append("# TYPE etcd_request_duration_seconds histogram\n");
    for (int op = 0; op < OPS.length; op++) {
      long cum = 0;
      for (int b = 0; b <= BUCKETS.length; b++) {
        cum += counts.get(op * (BUCKETS.length + 1) + b);
        sb.append("etcd_request_duration_seconds_bucket{operation=\"").append(OPS[op]).append("\",le=\"")
            .append(b < BUCKETS.length ? Double.toString(BUCKETS[b]) : "+Inf").append("\"} ").append(cum).append('\n');
      }
      sb.append("etcd_request_duration_seconds_sum{operation=\"").append(OPS[op]).append("\"} ").append(sums[op].get() / 1e9).append('\n');
      sb.append("etcd_request_duration_seconds_count{operation=\"").append(OPS[op]).append("\"} ").append(cum).append('\n');
    }
    return sb.toString();
  }
}
