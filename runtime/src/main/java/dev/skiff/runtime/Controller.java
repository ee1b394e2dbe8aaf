package dev.skiff.runtime;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A named control loop: informer handlers enqueue keys into one {@link RateLimitingQueue}, and N
 * workers on virtual threads take keys and call the {@link Reconciler} (client-go
 * sample-controller's shape). The queue guarantees a key is never reconciled by two workers at
 * once. Success forgets the key's failure history; an exception or {@link Result#requeue()}
 * re-adds it rate-limited. Workers start once every watched informer has synced. Build with
 * {@link #builder(String, SharedInformers)}. Thread-safe.
 */
public final class Controller {
  private static final Logger log = LoggerFactory.getLogger(Controller.class);

  private final String name;
  private final SharedInformers informers;
  private final List<Informer<?>> watched;
  private final RateLimitingQueue<String> queue;
  private final Reconciler reconciler;
  private final int workers;
  private final List<Thread> threads = new ArrayList<>();
  private Thread starter;
  private volatile boolean stopped;

  Controller(String name, SharedInformers informers, List<Informer<?>> watched, RateLimitingQueue<String> queue,
      Reconciler reconciler, int workers) {
    this.name = name;
    this.informers = informers;
    this.watched = watched;
    this.queue = queue;
    this.reconciler = reconciler;
    this.workers = workers;
  }

  public static ControllerBuilder builder(String name, SharedInformers informers) {
    return new ControllerBuilder(name, informers);
  }

  public String name() {
    return name;
  }

  /** The controller's queue; reconcilers may enqueue other keys into it. */
  public RateLimitingQueue<String> queue() {
    return queue;
  }

  public void enqueue(String key) {
    queue.add(key);
  }

  /** Starts the shared informers (if not yet), then the workers once the watched caches synced. */
  public synchronized void start() {
    if (starter != null) {
      throw new IllegalStateException("controller " + name + " already started");
    }
    informers.start();
    starter = Thread.ofVirtual().name(name + "-start").start(() -> {
      try {
        while (!watched.stream().allMatch(Informer::hasSynced)) {
          if (stopped) {
            return;
          }
          Thread.sleep(10);
        }
      } catch (InterruptedException e) {
        return;
      }
      synchronized (this) {
        if (stopped) {
          return;
        }
        log.info("controller {}: caches synced, starting {} workers", name, workers);
        for (int i = 0; i < workers; i++) {
          threads.add(Thread.ofVirtual().name(name + "-worker-" + i).start(this::work));
        }
      }
    });
  }

  /** True once workers are running. */
  public synchronized boolean started() {
    return !threads.isEmpty();
  }

  /**
   * Shuts the queue down and waits (up to {@code timeout}) for workers to finish the key they
   * hold. Keys still queued are dropped. Informers are not stopped: they are shared.
   */
  public void stop(Duration timeout) throws InterruptedException {
    List<Thread> toJoin;
    synchronized (this) {
      stopped = true;
      toJoin = List.copyOf(threads);
    }
    queue.shutDown();
    long deadline = System.nanoTime() + timeout.toNanos();
    for (Thread t : toJoin) {
      long left = deadline - System.nanoTime();
      if (left > 0) {
        t.join(Duration.ofNanos(left));
      }
    }
  }

  private void work() {
    try {
      String key;
      while ((key = queue.get()) != null) {
        try {
          if (!stopped) { // keys still queued at stop are dropped, not reconciled
            process(key);
          }
        } finally {
          queue.done(key);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void process(String key) {
    Result r;
    try {
      r = reconciler.reconcile(key);
    } catch (Exception | StackOverflowError e) {
      if (e instanceof io.fabric8.kubernetes.client.KubernetesClientException k && k.getCode() == 409) {
        // A write raced another writer (optimistic concurrency): expected, retried from the
        // cache's next version; upstream controllers requeue these without an error line.
        log.debug("controller {}: conflict syncing {} (retry {}): {}", name, key, queue.numRequeues(key), k.getMessage());
      } else {
        log.warn("controller {}: error syncing {} (retry {}): {}", name, key, queue.numRequeues(key), e.toString());
      }
      queue.addRateLimited(key);
      return;
    }
    if (r != null && r.isRateLimitedRequeue()) {
      queue.addRateLimited(key);
    } else if (r != null && r.delay().isPresent()) {
      queue.forget(key);
      queue.addAfter(key, r.delay().get());
    } else {
      queue.forget(key);
    }
  }
}
