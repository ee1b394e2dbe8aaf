package dev.skiff.bench;

import dev.skiff.apiserver.ApiServer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.InputStreamResponseListener;
import org.eclipse.jetty.http.HttpMethod;

/**
 * In-process server; 100 watchers on default/configmaps from the resourceVersion of a list, then
 * 10,000 changes (half creates, half updates of small ConfigMaps) at 2,000/s from 8 writers. The
 * delay of an event is its receipt time minus the time the writer got the write's response
 * (clamped at 0), keyed by resourceVersion.
 */
final class WatchFanoutBench {
  static final int WATCHERS = 100;
  static final int WATCH_CLIENTS = 4;
  static final int WRITERS = 8;
  static final int CHANGES = 10_000;
  static final int RATE_PER_S = 2_000;

  private WatchFanoutBench() {}

  /** Events seen by one watcher: resourceVersion and receipt time, in order. */
  static final class Seen {
    long[] rv = new long[CHANGES + 1024];
    long[] at = new long[CHANGES + 1024];
    int n;
    volatile int count;
    volatile Throwable error;

    void add(long v, long t) {
      if (n == rv.length) {
        rv = Arrays.copyOf(rv, n * 2);
        at = Arrays.copyOf(at, n * 2);
      }
      rv[n] = v;
      at[n] = t;
      n++;
      count = n;
    }
  }

  static String cm(String name, int gen) {
    return "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" + name
        + "\"},\"data\":{\"gen\":\"" + gen + "\",\"k\":\"some small value\"}}";
  }

