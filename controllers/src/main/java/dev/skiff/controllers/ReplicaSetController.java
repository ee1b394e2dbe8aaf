package dev.skiff.controllers;

import dev.skiff.runtime.Controller;
import dev.skiff.runtime.EventHandler;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.Expectations;
import dev.skiff.runtime.Indexers;
import dev.skiff.runtime.Informer;
import dev.skiff.runtime.Keys;
import dev.skiff.runtime.Lister;
import dev.skiff.runtime.Result;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.api.model.apps.ReplicaSetCondition;
import io.fabric8.kubernetes.api.model.apps.ReplicaSetConditionBuilder;
import io.fabric8.kubernetes.api.model.apps.ReplicaSetStatus;
import io.fabric8.kubernetes.api.model.apps.ReplicaSetStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ReplicaSet controller ({@code pkg/controller/replicaset/replica_set.go}): keeps
 * {@code spec.replicas} active pods matching each ReplicaSet, owned through a controller
 * reference. Creations and deletions are bounded by {@link #BURST_REPLICAS} per sync, creations
 * go out in slow-start batches (1, 2, 4, ...), and {@link Expectations} keep a sync from acting
 * again before the informer has seen its previous writes. Orphan pods matching the selector are
 * adopted; owned pods that stop matching are released. Scale-down deletes pods in upstream's
 * {@code ActivePodsWithRanks} order. Status (replicas, fullyLabeledReplicas, readyReplicas,
 * availableReplicas, observedGeneration, the ReplicaFailure condition) is written every sync.
 * Events: SuccessfulCreate, SuccessfulDelete, FailedCreate, FailedDelete. Thread-safe.
 */
public final class ReplicaSetController implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ReplicaSetController.class);

  /** replica_set.go BurstReplicas: at most this many creates or deletes per sync. */
  public static final int BURST_REPLICAS = 500;
  /** controller_utils.go SlowStartInitialBatchSize. */
  static final int SLOW_START_INITIAL_BATCH = 1;
  static final String DELETION_COST = "controller.kubernetes.io/pod-deletion-cost";

  private final ControllerContext ctx;
  private final KubernetesClient client;
  private final EventRecorder recorder;
  private final Lister<ReplicaSet> rsLister;
  private final Lister<Pod> podLister;
  private final Expectations expectations;
  private final Controller controller;
  private final ExecutorService io = Executors.newVirtualThreadPerTaskExecutor();

  private ReplicaSetController(ControllerContext ctx) {
    this.ctx = ctx;
    this.client = ctx.client();
    this.recorder = ctx.recorder();
    this.expectations = new Expectations(ctx.clock());
    Informer<ReplicaSet> rsInformer = ctx.informers().informerFor(ReplicaSet.class);
    Informer<Pod> podInformer = ctx.informers().informerFor(Pod.class);
    addOwnerIndex(podInformer);
    this.rsLister = rsInformer.lister();
    this.podLister = podInformer.lister();
    this.controller = Controller.builder("replicaset", ctx.informers())
        .watches(ReplicaSet.class)
        .watches(Pod.class, p -> List.of()) // waits for the pod cache; pods are routed below
        .workers(ctx.intOption("replicaset.workers", 5))
        .clock(ctx.clock())
        .reconciler(this::sync)
        .build();
    podInformer.addHandler(new PodHandler());
  }

  /** Adds the owner-UID index to the pod informer if not there yet (shared with other controllers). */
  static synchronized void addOwnerIndex(Informer<Pod> pods) {
    try {
      pods.addIndexer(Indexers.BY_OWNER_UID, Indexers.ownerUid());
    } catch (RuntimeException e) {
      // already added by another controller, or the informer already runs: byIndex then fails
      // and callers fall back to a namespace scan.
    }
  }

  /** Builds a ReplicaSet controller whose workers start with the others ({@link Controllers} entry point). */
  public static ReplicaSetController start(ControllerContext ctx) {
    ReplicaSetController c = new ReplicaSetController(ctx);
    ctx.afterAllCreated(c.controller::start);
    return c;
  }

  @Override
  public void close() throws InterruptedException {
    controller.stop(Duration.ofSeconds(5));
    io.shutdownNow();
  }

  // ---- event routing (replica_set.go addPod/updatePod/deletePod) ----

  private final class PodHandler implements EventHandler<Pod> {
    @Override
    public void onAdd(Pod pod) {
      if (pod.getMetadata().getDeletionTimestamp() != null) {
        onDelete(pod, false); // a restarted controller sees a pod already being deleted
        return;
      }
      OwnerReference ref = Keys.controllerOf(pod);
      if (ref != null) {
        ReplicaSet rs = resolve(pod.getMetadata().getNamespace(), ref);
        if (rs != null) {
          String key = Keys.of(rs);
          expectations.creationObserved(key);
          controller.enqueue(key);
        }
        return;
      }
      for (ReplicaSet rs : matchingReplicaSets(pod)) {
        controller.enqueue(Keys.of(rs)); // an orphan: every matching RS may adopt it
      }
    }

    @Override
    public void onUpdate(Pod old, Pod cur) {
      if (Objects.equals(old.getMetadata().getResourceVersion(), cur.getMetadata().getResourceVersion())) {
        return; // periodic resync
      }
      boolean labelsChanged = !Objects.equals(old.getMetadata().getLabels(), cur.getMetadata().getLabels());
      if (cur.getMetadata().getDeletionTimestamp() != null) {
        // A graceful delete: count the deletion now, the final delete is then ignored by UID tracking.
        onDelete(cur, false);
        if (labelsChanged) {
          onDelete(old, false);
        }
        return;
      }
      OwnerReference curRef = Keys.controllerOf(cur);
      OwnerReference oldRef = Keys.controllerOf(old);
      if (oldRef != null && (curRef == null || !oldRef.getUid().equals(curRef.getUid()))) {
        ReplicaSet rs = resolve(old.getMetadata().getNamespace(), oldRef);
        if (rs != null) {
          controller.enqueue(Keys.of(rs));
        }
      }
      if (curRef != null) {
        ReplicaSet rs = resolve(cur.getMetadata().getNamespace(), curRef);
        if (rs != null) {
          String key = Keys.of(rs);
          controller.enqueue(key);
          int minReady = rs.getSpec().getMinReadySeconds() == null ? 0 : rs.getSpec().getMinReadySeconds();
          if (minReady > 0 && !Pods.isReady(old) && Pods.isReady(cur)) {
            // Look again once the pod may have become available (replica_set.go updatePod).
            controller.queue().addAfter(key, Duration.ofSeconds(minReady).plusMillis(100));
          }
        }
        return;
      }
      if (labelsChanged || oldRef != null) {
        for (ReplicaSet rs : matchingReplicaSets(cur)) {
          controller.enqueue(Keys.of(rs));
        }
      }
    }

    @Override
    public void onDelete(Pod pod, boolean finalStateUnknown) {
      OwnerReference ref = Keys.controllerOf(pod);
      if (ref == null) {
        return;
      }
      ReplicaSet rs = resolve(pod.getMetadata().getNamespace(), ref);
      if (rs == null) {
        return;
      }
      String key = Keys.of(rs);
      expectations.deletionObserved(key, Keys.of(pod));
      controller.enqueue(key);
    }
  }

  private ReplicaSet resolve(String namespace, OwnerReference ref) {
    if (!"ReplicaSet".equals(ref.getKind())) {
      return null;
    }
    ReplicaSet rs = rsLister.get(namespace, ref.getName());
    return rs != null && ref.getUid().equals(rs.getMetadata().getUid()) ? rs : null;
  }

  private List<ReplicaSet> matchingReplicaSets(Pod pod) {
    List<ReplicaSet> out = new ArrayList<>();
    for (ReplicaSet rs : rsLister.list(pod.getMetadata().getNamespace())) {
      if (!Selectors.isEmpty(rs.getSpec().getSelector())
          && Selectors.matches(rs.getSpec().getSelector(), pod.getMetadata().getLabels())) {
        out.add(rs);
      }
    }
    return out;
  }

  // ---- sync ----

  Result sync(String key) throws Exception {
    ReplicaSet rs = rsLister.getByKey(key);
    if (rs == null) {
      expectations.delete(key);
      return Result.done();
    }
    boolean needsSync = expectations.satisfied(key);
    List<Pod> pods = claimPods(rs);
    List<Pod> active = pods.stream().filter(Pods::isActive).toList();
    String manageError = null;
    if (needsSync && rs.getMetadata().getDeletionTimestamp() == null) {
      manageError = manageReplicas(active, rs, key);
    }
    int minReady = rs.getSpec().getMinReadySeconds() == null ? 0 : rs.getSpec().getMinReadySeconds();
    ReplicaSetStatus status = calculateStatus(rs, active, manageError);
    ReplicaSet updated = updateStatus(rs, status);
    if (manageError != null) {
      throw new IllegalStateException(manageError);
    }
    int replicas = updated.getSpec().getReplicas() == null ? 1 : updated.getSpec().getReplicas();
    if (minReady > 0 && nz(status.getReadyReplicas()) == replicas && nz(status.getAvailableReplicas()) != replicas) {
      return Result.requeueAfter(Duration.ofSeconds(minReady));
    }
    return Result.done();
  }

  private static int nz(Integer i) {
    return i == null ? 0 : i;
  }

  /**
   * ClaimPods (controller_ref_manager.go): pods controlled by {@code rs} that still match stay;
   * those that do not are released; matching orphans are adopted, after an uncached check that
   * the RS is not being deleted. Returns the pods the RS controls afterwards.
   */
  private List<Pod> claimPods(ReplicaSet rs) {
    String uid = rs.getMetadata().getUid();
    var selector = rs.getSpec().getSelector();
    List<Pod> owned = new ArrayList<>();
    List<Pod> toAdopt = new ArrayList<>();
    for (Pod pod : podLister.list(rs.getMetadata().getNamespace())) {
      OwnerReference ref = Keys.controllerOf(pod);
      boolean match = Selectors.matches(selector, pod.getMetadata().getLabels());
      if (ref != null) {
        if (!ref.getUid().equals(uid)) {
          continue;
        }
        if (match || rs.getMetadata().getDeletionTimestamp() != null) {
          owned.add(pod);
        } else if (pod.getMetadata().getDeletionTimestamp() == null) {
          release(rs, pod);
        }
        continue;
      }
      if (match && !Selectors.isEmpty(selector) && pod.getMetadata().getDeletionTimestamp() == null
          && rs.getMetadata().getDeletionTimestamp() == null && Pods.isActive(pod)) {
        toAdopt.add(pod);
      }
    }
    if (!toAdopt.isEmpty()) {
      // RecheckDeletionTimestamp: never adopt for an RS that is being deleted (cache may lag).
      ReplicaSet fresh = client.apps().replicaSets().inNamespace(rs.getMetadata().getNamespace())
          .withName(rs.getMetadata().getName()).get();
      if (fresh != null && fresh.getMetadata().getDeletionTimestamp() == null && uid.equals(fresh.getMetadata().getUid())) {
        for (Pod pod : toAdopt) {
          Pod adopted = adopt(rs, pod);
          if (adopted != null) {
            owned.add(adopted);
          }
        }
      }
    }
    return owned;
  }

  private Pod adopt(ReplicaSet rs, Pod pod) {
    OwnerReference ref = Pods.controllerRef(rs);
    String patch = "{\"metadata\":{\"ownerReferences\":[{\"apiVersion\":\"" + ref.getApiVersion() + "\",\"kind\":\""
        + ref.getKind() + "\",\"name\":\"" + ref.getName() + "\",\"uid\":\"" + ref.getUid()
        + "\",\"controller\":true,\"blockOwnerDeletion\":true}],\"uid\":\"" + pod.getMetadata().getUid() + "\"}}";
    try {
      return client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName())
          .patch(PatchContext.of(PatchType.STRATEGIC_MERGE), patch);
    } catch (KubernetesClientException e) {
      log.debug("adopting pod {}: {}", Keys.of(pod), e.getMessage());
      return null;
    }
  }

  private void release(ReplicaSet rs, Pod pod) {
    String patch = "{\"metadata\":{\"ownerReferences\":[{\"$patch\":\"delete\",\"uid\":\"" + rs.getMetadata().getUid()
        + "\"}],\"uid\":\"" + pod.getMetadata().getUid() + "\"}}";
    try {
      client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName())
          .patch(PatchContext.of(PatchType.STRATEGIC_MERGE), patch);
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404 && e.getCode() != 422) {
        throw e;
      }
    }
  }

  /** Creates or deletes pods; returns an error message for the ReplicaFailure condition, or null. */
  private String manageReplicas(List<Pod> active, ReplicaSet rs, String key) throws Exception {
    int replicas = rs.getSpec().getReplicas() == null ? 1 : rs.getSpec().getReplicas();
    int diff = active.size() - replicas;
    if (diff < 0) {
      int n = Math.min(-diff, BURST_REPLICAS);
      expectations.expectCreations(key, n);
      AtomicReference<String> error = new AtomicReference<>();
      int created = slowStartBatch(n, SLOW_START_INITIAL_BATCH, () -> {
        try {
          Pod pod = client.pods().inNamespace(rs.getMetadata().getNamespace()).resource(podFromTemplate(rs)).create();
          recorder.event(rs, EventRecorder.NORMAL, "SuccessfulCreate", "Created pod: %s", pod.getMetadata().getName());
          return true;
        } catch (KubernetesClientException e) {
          if (e.getCode() == 403 && e.getMessage() != null && e.getMessage().contains("being terminated")) {
            return true; // namespace terminating: pods are not wanted (replica_set.go)
          }
          expectations.creationObserved(key); // a failed create will never be observed
          error.compareAndSet(null, e.getMessage());
          recorder.event(rs, EventRecorder.WARNING, "FailedCreate", "Error creating: %s", e.getMessage());
          return false;
        }
      });
      // Creations skipped after a failing batch will not be observed either.
      for (int i = created; i < n; i++) {
        expectations.creationObserved(key);
      }
      return error.get();
    }
    if (diff > 0) {
      int n = Math.min(diff, BURST_REPLICAS);
      List<Pod> victims = podsToDelete(active, relatedPods(rs), n);
      expectations.expectDeletions(key, victims.stream().map(Keys::of).toList());
      List<Future<?>> futures = new ArrayList<>();
      AtomicReference<String> error = new AtomicReference<>();
      for (Pod pod : victims) {
        futures.add(io.submit(() -> {
          try {
            client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName()).delete();
            recorder.event(rs, EventRecorder.NORMAL, "SuccessfulDelete", "Deleted pod: %s", pod.getMetadata().getName());
          } catch (KubernetesClientException e) {
            expectations.deletionObserved(key, Keys.of(pod));
            if (e.getCode() != 404) {
              error.compareAndSet(null, e.getMessage());
              recorder.event(rs, EventRecorder.WARNING, "FailedDelete", "Error deleting: %s", e.getMessage());
            }
          }
        }));
      }
      for (Future<?> f : futures) {
        f.get();
      }
      return error.get();
    }
    return null;
  }

  /** A creation attempt; false on failure. */
  @FunctionalInterface
  interface Attempt {
    boolean run();
  }

  /**
   * controller_utils.go slowStartBatch: calls {@code fn} {@code count} times in batches of
   * growing size (initial, 2x, 4x, ...) running in parallel, stopping after the first batch with a
   * failure. Returns the number of successes.
   */
  int slowStartBatch(int count, int initialBatchSize, Attempt fn) throws Exception {
    int remaining = count;
    int successes = 0;
    for (int batch = Math.min(remaining, initialBatchSize); batch > 0; batch = Math.min(2 * batch, remaining)) {
      List<Future<Boolean>> futures = new ArrayList<>(batch);
      for (int i = 0; i < batch; i++) {
        futures.add(io.submit(fn::run));
      }
      int ok = 0;
      for (Future<Boolean> f : futures) {
        if (f.get()) {
          ok++;
        }
      }
      successes += ok;
      if (ok < batch) {
        break;
      }
      remaining -= batch;
    }
    return successes;
  }

  private Pod podFromTemplate(ReplicaSet rs) {
    var template = rs.getSpec().getTemplate();
    ObjectMeta tm = template.getMetadata() == null ? new ObjectMeta() : template.getMetadata();
    // GetPodFromTemplate: labels, annotations and finalizers from the template; a generated name
    // with the owner's name as prefix.
    String prefix = rs.getMetadata().getName() + "-";
    return new PodBuilder()
        .withNewMetadata()
        .withGenerateName(prefix)
        .withNamespace(rs.getMetadata().getNamespace())
        .withLabels(tm.getLabels() == null ? null : new LinkedHashMap<>(tm.getLabels()))
        .withAnnotations(tm.getAnnotations() == null ? null : new LinkedHashMap<>(tm.getAnnotations()))
        .withFinalizers(tm.getFinalizers())
        .withOwnerReferences(Pods.controllerRef(rs))
        .endMetadata()
        .withSpec(client.getKubernetesSerialization().clone(template.getSpec()))
        .build();
  }

  /** Active pods of every ReplicaSet with the same controlling owner (getIndirectlyRelatedPods). */
  private List<Pod> relatedPods(ReplicaSet rs) {
    OwnerReference owner = Keys.controllerOf(rs);
    List<String> uids = new ArrayList<>();
    uids.add(rs.getMetadata().getUid());
    if (owner != null) {
      for (ReplicaSet other : rsLister.list(rs.getMetadata().getNamespace())) {
        OwnerReference o = Keys.controllerOf(other);
        if (o != null && o.getUid().equals(owner.getUid()) && !other.getMetadata().getUid().equals(rs.getMetadata().getUid())) {
          uids.add(other.getMetadata().getUid());
        }
      }
    }
    List<Pod> out = new ArrayList<>();
    for (Pod p : podLister.list(rs.getMetadata().getNamespace())) {
      OwnerReference ref = Keys.controllerOf(p);
      if (ref != null && uids.contains(ref.getUid()) && Pods.isActive(p)) {
        out.add(p);
      }
    }
    return out;
  }

  /**
   * getPodsToDelete: ranks each pod by how many related pods share its node, then sorts with
   * {@link #deletionOrder}; the first {@code n} are deleted.
   */
  List<Pod> podsToDelete(List<Pod> pods, List<Pod> related, int n) {
    if (n >= pods.size()) {
      return pods;
    }
    Map<String, Integer> perNode = new HashMap<>();
    for (Pod p : related) {
      String node = p.getSpec() == null ? null : p.getSpec().getNodeName();
      if (node != null && !node.isEmpty()) {
        perNode.merge(node, 1, Integer::sum);
      }
    }
    Map<Pod, Integer> ranks = new HashMap<>();
    for (Pod p : pods) {
      String node = p.getSpec() == null ? null : p.getSpec().getNodeName();
      ranks.put(p, node == null || node.isEmpty() ? 0 : perNode.getOrDefault(node, 0));
    }
    long now = ctx.clock().currentTimeMillis();
    List<Pod> sorted = new ArrayList<>(pods);
    sorted.sort(deletionOrder(ranks, now));
    return sorted.subList(0, n);
  }

  /**
   * controller_utils.go ActivePodsWithRanks.Less: earlier in the order is deleted first.
   * 1 unassigned before assigned; 2 Pending before Unknown before Running; 3 not ready before
   * ready; 4 lower pod-deletion-cost first; 5 higher rank (more co-located related pods) first;
   * 6 ready for a shorter time first (log-bucketed, LogarithmicScaleDown); 7 more restarts first;
   * 8 newer first (log-bucketed); 9 UID as the final tie-break.
   */
  static Comparator<Pod> deletionOrder(Map<Pod, Integer> ranks, long nowMillis) {
    return (a, b) -> {
      boolean aAssigned = a.getSpec() != null && a.getSpec().getNodeName() != null && !a.getSpec().getNodeName().isEmpty();
      boolean bAssigned = b.getSpec() != null && b.getSpec().getNodeName() != null && !b.getSpec().getNodeName().isEmpty();
      if (aAssigned != bAssigned) {
        return aAssigned ? 1 : -1;
      }
      int pa = phaseOrder(a);
      int pb = phaseOrder(b);
      if (pa != pb) {
        return Integer.compare(pa, pb);
      }
      boolean ra = Pods.isReady(a);
      boolean rb = Pods.isReady(b);
      if (ra != rb) {
        return ra ? 1 : -1;
      }
      int ca = deletionCost(a);
      int cb = deletionCost(b);
      if (ca != cb) {
        return Integer.compare(ca, cb);
      }
      int ka = ranks.getOrDefault(a, 0);
      int kb = ranks.getOrDefault(b, 0);
      if (ka != kb) {
        return Integer.compare(kb, ka);
      }
      if (ra) { // both ready: the one ready for less time goes first
        Instant sa = Pods.readySince(a);
        Instant sb = Pods.readySince(b);
        if (sa != null && sb != null) {
          int la = logBucket(nowMillis - sa.toEpochMilli());
          int lb = logBucket(nowMillis - sb.toEpochMilli());
          if (la != lb) {
            return Integer.compare(la, lb);
          }
        }
      }
      int rsa = Pods.restarts(a);
      int rsb = Pods.restarts(b);
      if (rsa != rsb) {
        return Integer.compare(rsb, rsa);
      }
      Instant ta = Pods.parseTime(a.getMetadata().getCreationTimestamp());
      Instant tb = Pods.parseTime(b.getMetadata().getCreationTimestamp());
      if (ta != null && tb != null) {
        int la = logBucket(nowMillis - ta.toEpochMilli());
        int lb = logBucket(nowMillis - tb.toEpochMilli());
        if (la != lb) {
          return Integer.compare(la, lb);
        }
      }
      return String.valueOf(a.getMetadata().getUid()).compareTo(String.valueOf(b.getMetadata().getUid()));
    };
  }

  /** Pending 0, Unknown 1, Running 2 (podPhaseToOrdinal). */
  private static int phaseOrder(Pod p) {
    String phase = p.getStatus() == null ? null : p.getStatus().getPhase();
    if ("Running".equals(phase)) {
      return 2;
    }
    if ("Unknown".equals(phase)) {
      return 1;
    }
    return 0;
  }

  private static int deletionCost(Pod p) {
    var ann = p.getMetadata().getAnnotations();
    String v = ann == null ? null : ann.get(DELETION_COST);
    if (v == null) {
      return 0;
    }
    try {
      return Integer.parseInt(v);
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /** controller_utils.go getPodsRankedByRelatedPodsOnSameNode/ logarithmic bucket of an age in seconds. */
  private static int logBucket(long ageMillis) {
    long secs = Math.max(ageMillis / 1000, 0);
    return secs <= 0 ? 0 : 1 + (63 - Long.numberOfLeadingZeros(secs));
  }

  // ---- status (replica_set_utils.go calculateStatus / updateReplicaSetStatus) ----

  private ReplicaSetStatus calculateStatus(ReplicaSet rs, List<Pod> active, String manageError) {
    Map<String, String> templateLabels = rs.getSpec().getTemplate() == null || rs.getSpec().getTemplate().getMetadata() == null
        ? Map.of() : rs.getSpec().getTemplate().getMetadata().getLabels();
    int minReady = rs.getSpec().getMinReadySeconds() == null ? 0 : rs.getSpec().getMinReadySeconds();
    long now = ctx.clock().currentTimeMillis();
    int fullyLabeled = 0;
    int ready = 0;
    int available = 0;
    for (Pod p : active) {
      Map<String, String> labels = p.getMetadata().getLabels() == null ? Map.of() : p.getMetadata().getLabels();
      if (templateLabels == null || labels.entrySet().containsAll(templateLabels.entrySet())) {
        fullyLabeled++;
      }
      if (Pods.isReady(p)) {
        ready++;
        if (Pods.isAvailable(p, minReady, now)) {
          available++;
        }
      }
    }
    List<ReplicaSetCondition> conditions = new ArrayList<>();
    ReplicaSetCondition failure = null;
    if (rs.getStatus() != null && rs.getStatus().getConditions() != null) {
      for (ReplicaSetCondition c : rs.getStatus().getConditions()) {
        if ("ReplicaFailure".equals(c.getType())) {
          failure = c;
        } else {
          conditions.add(c);
        }
      }
    }
    int replicas = rs.getSpec().getReplicas() == null ? 1 : rs.getSpec().getReplicas();
    if (manageError != null) {
      String reason = active.size() < replicas ? "FailedCreate" : "FailedDelete";
      if (failure == null || !reason.equals(failure.getReason()) || !manageError.equals(failure.getMessage())) {
        failure = new ReplicaSetConditionBuilder().withType("ReplicaFailure").withStatus("True").withReason(reason)
            .withMessage(manageError).withLastTransitionTime(Instant.ofEpochMilli(now).toString()).build();
      }
      conditions.add(failure);
    }
    // No error: the ReplicaFailure condition is removed (RemoveCondition).
    return new ReplicaSetStatusBuilder()
        .withReplicas(active.size())
        .withFullyLabeledReplicas(fullyLabeled)
        .withReadyReplicas(ready)
        .withAvailableReplicas(available)
        .withObservedGeneration(rs.getMetadata().getGeneration())
        .withConditions(conditions.isEmpty() ? null : conditions)
        .build();
  }

  private static boolean sameStatus(ReplicaSetStatus a, ReplicaSetStatus b) {
    if (a == null) {
      return false;
    }
    List<ReplicaSetCondition> ca = a.getConditions() == null || a.getConditions().isEmpty() ? null : a.getConditions();
    List<ReplicaSetCondition> cb = b.getConditions() == null || b.getConditions().isEmpty() ? null : b.getConditions();
    return nz(a.getReplicas()) == nz(b.getReplicas())
        && nz(a.getFullyLabeledReplicas()) == nz(b.getFullyLabeledReplicas())
        && nz(a.getReadyReplicas()) == nz(b.getReadyReplicas())
        && nz(a.getAvailableReplicas()) == nz(b.getAvailableReplicas())
        && Objects.equals(a.getObservedGeneration(), b.getObservedGeneration())
        && Objects.equals(ca, cb);
  }

  private ReplicaSet updateStatus(ReplicaSet rs, ReplicaSetStatus status) {
    if (sameStatus(rs.getStatus(), status)) {
      return rs;
    }
    ReplicaSet copy = client.getKubernetesSerialization().clone(rs);
    for (int attempt = 0; ; attempt++) {
      copy.setStatus(status);
      try {
        return client.apps().replicaSets().inNamespace(rs.getMetadata().getNamespace()).resource(copy).updateStatus();
      } catch (KubernetesClientException e) {
        if (e.getCode() == 404) {
          return rs;
        }
        if (e.getCode() != 409 || attempt >= 1) {
          throw e;
        }
        // statusUpdateRetries: read the latest and try once more.
        copy = client.apps().replicaSets().inNamespace(rs.getMetadata().getNamespace()).withName(rs.getMetadata().getName()).get();
        if (copy == null) {
          return rs;
        }
        status.setObservedGeneration(copy.getMetadata().getGeneration() == null
            ? status.getObservedGeneration() : Math.min(copy.getMetadata().getGeneration(), nzl(status.getObservedGeneration())));
      }
    }
  }

  private static long nzl(Long l) {
    return l == null ? 0 : l;
  }
}
