package dev.skiff.serving.gateway;

import dev.skiff.serving.autoscaler.GatewayStats;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;

/**
 * The gateway's view of one Revision: its Ready pod endpoints, its containerConcurrency and
 * timeout, the per-pod breaker, the activator's hold, and the traffic measurements the
 * autoscaler scrapes.
 *
 * <p>{@link #acquire} gives a request a pod with a free slot: with containerConcurrency 0 any
 * ready pod (round-robin); with containerConcurrency N a pod with fewer than N requests in
 * flight, else the request waits in FIFO order (Knative's breaker: queue-proxy and activator
 * queue instead of returning 503; {@code pkg/queue/breaker.go}). With no ready pod at all, the
 * request is held and {@code onNoPods} is told once per hold (the activator's poke); it is
 * released the moment {@link #setEndpoints} publishes a Ready pod. Only a queue beyond
 * {@link #MAX_QUEUE} waiters is refused. Thread-safe.
 */
final class RevisionBackend {
  /** Knative's activator breaker queue depth ({@code pkg/activator/net/throttler.go}). */
  static final int MAX_QUEUE = 10_000;

  /** A Ready pod: address, whether it speaks h2c, and its requests in flight. */
  static final class Endpoint {
    final String host;
    final int port;
    final boolean h2c;
    final AtomicInteger inFlight = new AtomicInteger();
    /** Idle keep-alive HTTP/1.1 connections to this pod; closed when it leaves the Ready set. */
    final Http1Upstream.Pool pool = new Http1Upstream.Pool();
    /** When it left the Ready set ({@link System#nanoTime}); written under the backend's lock. */
    volatile long retiredAt;
    /** Set once a TCP connection to the pod succeeded (see {@link RoutingProxy#awaitListening}). */
    volatile boolean verified;

    Endpoint(String host, int port, boolean h2c) {
      this.host = host;
      this.port = port;
      this.h2c = h2c;
    }

    /** The host part for a URI (IPv6 addresses are already bracketed). */
    String hostForUri() {
      return host;
    }

    String address() {
      return host + ":" + port;
    }

    @Override
    public String toString() {
      return address() + (h2c ? " (h2c)" : "");
    }
  }

  /** Why {@link #acquire} gave up. */
  enum Failure { NO_PODS_TIMEOUT, BUSY_TIMEOUT, QUEUE_FULL }

  /** The result of {@link #acquire}: a pod, or a failure. */
  record Lease(Endpoint endpoint, Failure failure) {}

  final String namespace;
  final String name;
  volatile int containerConcurrency;
  volatile long timeoutSeconds = 300;

  private volatile Endpoint[] endpoints = new Endpoint[0];
  /** Endpoints removed from {@link #endpoints}; pruned a minute after they drained. */
  private final java.util.Set<Endpoint> draining = java.util.concurrent.ConcurrentHashMap.newKeySet();
  private final AtomicInteger next = new AtomicInteger();
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private int waiters;

  // Measurements: requests in the gateway for this revision (held, queued or proxied).
  private final AtomicInteger inFlight = new AtomicInteger();
  private final LongAdder requests = new LongAdder();
  private final Object sampleLock = new Object();
  private double concurrencyMs;
  private long sampledMs;
  private long lastSampleNanos;

  RevisionBackend(String namespace, String name) {
    this.namespace = namespace;
    this.name = name;
  }

  String key() {
    return namespace + "/" + name;
  }

  int readyPods() {
    return endpoints.length;
  }

  Endpoint[] endpoints() {
    return endpoints;
  }