  static void run() throws Exception {
    Path dir = Bench.tempDir("skiff-bench-watch-");
    ApiServer server = ApiServer.start(new ApiServer.Config(dir, 0, "127.0.0.1"));
    HttpClient writerClient = Bench.h2Client(server);
    List<HttpClient> watchClients = new ArrayList<>();
    for (int i = 0; i < WATCH_CLIENTS; i++) {
      watchClients.add(Bench.h2Client(server));
    }
    String base = "https://127.0.0.1:" + server.port() + "/api/v1/namespaces/default/configmaps";
    try {
      ContentResponse list = Bench.send(writerClient, HttpMethod.GET, base, null);
      String listRv = Bench.field(list.getContentAsString(), "resourceVersion", 0);
      String watchUri = base + "?watch=true&timeoutSeconds=600&resourceVersion=" + listRv;

      List<Seen> seen = new ArrayList<>();
      List<Thread> watchThreads = new ArrayList<>();
      for (int w = 0; w < WATCHERS; w++) {
        Seen s = new Seen();
        seen.add(s);
        HttpClient c = watchClients.get(w % WATCH_CLIENTS);
        watchThreads.add(Thread.ofVirtual().start(() -> watch(c, watchUri, s)));
      }
      Thread.sleep(1000); // let the watches register (they start from listRv anyway)

      ConcurrentHashMap<Long, Long> acked = new ConcurrentHashMap<>(CHANGES * 2);
      AtomicLong errors = new AtomicLong();
      int perWriter = CHANGES / WRITERS;
      long intervalNanos = 1_000_000_000L * WRITERS / RATE_PER_S;
      long start = System.nanoTime() + 10_000_000L;
      List<Thread> writers = new ArrayList<>();
      for (int w = 0; w < WRITERS; w++) {
        int id = w;
        writers.add(Thread.ofVirtual().start(() -> {
          int half = perWriter / 2;
          for (int j = 0; j < perWriter; j++) {
            long due = start + j * intervalNanos + id * (intervalNanos / WRITERS);
            long wait = due - System.nanoTime();
            if (wait > 0) {
              LockSupport.parkNanos(wait);
            }
            boolean create = j < half;
            String name = "w" + id + "-" + (create ? j : j - half);
            try {
              ContentResponse r = create
                  ? Bench.send(writerClient, HttpMethod.POST, base, cm(name, 0))
                  : Bench.send(writerClient, HttpMethod.PUT, base + "/" + name, cm(name, 1));
              long now = System.nanoTime();
              if (r.getStatus() / 100 != 2) {
                if (errors.getAndIncrement() < 3) {
                  System.err.println((create ? "POST" : "PUT") + " -> " + r.getStatus() + " " + r.getContentAsString());
                }
                continue;
              }
              acked.put(Long.parseLong(Bench.field(r.getContentAsString(), "resourceVersion", 0)), now);
            } catch (Exception e) {
              if (errors.getAndIncrement() < 3) {
                e.printStackTrace();
              }
            }
          }
        }));
      }
      for (Thread t : writers) {
        t.join();
      }
      long writeSeconds = System.nanoTime() - start;
      int expected = acked.size();
      long deadline = System.nanoTime() + 30_000_000_000L;
      while (System.nanoTime() < deadline) {
        boolean all = true;
        for (Seen s : seen) {
          all &= s.count >= expected || s.error != null;
        }
        if (all) {
          break;
        }
        Thread.sleep(20);
      }
      for (HttpClient c : watchClients) {
        c.stop();
      }
      for (Thread t : watchThreads) {
        t.join(5000);
      }

      long missing = 0;
      long duplicates = 0;
      long extra = 0;
      int watchersComplete = 0;
      int watcherErrors = 0;
      long[] delays = new long[WATCHERS * expected];
      int d = 0;
      for (Seen s : seen) {
        if (s.error != null) {
          watcherErrors++;
        }
        HashMap<Long, Integer> counts = new HashMap<>(expected * 2);
        for (int i = 0; i < s.n; i++) {
          Long ack = acked.get(s.rv[i]);
          if (ack == null) {
            extra++;
            continue;
          }
          if (counts.merge(s.rv[i], 1, Integer::sum) > 1) {
            duplicates++;
          } else if (d < delays.length) {
            delays[d++] = Math.max(0, s.at[i] - ack);
          }
        }
        long miss = expected - counts.size();
        missing += miss;
        if (miss == 0) {
          watchersComplete++;
        }
      }
      long[] sorted = Arrays.copyOf(delays, d);
      Arrays.sort(sorted);
      Map<String, Object> m = Bench.result("watch-fanout");
      m.put("watchers", WATCHERS);
      m.put("changes", CHANGES);
      m.put("acked_writes", expected);
      m.put("write_errors", errors.get());
      m.put("write_rate_per_s", Bench.round(expected / (writeSeconds / 1e9), 0));
      m.put("events_delivered", d);
      m.put("p50_ms", Bench.round(Bench.pctMs(sorted, 50), 2));
      m.put("p99_ms", Bench.round(Bench.pctMs(sorted, 99), 2));
      m.put("max_ms", Bench.round(Bench.pctMs(sorted, 100), 2));
      m.put("all_delivered_exactly_once", missing == 0 && duplicates == 0 && expected == CHANGES);
      m.put("watchers_complete", watchersComplete);
      m.put("missing", missing);
      m.put("duplicates", duplicates);
      m.put("other_events", extra);
      m.put("watcher_errors", watcherErrors);
      m.put("writers", WRITERS);
      m.put("watch_connections", WATCH_CLIENTS);
      Bench.print(m);
    } finally {
      writerClient.stop();
      for (HttpClient c : watchClients) {
        if (c.isRunning()) {
          c.stop();
        }
      }
      server.close();
      Bench.deleteTree(dir);
    }
  }

  private static void watch(HttpClient c, String uri, Seen s) {
    try {
      InputStreamResponseListener l = new InputStreamResponseListener();
      c.newRequest(uri).idleTimeout(600, TimeUnit.SECONDS).headers(h -> h.remove("Accept-Encoding")).send(l);
      try (BufferedReader in = new BufferedReader(new InputStreamReader(l.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = in.readLine()) != null) {
          long now = System.nanoTime();
          if (line.isEmpty() || line.startsWith("{\"type\":\"BOOKMARK\"")) {
            continue;
          }
          String rv = Bench.field(line, "resourceVersion", 0);
          if (rv != null) {
            s.add(Long.parseLong(rv), now);
          }
        }
      }
    } catch (Throwable t) {
      if (c.isRunning()) {
        s.error = t;
        t.printStackTrace();
      }
    }
  }
}
