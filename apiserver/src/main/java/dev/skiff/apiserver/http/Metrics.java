package dev.skiff.apiserver.http;

import dev.skiff.apiserver.cache.WatchCache;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.Supplier;

/**
 * Prometheus text-format metrics named as kube-apiserver names them: apiserver_request_total by
 * verb/resource/code, apiserver_request_duration_seconds histograms by verb/resource,
 * apiserver_longrunning_requests (open watches), watch cache sizes, and store latency.
 */
public final class Metrics {
  private static final double[] BUCKETS = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};

  private final Map<String, AtomicLong> requests = new ConcurrentHashMap<>();
  private final Map<String, Histogram> durations = new ConcurrentHashMap<>();
  private final AtomicLong openWatches = new AtomicLong();
  private volatile Supplier<Map<String, WatchCache>> caches = Map::of;
  private final java.util.List<Supplier<String>> collectors = new java.util.concurrent.CopyOnWriteArrayList<>();

  /** Adds a source of further metrics in Prometheus text format (e.g. the store's latencies). */
  public void addCollector(Supplier<String> c) {
    collectors.add(c);
  }

  private static final class Histogram {
    final AtomicLongArray counts = new AtomicLongArray(BUCKETS.length + 1);
    final AtomicLong sumMicros = new AtomicLong();
  }

  void caches(Supplier<Map<String, WatchCache>> s) {
    this.caches = s;
  }

  void watchOpened() {
    openWatches.incrementAndGet();
  }

  void watchClosed() {
    openWatches.decrementAndGet();
  }

  void record(String verb, String resource, int code, long nanos) {
    requests.computeIfAbsent(verb + "\u0000" + resource + "\u0000" + code, k -> new AtomicLong()).incrementAndGet();
    if (verb.equals("WATCH")) {
      return;
    }
    Histogram h = durations.computeIfAbsent(verb + "\u0000" + resource, k -> new Histogram());
    double s = nanos / 1e9;
    int i = 0;
    while (i < BUCKETS.length && s > BUCKETS[i]) {
      i++;
    }
    h.counts.incrementAndGet(i);
    h.sumMicros.addAndGet(nanos / 1000);
  }

  String render() {
    StringBuilder sb = new StringBuilder();
    sb.append("# HELP apiserver_request_total Counter of apiserver requests broken out for each verb, resource and HTTP response code.\n");
    sb.append("# TYPE apiserver_request_total counter\n");
    new TreeMap<>(requests).forEach((k, v) -> {
      String[] p = k.split("\u0000");
      sb.append("apiserver_request_total{code=\"").append(p[2]).append("\",resource=\"").append(p[1])
          .append("\",verb=\"").append(p[0]).append("\"} ").append(v.get()).append('\n');
    });
    sb.append("# HELP apiserver_request_duration_seconds Response latency distribution in seconds for each verb and resource.\n");
    sb.append("# TYPE apiserver_request_duration_seconds histogram\n");
    new TreeMap<>(durations).forEach((k, h) -> {
      String[] p = k.split("\u0000");
      String labels = "resource=\"" + p[1] + "\",verb=\"" + p[0] + "\"";
      long cum = 0;
      for (int i = 0; i < BUCKETS.length; i++) {
        cum += h.counts.get(i);
        sb.append("apiserver_request_duration_seconds_bucket{").append(labels).append(",le=\"").append(BUCKETS[i]).append("\"} ").append(cum).append('\n');
      }
      cum += h.counts.get(BUCKETS.length);
      sb.append("apiserver_request_duration_seconds_bucket{").append(labels).append(",le=\"+Inf\"} ").append(cum).append('\n');
      sb.append("apiserver_request_duration_seconds_sum{").append(labels).append("} ").append(h.sumMicros.get() / 1e6).append('\n');
      sb.append("apiserver_request_duration_seconds_count{").append(labels).append("} ").append(cum).append('\n');
    });
    sb.append("# HELP apiserver_longrunning_requests Gauge of all active long-running apiserver requests.\n");
    sb.append("# TYPE apiserver_longrunning_requests gauge\n");
    sb.append("apiserver_longrunning_requests{verb=\"WATCH\"} ").append(openWatches.get()).append('\n');
    sb.append("# HELP apiserver_watch_cache_objects Number of objects in the watch cache of a resource.\n");
    sb.append("# TYPE apiserver_watch_cache_objects gauge\n");
    StringBuilder events = new StringBuilder();
    new TreeMap<>(caches.get()).forEach((prefix, c) -> {
      Map<String, Long> st = c.stats();
      sb.append("apiserver_watch_cache_objects{resource=\"").append(prefix).append("\"} ").append(st.get("objects")).append('\n');
      events.append("apiserver_watch_cache_events{resource=\"").append(prefix).append("\"} ").append(st.get("events")).append('\n');
    });
    sb.append("# HELP apiserver_watch_cache_events Number of events kept for watchers of a resource.\n");
    sb.append("# TYPE apiserver_watch_cache_events gauge\n").append(events);
    for (Supplier<String> c : collectors) {
      sb.append(c.get());
    }
    return sb.toString();
  }
}
