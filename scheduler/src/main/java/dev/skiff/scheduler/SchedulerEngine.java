package dev.skiff.scheduler;

import dev.skiff.runtime.Clock;
import dev.skiff.runtime.EventHandler;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.SharedInformers;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.http.HttpClient;
import io.fabric8.kubernetes.client.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The scheduler proper: informers feed the {@link SchedulerCache} and the {@link SchedulingQueue};
 * one thread runs {@code scheduleOne} (upstream {@code schedule_one.go}): pop, filter and score
 * under the cache lock, assume, then bind asynchronously through {@code pods/binding}. A pod that
 * fits nowhere gets PodScheduled=False/Unschedulable with the FitError message and a
 * FailedScheduling event, after preemption has been tried.
 *
 * <p>{@link #start} starts the informers; {@link #startScheduling} begins scheduling (on winning
 * leader election). Thread-safe; {@link #close} stops everything.
 */
public final class SchedulerEngine implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SchedulerEngine.class);
  public static final String SCHEDULER_NAME = "default-scheduler";
  static final Duration ASSUMED_TTL = Duration.ofSeconds(30);
  private static final int MAX_BINDS_IN_FLIGHT = 256;

  private final KubernetesClient client;
  private final Clock clock;
  private final SharedInformers informers;
  private final boolean ownInformers;
  final SchedulerCache cache;
  final SchedulingQueue queue;
  final Framework framework;
  private final DefaultPreemption preemption;
  private final EventRecorder events;
  private final HttpClient http;
  private final String baseUrl;
  private final Semaphore bindSlots = new Semaphore(MAX_BINDS_IN_FLIGHT);
  private final AtomicLong scheduled = new AtomicLong();
  private final AtomicLong bound = new AtomicLong();
  private final AtomicLong cycles = new AtomicLong();
  private final AtomicLong cycleNanos = new AtomicLong();
  private final AtomicLong bindNanos = new AtomicLong();
  private volatile boolean running;
  private volatile Thread loop;
  private Thread housekeeping;

  /** Builds an engine with its own informers on {@code client}. */
  public SchedulerEngine(KubernetesClient client) {
    this(client, new SharedInformers(client), true, Clock.system(), 0);
  }

  /**
   * @param informers shared informers (started by the caller when {@code ownInformers} is false)
   * @param percentageOfNodesToScore 0 for upstream's adaptive default
   */
  public SchedulerEngine(KubernetesClient client, SharedInformers informers, boolean ownInformers, Clock clock, int percentageOfNodesToScore) {
    this.client = client;
    this.clock = clock;
    this.informers = informers;
    this.ownInformers = ownInformers;
    this.cache = new SchedulerCache(clock, ASSUMED_TTL);
    this.queue = new SchedulingQueue(clock);
    var pvcs = informers.informerFor(PersistentVolumeClaim.class);
    var pvs = informers.informerFor(PersistentVolume.class);
    var scs = informers.informerFor(StorageClass.class);
    List<Plugin> plugins = new ArrayList<>(List.of(
        new NodeUnschedulable(), new NodeName(), new TaintToleration(), new NodeConditions(), new NodeAffinity(),
        new NodePorts(), new NodeResourcesFit(),
        new VolumeBinding(client, pvcs.lister(), pvs.lister(), scs.lister()),
        new PodTopologySpread(cache), new InterPodAffinity(cache), new BalancedAllocation(), new ImageLocality()));
    this.framework = new Framework(plugins, percentageOfNodesToScore);
    this.preemption = new DefaultPreemption(framework);
    this.events = new EventRecorder(client, SCHEDULER_NAME);
    this.http = client.getHttpClient();
    String url = client.getMasterUrl().toString();
    this.baseUrl = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
    informers.informerFor(Node.class).addHandler(new NodeHandler());
    informers.informerFor(Pod.class).addHandler(new PodHandler());
  }

  /** Starts the informers (if owned) and waits for them to sync. */
  public void start() throws InterruptedException {
    if (ownInformers) {
      informers.start();
    }
    informers.waitForCacheSync(Duration.ofSeconds(60));
    housekeeping = Thread.ofVirtual().name("scheduler-housekeeping").start(this::housekeep);
  }

  /** Starts the scheduling loop; idempotent. */
  public synchronized void startScheduling() {
    if (running) {
      return;
    }
    running = true;
    Thread t = Thread.ofPlatform().daemon().name("scheduler").unstarted(this::run);
    loop = t;
    t.start();
  }

  /** Stops scheduling (lost leadership); informers keep running. */
  public synchronized void stopScheduling() {
    running = false;
    if (loop != null) {
      loop.interrupt();
      loop = null;
    }
  }

  public boolean isScheduling() {
    return running;
  }

  /** Scheduling cycles run, and the nanoseconds they took (pop to assume), for benchmarks. */
  public long cycles() {
    return cycles.get();
  }

  public long cycleNanos() {
    return cycleNanos.get();
  }

  /** Summed latency of successful binding calls, in nanoseconds. */
  public long bindNanos() {
    return bindNanos.get();
  }

  /** Nodes in the cache. */
  public int nodeCount() {
    return cache.nodeCount();
  }

  /** Pods waiting in the scheduling queue (all three parts). */
  public int queuedCount() {
    return queue.size();
  }

  /** Pods this engine has bound successfully. */
  public long boundCount() {
    return bound.get();
  }

  @Override
  public void close() {
    stopScheduling();
    queue.close();
    if (housekeeping != null) {
      housekeeping.interrupt();
    }
    events.close();
    if (ownInformers) {
      informers.close();
    }
  }

  private void housekeep() {
    long lastUnschedFlush = clock.nanoTime();
    try {
      while (!Thread.currentThread().isInterrupted()) {
        Thread.sleep(100);
        // Backoff completions every 100 ms; leftovers in unschedulablePods every 30 s (upstream
        // flushUnschedulablePodsLeftover); expired assumptions once a second is enough.
        queue.flush();
        long now = clock.nanoTime();
        if (now - lastUnschedFlush >= Duration.ofSeconds(1).toNanos()) {
          lastUnschedFlush = now;
          if (cache.cleanupExpired() > 0) {
            queue.moveAllToActiveOrBackoff();
          }
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void run() {
    // Only the current loop thread schedules: a loop replaced by stop-then-start exits here even
    // if its interrupt arrived while it was not waiting, so cycles never run concurrently.
    while (running && loop == Thread.currentThread()) {
      SchedulingQueue.Entry e;
      try {
        e = queue.poll(Duration.ofMillis(500));
      } catch (InterruptedException ie) {
        return;
      }
      if (e == null) {
        continue;
      }
      if (!running || loop != Thread.currentThread()) {
        queue.requeueAfterBindFailure(e);
        return;
      }
      try {
        scheduleOne(e);
      } catch (RuntimeException ex) {
        log.error("scheduling cycle for {} failed", e.key, ex);
        if (e.pod != null) {
          cache.forget(new PodInfo(e.pod));
        }
        queue.requeueAfterBindFailure(e);
      }
    }
  }

  /** One scheduling cycle for one pod. */
  void scheduleOne(SchedulingQueue.Entry e) {
    Pod pod = e.pod;
    if (pod == null || pod.getMetadata().getDeletionTimestamp() != null || cache.isPlaced(pod.getMetadata().getUid())) {
      queue.done(e);
      return;
    }
    long t0 = System.nanoTime();
    PodInfo pi = new PodInfo(pod);
    CycleState state = new CycleState();
    Framework.Placement placement;
    Framework.FitError fitError = null;
    DefaultPreemption.Result preempted = null;
    cache.lock().lock();
    try {
      List<NodeInfo> nodes = cache.nodeList();
      try {
        placement = framework.schedule(state, pi, nodes);
      } catch (Framework.FitError fe) {
        placement = null;
        fitError = fe;
        preempted = preemption.preempt(state, pi, fe, nodes);
        fe.postFilterMsg = preempted.message();
      }
      if (placement != null) {
        cache.assume(pi, placement.node());
      }
    } finally {
      cache.lock().unlock();
    }
    cycles.incrementAndGet();
    cycleNanos.addAndGet(System.nanoTime() - t0);
    if (placement == null) {
      handleFailure(e, pi, fitError, preempted);
      return;
    }
    queue.done(e);
    scheduled.incrementAndGet();
    bindAsync(e, pi, state, placement.node());
  }

  private void handleFailure(SchedulingQueue.Entry e, PodInfo pi, Framework.FitError fe, DefaultPreemption.Result preempted) {
    if (fe.numAllNodes == 0) {
      // Upstream ErrNoNodesAvailable: an error, not a FitError (reason SchedulerError, backoff).
      String message = "no nodes available to schedule pods";
      queue.requeue(e, true);
      events.event(pi.pod, EventRecorder.WARNING, "FailedScheduling", "%s", message);
      Thread.ofVirtual().start(() -> updateCondition(pi.pod, "SchedulerError", message, null));
      return;
    }
    String message = fe.getMessage();
    if (preempted != null && preempted.node() != null) {
      evict(pi, preempted);
    }
    queue.requeue(e, false);
    events.event(pi.pod, EventRecorder.WARNING, "FailedScheduling", "%s", message);
    String nominated = preempted != null && preempted.node() != null ? preempted.node() : null;
    Thread.ofVirtual().start(() -> updateCondition(pi.pod, "Unschedulable", message, nominated));
  }

  private void evict(PodInfo preemptor, DefaultPreemption.Result r) {
    for (PodInfo v : r.victims()) {
      events.event(v.pod, EventRecorder.NORMAL, "Preempted", "Preempted by pod %s on node %s",
          preemptor.pod.getMetadata().getUid(), r.node());
      Thread.ofVirtual().start(() -> {
        try {
          client.pods().inNamespace(v.namespace).withName(v.pod.getMetadata().getName()).delete();
        } catch (RuntimeException ex) {
          log.warn("preemption: deleting {} failed: {}", v.key, ex.toString());
        }
      });
    }
  }

  /** PodScheduled=False, reason Unschedulable, via pods/status (upstream updatePod in schedule_one.go). */
  private void updateCondition(Pod pod, String reason, String message, String nominatedNode) {
    try {
      String now = Instant.ofEpochMilli(clock.currentTimeMillis()).toString().replaceAll("\\.\\d+Z$", "Z");
      StringBuilder patch = new StringBuilder("{\"status\":{");
      if (nominatedNode != null) {
        patch.append("\"nominatedNodeName\":").append(json(nominatedNode)).append(',');
      }
      patch.append("\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"False\",\"reason\":").append(json(reason)).append(",\"message\":")
          .append(json(message)).append(",\"lastTransitionTime\":").append(json(now)).append(",\"lastProbeTime\":null}]}}");
      var cond = pod.getStatus() == null || pod.getStatus().getConditions() == null ? null
          : pod.getStatus().getConditions().stream().filter(c -> "PodScheduled".equals(c.getType())).findFirst().orElse(null);
      if (cond != null && "False".equals(cond.getStatus()) && Objects.equals(cond.getMessage(), message) && nominatedNode == null) {
        return;
      }
      client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName())
          .subresource("status").patch(PatchContext.of(PatchType.STRATEGIC_MERGE), patch.toString());
    } catch (RuntimeException ex) {
      log.debug("updating PodScheduled of {}: {}", pod.getMetadata().getName(), ex.toString());
    }
  }

  private void bindAsync(SchedulingQueue.Entry e, PodInfo pi, CycleState state, String node) {
    try {
      bindSlots.acquire();
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
      cache.forget(pi);
      queue.requeueAfterBindFailure(e);
      return;
    }
    CompletableFuture<Void> pre = framework.preBinds.isEmpty() || !hasPreBindWork(pi)
        ? CompletableFuture.completedFuture(null)
        : CompletableFuture.runAsync(() -> {
          for (Plugin.PreBind pb : framework.preBinds) {
            Status s = pb.preBind(state, pi.pod, node);
            if (!s.isSuccess()) {
              throw new IllegalStateException(String.join(", ", s.reasons()));
            }
          }
        }, r -> Thread.ofVirtual().start(r));
    long b0 = System.nanoTime();
    pre.thenCompose(v -> postBinding(pi, node)).whenComplete((code, ex) -> {
      bindSlots.release();
      if (ex == null && code != null && code / 100 == 2) {
        bindNanos.addAndGet(System.nanoTime() - b0);
        cache.finishBinding(pi);
        bound.incrementAndGet();
        events.event(pi.pod, EventRecorder.NORMAL, "Scheduled", "Successfully assigned %s to %s", pi.key, node);
        return;
      }
      log.debug("binding {} to {} failed: {}", pi.key, node, ex != null ? ex.toString() : "HTTP " + code);
      cache.forget(pi);
      if (code != null && code == 409) {
        // Already bound (by another scheduler instance) or gone: the informer will tell.
        return;
      }
      if (code != null && code == 404) {
        return;
      }
      queue.requeueAfterBindFailure(e);
      events.event(pi.pod, EventRecorder.WARNING, "FailedScheduling", "Binding rejected: %s",
          ex != null ? ex.getMessage() : "HTTP " + code);
    });
  }

  private static boolean hasPreBindWork(PodInfo pi) {
    return pi.pod.getSpec().getVolumes() != null
        && pi.pod.getSpec().getVolumes().stream().anyMatch(v -> v.getPersistentVolumeClaim() != null);
  }

  /** POST /api/v1/namespaces/NS/pods/NAME/binding with a v1 Binding; completes with the HTTP code. */
  private CompletableFuture<Integer> postBinding(PodInfo pi, String node) {
    String ns = pi.namespace;
    String name = pi.pod.getMetadata().getName();
    String body = "{\"apiVersion\":\"v1\",\"kind\":\"Binding\",\"metadata\":{\"name\":" + json(name) + ",\"namespace\":" + json(ns)
        + ",\"uid\":" + json(pi.pod.getMetadata().getUid()) + "},\"target\":{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"name\":" + json(node) + "}}";
    HttpRequest req = http.newHttpRequestBuilder()
        .uri(baseUrl + "/api/v1/namespaces/" + ns + "/pods/" + name + "/binding")
        .post("application/json", body.getBytes(StandardCharsets.UTF_8))
        .build();
    return http.sendAsync(req, String.class).thenApply(r -> r.code());
  }

  static String json(String s) {
    StringBuilder sb = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        default -> {
          if (c < 0x20) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    return sb.append('"').toString();
  }

  static boolean terminal(Pod p) {
    String phase = p.getStatus() == null ? null : p.getStatus().getPhase();
    return "Succeeded".equals(phase) || "Failed".equals(phase);
  }

  static boolean responsibleFor(Pod p) {
    String sn = p.getSpec().getSchedulerName();
    return (sn == null || sn.isEmpty() || SCHEDULER_NAME.equals(sn));
  }

  /**
   * Unassigned, ours, not finished or being deleted, and not gated: pods with
   * spec.schedulingGates wait outside the queue until the gates are removed (upstream's
   * SchedulingGates PreEnqueue plugin keeps them in unschedulablePods, never attempted).
   */
  static boolean pending(Pod p) {
    return responsibleFor(p) && !terminal(p) && p.getMetadata().getDeletionTimestamp() == null
        && (p.getSpec().getSchedulingGates() == null || p.getSpec().getSchedulingGates().isEmpty());
  }

  static boolean assigned(Pod p) {
    return p.getSpec().getNodeName() != null && !p.getSpec().getNodeName().isEmpty();
  }

  private final class PodHandler implements EventHandler<Pod> {
    @Override
    public void onAdd(Pod p) {
      if (assigned(p)) {
        if (!terminal(p)) {
          cache.addOrUpdatePod(p);
        }
      } else if (pending(p)) {
        queue.add(p);
      }
    }

    @Override
    public void onUpdate(Pod o, Pod p) {
      if (assigned(p)) {
        if (!assigned(o)) {
          queue.delete(p);
        }
        if (terminal(p)) {
          cache.removePod(p);
          queue.moveAllToActiveOrBackoff();
        } else {
          cache.addOrUpdatePod(p);
        }
      } else if (pending(p)) {
        queue.add(p);
      } else {
        queue.delete(p);
      }
    }

    @Override
    public void onDelete(Pod p, boolean finalStateUnknown) {
      if (assigned(p)) {
        cache.removePod(p);
        queue.moveAllToActiveOrBackoff();
      } else {
        queue.delete(p);
      }
    }
  }

  private final class NodeHandler implements EventHandler<Node> {
    @Override
    public void onAdd(Node n) {
      cache.addOrUpdateNode(n);
      queue.moveAllToActiveOrBackoff();
    }

    @Override
    public void onUpdate(Node o, Node n) {
      cache.addOrUpdateNode(n);
      if (schedulingRelevantChange(o, n)) {
        queue.moveAllToActiveOrBackoff();
      }
    }

    @Override
    public void onDelete(Node n, boolean finalStateUnknown) {
      cache.removeNode(n.getMetadata().getName());
    }
  }

  /** Node updates that may make a pod fit (upstream nodeSchedulingPropertiesChange). */
  static boolean schedulingRelevantChange(Node o, Node n) {
    if (!Objects.equals(o.getMetadata().getLabels(), n.getMetadata().getLabels())) {
      return true;
    }
    // Skiff's pod-network annotation decides whether containerPorts are host ports (NodePorts
    // filter): pods refused before the node agent announced its bridge must be retried.
    if (!Objects.equals(annotation(o, NodeInfo.POD_NETWORK_ANNOTATION), annotation(n, NodeInfo.POD_NETWORK_ANNOTATION))) {
      return true;
    }
    if (!Objects.equals(o.getSpec().getUnschedulable(), n.getSpec().getUnschedulable())
        || !Objects.equals(o.getSpec().getTaints(), n.getSpec().getTaints())) {
      return true;
    }
    var os = o.getStatus();
    var ns = n.getStatus();
    if (os == null || ns == null) {
      return os != ns;
    }
    if (!Objects.equals(os.getAllocatable(), ns.getAllocatable())) {
      return true;
    }
    return !Objects.equals(conditionStatuses(o), conditionStatuses(n));
  }

  private static String annotation(Node n, String key) {
    var a = n.getMetadata().getAnnotations();
    return a == null ? null : a.get(key);
  }

  private static List<String> conditionStatuses(Node n) {
    List<String> out = new ArrayList<>();
    if (n.getStatus().getConditions() != null) {
      n.getStatus().getConditions().forEach(c -> out.add(c.getType() + "=" + c.getStatus()));
    }
    return out;
  }
}
