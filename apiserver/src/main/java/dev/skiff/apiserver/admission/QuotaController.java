package dev.skiff.apiserver.admission;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.cache.CachedObject;
import dev.skiff.apiserver.cache.WatchFilter;
import dev.skiff.apiserver.cache.Watcher;
import dev.skiff.apiserver.registry.ResourceRegistry;
import dev.skiff.apiserver.registry.ResourceStore;
import dev.skiff.apiserver.registry.WriteOptions;
import java.util.HashSet;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The resource quota controller (pkg/controller/resourcequota): keeps each quota's status.hard
 * equal to spec.hard and status.used equal to what the namespace really holds. Recomputes the
 * quotas of a namespace when a quota or a pod there changes, and every quota every 10 s (other
 * counted kinds, and usage admission charged for creates that then failed).
 */
public final class QuotaController implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(QuotaController.class);

  private final ResourceRegistry registry;
  private final ResourceStore quotas;
  private final ResourceStore pods;
  private volatile boolean closed;
  private Thread thread;
  /** When admission last charged each quota ("ns/name" -> nanoTime). */
  private final java.util.Map<String, Long> charges = new java.util.concurrent.ConcurrentHashMap<>();
  /** A charge and the write of the object it pays for are two store writes a moment apart. */
  private static final long SETTLE_NANOS = 2_000_000_000L;
  /**
   * Namespaces whose recount was held up by a settling charge ("ns" -> nanoTime the charge
   * settles): nothing else may change there, so they are recounted again when it does.
   */
  private final java.util.Map<String, Long> heldUp = new java.util.concurrent.ConcurrentHashMap<>();

  /**
   * Admission charged {@code ns/name}: for a moment the object it paid for may not be stored yet,
   * so a recount must not lower the charge (it would let the next create through over the limit).
   */
  public void charged(String namespace, String name) {
    charges.put(namespace + "/" + name, System.nanoTime());
  }

  public QuotaController(ResourceRegistry registry) {
    this.registry = registry;
    this.quotas = registry.storeForKind("", "ResourceQuota");
    this.pods = registry.storeForKind("", "Pod");
  }

  public void start() {
    thread = Thread.ofVirtual().name("resourcequota-controller").start(this::run);
  }

  private void run() {
    while (!closed) {
      try (Watcher q = quotas.cache().watch(WatchFilter.ALL, 0, true).watcher();
          Watcher p = pods.cache().watch(WatchFilter.ALL, 0, false).watcher()) {
        long lastFull = System.nanoTime();
        while (!closed && !q.isTerminated() && !p.isTerminated()) {
          Set<String> dirty = new HashSet<>();
          Watcher.Item item = q.poll(100_000_000L);
          if (item != null) {
            dirty.add(item.object().namespace());
          }
          for (Watcher.Item i; (i = q.pollNow()) != null; ) {
            dirty.add(i.object().namespace());
          }
          for (Watcher.Item i; (i = p.pollNow()) != null; ) {
            dirty.add(i.object().namespace());
          }
          long now = System.nanoTime();
          for (var e : heldUp.entrySet()) {
            if (now - e.getValue() >= 0 && heldUp.remove(e.getKey(), e.getValue())) {
              dirty.add(e.getKey());
            }
          }
          boolean full = now - lastFull > 10_000_000_000L;
          if (full) {
            lastFull = System.nanoTime();
          }
          for (CachedObject quota : quotas.cache().list(WatchFilter.ALL).objects()) {
            if (full || dirty.contains(quota.namespace())) {
              sync(quota);
            }
          }
        }
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        LOG.warn("resourcequota controller: {}", e.toString());
      }
    }
  }

  private void sync(CachedObject cached) {
    // Count from caches that hold every write acknowledged so far.
    registry.hub().awaitCurrent();
    ObjectNode quota = Json.parseObject(cached.json());
    JsonNode hard = quota.path("spec").path("hard");
    ObjectNode used = Json.object();
    for (var it = hard.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      used.put(k, QuotaUsage.used(registry, cached.namespace(), k).toString());
    }
    if (hard.equals(quota.path("status").path("hard")) && used.equals(quota.path("status").path("used"))) {
      return;
    }
    Long charged = charges.get(cached.namespace() + "/" + cached.name());
    boolean settling = charged != null && System.nanoTime() - charged < SETTLE_NANOS;
    try {
      quotas.guaranteedUpdate(cached.namespace(), cached.name(), 0, cur -> {
        ObjectNode status = cur.with("status");
        ObjectNode next = used.deepCopy();
        if (settling) {
          // Never below a fresh charge: the counted object may still be on its way to the store.
          JsonNode have = cur.path("status").path("used");
          for (var it = next.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (have.has(k) && Quantity.parse(have.get(k).asText()).compareTo(Quantity.parse(next.get(k).asText())) > 0) {
              next.put(k, have.get(k).asText());
              heldUp.put(cached.namespace(), charged + SETTLE_NANOS);
            }
          }
        }
        status.set("hard", cur.path("spec").path("hard").deepCopy());
        status.set("used", next);
        return cur;
      }, new WriteOptions("resourcequota-controller", false, "status", "Update"), false);
    } catch (ApiException e) {
      if (e.code() != 404) {
        LOG.debug("cannot update quota {}/{}: {}", cached.namespace(), cached.name(), e.getMessage());
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    if (thread != null) {
      thread.interrupt();
    }
  }
}
