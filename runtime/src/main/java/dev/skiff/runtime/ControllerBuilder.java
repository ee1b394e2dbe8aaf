package dev.skiff.runtime;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReference;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Builds a {@link Controller}: the primary type it reconciles, secondary types whose changes
 * enqueue some primary key (by default their controlling owner), workers, rate limiter and clock.
 * Not thread-safe; use from one thread.
 */
public final class ControllerBuilder {
  private final String name;
  private final SharedInformers informers;
  private final List<Consumer<RateLimitingQueue<String>>> wiring = new ArrayList<>();
  private final List<Informer<?>> watched = new ArrayList<>();
  private Reconciler reconciler;
  private int workers = 1;
  private RateLimiter<String> rateLimiter;
  private Clock clock = Clock.system();

  ControllerBuilder(String name, SharedInformers informers) {
    this.name = name;
    this.informers = informers;
  }

  /** Reconciles objects of {@code type}: each add, update and delete enqueues the object's key. */
  public <T extends HasMetadata> ControllerBuilder watches(Class<T> type) {
    return watches(type, obj -> List.of(Keys.of(obj)));
  }

  /** Changes of {@code type} enqueue the keys {@code toKeys} maps them to (old and new on update). */
  public <T extends HasMetadata> ControllerBuilder watches(Class<T> type, Function<? super T, Collection<String>> toKeys) {
    Informer<T> informer = informers.informerFor(type);
    watched.add(informer);
    wiring.add(queue -> informer.addHandler(new EventHandler<T>() {
      @Override
      public void onAdd(T obj) {
        toKeys.apply(obj).forEach(queue::add);
      }

      @Override
      public void onUpdate(T oldObj, T newObj) {
        Collection<String> now = toKeys.apply(newObj);
        now.forEach(queue::add);
        for (String k : toKeys.apply(oldObj)) {
          if (!now.contains(k)) {
            queue.add(k); // the old owner lost a child
          }
        }
      }

      @Override
      public void onDelete(T obj, boolean finalStateUnknown) {
        toKeys.apply(obj).forEach(queue::add);
      }
    }));
    return this;
  }

  /**
   * Changes of {@code ownedType} enqueue the key of their controlling owner
   * ({@code ownerReferences[].controller == true}) if that owner is of {@code ownerType}; the owner
   * is looked for in the child's namespace, as the garbage collector requires.
   */
  public <T extends HasMetadata> ControllerBuilder owns(Class<T> ownedType, Class<? extends HasMetadata> ownerType) {
    String kind = HasMetadata.getKind(ownerType);
    String group = HasMetadata.getGroup(ownerType);
    return watches(ownedType, obj -> {
      OwnerReference ref = Keys.controllerOf(obj);
      if (ref == null || !kind.equals(ref.getKind()) || !group.equals(groupOf(ref.getApiVersion()))) {
        return List.of();
      }
      return List.of(Keys.of(obj.getMetadata().getNamespace(), ref.getName()));
    });
  }

  private static String groupOf(String apiVersion) {
    int slash = apiVersion == null ? -1 : apiVersion.indexOf('/');
    return slash < 0 ? "" : apiVersion.substring(0, slash);
  }

  public ControllerBuilder reconciler(Reconciler reconciler) {
    this.reconciler = reconciler;
    return this;
  }

  /** Number of concurrent workers (the seed's threadsPerController); default 1. */
  public ControllerBuilder workers(int workers) {
    if (workers < 1) {
      throw new IllegalArgumentException("workers must be >= 1");
    }
    this.workers = workers;
    return this;
  }

  /** Default: {@link RateLimiter#defaultController(Clock)}. */
  public ControllerBuilder rateLimiter(RateLimiter<String> rateLimiter) {
    this.rateLimiter = rateLimiter;
    return this;
  }

  public ControllerBuilder clock(Clock clock) {
    this.clock = clock;
    return this;
  }

  public Controller build() {
    Objects.requireNonNull(reconciler, "reconciler");
    RateLimitingQueue<String> queue = new RateLimitingQueue<>(
        rateLimiter != null ? rateLimiter : RateLimiter.defaultController(clock), clock);
    wiring.forEach(w -> w.accept(queue));
    return new Controller(name, informers, List.copyOf(watched), queue, reconciler, workers);
  }
}
