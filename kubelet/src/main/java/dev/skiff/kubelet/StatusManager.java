package dev.skiff.kubelet;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.http.HttpResponse;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes pod status to the API only when it changed (pkg/kubelet/status/status_manager.go
 * needsUpdate): against what this agent last wrote or queued, and against the object's current
 * status (so a restarted agent does not rewrite what is already there). Writes are merge patches
 * of the status subresource; lists (conditions, containerStatuses) are replaced whole.
 *
 * <p>Asynchronous, as upstream's status manager: {@link #update} records the newest status and
 * returns; a few writer threads (at most {@link #MAX_IN_FLIGHT} requests in flight, so a burst of
 * 100 starting pods does not open 100 connections) send them. Per pod, updates coalesce (the
 * newest wins) and writes never overlap or reorder. A failed write is retried after a back-off
 * unless a newer status replaced it; a pod that is gone (404) is dropped. {@link #flush} waits for
 * a pod's write, for callers that must act after it is stored (deleting the object).
 *
 * <p>Thread-safe; called from pod workers.
 */
final class StatusManager implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StatusManager.class);
  /** Concurrent status requests; each needs one HTTP/1.1 connection of the agent's client. */
  static final int MAX_IN_FLIGHT = 8;

  private final KubernetesClient client;
  /** uid -> the status JSON last stored in the API by this agent (or found there). */
  private final Map<String, String> written = new ConcurrentHashMap<>();
  private final AtomicLong writes = new AtomicLong();
  // Guarded by this:
  /** uid -> the newest status JSON wanted. */
  private final Map<String, String> wanted = new HashMap<>();
  /**
   * uid -> the status object {@link #wanted} was made from: a sync that builds an equal status
   * (every sync after the pod's own status write comes back through the informer) returns
   * without serializing it (a fifth of a pod worker's CPU in a burst went to that JSON).
   */
  private final Map<String, PodStatus> wantedObject = new HashMap<>();
  /** uid -> {namespace, name}. */
  private final Map<String, String[]> names = new HashMap<>();
  /** Pods with a wanted status not yet sent, oldest first. */
  private final Set<String> dirty = new LinkedHashSet<>();
  private final Set<String> inFlight = new HashSet<>();
  private int writers;
  private boolean closed;

  StatusManager(KubernetesClient client) {
    this.client = client;
  }

  /** Queues {@code status} as the pod's status, unless it is what the API holds or will hold. */
  void update(Pod pod, PodStatus status) {
    String uid = pod.getMetadata().getUid();
    synchronized (this) {
      if (status.equals(wantedObject.get(uid))) {
        return; // queued, in flight or written already (equal objects serialize equally)
      }
    }
    String json = Serialization.asJson(status);
    synchronized (this) {
      if (json.equals(wanted.get(uid))) {
        wantedObject.put(uid, status);
        return; // queued, in flight or written already
      }
      if (!dirty.contains(uid) && !inFlight.contains(uid) && pod.getStatus() != null
          && json.equals(Serialization.asJson(pod.getStatus()))) {
        written.put(uid, json);
        wanted.put(uid, json);
        wantedObject.put(uid, status);
        return;
      }
      StartupTrace.mark(pod.getMetadata().getNamespace(), pod.getMetadata().getName(), "status-queued");
      wanted.put(uid, json);
      wantedObject.put(uid, status);
      names.put(uid, new String[] {pod.getMetadata().getNamespace(), pod.getMetadata().getName()});
      if (!inFlight.contains(uid)) {
        dirty.add(uid);
      }
      startWriterIfNeeded();
    }
  }

  /** Waits until the pod's newest status is written (or dropped), at most {@code timeout}. */
  boolean flush(String uid, Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (this) {
      while (dirty.contains(uid) || inFlight.contains(uid)) {
        long left = deadline - System.nanoTime();
        if (left <= 0 || closed) {
          return false;
        }
        TimeUnit.NANOSECONDS.timedWait(this, left);
      }
      return true;
    }
  }

  private void startWriterIfNeeded() {
    if (!closed && writers < MAX_IN_FLIGHT && dirty.size() > 0 && writers < dirty.size() + inFlight.size()) {
      writers++;
      Thread.ofVirtual().name("pod-status-writer").start(this::writeLoop);
    }
  }

  private void writeLoop() {
    while (true) {
      String uid;
      String json;
      String[] name;
      synchronized (this) {
        var it = dirty.iterator();
        if (closed || !it.hasNext()) {
          writers--;
          return;
        }
        uid = it.next();
        it.remove();
        inFlight.add(uid);
        json = wanted.get(uid);
        name = names.get(uid);
      }
      boolean retry = false;
      try {
        if (json != null && name != null && send(uid, name[0], name[1], json)) {
          written.put(uid, json);
          writes.incrementAndGet();
          StartupTrace.mark(name[0], name[1], "status-written");
        }
      } catch (Exception e) {
        log.warn("writing status of pod {}/{} failed (retried): {}", name[0], name[1], e.toString());
        retry = true;
      }
      synchronized (this) {
        inFlight.remove(uid);
        String newest = wanted.get(uid);
        if (newest != null && !newest.equals(written.get(uid)) && (!newest.equals(json) || retry)) {
          if (retry && newest.equals(json)) {
            retryLater(uid);
          } else {
            dirty.add(uid); // a newer status arrived while this one was in flight
          }
        }
        notifyAll();
      }
    }
  }

  /** Puts a pod whose write failed back in the queue after a second (holding this). */
  private void retryLater(String uid) {
    Thread.ofVirtual().start(() -> {
      try {
        Thread.sleep(1000);
      } catch (InterruptedException e) {
        return;
      }
      synchronized (this) {
        if (wanted.containsKey(uid) && !inFlight.contains(uid)) {
          dirty.add(uid);
          startWriterIfNeeded();
        }
        notifyAll();
      }
    });
  }

  /** One PATCH request; false when the pod is gone (404). */
  private boolean send(String uid, String namespace, String name, String json) throws Exception {
    // One PATCH request: fabric8's patch() GETs the object first, doubling the API traffic.
    // The uid in the patch is a precondition: a recreated pod of the same name is not touched.
    String body = "{\"metadata\":{\"uid\":\"" + uid + "\"},\"status\":" + json + "}";
    String url = client.getMasterUrl().toString().replaceAll("/$", "") + "/api/v1/namespaces/"
        + namespace + "/pods/" + name + "/status";
    var http = client.getHttpClient();
    var req = http.newHttpRequestBuilder().uri(url)
        .method("PATCH", "application/merge-patch+json", body).build();
    HttpResponse<String> resp = http.sendAsync(req, String.class).get(30, TimeUnit.SECONDS);
    if (resp.code() == 404) {
      log.debug("pod {} is gone; status not written", name);
      return false;
    }
    if (resp.code() >= 300) {
      throw new IllegalStateException(resp.code() + " " + resp.body());
    }
    return true;
  }

  /** Number of status writes so far (for tests and figures). */
  long writes() {
    return writes.get();
  }

  synchronized void forget(String uid) {
    written.remove(uid);
    wanted.remove(uid);
    wantedObject.remove(uid);
    names.remove(uid);
    dirty.remove(uid);
    notifyAll();
  }

  /** Stops writing; queued statuses are dropped (the next agent recomputes them). */
  @Override
  public synchronized void close() {
    closed = true;
    notifyAll();
  }
}
