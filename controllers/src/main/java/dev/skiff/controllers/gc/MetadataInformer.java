package dev.skiff.controllers.gc;

import java.io.IOException;
import java.io.InputStream;
import java.util.Collection;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A metadata-only informer for one resource (client-go's metadatainformer: a reflector that lists
 * and watches PartialObjectMetadata): lists every object's metadata, then watches from the
 * list's resourceVersion with bookmarks, re-watching when the server ends the watch and relisting
 * on 410 Gone or any error (after a 1 s pause). A relist delivers adds, updates and deletes for
 * the difference. The cache holds {@link ObjectMetadata} only. One virtual thread per informer.
 *
 * <p>The handler is called from that thread, in server order for an object, after the cache
 * holds the new state; it must be quick. Thread-safe.
 */
public final class MetadataInformer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(MetadataInformer.class);

  /** Notifications for one informer's resource. */
  public interface Handler {
    void onAdd(ApiResource resource, ObjectMetadata obj);

    void onUpdate(ApiResource resource, ObjectMetadata old, ObjectMetadata cur);

    void onDelete(ApiResource resource, ObjectMetadata obj);
  }

  private final MetadataClient client;
  private final ApiResource resource;
  private final Handler handler;
  private final Map<String, ObjectMetadata> cache = new ConcurrentHashMap<>();
  private volatile boolean synced;
  private volatile long startedNanos;
  private volatile long lastRevision = -1;
  private volatile boolean closed;
  private volatile InputStream watchStream;
  private Thread thread;

  public MetadataInformer(MetadataClient client, ApiResource resource, Handler handler) {
    this.client = client;
    this.resource = resource;
    this.handler = handler;
  }

  public ApiResource resource() {
    return resource;
  }

  /** Starts the list+watch loop. */
  public synchronized MetadataInformer start() {
    if (thread == null) {
      startedNanos = System.nanoTime();
      thread = Thread.ofVirtual().name("gc-informer-" + resource.id()).start(this::run);
    }
    return this;
  }

  /** True once the first list has been delivered. */
  public boolean hasSynced() {
    return synced;
  }

  /**
   * True once synced, or when the first list has been failing for longer than {@code patience}
   * (a resource that cannot be listed must not hold up decisions about every other one).
   */
  public boolean hasSyncedOrGaveUp(java.time.Duration patience) {
    long started = startedNanos;
    return synced || (started != 0 && System.nanoTime() - started > patience.toNanos());
  }

  /**
   * The newest resourceVersion this informer has observed (list, event or bookmark) as a number,
   * or -1 before the first list or when versions are not numeric. Skiff's versions are revisions
   * of one store, so they order changes across resources.
   */
  public long lastRevision() {
    return lastRevision;
  }

  private void observed(String resourceVersion) {
    try {
      long rv = Long.parseLong(resourceVersion);
      if (rv > lastRevision) {
        lastRevision = rv;
      }
    } catch (NumberFormatException | NullPointerException e) {
      // opaque version: no ordering known
    }
  }

  /** The cached metadata of {@code namespace/name} (or {@code name}), or null. */
  public ObjectMetadata get(String key) {
    return cache.get(key);
  }

  /** A snapshot of the cache. */
  public Collection<ObjectMetadata> list() {
    return java.util.List.copyOf(cache.values());
  }

  /** Number of cached objects. */
  public int size() {
    return cache.size();
  }

  @Override
  public void close() {
    closed = true;
    closeStream();
    Thread t;
    synchronized (this) {
      t = thread;
    }
    if (t != null) {
      t.interrupt();
    }
  }

  private void closeStream() {
    InputStream in = watchStream;
    if (in != null) {
      try {
        in.close();
      } catch (IOException e) {
        // closing to stop: nothing to do
      }
    }
  }

  private void run() {
    while (!closed) {
      try {
        String rv = relist();
        while (!closed) {
          String[] last = {rv};
          // client-go's reflector picks a random watch timeout in [5, 10) minutes.
          int timeout = 300 + ThreadLocalRandom.current().nextInt(300);
          client.watch(resource, rv, timeout, in -> {
            watchStream = in;
            if (closed) {
              closeStream();
            }
          }, e -> {
            last[0] = e.object().resourceVersion() == null ? last[0] : e.object().resourceVersion();
            apply(e);
          });
          rv = last[0];
        }
      } catch (InterruptedException e) {
        return;
      } catch (MetadataClient.StatusException | IOException | RuntimeException e) {
        if (closed) {
          return;
        }
        log.debug("metadata informer {}: {}; relisting", resource.id(), e.toString());
        try {
          Thread.sleep(1000);
        } catch (InterruptedException ie) {
          return;
        }
      }
    }
  }

  private String relist() throws IOException, MetadataClient.StatusException, InterruptedException {
    MetadataClient.ListResult l = client.list(resource);
    Set<String> seen = new HashSet<>();
    for (ObjectMetadata o : l.items()) {
      seen.add(o.key());
      put(o);
    }
    for (ObjectMetadata o : java.util.List.copyOf(cache.values())) {
      if (!seen.contains(o.key()) && cache.remove(o.key(), o)) {
        handler.onDelete(resource, o);
      }
    }
    synced = true;
    observed(l.resourceVersion());
    return l.resourceVersion();
  }

  private void apply(MetadataClient.WatchEvent e) {
    observed(e.object().resourceVersion());
    switch (e.type()) {
      case "ADDED", "MODIFIED" -> put(e.object());
      case "DELETED" -> {
        cache.remove(e.object().key());
        handler.onDelete(resource, e.object());
      }
      default -> { } // BOOKMARK: only its resourceVersion matters
    }
  }

  private void put(ObjectMetadata o) {
    ObjectMetadata old = cache.put(o.key(), o);
    if (old == null) {
      handler.onAdd(resource, o);
    } else if (!old.uid().equals(o.uid())) {
      // Deleted and re-created under the same name between two observations.
      handler.onDelete(resource, old);
      handler.onAdd(resource, o);
    } else if (!java.util.Objects.equals(old.resourceVersion(), o.resourceVersion())) {
      handler.onUpdate(resource, old, o);
    }
  }
}
