package dev.skiff.runtime;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.fabric8.kubernetes.client.informers.cache.Cache;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One shared {@link Informer} per resource type for a client, so every controller in the process
 * reads the same cache and the server serves one list+watch per type. Backed by fabric8's
 * SharedIndexInformer (list with paging, then watch from the list's resourceVersion; relist on
 * 410 Gone). Thread-safe.
 */
public final class SharedInformers implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SharedInformers.class);

  private final KubernetesClient client;
  private final Map<Class<?>, Fabric8Informer<?>> informers = new ConcurrentHashMap<>();
  private volatile boolean started;

  public SharedInformers(KubernetesClient client) {
    this.client = client;
  }

  public KubernetesClient client() {
    return client;
  }

  /** The informer of {@code type} across all namespaces, created on first use. */
  @SuppressWarnings("unchecked")
  public <T extends HasMetadata> Informer<T> informerFor(Class<T> type) {
    return (Informer<T>) informers.computeIfAbsent(type, t -> {
      Fabric8Informer<T> inf = new Fabric8Informer<>(type, client.resources(type).inAnyNamespace().runnableInformer(0));
      if (started) {
        inf.start();
      }
      return inf;
    });
  }

  /** Starts every informer created so far; later ones start on creation. Idempotent. */
  public synchronized void start() {
    started = true;
    informers.values().forEach(Fabric8Informer::start);
  }

  /** Waits until every informer has synced; false on timeout. */
  public boolean waitForCacheSync(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!informers.values().stream().allMatch(Fabric8Informer::hasSynced)) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(10);
    }
    return true;
  }

  @Override
  public void close() {
    informers.values().forEach(Fabric8Informer::close);
  }

  static final class Fabric8Informer<T extends HasMetadata> implements Informer<T>, Lister<T> {
    private final Class<T> type;
    final SharedIndexInformer<T> informer;
    private boolean running;
    private volatile boolean closed;

    Fabric8Informer(Class<T> type, SharedIndexInformer<T> informer) {
      this.type = type;
      this.informer = informer;
    }

    synchronized void start() {
      if (!running) {
        running = true;
        informer.start().whenComplete((v, e) -> {
          if (e != null && !closed) {
            log.warn("informer for {} failed to start: {}", type.getSimpleName(), e.toString());
          }
        });
      }
    }

    void close() {
      closed = true;
      informer.close();
    }

    @Override
    public Class<T> type() {
      return type;
    }

    @Override
    public Informer<T> addHandler(EventHandler<? super T> handler) {
      informer.addEventHandler(new ResourceEventHandler<T>() {
        @Override
        public void onAdd(T obj) {
          handler.onAdd(obj);
        }

        @Override
        public void onUpdate(T oldObj, T newObj) {
          handler.onUpdate(oldObj, newObj);
        }

        @Override
        public void onDelete(T obj, boolean deletedFinalStateUnknown) {
          handler.onDelete(obj, deletedFinalStateUnknown);
        }
      });
      return this;
    }

    @Override
    public synchronized Informer<T> addIndexer(String name, Function<T, List<String>> indexFunction) {
      if (running) {
        throw new IllegalStateException("indexers must be added before the informer starts: " + name);
      }
      informer.addIndexers(Map.of(name, indexFunction));
      return this;
    }

    @Override
    public Lister<T> lister() {
      return this;
    }

    @Override
    public boolean hasSynced() {
      return informer.hasSynced();
    }

    @Override
    public T get(String namespace, String name) {
      return getByKey(Keys.of(namespace, name));
    }

    @Override
    public T getByKey(String key) {
      return informer.getIndexer().getByKey(key);
    }

    @Override
    public List<T> list() {
      return informer.getIndexer().list();
    }

    @Override
    public List<T> list(String namespace) {
      return new ArrayList<>(informer.getIndexer().byIndex(Cache.NAMESPACE_INDEX, namespace));
    }

    @Override
    public List<T> byIndex(String indexName, String value) {
      return informer.getIndexer().byIndex(indexName, value);
    }
  }
}
