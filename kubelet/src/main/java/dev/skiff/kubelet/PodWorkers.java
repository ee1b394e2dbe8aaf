package dev.skiff.kubelet;

import io.fabric8.kubernetes.api.model.Pod;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One worker (a virtual thread) per pod UID, after pkg/kubelet/pod_workers.go. Each pod moves
 * one way through three stages:
 *
 * <pre>
 *   SYNCING  --(deletion, kill, or the pod reached a terminal phase)-->  TERMINATING
 *   TERMINATING  --(every container stopped)-->  TERMINATED
 * </pre>
 *
 * <p>{@link #updatePod} never blocks: it records the newest pod and wakes the worker. While a sync
 * runs, further updates coalesce into one pending update (the newest pod wins), but a request to
 * terminate is sticky: a later ordinary update never overwrites it (seed 000:
 * lastUndeliveredWorkUpdate keeps a SyncPodKill). A pod's syncs never overlap. A failed sync is
 * retried with backoff; a sync may ask to be requeued after a delay (CrashLoopBackOff).
 *
 * <p>Thread-safe.
 */
final class PodWorkers {
  private static final Logger log = LoggerFactory.getLogger(PodWorkers.class);

  /** The work behind the workers; tests replace it with a recorder. */
  interface PodSyncer {
    /** Syncs a running pod; returns what to do next. */
    SyncResult syncPod(Pod pod) throws Exception;

    /** Stops every container (grace in seconds, or null for the pod's own). */
    void syncTerminatingPod(Pod pod, Long gracePeriodOverride) throws Exception;

    /** The containers are gone: final status, then (for a deleted pod) remove the API object. */
    void syncTerminatedPod(Pod pod) throws Exception;

    /** The pod is gone from the API and the node: free its resources. */
    void forgetPod(String uid) throws Exception;
  }

  /** A sync's outcome: the pod reached a terminal phase, and/or wants another sync after a delay. */
  record SyncResult(boolean terminal, Duration requeueAfter) {
    static final SyncResult DONE = new SyncResult(false, null);
  }

  enum Stage { SYNCING, TERMINATING, TERMINATED }

  private final PodSyncer syncer;
  private final ScheduledExecutorService timers;
  private final Map<String, Worker> workers = new ConcurrentHashMap<>();
  private volatile boolean stopped;

  PodWorkers(PodSyncer syncer, ScheduledExecutorService timers) {
    this.syncer = syncer;
    this.timers = timers;
  }

  /**
   * Delivers the newest view of a pod. {@code kill} (or a deletionTimestamp on the pod) asks for
   * termination; {@code gone} means the API object no longer exists (forget after terminating).
   */
  void updatePod(Pod pod, boolean kill, boolean gone, Long gracePeriodOverride) {
    if (stopped) {
      return;
    }
    String uid = pod.getMetadata().getUid();
    Worker w = workers.computeIfAbsent(uid, u -> new Worker(u));
    synchronized (w) {
      w.pod = pod;
      w.pending = true;
      if (kill || gone || pod.getMetadata().getDeletionTimestamp() != null) {
        w.terminationRequested = true; // sticky: never cleared by a later update
        if (gracePeriodOverride != null) {
          w.grace = w.grace == null ? gracePeriodOverride : Math.min(w.grace, gracePeriodOverride);
        }
      }
      if (gone) {
        w.gone = true;
      }
      w.notifyAll();
      if (w.thread == null) {
        w.thread = Thread.ofVirtual().name("pod-" + pod.getMetadata().getName()).start(w::loop);
      }
    }
  }

  /** Requests a sync of a known pod (lifecycle event, periodic sync); no-op for unknown pods. */
  void resync(String uid) {
    Worker w = workers.get(uid);
    if (w != null) {
      synchronized (w) {
        w.pending = true;
        w.notifyAll();
      }
    }
  }

  Stage stage(String uid) {
    Worker w = workers.get(uid);
    return w == null ? null : w.stage;
  }

  java.util.Set<String> known() {
    return workers.keySet();
  }

  /** Stops the workers without running any further syncs (used on agent shutdown or abandonment). */
  void stop() {
    stopped = true;
    for (Worker w : workers.values()) {
      synchronized (w) {
        w.notifyAll();
      }
      if (w.thread != null) {
        w.thread.interrupt();
      }
    }
  }

  private final class Worker {
    final String uid;
    Pod pod;
    boolean pending;
    boolean terminationRequested;
    boolean gone;
    Long grace;
    volatile Stage stage = Stage.SYNCING;
    Thread thread;
    long failures;

    Worker(String uid) {
      this.uid = uid;
    }

    void loop() {
      try {
        while (!stopped) {
          Pod p;
          boolean terminate;
          synchronized (this) {
            while (!pending && !stopped) {
              wait();
            }
            if (stopped) {
              return;
            }
            pending = false;
            p = pod;
            terminate = terminationRequested;
          }
          try {
            if (stage == Stage.SYNCING && !terminate) {
              SyncResult r = syncer.syncPod(p);
              if (r.terminal()) {
                stage = Stage.TERMINATING;
                pendingAgain();
              } else if (r.requeueAfter() != null) {
                schedule(r.requeueAfter());
              }
            } else if (stage != Stage.TERMINATED) {
              stage = Stage.TERMINATING;
              syncer.syncTerminatingPod(p, grace);
              stage = Stage.TERMINATED;
              syncer.syncTerminatedPod(p);
            } else if (terminate) {
              // terminated already (terminal phase); a deletion now only needs the final steps
              syncer.syncTerminatedPod(p);
            }
            failures = 0;
            synchronized (this) {
              if (gone && stage == Stage.TERMINATED && !pending) {
                workers.remove(uid);
                syncer.forgetPod(uid);
                return;
              }
            }
          } catch (InterruptedException e) {
            return;
          } catch (Exception e) {
            failures++;
            long backoff = Math.min(200L << Math.min(failures, 8), 10_000L);
            log.warn("sync of pod {} failed (retry in {} ms): {}", p.getMetadata().getName(), backoff, e.toString());
            schedule(Duration.ofMillis(backoff));
          }
        }
      } catch (InterruptedException e) {
        // stopped
      } finally {
        synchronized (this) {
          thread = null;
          if (pending && !stopped) {
            thread = Thread.ofVirtual().name("pod-" + pod.getMetadata().getName()).start(this::loop);
          }
        }
      }
    }

    private void pendingAgain() {
      synchronized (this) {
        pending = true;
      }
    }

    private void schedule(Duration after) {
      if (!stopped) {
        timers.schedule(() -> resync(uid), Math.max(1, after.toMillis()), TimeUnit.MILLISECONDS);
      }
    }
  }
}
