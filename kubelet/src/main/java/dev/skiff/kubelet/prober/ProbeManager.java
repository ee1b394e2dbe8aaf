package dev.skiff.kubelet.prober;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Probe;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.ToLongFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs the liveness, readiness and startup probes of running containers (pkg/kubelet/prober:
 * prober_manager.go and worker.go): one virtual thread per (container instance, probe kind),
 * started when the pod sync first sees the instance running and stopped when it is gone.
 *
 * <p>Semantics (upstream defaults: initialDelaySeconds 0, periodSeconds 10, timeoutSeconds 1,
 * successThreshold 1, failureThreshold 3): a result flips only after successThreshold
 * consecutive successes or failureThreshold consecutive failures. Readiness starts false;
 * liveness starts true; startup starts false. While a startup probe has not succeeded, the
 * liveness and readiness probes do not run. A container without a readiness probe is ready once
 * started. A liveness or startup failure is reported once through {@link #livenessFailure}
 * (the pod sync kills the container, which then restarts per restartPolicy); the worker then
 * stops, since the instance is going away. Every change of a result calls the listener, which
 * wakes the pod's worker so the status is written at once.
 *
 * <p>Thread-safe.
 */
public final class ProbeManager implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ProbeManager.class);

  /** Probe kinds (pkg/kubelet/prober/results: liveness, readiness, startup). */
  public enum Kind {
    LIVENESS("Liveness"), READINESS("Readiness"), STARTUP("Startup");

    final String title;

    Kind(String title) {
      this.title = title;
    }
  }

  /** Callbacks into the agent. Called from probe threads; must not block. */
  public interface Listener {
    /** A probe result of the pod changed: sync the pod. */
    void resultChanged(String podUid);

    /** A probe failed (each failure: upstream records an Unhealthy event per failed probe). */
    void probeFailed(Pod pod, Container container, Kind kind, String message);
  }

  private final Prober prober;
  private final Listener listener;
  private final ToLongFunction<String> pids;
  private final Map<String, Entry> containers = new ConcurrentHashMap<>();
  private volatile boolean closed;

  /** {@code pids}: a running container's shim pid by container id (0 when not running). */
  public ProbeManager(Prober prober, ToLongFunction<String> pids, Listener listener) {
    this.prober = prober;
    this.pids = pids;
    this.listener = listener;
  }

  /** A running container instance to probe. */
  public record Running(String containerId, Container spec, Instant startedAt) {}

  /**
   * Brings the workers of one pod in line with its running containers: starts workers for new
   * instances, stops those of instances no longer running. Called by every pod sync; cheap.
   */
  public void sync(Pod pod, String podIp, List<Running> running) {
    if (closed) {
      return;
    }
    String uid = pod.getMetadata().getUid();
    Set<String> live = new java.util.HashSet<>();
    for (Running r : running) {
      live.add(r.containerId());
      Entry e = containers.computeIfAbsent(r.containerId(), id -> new Entry(uid, r));
      e.pod = pod;
      e.podIp = podIp;
      e.startIfNeeded();
    }
    for (Entry e : List.copyOf(containers.values())) {
      if (e.podUid.equals(uid) && !live.contains(e.running.containerId())) {
        remove(e.running.containerId());
      }
    }
  }

  /** Whether the container instance is ready (no readiness probe: ready once started). */
  public boolean ready(String containerId) {
    Entry e = containers.get(containerId);
    return e == null ? true : e.started && e.ready;
  }

  /** Whether the container instance has started (its startup probe succeeded, or it has none). */
  public boolean started(String containerId) {
    Entry e = containers.get(containerId);
    return e == null || e.started;
  }

  /**
   * As {@link #started(String)}, for an instance the manager may not know yet: one with a
   * startup probe has not started until its worker says so.
   */
  public boolean started(String containerId, Container spec) {
    Entry e = containers.get(containerId);
    return e == null ? spec.getStartupProbe() == null : e.started;
  }

  /**
   * The message of the liveness or startup failure of this instance, or null; the pod sync kills
   * the container when it is set.
   */
  public String livenessFailure(String containerId) {
    Entry e = containers.get(containerId);
    return e == null ? null : e.killReason;
  }

  /** The probe kind that failed for {@link #livenessFailure}, or null. */
  public Kind failedKind(String containerId) {
    Entry e = containers.get(containerId);
    return e == null ? null : e.killKind;
  }

  /** Stops the workers of one container instance. */
  public void remove(String containerId) {
    Entry e = containers.remove(containerId);
    if (e != null) {
      e.stop();
    }
  }

  /** Stops every worker of a pod. */
  public void removePod(String podUid) {
    for (Entry e : List.copyOf(containers.values())) {
      if (e.podUid.equals(podUid)) {
        remove(e.running.containerId());
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    List.copyOf(containers.keySet()).forEach(this::remove);
  }

  /** Effective probe settings with upstream defaults (pkg/apis/core/v1/defaults.go SetDefaults_Probe). */
  record Settings(Duration initialDelay, Duration period, int successThreshold, int failureThreshold) {
    static Settings of(Probe p, Kind kind) {
      int initial = p.getInitialDelaySeconds() == null ? 0 : p.getInitialDelaySeconds();
      int period = p.getPeriodSeconds() == null || p.getPeriodSeconds() < 1 ? 10 : p.getPeriodSeconds();
      int success = p.getSuccessThreshold() == null || p.getSuccessThreshold() < 1 ? 1 : p.getSuccessThreshold();
      if (kind != Kind.READINESS) {
        success = 1; // must be 1 for liveness and startup (validation)
      }
      int failure = p.getFailureThreshold() == null || p.getFailureThreshold() < 1 ? 3 : p.getFailureThreshold();
      return new Settings(Duration.ofSeconds(initial), Duration.ofSeconds(period), success, failure);
    }
  }

  /** Probe state of one container instance; its fields are written by its workers. */
  private final class Entry {
    final String podUid;
    final Running running;
    volatile Pod pod;
    volatile String podIp;
    volatile boolean started;
    volatile boolean ready;
    volatile String killReason;
    volatile Kind killKind;
    final List<Thread> threads = new ArrayList<>();
    volatile boolean stopped;
    volatile boolean everReady;

    Entry(String podUid, Running r) {
      this.podUid = podUid;
      this.running = r;
      Container c = r.spec();
      this.started = c.getStartupProbe() == null;
      // no readiness probe: ready once started (worker.go: readiness defaults to Success then)
      this.ready = c.getReadinessProbe() == null;
    }

    synchronized void startIfNeeded() {
      if (!threads.isEmpty() || stopped) {
        return;
      }
      Container c = running.spec();
      String base = "probe-" + pod.getMetadata().getName() + "-" + c.getName() + "-";
      if (c.getStartupProbe() != null) {
        threads.add(Thread.ofVirtual().name(base + "startup").start(() -> work(Kind.STARTUP, c.getStartupProbe())));
      }
      if (c.getLivenessProbe() != null) {
        threads.add(Thread.ofVirtual().name(base + "liveness").start(() -> work(Kind.LIVENESS, c.getLivenessProbe())));
      }
      if (c.getReadinessProbe() != null) {
        threads.add(Thread.ofVirtual().name(base + "readiness").start(() -> work(Kind.READINESS, c.getReadinessProbe())));
      }
      if (threads.isEmpty()) {
        threads.add(null); // marker: nothing to run, nothing to start again
      }
    }

    synchronized void stop() {
      stopped = true;
      for (Thread t : threads) {
        if (t != null) {
          t.interrupt();
        }
      }
    }

    /** worker.go run/doProbe: wait out the initial delay, then probe every period. */
    private void work(Kind kind, Probe probe) {
      Settings s = Settings.of(probe, kind);
      int successes = 0;
      int failures = 0;
      try {
        Instant firstAt = running.startedAt() == null ? Instant.now() : running.startedAt().plus(s.initialDelay());
        sleepUntil(firstAt);
        while (!stopped && !closed) {
          if (kind == Kind.STARTUP || started) { // startup gates the other probes
            long pid = pids.applyAsLong(running.containerId());
            if (pid <= 0) {
              return; // the instance is gone; the next sync removes this entry
            }
            Prober.Result r = prober.probe(probe, new Prober.Target(podIp, running.spec(), pid));
            if (stopped || Thread.currentThread().isInterrupted()) {
              return;
            }
            switch (r.outcome()) {
              case SUCCESS -> {
                failures = 0;
                successes++;
              }
              case FAILURE -> {
                successes = 0;
                failures++;
                // Sub-second initial readiness probing reports about one failure per period, not each.
                Duration every = kind == Kind.READINESS && !everReady ? initialReadinessInterval(pod, s.period()) : s.period();
                if ((failures - 1) % Math.max(1, s.period().toMillis() / Math.max(1, every.toMillis())) == 0) {
                  listener.probeFailed(pod, running.spec(), kind, kind.title + " probe failed: " + r.message().strip());
                }
              }
              case UNKNOWN -> {
                // pkg/kubelet/prober/worker.go: an Unknown result keeps the last result
                log.debug("{} probe of {} errored: {}", kind, running.containerId(), r.message());
              }
            }
            if (apply(kind, s, successes, failures, r.message())) {
              listener.resultChanged(podUid);
            }
            if (killReason != null || (kind == Kind.STARTUP && started)) {
              return; // startup succeeded (it never runs again), or the instance is being killed
            }
          }
          Thread.sleep(kind == Kind.READINESS && !everReady ? initialReadinessInterval(pod, s.period()) : s.period());
        }
      } catch (InterruptedException e) {
        // stopped with the container
      } catch (RuntimeException e) {
        log.warn("{} probe worker of {} failed: {}", kind, running.containerId(), e.toString());
      }
    }

    /** Applies the thresholds; true when a result the status depends on changed. */
    private boolean apply(Kind kind, Settings s, int successes, int failures, String message) {
      switch (kind) {
        case STARTUP -> {
          if (successes >= s.successThreshold() && !started) {
            started = true;
            return true;
          }
          if (failures >= s.failureThreshold() && killReason == null) {
            killKind = Kind.STARTUP;
            killReason = message;
            return true;
          }
        }
        case LIVENESS -> {
          if (failures >= s.failureThreshold() && killReason == null) {
            killKind = Kind.LIVENESS;
            killReason = message;
            return true;
          }
        }
        case READINESS -> {
          if (successes >= s.successThreshold() && !ready) {
            ready = true;
            everReady = true;
            return true;
          }
          if (failures >= s.failureThreshold() && ready) {
            ready = false;
            return true;
          }
        }
      }
      return false;
    }
  }

  /**
   * Opt-in sub-second readiness probing until the first success (annotation
   * {@value #INITIAL_READINESS_INTERVAL_ANNOTATION}, 10-1000 ms; Skiff's Knative Revisions set it, as
   * Knative's queue-proxy probes the user container every ~50 ms until ready,
   * pkg/queue/readiness/probe.go; KEP-3066). Pods without it keep the probe's period.
   */
  public static final String INITIAL_READINESS_INTERVAL_ANNOTATION = "skiff.dev/initial-readiness-probe-interval-ms";

  private static Duration initialReadinessInterval(Pod pod, Duration period) {
    String v = pod == null || pod.getMetadata().getAnnotations() == null ? null
        : pod.getMetadata().getAnnotations().get(INITIAL_READINESS_INTERVAL_ANNOTATION);
    try {
      return v == null ? period : Duration.ofMillis(Math.max(10, Math.min(1000, Long.parseLong(v.trim()))));
    } catch (NumberFormatException e) {
      return period;
    }
  }

  private static void sleepUntil(Instant t) throws InterruptedException {
    long ms = Duration.between(Instant.now(), t).toMillis();
    if (ms > 0) {
      Thread.sleep(ms);
    }
  }
}
