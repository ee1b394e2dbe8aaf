package dev.skiff.controllers;

import dev.skiff.runtime.Controller;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.Informer;
import dev.skiff.runtime.Keys;
import dev.skiff.runtime.Lister;
import dev.skiff.runtime.Result;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.apps.ControllerRevision;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSetStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The StatefulSet controller ({@code pkg/controller/statefulset}: stateful_set_control.go,
 * stateful_set_utils.go, stateful_pod_control.go). Pods have stable names {@code <set>-<ordinal>}
 * (ordinals from {@code spec.ordinals.start}), hostname = pod name, subdomain = serviceName, and
 * the labels {@code statefulset.kubernetes.io/pod-name}, {@code apps.kubernetes.io/pod-index} and
 * {@code controller-revision-hash} (the revision's name). {@code OrderedReady} creates one pod at a
 * time in ordinal order, each Running and Ready (and available after minReadySeconds) before the
 * next, and scales down from the highest ordinal, one at a time; {@code Parallel} does both at
 * once. Each volumeClaimTemplate gives a PVC {@code <claim>-<set>-<ordinal>} created before the pod
 * and kept when the pod goes; {@code persistentVolumeClaimRetentionPolicy} is enforced with owner
 * references (to the set for whenDeleted=Delete, to the condemned pod for whenScaled=Delete) so the
 * garbage collector deletes them. Updates: RollingUpdate (highest ordinal first, one pod at a
 * time or up to {@code maxUnavailable}, ordinals below {@code partition} untouched) or OnDelete. History is kept in
 * ControllerRevisions {@code <set>-<hash>} (numbered, revisionHistoryLimit), which is what
 * {@code kubectl rollout history/undo sts} read and apply. Events: SuccessfulCreate,
 * SuccessfulDelete, FailedCreate, FailedDelete. Thread-safe.
 */
public final class StatefulSetController implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StatefulSetController.class);

  static final String POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name";
  static final String POD_INDEX_LABEL = "apps.kubernetes.io/pod-index";
  static final String REVISION_LABEL = "controller-revision-hash";
  private static final Pattern ORDINAL = Pattern.compile("^(.*)-([0-9]+)$");

  private final ControllerContext ctx;
  private final KubernetesClient client;
  private final EventRecorder recorder;
  private final Lister<StatefulSet> setLister;
  private final Lister<Pod> podLister;
  private final Lister<PersistentVolumeClaim> claimLister;
  private final ControllerHistory history;
  private final Controller controller;
  private final java.util.concurrent.ExecutorService io = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor();

  private StatefulSetController(ControllerContext ctx) {
    this.ctx = ctx;
    this.client = ctx.client();
    this.recorder = ctx.recorder();
    Informer<StatefulSet> setInformer = ctx.informers().informerFor(StatefulSet.class);
    Informer<Pod> podInformer = ctx.informers().informerFor(Pod.class);
    Informer<ControllerRevision> revInformer = ctx.informers().informerFor(ControllerRevision.class);
    Informer<PersistentVolumeClaim> claimInformer = ctx.informers().informerFor(PersistentVolumeClaim.class);
    this.setLister = setInformer.lister();
    this.podLister = podInformer.lister();
    this.claimLister = claimInformer.lister();
    this.history = new ControllerHistory(client, revInformer.lister());
    this.controller = Controller.builder("statefulset", ctx.informers())
        .watches(StatefulSet.class)
        .watches(Pod.class, this::setsFor)
        .watches(ControllerRevision.class, this::setsFor)
        .watches(PersistentVolumeClaim.class, c -> List.of()) // the claim cache must be synced
        .workers(ctx.intOption("statefulset.workers", 5))
        .clock(ctx.clock())
        .reconciler(this::sync)
        .build();
  }

  /** Builds the controller; its workers start with the others ({@link Controllers} entry point). */
  public static StatefulSetController start(ControllerContext ctx) {
    StatefulSetController c = new StatefulSetController(ctx);
    ctx.afterAllCreated(c.controller::start);
    return c;
  }

  @Override
  public void close() throws InterruptedException {
    controller.stop(Duration.ofSeconds(5));
    io.shutdownNow();
  }

  /** The set controlling {@code obj}, or for an orphan every set whose selector matches it. */
  private List<String> setsFor(io.fabric8.kubernetes.api.model.HasMetadata obj) {
    return Selectors.owners(obj, "StatefulSet", setLister.list(obj.getMetadata().getNamespace()), s -> s.getSpec().getSelector());
  }

  // ---- identity helpers (stateful_set_utils.go) ----

  /** The ordinal in a pod name {@code <set>-<n>}, or -1. */
  static int ordinal(Pod pod) {
    Matcher m = ORDINAL.matcher(pod.getMetadata().getName());
    if (!m.matches()) {
      return -1;
    }
    try {
      return Integer.parseInt(m.group(2));
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  static boolean isMemberOf(StatefulSet set, Pod pod) {
    Matcher m = ORDINAL.matcher(pod.getMetadata().getName());
    return m.matches() && m.group(1).equals(set.getMetadata().getName());
  }

  static int startOrdinal(StatefulSet set) {
    var o = set.getSpec().getOrdinals();
    return o == null || o.getStart() == null ? 0 : o.getStart();
  }

  static int replicas(StatefulSet set) {
    return set.getSpec().getReplicas() == null ? 1 : set.getSpec().getReplicas();
  }

  static String claimName(String claimTemplate, StatefulSet set, int ordinal) {
    return claimTemplate + "-" + set.getMetadata().getName() + "-" + ordinal;
  }

  private static String revisionOf(Pod pod) {
    return pod.getMetadata().getLabels() == null ? null : pod.getMetadata().getLabels().get(REVISION_LABEL);
  }

  private static String phase(Pod p) {
    return p.getStatus() == null ? null : p.getStatus().getPhase();
  }

  /** A pod the API server has (as opposed to one this sync only generated). */
  private static boolean isCreated(Pod p) {
    return p.getMetadata().getUid() != null;
  }

  private static boolean isTerminating(Pod p) {
    return p.getMetadata().getDeletionTimestamp() != null;
  }

  private static boolean isRunningAndReady(Pod p) {
    return "Running".equals(phase(p)) && Pods.isReady(p);
  }

  private boolean isRunningAndAvailable(Pod p, int minReady) {
    return "Running".equals(phase(p)) && Pods.isAvailable(p, minReady, ctx.clock().currentTimeMillis());
  }

  private static boolean isHealthy(Pod p) {
    return isCreated(p) && isRunningAndReady(p) && !isTerminating(p);
  }

  private static boolean identityMatches(StatefulSet set, Pod pod) {
    Map<String, String> l = pod.getMetadata().getLabels();
    return isMemberOf(set, pod) && set.getMetadata().getNamespace().equals(pod.getMetadata().getNamespace())
        && l != null && pod.getMetadata().getName().equals(l.get(POD_NAME_LABEL))
        && String.valueOf(ordinal(pod)).equals(l.get(POD_INDEX_LABEL));
  }

  // ---- sync (stateful_set.go sync, stateful_set_control.go UpdateStatefulSet) ----

  Result sync(String key) throws Exception {
    StatefulSet set = setLister.getByKey(key);
    if (set == null) {
      return Result.done();
    }
    if (Selectors.isEmpty(set.getSpec().getSelector())) {
      recorder.event(set, EventRecorder.WARNING, "SelectingAll", "This statefulset is selecting all pods. A non-empty selector is required.");
      return Result.done();
    }
    List<ControllerRevision> revisions = history.claim(set, set.getSpec().getSelector());
    List<Pod> pods = claimPods(set);

    // getStatefulSetRevisions
    int[] collision = {set.getStatus() == null || set.getStatus().getCollisionCount() == null ? 0 : set.getStatus().getCollisionCount()};
    ControllerRevision candidate = ControllerHistory.newRevision(set, set.getSpec().getTemplate(), Map.of(),
        ControllerHistory.next(revisions), collision[0]);
    ControllerRevision update = null;
    ControllerRevision lastEqual = null;
    for (ControllerRevision r : revisions) {
      if (ControllerHistory.equal(r, candidate)) {
        lastEqual = r;
      }
    }
    if (lastEqual != null && !revisions.isEmpty() && revisions.get(revisions.size() - 1) == lastEqual) {
      update = lastEqual; // the newest revision is the set's template: nothing new
    } else if (lastEqual != null) {
      update = history.renumber(lastEqual, candidate.getRevision()); // a rollback to an older template
    } else {
      update = history.create(set, candidate, collision);
    }
    ControllerRevision current = null;
    String currentName = set.getStatus() == null ? null : set.getStatus().getCurrentRevision();
    for (ControllerRevision r : revisions) {
      if (r.getMetadata().getName().equals(currentName)) {
        current = r;
      }
    }
    if (current == null) {
      current = update;
    }

    StatefulSetStatus status = updatePods(set, pods, current, update, collision[0]);
    truncateHistory(set, pods, revisions, current, update);
    completeRollingUpdate(set, status);
    updateStatus(set, status);
    int minReady = set.getSpec().getMinReadySeconds() == null ? 0 : set.getSpec().getMinReadySeconds();
    if (minReady > 0 && nz(status.getAvailableReplicas()) != replicas(set)) {
      return Result.requeueAfter(Duration.ofSeconds(minReady));
    }
    return Result.done();
  }

  private static int nz(Integer i) {
    return i == null ? 0 : i;
  }

  /**
   * ClaimPods with the isMemberOf filter: owned pods that still match stay, those that do not
   * are released, matching orphans named {@code <set>-<n>} are adopted (after a live check that
   * the set is not being deleted).
   */
  private List<Pod> claimPods(StatefulSet set) {
    String uid = set.getMetadata().getUid();
    var selector = set.getSpec().getSelector();
    List<Pod> owned = new ArrayList<>();
    List<Pod> toAdopt = new ArrayList<>();
    for (Pod pod : podLister.list(set.getMetadata().getNamespace())) {
      if (!isMemberOf(set, pod)) {
        continue;
      }
      OwnerReference ref = Keys.controllerOf(pod);
      boolean match = Selectors.matches(selector, pod.getMetadata().getLabels());
      if (ref != null) {
        if (!uid.equals(ref.getUid())) {
          continue;
        }
        if (match || set.getMetadata().getDeletionTimestamp() != null) {
          owned.add(pod);
        } else if (!isTerminating(pod)) {
          patchPod(pod, "{\"metadata\":{\"ownerReferences\":[{\"$patch\":\"delete\",\"uid\":\"" + uid + "\"}],\"uid\":\""
              + pod.getMetadata().getUid() + "\"}}");
        }
        continue;
      }
      if (match && !isTerminating(pod) && set.getMetadata().getDeletionTimestamp() == null) {
        toAdopt.add(pod);
      }
    }
    if (!toAdopt.isEmpty()) {
      StatefulSet fresh = client.apps().statefulSets().inNamespace(set.getMetadata().getNamespace())
          .withName(set.getMetadata().getName()).get();
      if (fresh != null && fresh.getMetadata().getDeletionTimestamp() == null && uid.equals(fresh.getMetadata().getUid())) {
        OwnerReference c = Pods.controllerRef(set);
        for (Pod pod : toAdopt) {
          Pod adopted = patchPod(pod, "{\"metadata\":{\"ownerReferences\":[{\"apiVersion\":\"" + c.getApiVersion()
              + "\",\"kind\":\"" + c.getKind() + "\",\"name\":\"" + c.getName() + "\",\"uid\":\"" + uid
              + "\",\"controller\":true,\"blockOwnerDeletion\":true}],\"uid\":\"" + pod.getMetadata().getUid() + "\"}}");
          if (adopted != null) {
            owned.add(adopted);
          }
        }
      }
    }
    return owned;
  }

  private Pod patchPod(Pod pod, String patch) {
    try {
      return client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName())
          .patch(PatchContext.of(PatchType.STRATEGIC_MERGE), patch);
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404 || e.getCode() == 422 || e.getCode() == 409) {
        return null;
      }
      throw e;
    }
  }

  /**
   * updateStatefulSet: creates missing pods and deletes condemned ones (one at a time, waiting for
   * health, under OrderedReady), then rolls pods onto the update revision. Returns the status.
   */
  private StatefulSetStatus updatePods(StatefulSet set, List<Pod> pods, ControllerRevision current,
      ControllerRevision update, int collisionCount) throws Exception {
    int replicaCount = replicas(set);
    int start = startOrdinal(set);
    Pod[] replicas = new Pod[replicaCount];
    List<Pod> condemned = new ArrayList<>();
    for (Pod p : pods) {
      int ord = ordinal(p);
      if (ord >= start && ord < start + replicaCount) {
        replicas[ord - start] = p;
      } else if (ord >= 0) {
        condemned.add(p);
      }
    }
    PodTemplateSpec updateTemplate = set.getSpec().getTemplate();
    PodTemplateSpec currentTemplate = current == update ? updateTemplate : ControllerHistory.template(current);
    boolean rolling = isRollingUpdate(set);
    int partition = partition(set);
    for (int i = 0; i < replicaCount; i++) {
      if (replicas[i] == null) {
        // newVersionedStatefulSetPod: below the partition a pod is (re)created at the current revision.
        boolean atCurrent = rolling && i < partition;
        replicas[i] = newPod(set, atCurrent ? currentTemplate : updateTemplate,
            atCurrent ? current.getMetadata().getName() : update.getMetadata().getName(), start + i);
      }
    }
    condemned.sort(Comparator.comparingInt(StatefulSetController::ordinal).reversed());
    Pod firstUnhealthy = null;
    for (Pod p : replicas) {
      if (!isHealthy(p) && firstUnhealthy == null) {
        firstUnhealthy = p;
      }
    }
    for (int i = condemned.size() - 1; i >= 0; i--) {
      if (!isHealthy(condemned.get(i)) && firstUnhealthy == null) {
        firstUnhealthy = condemned.get(i);
      }
    }
    String statusCurrent = current.getMetadata().getName();
    String statusUpdate = update.getMetadata().getName();
    if (set.getMetadata().getDeletionTimestamp() != null) {
      return status(set, replicas, condemned, statusCurrent, statusUpdate, collisionCount);
    }
    boolean monotonic = !"Parallel".equals(set.getSpec().getPodManagementPolicy());
    int minReady = set.getSpec().getMinReadySeconds() == null ? 0 : set.getSpec().getMinReadySeconds();

    // Live replicas, in ordinal order; in monotonic mode stop at the first that blocks. Parallel
    // mode handles them all, concurrently in slow-start batches (runForAll).
    if (monotonic) {
      for (int i = 0; i < replicaCount; i++) {
        if (processReplica(set, replicas, i, true, minReady)) {
          return status(set, replicas, condemned, statusCurrent, statusUpdate, collisionCount);
        }
      }
    } else {
      runParallel(replicaCount, i -> processReplica(set, replicas, i, false, minReady));
    }
    for (Pod p : condemned) {
      fixClaimOwners(set, p); // whenScaled=Delete: the claims now belong to the condemned pod
    }
    // Condemned pods, highest ordinal first; in monotonic mode one deletion per sync.
    for (int i = 0; i < condemned.size(); i++) {
      Pod p = condemned.get(i);
      if (isTerminating(p)) {
        if (monotonic) {
          return status(set, replicas, condemned, statusCurrent, statusUpdate, collisionCount);
        }
        continue;
      }
      if (monotonic && p != firstUnhealthy && (!isRunningAndReady(p) || !isRunningAndAvailable(p, minReady))) {
        return status(set, replicas, condemned, statusCurrent, statusUpdate, collisionCount);
      }
      Pod deleted = deletePod(set, p, "scale down");
      condemned.set(i, deleted);
      if (monotonic) {
        return status(set, replicas, condemned, statusCurrent, statusUpdate, collisionCount);
      }
    }
    StatefulSetStatus status = status(set, replicas, condemned, statusCurrent, statusUpdate, collisionCount);
    if (!rolling) {
      return status; // OnDelete: pods are updated when the user deletes them
    }
    if (maxUnavailableSet(set)) {
      return updateWithMaxUnavailable(set, replicas, partition, statusUpdate, status);
    }
    // Rolling update: the highest ordinal not at the update revision goes first; wait while any
    // pod at or above the partition is unhealthy.
    for (int target = replicaCount - 1; target >= partition; target--) {
      Pod p = replicas[target];
      if (!statusUpdate.equals(revisionOf(p)) && !isTerminating(p)) {
        replicas[target] = deletePod(set, p, "update");
        status.setCurrentReplicas(Math.max(0, nz(status.getCurrentReplicas()) - 1));
        return status;
      }
      if (!isHealthy(p)) {
        return status;
      }
    }
    return status;
  }

  private static boolean maxUnavailableSet(StatefulSet set) {
    var s = set.getSpec().getUpdateStrategy();
    return s != null && s.getRollingUpdate() != null && s.getRollingUpdate().getMaxUnavailable() != null;
  }

  /**
   * updateStatefulSetAfterInvariantEstablished with rollingUpdate.maxUnavailable (upstream's
   * MaxUnavailableStatefulSet): unhealthy pods count as unavailable; up to maxUnavailable minus
   * that many old pods at or above the partition are deleted at once, highest ordinal first.
   * maxUnavailable is rounded down and at least 1.
   */
  private StatefulSetStatus updateWithMaxUnavailable(StatefulSet set, Pod[] replicas, int partition, String updateRevision,
      StatefulSetStatus status) {
    int max = Math.max(1, DeploymentUtil.scaled(set.getSpec().getUpdateStrategy().getRollingUpdate().getMaxUnavailable(),
        replicas.length, false, "1"));
    int unavailable = 0;
    for (Pod p : replicas) {
      if (!isHealthy(p)) {
        unavailable++;
      }
    }
    int toDelete = max - unavailable;
    for (int target = replicas.length - 1; target >= partition && toDelete > 0; target--) {
      Pod p = replicas[target];
      if (!updateRevision.equals(revisionOf(p)) && !isTerminating(p)) {
        replicas[target] = deletePod(set, p, "update");
        status.setCurrentReplicas(Math.max(0, nz(status.getCurrentReplicas()) - 1));
        toDelete--;
      }
    }
    return status;
  }

  /** One replica's work for {@link #runParallel}. */
  @FunctionalInterface
  private interface ReplicaFn {
    boolean apply(int index) throws Exception;
  }

  /**
   * runForAll without monotonicity: {@code fn} for every index, in batches of 1, 2, 4, ... run
   * concurrently; the first failure ends it after its batch and is rethrown.
   */
  private void runParallel(int count, ReplicaFn fn) throws Exception {
    int next = 0;
    for (int batch = 1; next < count; batch *= 2) {
      int end = Math.min(count, next + batch);
      List<java.util.concurrent.Future<Boolean>> fs = new ArrayList<>();
      for (int i = next; i < end; i++) {
        final int index = i;
        fs.add(io.submit(() -> fn.apply(index)));
      }
      Exception failure = null;
      for (var f : fs) {
        try {
          f.get();
        } catch (java.util.concurrent.ExecutionException e) {
          failure = e.getCause() instanceof Exception ex ? ex : new IllegalStateException(e.getCause());
        }
      }
      if (failure != null) {
        throw failure;
      }
      next = end;
    }
  }

  static boolean isRollingUpdate(StatefulSet set) {
    var s = set.getSpec().getUpdateStrategy();
    return s == null || s.getType() == null || "RollingUpdate".equals(s.getType());
  }

  static int partition(StatefulSet set) {
    var s = set.getSpec().getUpdateStrategy();
    if (s == null || s.getRollingUpdate() == null || s.getRollingUpdate().getPartition() == null) {
      return 0;
    }
    return s.getRollingUpdate().getPartition();
  }

  /** processReplica: true when this replica blocks further progress in this sync. */
  private boolean processReplica(StatefulSet set, Pod[] replicas, int i, boolean monotonic, int minReady) throws Exception {
    Pod pod = replicas[i];
    String ph = phase(pod);
    if (isCreated(pod) && ("Failed".equals(ph) || "Succeeded".equals(ph))) {
      // A finished pod is deleted and recreated on a later sync, whatever its exit code.
      if (!isTerminating(pod)) {
        replicas[i] = deletePod(set, pod, "recreate");
      }
      return true;
    }
    if (!isCreated(pod)) {
      if (claimIsStale(set, pod)) {
        return true; // a claim still owned by a previous pod with this name: wait for the GC
      }
      Pod created = createPod(set, pod);
      if (created == null) {
        return true;
      }
      replicas[i] = created;
      return monotonic;
    }
    if (ph == null || "Pending".equals(ph)) {
      createMissingClaims(set, pod);
    }
    if (monotonic && (isTerminating(pod) || !isRunningAndReady(pod) || !isRunningAndAvailable(pod, minReady))) {
      return true;
    }
    fixClaimOwners(set, pod);
    if (!identityMatches(set, pod)) {
      int ord = ordinal(pod);
      Pod patched = patchPod(pod, "{\"metadata\":{\"labels\":{\"" + POD_NAME_LABEL + "\":\"" + pod.getMetadata().getName()
          + "\",\"" + POD_INDEX_LABEL + "\":\"" + ord + "\"}}}");
      if (patched != null) {
        replicas[i] = patched;
      }
    }
    return false;
  }

  /** newStatefulSetPod: the template with the stable identity, storage and revision label. */
  Pod newPod(StatefulSet set, PodTemplateSpec template, String revisionName, int ordinal) {
    ObjectMeta tm = template.getMetadata() == null ? new ObjectMeta() : template.getMetadata();
    String name = set.getMetadata().getName() + "-" + ordinal;
    Map<String, String> labels = new LinkedHashMap<>();
    if (tm.getLabels() != null) {
      labels.putAll(tm.getLabels());
    }
    labels.put(POD_NAME_LABEL, name);
    labels.put(POD_INDEX_LABEL, String.valueOf(ordinal));
    labels.put(REVISION_LABEL, revisionName);
    PodSpec spec = client.getKubernetesSerialization().clone(template.getSpec());
    spec.setHostname(name);
    if (set.getSpec().getServiceName() != null && !set.getSpec().getServiceName().isEmpty()) {
      spec.setSubdomain(set.getSpec().getServiceName());
    }
    // updateStorage: one volume per claim template, replacing a template volume of the same name.
    Map<String, String> claims = claimNames(set, ordinal);
    if (!claims.isEmpty()) {
      List<Volume> volumes = new ArrayList<>();
      claims.forEach((template2, claim) -> volumes.add(new VolumeBuilder().withName(template2)
          .withNewPersistentVolumeClaim().withClaimName(claim).endPersistentVolumeClaim().build()));
      if (spec.getVolumes() != null) {
        for (Volume v : spec.getVolumes()) {
          if (!claims.containsKey(v.getName())) {
            volumes.add(v);
          }
        }
      }
      spec.setVolumes(volumes);
    }
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .withNamespace(set.getMetadata().getNamespace())
        .withLabels(labels)
        .withAnnotations(tm.getAnnotations() == null ? null : new LinkedHashMap<>(tm.getAnnotations()))
        .withFinalizers(tm.getFinalizers())
        .withOwnerReferences(Pods.controllerRef(set))
        .endMetadata()
        .withSpec(spec)
        .build();
  }

  /** Claim template name to PVC name, in template order. */
  private static Map<String, String> claimNames(StatefulSet set, int ordinal) {
    Map<String, String> out = new LinkedHashMap<>();
    if (set.getSpec().getVolumeClaimTemplates() != null) {
      for (PersistentVolumeClaim t : set.getSpec().getVolumeClaimTemplates()) {
        out.put(t.getMetadata().getName(), claimName(t.getMetadata().getName(), set, ordinal));
      }
    }
    return out;
  }

  private Pod createPod(StatefulSet set, Pod pod) {
    if (!createMissingClaims(set, pod)) {
      return null;
    }
    try {
      Pod created = client.pods().inNamespace(set.getMetadata().getNamespace()).resource(pod).create();
      recorder.event(set, EventRecorder.NORMAL, "SuccessfulCreate", "create Pod %s in StatefulSet %s successful",
          pod.getMetadata().getName(), set.getMetadata().getName());
      return created;
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409) {
        return null; // our cache lags behind an earlier create: the informer will bring it
      }
      if (e.getCode() == 403 && e.getMessage() != null && e.getMessage().contains("being terminated")) {
        return null;
      }
      recorder.event(set, EventRecorder.WARNING, "FailedCreate", "create Pod %s in StatefulSet %s failed error: %s",
          pod.getMetadata().getName(), set.getMetadata().getName(), e.getMessage());
      throw e;
    }
  }

  private Pod deletePod(StatefulSet set, Pod pod, String why) {
    try {
      client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName()).delete();
      log.debug("statefulset {}: deleting pod {} ({})", Keys.of(set), pod.getMetadata().getName(), why);
      recorder.event(set, EventRecorder.NORMAL, "SuccessfulDelete", "delete Pod %s in StatefulSet %s successful",
          pod.getMetadata().getName(), set.getMetadata().getName());
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        recorder.event(set, EventRecorder.WARNING, "FailedDelete", "delete Pod %s in StatefulSet %s failed error: %s",
            pod.getMetadata().getName(), set.getMetadata().getName(), e.getMessage());
        throw e;
      }
    }
    // Treat it as terminating for the rest of this sync.
    Pod copy = new PodBuilder(pod).editMetadata()
        .withDeletionTimestamp(java.time.Instant.ofEpochMilli(ctx.clock().currentTimeMillis()).toString()).endMetadata().build();
    return copy;
  }

  // ---- claims (stateful_pod_control.go) ----

  /**
   * createPersistentVolumeClaims: every claim of the pod that does not exist yet is created from
   * its template (labels: the template's plus the set's matchLabels). False when a claim is being
   * deleted (the pod must wait) or creation failed.
   */
  private boolean createMissingClaims(StatefulSet set, Pod pod) {
    if (set.getSpec().getVolumeClaimTemplates() == null) {
      return true;
    }
    int ord = ordinal(pod);
    String ns = set.getMetadata().getNamespace();
    for (PersistentVolumeClaim t : set.getSpec().getVolumeClaimTemplates()) {
      String name = claimName(t.getMetadata().getName(), set, ord);
      PersistentVolumeClaim existing = claimLister.get(ns, name);
      if (existing != null) {
        if (existing.getMetadata().getDeletionTimestamp() != null) {
          return false;
        }
        continue;
      }
      Map<String, String> labels = new LinkedHashMap<>();
      if (t.getMetadata().getLabels() != null) {
        labels.putAll(t.getMetadata().getLabels());
      }
      if (set.getSpec().getSelector().getMatchLabels() != null) {
        labels.putAll(set.getSpec().getSelector().getMatchLabels());
      }
      PersistentVolumeClaim claim = new PersistentVolumeClaimBuilder()
          .withNewMetadata()
          .withName(name)
          .withNamespace(ns)
          .withLabels(labels)
          .withAnnotations(t.getMetadata().getAnnotations())
          .withOwnerReferences(desiredClaimOwners(set, pod, List.of()))
          .endMetadata()
          .withSpec(client.getKubernetesSerialization().clone(t.getSpec()))
          .build();
      try {
        client.persistentVolumeClaims().inNamespace(ns).resource(claim).create();
        recorder.event(set, EventRecorder.NORMAL, "SuccessfulCreate", "create Claim %s Pod %s in StatefulSet %s success",
            name, pod.getMetadata().getName(), set.getMetadata().getName());
      } catch (KubernetesClientException e) {
        if (e.getCode() == 409) {
          continue; // exists: the cache lags
        }
        recorder.event(set, EventRecorder.WARNING, "FailedCreate", "create Claim %s for Pod %s in StatefulSet %s failed error: %s",
            name, pod.getMetadata().getName(), set.getMetadata().getName(), e.getMessage());
        return false;
      }
    }
    return true;
  }

  /**
   * PodClaimIsStale: a claim of a not-yet-created pod that still has an owner reference to some
   * (earlier) pod is about to be garbage-collected; creating the pod now would bind it to a
   * dying claim.
   */
  private boolean claimIsStale(StatefulSet set, Pod pod) {
    int ord = ordinal(pod);
    for (String name : claimNames(set, ord).values()) {
      PersistentVolumeClaim c = claimLister.get(set.getMetadata().getNamespace(), name);
      if (c == null) {
        continue;
      }
      if (c.getMetadata().getDeletionTimestamp() != null) {
        return true;
      }
      if (c.getMetadata().getOwnerReferences() != null) {
        for (OwnerReference r : c.getMetadata().getOwnerReferences()) {
          if ("Pod".equals(r.getKind()) && !Objects.equals(r.getUid(), pod.getMetadata().getUid())) {
            return true;
          }
        }
      }
    }
    return false;
  }

  /**
   * updateClaimOwnerRefForSetAndPod: the owner references a claim of {@code pod} should carry
   * under the retention policy, keeping {@code existing} references to other objects.
   * Retain/Retain: none; whenDeleted=Delete: the set (while the pod is in range); whenScaled=Delete:
   * the pod, once it is out of range (scaled down).
   */
  private static List<OwnerReference> desiredClaimOwners(StatefulSet set, Pod pod, List<OwnerReference> existing) {
    var policy = set.getSpec().getPersistentVolumeClaimRetentionPolicy();
    boolean deleteWhenDeleted = policy != null && "Delete".equals(policy.getWhenDeleted());
    boolean deleteWhenScaled = policy != null && "Delete".equals(policy.getWhenScaled());
    int ord = ordinal(pod);
    int start = startOrdinal(set);
    boolean scaledDown = ord < start || ord >= start + replicas(set);
    String setUid = set.getMetadata().getUid();
    String podUid = pod.getMetadata().getUid();
    List<OwnerReference> out = new ArrayList<>();
    for (OwnerReference r : existing) {
      boolean isSet = "StatefulSet".equals(r.getKind()) && Objects.equals(setUid, r.getUid());
      boolean isPod = "Pod".equals(r.getKind()) && r.getName().equals(pod.getMetadata().getName());
      if (!isSet && !isPod) {
        out.add(r);
      }
    }
    boolean wantSet = deleteWhenDeleted && !(deleteWhenScaled && scaledDown);
    boolean wantPod = deleteWhenScaled && scaledDown && podUid != null;
    if (wantSet) {
      out.add(new OwnerReferenceBuilder().withApiVersion("apps/v1").withKind("StatefulSet")
          .withName(set.getMetadata().getName()).withUid(setUid).build());
    }
    if (wantPod) {
      out.add(new OwnerReferenceBuilder().withApiVersion("v1").withKind("Pod")
          .withName(pod.getMetadata().getName()).withUid(podUid).build());
    }
    return out;
  }

  /** ClaimsMatchRetentionPolicy / UpdatePodClaimForRetentionPolicy for the claims of {@code pod}. */
  private void fixClaimOwners(StatefulSet set, Pod pod) {
    if (set.getSpec().getVolumeClaimTemplates() == null || set.getSpec().getVolumeClaimTemplates().isEmpty()) {
      return;
    }
    for (String name : claimNames(set, ordinal(pod)).values()) {
      PersistentVolumeClaim c = claimLister.get(set.getMetadata().getNamespace(), name);
      if (c == null || c.getMetadata().getDeletionTimestamp() != null) {
        continue;
      }
      List<OwnerReference> existing = c.getMetadata().getOwnerReferences() == null ? List.of() : c.getMetadata().getOwnerReferences();
      List<OwnerReference> want = desiredClaimOwners(set, pod, existing);
      if (sameRefs(existing, want)) {
        continue;
      }
      PersistentVolumeClaim copy = client.getKubernetesSerialization().clone(c);
      copy.getMetadata().setOwnerReferences(want);
      try {
        client.persistentVolumeClaims().inNamespace(c.getMetadata().getNamespace()).resource(copy).update();
      } catch (KubernetesClientException e) {
        if (e.getCode() != 404 && e.getCode() != 409) {
          throw e;
        }
      }
    }
  }

  private static boolean sameRefs(List<OwnerReference> a, List<OwnerReference> b) {
    Set<String> ua = new HashSet<>();
    a.forEach(r -> ua.add(r.getKind() + "/" + r.getUid()));
    Set<String> ub = new HashSet<>();
    b.forEach(r -> ub.add(r.getKind() + "/" + r.getUid()));
    return ua.equals(ub);
  }

  // ---- status and history ----

  /** computeReplicaStatus over the live and condemned pods. */
  private StatefulSetStatus status(StatefulSet set, Pod[] replicas, List<Pod> condemned, String currentRevision,
      String updateRevision, int collisionCount) {
    int minReady = set.getSpec().getMinReadySeconds() == null ? 0 : set.getSpec().getMinReadySeconds();
    int count = 0;
    int ready = 0;
    int available = 0;
    int current = 0;
    int updated = 0;
    List<Pod> all = new ArrayList<>(List.of(replicas));
    all.addAll(condemned);
    for (Pod p : all) {
      if (!isCreated(p)) {
        continue;
      }
      count++;
      if (isRunningAndReady(p)) {
        ready++;
        if (isRunningAndAvailable(p, minReady)) {
          available++;
        }
      }
      if (!isTerminating(p)) {
        String rev = revisionOf(p);
        if (currentRevision.equals(rev)) {
          current++;
        }
        if (updateRevision.equals(rev)) {
          updated++;
        }
      }
    }
    StatefulSetStatus s = new StatefulSetStatus();
    s.setObservedGeneration(set.getMetadata().getGeneration());
    s.setReplicas(count);
    s.setReadyReplicas(ready);
    s.setAvailableReplicas(available);
    s.setCurrentReplicas(current);
    s.setUpdatedReplicas(updated);
    s.setCurrentRevision(currentRevision);
    s.setUpdateRevision(updateRevision);
    s.setCollisionCount(collisionCount);
    if (set.getStatus() != null) {
      s.setConditions(set.getStatus().getConditions());
    }
    return s;
  }

  /** completeRollingUpdate: once every pod runs the update revision, it becomes the current one. */
  private static void completeRollingUpdate(StatefulSet set, StatefulSetStatus s) {
    if (isRollingUpdate(set) && nz(s.getUpdatedReplicas()) == nz(s.getReplicas()) && nz(s.getReadyReplicas()) == nz(s.getReplicas())) {
      s.setCurrentReplicas(s.getUpdatedReplicas());
      s.setCurrentRevision(s.getUpdateRevision());
    }
  }

  /** truncateHistory: revisions no pod uses, beyond revisionHistoryLimit, oldest first, are deleted. */
  private void truncateHistory(StatefulSet set, List<Pod> pods, List<ControllerRevision> revisions, ControllerRevision current,
      ControllerRevision update) {
    Set<String> live = new HashSet<>();
    live.add(current.getMetadata().getName());
    live.add(update.getMetadata().getName());
    for (Pod p : pods) {
      live.add(revisionOf(p));
    }
    List<ControllerRevision> old = new ArrayList<>();
    for (ControllerRevision r : revisions) {
      if (!live.contains(r.getMetadata().getName())) {
        old.add(r);
      }
    }
    int limit = set.getSpec().getRevisionHistoryLimit() == null ? 10 : set.getSpec().getRevisionHistoryLimit();
    for (int i = 0; i < old.size() - limit; i++) {
      history.delete(old.get(i));
    }
  }

  private void updateStatus(StatefulSet set, StatefulSetStatus status) {
    if (Objects.equals(set.getStatus(), status)) {
      return;
    }
    // A merge patch of the whole status: our own previous status write (not yet in the cache)
    // must not turn every sync into a conflict and a backoff. Syncs of one key are serialized and
    // the cache only moves forward, so a patch never writes an older observation over a newer one.
    try {
      client.apps().statefulSets().inNamespace(set.getMetadata().getNamespace()).withName(set.getMetadata().getName())
          .subresource("status").patch(PatchContext.of(PatchType.JSON_MERGE),
              "{\"status\":" + client.getKubernetesSerialization().asJson(status) + "}");
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw e;
      }
    }
  }
}