  /**
   * Replaces the Ready endpoints, keeping the in-flight counts of pods that stay, and wakes the
   * waiters (held requests are released here, from the Pod informer's event).
   */
  void setEndpoints(List<Endpoint> fresh) {
    lock.lock();
    try {
      Map<String, Endpoint> old = new HashMap<>();
      for (Endpoint e : endpoints) {
        old.put(e.address(), e);
      }
      List<Endpoint> out = new ArrayList<>();
      for (Endpoint e : fresh) {
        Endpoint o = old.get(e.address());
        out.add(o != null && o.h2c == e.h2c ? o : e);
      }
      // Pods that left the Ready set (terminating, or not ready) stay tracked while requests the
      // gateway sent them are still running, for the drain hook (drainingInFlight).
      java.util.Set<Endpoint> kept = java.util.Collections.newSetFromMap(new java.util.IdentityHashMap<>());
      kept.addAll(out);
      long now = System.nanoTime();
      for (Endpoint e : endpoints) {
        if (!kept.contains(e)) {
          e.retiredAt = now;
          e.pool.close();
          draining.add(e);
        }
      }
      draining.removeIf(e -> kept.contains(e)
          || (e.inFlight.get() == 0 && now - e.retiredAt > TimeUnit.SECONDS.toNanos(60)));
      endpoints = out.toArray(new Endpoint[0]);
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Requests the gateway sent to pods that have since left the Ready set (terminating or not
   * ready) and that have not completed yet: what a drain waits for.
   */
  int drainingInFlight() {
    int n = 0;
    for (Endpoint e : draining) {
      n += e.inFlight.get();
    }
    return n;
  }

  /** The requests counted in flight now (held and queued ones included). */
  int inFlight() {
    return inFlight.get();
  }

  /** Counts a request into the measurements; pair with {@link #requestDone}. */
  void requestStarted() {
    inFlight.incrementAndGet();
    requests.increment();
  }

  void requestDone() {
    inFlight.decrementAndGet();
  }

  /**
   * Samples the current concurrency (called every 100 ms by the gateway): adds the count times
   * the time since the previous sample to the integral. The counters only grow (see
   * {@link GatewayStats}); sampling keeps the request path free of locks.
   */
  void sample() {
    int c = inFlight.get();
    long now = System.nanoTime();
    synchronized (sampleLock) {
      if (lastSampleNanos != 0) {
        long dtMs = TimeUnit.NANOSECONDS.toMillis(now - lastSampleNanos);
        concurrencyMs += (double) c * dtMs;
        sampledMs += dtMs;
        lastSampleNanos += TimeUnit.MILLISECONDS.toNanos(dtMs); // the remainder counts next time
      } else {
        lastSampleNanos = now;
      }
    }
  }

  /** The cumulative counters of this revision in this gateway. */
  GatewayStats.Counters counters() {
    synchronized (sampleLock) {
      return new GatewayStats.Counters(requests.sum(), concurrencyMs, sampledMs, inFlight.get());
    }
  }

  /**
   * Waits until a pod has a free slot, or the deadline ({@link System#nanoTime}) passes.
   * {@code onNoPods} runs (once) if the revision has no ready pod when the wait starts.
   */
  Lease acquire(long deadlineNanos, Consumer<RevisionBackend> onNoPods) throws InterruptedException {
    int cc = containerConcurrency;
    if (cc <= 0) {
      Endpoint[] eps = endpoints;
      if (eps.length > 0) {
        Endpoint e = eps[Math.floorMod(next.getAndIncrement(), eps.length)];
        e.inFlight.incrementAndGet();
        return new Lease(e, null);
      }
    }
    boolean poked = false;
    lock.lock();
    try {
      if (waiters >= MAX_QUEUE) {
        return new Lease(null, Failure.QUEUE_FULL);
      }
      waiters++;
      try {
        while (true) {
          Endpoint[] eps = endpoints;
          if (eps.length == 0 && !poked) {
            poked = true;
            onNoPods.accept(this);
          }
          Endpoint e = pick(eps, containerConcurrency);
          if (e != null) {
            e.inFlight.incrementAndGet();
            return new Lease(e, null);
          }
          long left = deadlineNanos - System.nanoTime();
          if (left <= 0) {
            return new Lease(null, endpoints.length == 0 ? Failure.NO_PODS_TIMEOUT : Failure.BUSY_TIMEOUT);
          }
          changed.awaitNanos(left);
        }
      } finally {
        waiters--;
      }
    } finally {
      lock.unlock();
    }
  }

  /**
   * A pod with a free slot, without waiting, or null (then use {@link #acquire}); the caller
   * checks {@link Endpoint#verified} before it sends. Never overtakes queued requests.
   */
  Endpoint tryAcquire() {
    int cc = containerConcurrency;
    if (cc <= 0) {
      Endpoint[] eps = endpoints;
      if (eps.length == 0) {
        return null;
      }
      // An unverified (fresh) pod is returned too, and the caller probes it first: skipping it
      // here and picking again in acquire() would, with two pods, always land on the other one.
      Endpoint e = eps[Math.floorMod(next.getAndIncrement(), eps.length)];
      e.inFlight.incrementAndGet();
      return e;
    }
    lock.lock();
    try {
      if (waiters > 0) {
        return null;
      }
      Endpoint e = pick(endpoints, cc);
      if (e == null) {
        return null;
      }
      e.inFlight.incrementAndGet();
      return e;
    } finally {
      lock.unlock();
    }
  }

  /** Returns a slot taken by {@link #acquire} or {@link #tryAcquire}. */
  void release(Endpoint e) {
    e.inFlight.decrementAndGet();
    if (containerConcurrency > 0) {
      lock.lock();
      try {
        if (waiters > 0) {
          changed.signal();
        }
      } finally {
        lock.unlock();
      }
    }
  }

  /** Under the lock: the least-loaded pod with a free slot, starting round-robin. */
  private Endpoint pick(Endpoint[] eps, int cc) {
    if (eps.length == 0) {
      return null;
    }
    int start = Math.floorMod(next.getAndIncrement(), eps.length);
    Endpoint best = null;
    for (int i = 0; i < eps.length; i++) {
      Endpoint e = eps[(start + i) % eps.length];
      int f = e.inFlight.get();
      if ((cc <= 0 || f < cc) && (best == null || f < best.inFlight.get())) {
        best = e;
      }
    }
    return best;
  }

  static long deadline(long timeoutSeconds) {
    return System.nanoTime() + TimeUnit.SECONDS.toNanos(Math.max(1, timeoutSeconds));
  }
}
