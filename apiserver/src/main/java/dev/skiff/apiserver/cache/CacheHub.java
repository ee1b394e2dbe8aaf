package dev.skiff.apiserver.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.api.StoredObjects;
import dev.skiff.store.CompactedException;
import dev.skiff.store.KeyValue;
import dev.skiff.store.KeyValueStore;
import dev.skiff.store.RangeResult;
import dev.skiff.store.WatchEvent;
import dev.skiff.store.WatchListener;
import java.util.Collections;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Feeds every {@link WatchCache} from ONE watch on the store, so all caches advance through the
 * same global revision sequence: a list of any resource can say "this is revision N" and a watch
 * can start from a revision another resource's list returned.
 *
 * <p>Keys look like {@code /registry/<group>/<resource>/[<namespace>/]<name>}; a cache is
 * registered per {@code /registry/<group>/<resource>/} prefix with the function that extracts the
 * resource's selectable fields.
 */
public final class CacheHub implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(CacheHub.class);
  public static final String ROOT = "/registry/";

  private final KeyValueStore store;
  private final Map<String, Registration> caches = new ConcurrentHashMap<>();
  private final Object progress = new Object();
  private volatile long revision;
  /** Events at or below this revision are history the caches' objects already reflect. */
  private long replayedUpTo;
  private KeyValueStore.Watch watch;

  private record Registration(WatchCache cache, boolean namespaced, Function<ObjectNode, Map<String, String>> fields) {}

  public CacheHub(KeyValueStore store) {
    this.store = store;
  }

  /**
   * Registers a cache for {@code prefix} before {@link #start}, or at run time (then it is filled
   * from the store at once; CustomResourceDefinitions do this).
   */
  public synchronized WatchCache register(String prefix, boolean namespaced, Function<ObjectNode, Map<String, String>> fields) {
    Registration existing = caches.get(prefix);
    if (existing != null) {
      return existing.cache;
    }
    WatchCache cache = new WatchCache(prefix, watch == null ? store.compactedRevision() : revision, revision);
    Registration reg = new Registration(cache, namespaced, fields);
    if (watch != null) {
      // Live registration: events for this prefix are dropped until the registration is visible,
      // so fill under the hub lock used by the dispatcher too.
      synchronized (progress) {
        fill(reg, store.range(prefix, null, 0).kvs());
        caches.put(prefix, reg);
      }
    } else {
      caches.put(prefix, reg);
    }
    return cache;
  }

  public synchronized void unregister(String prefix) {
    caches.remove(prefix);
  }

  public WatchCache cache(String prefix) {
    Registration r = caches.get(prefix);
    return r == null ? null : r.cache;
  }

  /** Loads everything and starts following the store. */
  public synchronized void start() {
    RangeResult all = store.range(ROOT, null, 0);
    Map<String, List<KeyValue>> byPrefix = new HashMap<>();
    for (KeyValue kv : all.kvs()) {
      String p = prefixOf(kv.key());
      if (p != null && caches.containsKey(p)) {
        byPrefix.computeIfAbsent(p, k -> new java.util.ArrayList<>()).add(kv);
      }
    }
    revision = all.revision();
    for (Map.Entry<String, Registration> e : caches.entrySet()) {
      fill(e.getValue(), byPrefix.getOrDefault(e.getKey(), List.of()));
      e.getValue().cache.advance(revision);
    }
    // Follow from the oldest retained revision, not the current one: the history replays into the
    // caches' windows, so a client watching from a resourceVersion it saw before a restart
    // resumes without a gap (instead of a 410 and a relist).
    replayedUpTo = revision;
    long from = store.compactedRevision();
    try {
      follow(from);
    } catch (CompactedException e) {
      follow(revision);
    }
  }

  private void follow(long from) {
    watch = store.watch(ROOT, from, new WatchListener() {
      @Override
      public void onEvents(List<WatchEvent> events) {
        dispatch(events);
      }

      @Override
      public void onClose(Throwable cause) {
        if (cause instanceof CompactedException) {
          LOG.warn("store watch fell behind compaction; caches keep serving until restart: {}", cause.getMessage());
        } else if (cause != null) {
          LOG.warn("store watch ended: {}", cause.toString());
        }
      }
    });
  }

  private void fill(Registration reg, List<KeyValue> kvs) {
    for (KeyValue kv : kvs) {
      reg.cache.load(toCached(reg, kv));
    }
    reg.cache.advance(revision);
  }

  private void dispatch(List<WatchEvent> events) {
    synchronized (progress) {
      long last = revision;
      for (WatchEvent e : events) {
        String p = prefixOf(e.kv().key());
        Registration reg = p == null ? null : caches.get(p);
        if (e.revision() <= replayedUpTo) {
          if (reg != null) {
            replay(reg, e);
          }
          continue;
        }
        last = e.revision();
        if (reg == null) {
          continue;
        }
        try {
          if (e.type() == WatchEvent.Type.DELETE) {
            KeyValue prev = e.prev();
            CachedObject gone = prev == null
                ? new CachedObject(e.kv().key(), null, null, e.revision(), new byte[0], Map.of(), Map.of())
                : toCached(reg, new KeyValue(prev.key(), prev.value(), prev.createRevision(), e.revision(), prev.version()));
            reg.cache.apply(CacheEvent.Type.DELETED, gone, e.revision());
          } else {
            reg.cache.apply(CacheEvent.Type.MODIFIED, toCached(reg, e.kv()), e.revision());
          }
        } catch (RuntimeException ex) {
          LOG.error("cannot cache {} at revision {}: {}", e.kv().key(), e.revision(), ex.toString());
        }
      }
      revision = last;
      for (Registration r : caches.values()) {
        r.cache.advance(last);
      }
      progress.notifyAll();
    }
  }

  private static void replay(Registration reg, WatchEvent e) {
    try {
      KeyValue prev = e.prev();
      CachedObject before = prev == null ? null : toCached(reg, prev);
      if (e.type() == WatchEvent.Type.DELETE) {
        if (prev != null) {
          CachedObject gone = toCached(reg, new KeyValue(prev.key(), prev.value(), prev.createRevision(), e.revision(), prev.version()));
          reg.cache.replay(CacheEvent.Type.DELETED, gone, before, e.revision());
        }
      } else {
        reg.cache.replay(before == null ? CacheEvent.Type.ADDED : CacheEvent.Type.MODIFIED, toCached(reg, e.kv()), before, e.revision());
      }
    } catch (RuntimeException ex) {
      LOG.warn("cannot replay {} at revision {}: {}", e.kv().key(), e.revision(), ex.toString());
    }
  }

  /** Global revision the caches have caught up to. */
  public long revision() {
    return revision;
  }

  /**
   * Waits until the caches have seen {@code rev}; kube-apiserver waits up to 3 s
   * (watch_cache.go blockTimeout) and then answers 504 with ResourceVersionTooLarge.
   */
  public void awaitRevision(long rev) {
    if (revision >= rev) {
      return;
    }
    long deadline = System.nanoTime() + 3_000_000_000L;
    synchronized (progress) {
      while (revision < rev) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          throw ApiException.timeout("Too large resource version: " + rev + ", current: " + revision, 1);
        }
        try {
          progress.wait(Math.max(1, left / 1_000_000));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw ApiException.internal("interrupted");
        }
      }
    }
  }

  /** Waits until the caches reflect every write acknowledged so far (a consistent read). */
  public void awaitCurrent() {
    awaitRevision(store.currentRevision());
  }

  static String prefixOf(String key) {
    // /registry/<group>/<resource>/...
    int a = key.indexOf('/', ROOT.length());
    if (a < 0) {
      return null;
    }
    int b = key.indexOf('/', a + 1);
    return b < 0 ? null : key.substring(0, b + 1);
  }

  private static CachedObject toCached(Registration reg, KeyValue kv) {
    String key = kv.key();
    String rest = key.substring(reg.cache.prefix().length());
    String ns = null;
    String name = rest;
    if (reg.namespaced) {
      int slash = rest.indexOf('/');
      ns = rest.substring(0, slash);
      name = rest.substring(slash + 1);
    }
    ObjectNode obj = Json.parseObject(kv.value());
    JsonNode labelsNode = obj.path("metadata").path("labels");
    Map<String, String> labels = Map.of();
    if (labelsNode.isObject() && !labelsNode.isEmpty()) {
      Map<String, String> m = new HashMap<>();
      Iterator<Map.Entry<String, JsonNode>> it = labelsNode.fields();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> e = it.next();
        m.put(e.getKey(), e.getValue().asText());
      }
      labels = Collections.unmodifiableMap(m);
    }
    Map<String, String> fields = new HashMap<>(reg.fields.apply(obj));
    fields.put("metadata.name", name);
    if (ns != null) {
      fields.put("metadata.namespace", ns);
    }
    return new CachedObject(key, ns, name, kv.modRevision(),
        StoredObjects.withResourceVersion(kv.value(), kv.modRevision()), labels, Map.copyOf(fields));
  }

  @Override
  public void close() {
    if (watch != null) {
      watch.close();
    }
  }
}
