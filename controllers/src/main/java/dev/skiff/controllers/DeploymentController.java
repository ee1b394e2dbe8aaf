package dev.skiff.controllers;

import static dev.skiff.controllers.DeploymentUtil.nz;
import static dev.skiff.controllers.DeploymentUtil.replicas;

import dev.skiff.runtime.Controller;
import dev.skiff.runtime.EventHandler;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.Informer;
import dev.skiff.runtime.Keys;
import dev.skiff.runtime.Lister;
import dev.skiff.runtime.Result;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentCondition;
import io.fabric8.kubernetes.api.model.apps.DeploymentConditionBuilder;
import io.fabric8.kubernetes.api.model.apps.DeploymentStatus;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.api.model.apps.ReplicaSetBuilder;
import io.fabric8.kubernetes.api.model.apps.ReplicaSetCondition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Deployment controller ({@code pkg/controller/deployment/}): owns one ReplicaSet per pod
 * template (named {@code <deployment>-<pod-template-hash>}), rolls between them with the
 * RollingUpdate (maxSurge/maxUnavailable) or Recreate strategy, scales proportionally, keeps the
 * revision annotations and at most revisionHistoryLimit old ReplicaSets, honours
 * {@code spec.paused}, and reports status and the Progressing/Available conditions the way
 * {@code kubectl rollout status} reads them, including ProgressDeadlineExceeded. Rollback is done
 * by kubectl (it copies an old ReplicaSet's template back); the controller then finds that
 * ReplicaSet as the new one and gives it the next revision. Events: ScalingReplicaSet. All writes
 * are conditioned on resourceVersion, so a stale cache causes a conflict and a retry, never a
 * wrong action. Thread-safe.
 */
public final class DeploymentController implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DeploymentController.class);

  private final ControllerContext ctx;
  private final KubernetesClient client;
  private final EventRecorder recorder;
  private final Lister<Deployment> dLister;
  private final Lister<ReplicaSet> rsLister;
  private final Lister<Pod> podLister;
  private final Controller controller;

  private DeploymentController(ControllerContext ctx) {
    this.ctx = ctx;
    this.client = ctx.client();
    this.recorder = ctx.recorder();
    Informer<Deployment> dInformer = ctx.informers().informerFor(Deployment.class);
    Informer<ReplicaSet> rsInformer = ctx.informers().informerFor(ReplicaSet.class);
    Informer<Pod> podInformer = ctx.informers().informerFor(Pod.class);
    this.dLister = dInformer.lister();
    this.rsLister = rsInformer.lister();
    this.podLister = podInformer.lister();
    this.controller = Controller.builder("deployment", ctx.informers())
        .watches(Deployment.class)
        .watches(ReplicaSet.class, this::deploymentsFor)
        .watches(Pod.class, p -> List.of())
        .workers(ctx.intOption("deployment.workers", 5))
        .clock(ctx.clock())
        .reconciler(this::sync)
        .build();
    // deletePod: a Recreate rollout waits for every old pod to be gone.
    podInformer.addHandler(new EventHandler<>() {
      @Override
      public void onAdd(Pod obj) {
      }

      @Override
      public void onUpdate(Pod oldObj, Pod newObj) {
      }

      @Override
      public void onDelete(Pod pod, boolean finalStateUnknown) {
        OwnerReference ref = Keys.controllerOf(pod);
        if (ref == null || !"ReplicaSet".equals(ref.getKind())) {
          return;
        }
        ReplicaSet rs = rsLister.get(pod.getMetadata().getNamespace(), ref.getName());
        if (rs != null) {
          for (String key : deploymentsFor(rs)) {
            Deployment d = dLister.getByKey(key);
            if (d != null && !DeploymentUtil.isRollingUpdate(d)) {
              controller.enqueue(key);
            }
          }
        }
      }
    });
  }

  /** Builds a Deployment controller whose workers start with the others ({@link Controllers} entry point). */
  public static DeploymentController start(ControllerContext ctx) {
    DeploymentController c = new DeploymentController(ctx);
    ctx.afterAllCreated(c.controller::start);
    return c;
  }

  @Override
  public void close() throws InterruptedException {
    controller.stop(Duration.ofSeconds(5));
  }

  /** The Deployment controlling an RS, or (for an orphan) every Deployment whose selector matches. */
  private List<String> deploymentsFor(ReplicaSet rs) {
    OwnerReference ref = Keys.controllerOf(rs);
    String ns = rs.getMetadata().getNamespace();
    if (ref != null) {
      if (!"Deployment".equals(ref.getKind())) {
        return List.of();
      }
      return List.of(Keys.of(ns, ref.getName()));
    }
    List<String> out = new ArrayList<>();
    for (Deployment d : dLister.list(ns)) {
      LabelSelector sel = d.getSpec().getSelector();
      if (!Selectors.isEmpty(sel) && Selectors.matches(sel, rs.getMetadata().getLabels())) {
        out.add(Keys.of(d));
      }
    }
    return out;
  }

  private String now() {
    return Instant.ofEpochMilli(ctx.clock().currentTimeMillis()).truncatedTo(ChronoUnit.SECONDS).toString();
  }

  private DeploymentCondition newCondition(String type, String status, String reason, String message) {
    String now = now();
    return new DeploymentConditionBuilder().withType(type).withStatus(status).withReason(reason).withMessage(message)
        .withLastUpdateTime(now).withLastTransitionTime(now).build();
  }

  // ---- syncDeployment (deployment_controller.go) ----

  Result sync(String key) throws Exception {
    Deployment cached = dLister.getByKey(key);
    if (cached == null) {
      return Result.done();
    }
    Deployment d = client.getKubernetesSerialization().clone(cached);
    if (Selectors.isEmpty(d.getSpec().getSelector())) {
      recorder.event(d, EventRecorder.WARNING, "SelectingAll", "This deployment is selecting all pods. A non-empty selector is required.");
      if (nz(d.getStatus() == null ? null : d.getStatus().getObservedGeneration() == null ? null
          : d.getStatus().getObservedGeneration().intValue()) < (d.getMetadata().getGeneration() == null ? 0 : d.getMetadata().getGeneration())) {
        DeploymentStatus s = d.getStatus() == null ? new DeploymentStatus() : d.getStatus();
        s.setObservedGeneration(d.getMetadata().getGeneration());
        d.setStatus(s);
        client.apps().deployments().inNamespace(d.getMetadata().getNamespace()).resource(d).updateStatus();
      }
      return Result.done();
    }
    List<ReplicaSet> rsList = claimReplicaSets(d);
    if (d.getMetadata().getDeletionTimestamp() != null) {
      return syncStatusOnly(d, rsList);
    }
    checkPausedConditions(d);
    if (Boolean.TRUE.equals(d.getSpec().getPaused())) {
      return syncScaleAndStatus(d, rsList);
    }
    if (isScalingEvent(d, rsList)) {
      return syncScaleAndStatus(d, rsList);
    }
    return DeploymentUtil.isRollingUpdate(d) ? rolloutRolling(d, rsList) : rolloutRecreate(d, rsList);
  }

  /** ClaimReplicaSets (controller_ref_manager.go), as the ReplicaSet controller claims pods. */
  private List<ReplicaSet> claimReplicaSets(Deployment d) {
    String uid = d.getMetadata().getUid();
    LabelSelector selector = d.getSpec().getSelector();
    List<ReplicaSet> owned = new ArrayList<>();
    List<ReplicaSet> toAdopt = new ArrayList<>();
    for (ReplicaSet rs : rsLister.list(d.getMetadata().getNamespace())) {
      OwnerReference ref = Keys.controllerOf(rs);
      boolean match = Selectors.matches(selector, rs.getMetadata().getLabels());
      if (ref != null) {
        if (!uid.equals(ref.getUid())) {
          continue;
        }
        if (match || d.getMetadata().getDeletionTimestamp() != null) {
          owned.add(rs);
        } else if (rs.getMetadata().getDeletionTimestamp() == null) {
          patchOwner(rs, "{\"metadata\":{\"ownerReferences\":[{\"$patch\":\"delete\",\"uid\":\"" + uid + "\"}],\"uid\":\""
              + rs.getMetadata().getUid() + "\"}}");
        }
      } else if (match && rs.getMetadata().getDeletionTimestamp() == null && d.getMetadata().getDeletionTimestamp() == null) {
        toAdopt.add(rs);
      }
    }
    if (!toAdopt.isEmpty()) {
      Deployment fresh = client.apps().deployments().inNamespace(d.getMetadata().getNamespace()).withName(d.getMetadata().getName()).get();
      if (fresh != null && fresh.getMetadata().getDeletionTimestamp() == null && uid.equals(fresh.getMetadata().getUid())) {
        for (ReplicaSet rs : toAdopt) {
          OwnerReference r = Pods.controllerRef(d);
          ReplicaSet adopted = patchOwner(rs, "{\"metadata\":{\"ownerReferences\":[{\"apiVersion\":\"" + r.getApiVersion()
              + "\",\"kind\":\"" + r.getKind() + "\",\"name\":\"" + r.getName() + "\",\"uid\":\"" + r.getUid()
              + "\",\"controller\":true,\"blockOwnerDeletion\":true}],\"uid\":\"" + rs.getMetadata().getUid() + "\"}}");
          if (adopted != null) {
            owned.add(adopted);
          }
        }
      }
    }
    return owned;
  }

  private ReplicaSet patchOwner(ReplicaSet rs, String patch) {
    try {
      return client.apps().replicaSets().inNamespace(rs.getMetadata().getNamespace()).withName(rs.getMetadata().getName())
          .patch(PatchContext.of(PatchType.STRATEGIC_MERGE), patch);
    } catch (KubernetesClientException e) {
      log.debug("owner patch of {}: {}", Keys.of(rs), e.getMessage());
      return null;
    }
  }

  /** checkPausedConditions (sync.go): Progressing Unknown with DeploymentPaused / DeploymentResumed. */
  private void checkPausedConditions(Deployment d) {
    if (!DeploymentUtil.hasProgressDeadline(d)) {
      return;
    }
    DeploymentStatus s = d.getStatus() == null ? new DeploymentStatus() : d.getStatus();
    DeploymentCondition cond = DeploymentUtil.condition(s, "Progressing");
    if (cond != null && "ProgressDeadlineExceeded".equals(cond.getReason())) {
      return; // a timed-out deployment keeps its condition
    }
    boolean paused = Boolean.TRUE.equals(d.getSpec().getPaused());
    boolean pausedCond = cond != null && "DeploymentPaused".equals(cond.getReason());
    boolean changed = false;
    if (paused && !pausedCond) {
      DeploymentUtil.setCondition(s, newCondition("Progressing", "Unknown", "DeploymentPaused", "Deployment is paused"));
      changed = true;
    } else if (!paused && pausedCond) {
      DeploymentUtil.setCondition(s, newCondition("Progressing", "Unknown", "DeploymentResumed", "Deployment is resumed"));
      changed = true;
    }
    if (changed) {
      d.setStatus(s);
      Deployment updated = client.apps().deployments().inNamespace(d.getMetadata().getNamespace()).resource(d).updateStatus();
      d.getMetadata().setResourceVersion(updated.getMetadata().getResourceVersion());
    }
  }

  /** isScalingEvent: an active RS whose desired-replicas annotation differs from spec.replicas. */
  private boolean isScalingEvent(Deployment d, List<ReplicaSet> rsList) {
    Split split = split(d, rsList);
    List<ReplicaSet> all = new ArrayList<>(split.old);
    if (split.newRS != null) {
      all.add(split.newRS);
    }
    for (ReplicaSet rs : DeploymentUtil.active(all)) {
      Integer desired = DeploymentUtil.intAnnotation(rs, DeploymentUtil.DESIRED_REPLICAS);
      if (desired != null && desired != replicas(d)) {
        return true;
      }
    }
    return false;
  }

  private record Split(ReplicaSet newRS, List<ReplicaSet> old) {
    List<ReplicaSet> all() {
      List<ReplicaSet> a = new ArrayList<>(old);
      if (newRS != null) {
        a.add(newRS);
      }
      return a;
    }
  }

  /** FindNewReplicaSet / FindOldReplicaSets: the oldest RS whose template equals the Deployment's. */
  private Split split(Deployment d, List<ReplicaSet> rsList) {
    List<ReplicaSet> sorted = new ArrayList<>(rsList);
    sorted.sort(DeploymentUtil.BY_CREATION);
    ReplicaSet newRS = null;
    for (ReplicaSet rs : sorted) {
      if (DeploymentUtil.equalIgnoreHash(rs.getSpec().getTemplate(), d.getSpec().getTemplate())) {
        newRS = rs;
        break;
      }
    }
    List<ReplicaSet> old = new ArrayList<>();
    for (ReplicaSet rs : sorted) {
      if (rs != newRS) {
        old.add(rs);
      }
    }
    return new Split(newRS, old);
  }

  // ---- getAllReplicaSetsAndSyncRevision / getNewReplicaSet (sync.go) ----

  private Split syncRevision(Deployment d, List<ReplicaSet> rsList, boolean create) throws Exception {
    Split split = split(d, rsList);
    ReplicaSet newRS = getNewReplicaSet(d, split, create);
    return new Split(newRS, split.old);
  }

  private ReplicaSet getNewReplicaSet(Deployment d, Split split, boolean create) throws Exception {
    ReplicaSet existing = split.newRS;
    long newRevision = DeploymentUtil.maxRevision(split.old) + 1;
    String ns = d.getMetadata().getNamespace();
    if (existing != null) {
      ReplicaSet copy = client.getKubernetesSerialization().clone(existing);
      boolean annotationsChanged = setNewReplicaSetAnnotations(d, copy, newRevision, true);
      boolean minReadyChanged = nz(copy.getSpec().getMinReadySeconds()) != nz(d.getSpec().getMinReadySeconds());
      if (annotationsChanged || minReadyChanged) {
        copy.getSpec().setMinReadySeconds(d.getSpec().getMinReadySeconds());
        copy = client.apps().replicaSets().inNamespace(ns).resource(copy).update();
      }
      setDeploymentRevision(d, copy.getMetadata().getAnnotations().get(DeploymentUtil.REVISION));
      DeploymentStatus s = d.getStatus() == null ? new DeploymentStatus() : d.getStatus();
      if (DeploymentUtil.hasProgressDeadline(d) && DeploymentUtil.condition(s, "Progressing") == null) {
        DeploymentUtil.setCondition(s, newCondition("Progressing", "True", "FoundNewReplicaSet",
            "Found new replica set \"" + copy.getMetadata().getName() + "\""));
        d.setStatus(s);
        updateStatusKeepingRv(d);
      }
      return copy;
    }
    if (!create) {
      return null;
    }
    DeploymentStatus s = d.getStatus() == null ? new DeploymentStatus() : d.getStatus();
    Integer collisionCount = s.getCollisionCount();
    String hash = DeploymentUtil.computeHash(d.getSpec().getTemplate(), collisionCount);
    PodTemplateSpec template = client.getKubernetesSerialization().clone(d.getSpec().getTemplate());
    if (template.getMetadata() == null) {
      template.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMeta());
    }
    Map<String, String> labels = template.getMetadata().getLabels() == null ? new LinkedHashMap<>()
        : new LinkedHashMap<>(template.getMetadata().getLabels());
    labels.put(DeploymentUtil.POD_TEMPLATE_HASH, hash);
    template.getMetadata().setLabels(labels);
    LabelSelector selector = client.getKubernetesSerialization().clone(d.getSpec().getSelector());
    Map<String, String> ml = selector.getMatchLabels() == null ? new LinkedHashMap<>() : new LinkedHashMap<>(selector.getMatchLabels());
    ml.put(DeploymentUtil.POD_TEMPLATE_HASH, hash);
    selector.setMatchLabels(ml);
    ReplicaSet rs = new ReplicaSetBuilder()
        .withNewMetadata()
        .withName(d.getMetadata().getName() + "-" + hash)
        .withNamespace(ns)
        .withLabels(labels)
        .withOwnerReferences(Pods.controllerRef(d))
        .endMetadata()
        .withNewSpec()
        .withReplicas(0)
        .withMinReadySeconds(d.getSpec().getMinReadySeconds())
        .withSelector(selector)
        .withTemplate(template)
        .endSpec()
        .build();
    List<ReplicaSet> all = split.all();
    int newReplicas = DeploymentUtil.newRSNewReplicas(d, all, null);
    rs.getSpec().setReplicas(newReplicas);
    setNewReplicaSetAnnotations(d, rs, newRevision, false);
    ReplicaSet created;
    try {
      created = client.apps().replicaSets().inNamespace(ns).resource(rs).create();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        DeploymentUtil.setCondition(s, newCondition("Progressing", "False", "ReplicaSetCreateError",
            "Failed to create new replica set \"" + rs.getMetadata().getName() + "\": " + e.getMessage()));
        d.setStatus(s);
        updateStatusKeepingRv(d);
        recorder.event(d, EventRecorder.WARNING, "FailedCreate", "Failed to create new replica set %s: %s",
            rs.getMetadata().getName(), e.getMessage());
        throw e;
      }
      ReplicaSet found = client.apps().replicaSets().inNamespace(ns).withName(rs.getMetadata().getName()).get();
      OwnerReference ref = found == null ? null : Keys.controllerOf(found);
      if (found != null && ref != null && d.getMetadata().getUid().equals(ref.getUid())
          && DeploymentUtil.equalIgnoreHash(found.getSpec().getTemplate(), d.getSpec().getTemplate())) {
        return found; // our cache lagged; it is ours
      }
      // A hash collision: bump collisionCount so the next hash differs (sync.go).
      s.setCollisionCount(collisionCount == null ? 1 : collisionCount + 1);
      d.setStatus(s);
      updateStatusKeepingRv(d);
      throw new IllegalStateException("hash collision for replica set " + rs.getMetadata().getName());
    }
    if (newReplicas > 0) {
      recorder.event(d, EventRecorder.NORMAL, "ScalingReplicaSet", "Scaled up replica set %s to %d",
          created.getMetadata().getName(), newReplicas);
    }
    setDeploymentRevision(d, String.valueOf(newRevision));
    if (DeploymentUtil.hasProgressDeadline(d)) {
      DeploymentUtil.setCondition(s, newCondition("Progressing", "True", "NewReplicaSetCreated",
          "Created new replica set \"" + created.getMetadata().getName() + "\""));
      d.setStatus(s);
      updateStatusKeepingRv(d);
    }
    return created;
  }

  private void updateStatusKeepingRv(Deployment d) {
    Deployment updated = client.apps().deployments().inNamespace(d.getMetadata().getNamespace()).resource(d).updateStatus();
    d.getMetadata().setResourceVersion(updated.getMetadata().getResourceVersion());
  }

  /** SetNewReplicaSetAnnotations: copied annotations, revision (+history), desired/max replicas. */
  private boolean setNewReplicaSetAnnotations(Deployment d, ReplicaSet rs, long newRevision, boolean exists) {
    Map<String, String> ann = rs.getMetadata().getAnnotations() == null ? new LinkedHashMap<>()
        : new LinkedHashMap<>(rs.getMetadata().getAnnotations());
    boolean changed = false;
    if (d.getMetadata().getAnnotations() != null) {
      for (var e : d.getMetadata().getAnnotations().entrySet()) {
        if (DeploymentUtil.SKIP_COPY.contains(e.getKey())) {
          continue;
        }
        if (!e.getValue().equals(ann.get(e.getKey()))) {
          ann.put(e.getKey(), e.getValue());
          changed = true;
        }
      }
    }
    String oldRevision = ann.get(DeploymentUtil.REVISION);
    long oldRev = 0;
    try {
      oldRev = oldRevision == null ? 0 : Long.parseLong(oldRevision);
    } catch (NumberFormatException e) {
      oldRev = 0;
    }
    if (oldRev < newRevision) {
      ann.put(DeploymentUtil.REVISION, String.valueOf(newRevision));
      changed = true;
      if (oldRevision != null && !oldRevision.isEmpty()) {
        String hist = ann.get(DeploymentUtil.REVISION_HISTORY);
        ann.put(DeploymentUtil.REVISION_HISTORY, hist == null || hist.isEmpty() ? oldRevision : hist + "," + oldRevision);
      }
    }
    if (!exists) {
      changed |= setReplicasAnnotations(ann, replicas(d), replicas(d) + DeploymentUtil.maxSurge(d));
    }
    rs.getMetadata().setAnnotations(ann);
    return changed;
  }

  private static boolean setReplicasAnnotations(Map<String, String> ann, int desired, int max) {
    boolean changed = false;
    if (!String.valueOf(desired).equals(ann.get(DeploymentUtil.DESIRED_REPLICAS))) {
      ann.put(DeploymentUtil.DESIRED_REPLICAS, String.valueOf(desired));
      changed = true;
    }
    if (!String.valueOf(max).equals(ann.get(DeploymentUtil.MAX_REPLICAS))) {
      ann.put(DeploymentUtil.MAX_REPLICAS, String.valueOf(max));
      changed = true;
    }
    return changed;
  }

  /** SetDeploymentRevision: the Deployment carries its newest revision as an annotation. */
  private void setDeploymentRevision(Deployment d, String revision) {
    Map<String, String> ann = d.getMetadata().getAnnotations();
    if (revision == null || (ann != null && revision.equals(ann.get(DeploymentUtil.REVISION)))) {
      return;
    }
    // A merge patch of metadata only: it leaves the generation alone and needs no resourceVersion.
    Deployment patched = client.apps().deployments().inNamespace(d.getMetadata().getNamespace()).withName(d.getMetadata().getName())
        .patch(PatchContext.of(PatchType.JSON_MERGE),
            "{\"metadata\":{\"annotations\":{\"" + DeploymentUtil.REVISION + "\":\"" + revision + "\"}}}");
    d.getMetadata().setAnnotations(patched.getMetadata().getAnnotations());
    d.getMetadata().setResourceVersion(patched.getMetadata().getResourceVersion());
  }

  // ---- rolling.go ----

  private Result rolloutRolling(Deployment d, List<ReplicaSet> rsList) throws Exception {
    Split split = syncRevision(d, rsList, true);
    List<ReplicaSet> all = split.all();
    if (reconcileNewReplicaSet(all, split.newRS, d)) {
      return syncRolloutStatus(all, split.newRS, d);
    }
    if (reconcileOldReplicaSets(all, DeploymentUtil.active(split.old), split.newRS, d)) {
      return syncRolloutStatus(all, split.newRS, d);
    }
    if (DeploymentUtil.complete(d, d.getStatus() == null ? new DeploymentStatus() : d.getStatus())) {
      cleanupDeployment(split.old, d);
    }
    return syncRolloutStatus(all, split.newRS, d);
  }

  private boolean reconcileNewReplicaSet(List<ReplicaSet> all, ReplicaSet newRS, Deployment d) throws Exception {
    if (newRS == null) {
      return false;
    }
    if (replicas(newRS) == replicas(d)) {
      return false;
    }
    if (replicas(newRS) > replicas(d)) {
      return scaleReplicaSet(newRS, replicas(d), d);
    }
    return scaleReplicaSet(newRS, DeploymentUtil.newRSNewReplicas(d, all, newRS), d);
  }

  private boolean reconcileOldReplicaSets(List<ReplicaSet> all, List<ReplicaSet> oldActive, ReplicaSet newRS, Deployment d)
      throws Exception {
    int oldPods = DeploymentUtil.specReplicaSum(oldActive);
    if (oldPods == 0) {
      return false;
    }
    int allPods = DeploymentUtil.specReplicaSum(all);
    int minAvailable = replicas(d) - DeploymentUtil.maxUnavailable(d);
    int newUnavailable = newRS == null ? 0 : replicas(newRS) - (newRS.getStatus() == null ? 0 : nz(newRS.getStatus().getAvailableReplicas()));
    int maxScaledDown = allPods - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) {
      return false;
    }
    // cleanupUnhealthyReplicas: unavailable old replicas go first, they serve nobody.
    List<ReplicaSet> sorted = new ArrayList<>(oldActive);
    sorted.sort(DeploymentUtil.BY_CREATION);
    int cleaned = 0;
    List<ReplicaSet> after = new ArrayList<>();
    for (ReplicaSet rs : sorted) {
      if (cleaned >= maxScaledDown) {
        after.add(rs);
        continue;
      }
      int available = rs.getStatus() == null ? 0 : nz(rs.getStatus().getAvailableReplicas());
      if (replicas(rs) == 0 || available == replicas(rs)) {
        after.add(rs);
        continue;
      }
      int down = Math.min(maxScaledDown - cleaned, replicas(rs) - available);
      int target = replicas(rs) - down;
      if (target > replicas(rs)) {
        throw new IllegalStateException("when cleaning up unhealthy replicas, got invalid request to scale down");
      }
      ReplicaSet scaled = scaleReplicaSetReturning(rs, target, d);
      cleaned += down;
      after.add(scaled);
    }
    List<ReplicaSet> all2 = new ArrayList<>(after);
    if (newRS != null) {
      all2.add(newRS);
    }
    // scaleDownOldReplicaSetsForRollingUpdate
    int availablePods = DeploymentUtil.availableSum(all2);
    int scaledDown = 0;
    if (availablePods > minAvailable) {
      int total = availablePods - minAvailable;
      for (ReplicaSet rs : after) {
        if (scaledDown >= total) {
          break;
        }
        if (replicas(rs) == 0) {
          continue;
        }
        int down = Math.min(replicas(rs), total - scaledDown);
        scaleReplicaSet(rs, replicas(rs) - down, d);
        scaledDown += down;
      }
    }
    return cleaned + scaledDown > 0;
  }

  // ---- recreate.go ----

  private Result rolloutRecreate(Deployment d, List<ReplicaSet> rsList) throws Exception {
    Split split = syncRevision(d, rsList, false);
    List<ReplicaSet> all = split.all();
    boolean scaledDown = false;
    for (ReplicaSet rs : DeploymentUtil.active(split.old)) {
      scaledDown |= scaleReplicaSet(rs, 0, d);
    }
    if (scaledDown) {
      return syncRolloutStatus(all, split.newRS, d);
    }
    if (oldPodsRunning(split.newRS, split.old)) {
      return syncRolloutStatus(all, split.newRS, d);
    }
    if (split.newRS == null) {
      split = syncRevision(d, rsList, true);
      all = split.all();
    }
    scaleReplicaSet(split.newRS, replicas(d), d);
    if (DeploymentUtil.complete(d, d.getStatus() == null ? new DeploymentStatus() : d.getStatus())) {
      cleanupDeployment(split.old, d);
    }
    return syncRolloutStatus(all, split.newRS, d);
  }

  /** oldPodsRunning: any pod of an old RS that is not terminal (including terminating pods). */
  private boolean oldPodsRunning(ReplicaSet newRS, List<ReplicaSet> old) {
    for (ReplicaSet rs : old) {
      if (rs.getStatus() != null && nz(rs.getStatus().getReplicas()) > 0) {
        return true;
      }
    }
    if (old.isEmpty()) {
      return false;
    }
    List<String> uids = old.stream().map(r -> r.getMetadata().getUid()).toList();
    for (Pod p : podLister.list(old.get(0).getMetadata().getNamespace())) {
      OwnerReference ref = Keys.controllerOf(p);
      if (ref == null || !uids.contains(ref.getUid())) {
        continue;
      }
      String phase = p.getStatus() == null ? null : p.getStatus().getPhase();
      if (!"Failed".equals(phase) && !"Succeeded".equals(phase)) {
        return true;
      }
    }
    return false;
  }

  // ---- sync.go: scaling, cleanup, status ----

  private boolean scaleReplicaSet(ReplicaSet rs, int newScale, Deployment d) {
    return scaleReplicaSetReturning(rs, newScale, d) != rs;
  }

  /**
   * scaleReplicaSetAndRecordEvent: sets replicas and the desired/max-replicas annotations with an
   * update conditioned on the cached resourceVersion. Returns the updated RS, or {@code rs} itself
   * if nothing changed.
   */
  private ReplicaSet scaleReplicaSetReturning(ReplicaSet rs, int newScale, Deployment d) {
    int desired = replicas(d);
    int max = desired + DeploymentUtil.maxSurge(d);
    Map<String, String> ann = rs.getMetadata().getAnnotations() == null ? new LinkedHashMap<>()
        : new LinkedHashMap<>(rs.getMetadata().getAnnotations());
    boolean annChanged = setReplicasAnnotations(ann, desired, max);
    int old = replicas(rs);
    if (old == newScale && !annChanged) {
      return rs;
    }
    ReplicaSet copy = client.getKubernetesSerialization().clone(rs);
    copy.getSpec().setReplicas(newScale);
    copy.getMetadata().setAnnotations(ann);
    ReplicaSet updated = client.apps().replicaSets().inNamespace(rs.getMetadata().getNamespace()).resource(copy).update();
    if (old != newScale) {
      recorder.event(d, EventRecorder.NORMAL, "ScalingReplicaSet", "Scaled %s replica set %s to %d",
          newScale > old ? "up" : "down", rs.getMetadata().getName(), newScale);
    }
    return updated;
  }

  /** sync(): scaling and status when paused or on a scaling event (no rollout). */
  private Result syncScaleAndStatus(Deployment d, List<ReplicaSet> rsList) throws Exception {
    Split split = syncRevision(d, rsList, false);
    scale(d, split.newRS, split.old);
    if (Boolean.TRUE.equals(d.getSpec().getPaused())) {
      cleanupDeployment(split.old, d);
    }
    syncDeploymentStatus(split.all(), split.newRS, d);
    return Result.done();
  }

  private Result syncStatusOnly(Deployment d, List<ReplicaSet> rsList) throws Exception {
    Split split = syncRevision(d, rsList, false);
    syncDeploymentStatus(split.all(), split.newRS, d);
    return Result.done();
  }

  /** scale(): proportional scaling across active ReplicaSets (sync.go). */
  private void scale(Deployment d, ReplicaSet newRS, List<ReplicaSet> old) {
    ReplicaSet activeOrLatest = findActiveOrLatest(newRS, old);
    if (activeOrLatest != null) {
      if (replicas(activeOrLatest) != replicas(d)) {
        scaleReplicaSet(activeOrLatest, replicas(d), d);
      }
      return;
    }
    if (isSaturated(d, newRS)) {
      for (ReplicaSet rs : DeploymentUtil.active(old)) {
        scaleReplicaSet(rs, 0, d);
      }
      return;
    }
    if (!DeploymentUtil.isRollingUpdate(d)) {
      return;
    }
    List<ReplicaSet> all = new ArrayList<>(old);
    if (newRS != null) {
      all.add(newRS);
    }
    all = DeploymentUtil.active(all);
    int allReplicas = DeploymentUtil.specReplicaSum(all);
    int allowed = replicas(d) + DeploymentUtil.maxSurge(d);
    int toAdd = allowed - allReplicas;
    if (toAdd > 0) { // ReplicaSetsBySizeNewer: larger first, then newer
      all.sort(Comparator.comparingInt((ReplicaSet r) -> replicas(r)).reversed().thenComparing(DeploymentUtil.BY_CREATION.reversed()));
    } else if (toAdd < 0) { // ReplicaSetsBySizeOlder: larger first, then older
      all.sort(Comparator.comparingInt((ReplicaSet r) -> replicas(r)).reversed().thenComparing(DeploymentUtil.BY_CREATION));
    }
    Map<String, Integer> sizes = new HashMap<>();
    int added = 0;
    for (ReplicaSet rs : all) {
      if (toAdd != 0) {
        int proportion = proportion(rs, d, toAdd, added);
        sizes.put(rs.getMetadata().getName(), replicas(rs) + proportion);
        added += proportion;
      } else {
        sizes.put(rs.getMetadata().getName(), replicas(rs));
      }
    }
    int leftover = toAdd - added;
    if (leftover != 0 && !all.isEmpty()) {
      String first = all.get(0).getMetadata().getName();
      sizes.put(first, Math.max(0, sizes.get(first) + leftover));
    }
    for (ReplicaSet rs : all) {
      scaleReplicaSet(rs, sizes.get(rs.getMetadata().getName()), d);
    }
  }

  /** GetProportion / getReplicaSetFraction. */
  private static int proportion(ReplicaSet rs, Deployment d, int toAdd, int added) {
    if (replicas(rs) == 0 || toAdd == 0 || toAdd == added) {
      return 0;
    }
    int fraction;
    if (replicas(d) == 0) {
      fraction = -replicas(rs);
    } else {
      int deploymentReplicas = replicas(d) + DeploymentUtil.maxSurge(d);
      Integer annotated = DeploymentUtil.intAnnotation(rs, DeploymentUtil.MAX_REPLICAS);
      int ann = annotated != null ? annotated : (d.getStatus() == null ? 0 : nz(d.getStatus().getReplicas()));
      double size = ann == 0 ? replicas(rs) : (double) replicas(rs) * deploymentReplicas / ann;
      fraction = (int) Math.round(size) - replicas(rs);
    }
    int allowed = toAdd - added;
    return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
  }

  private static ReplicaSet findActiveOrLatest(ReplicaSet newRS, List<ReplicaSet> old) {
    if (newRS == null && old.isEmpty()) {
      return null;
    }
    List<ReplicaSet> sortedOld = new ArrayList<>(old);
    sortedOld.sort(DeploymentUtil.BY_CREATION.reversed());
    List<ReplicaSet> all = new ArrayList<>(sortedOld);
    if (newRS != null) {
      all.add(newRS);
    }
    List<ReplicaSet> active = DeploymentUtil.active(all);
    if (active.isEmpty()) {
      return newRS != null ? newRS : sortedOld.get(0);
    }
    return active.size() == 1 ? active.get(0) : null;
  }

  private static boolean isSaturated(Deployment d, ReplicaSet rs) {
    if (rs == null) {
      return false;
    }
    Integer desired = DeploymentUtil.intAnnotation(rs, DeploymentUtil.DESIRED_REPLICAS);
    return desired != null && desired == replicas(d) && replicas(rs) == replicas(d)
        && rs.getStatus() != null && nz(rs.getStatus().getAvailableReplicas()) == replicas(d);
  }

  /** cleanupDeployment: delete the oldest empty ReplicaSets beyond revisionHistoryLimit. */
  private void cleanupDeployment(List<ReplicaSet> old, Deployment d) {
    Integer limit = d.getSpec().getRevisionHistoryLimit();
    if (limit == null) {
      limit = 10;
    }
    List<ReplicaSet> alive = new ArrayList<>();
    for (ReplicaSet rs : old) {
      if (rs.getMetadata().getDeletionTimestamp() == null) {
        alive.add(rs);
      }
    }
    int diff = alive.size() - limit;
    if (diff <= 0) {
      return;
    }
    alive.sort(DeploymentUtil.BY_REVISION);
    for (int i = 0; i < diff; i++) {
      ReplicaSet rs = alive.get(i);
      long gen = rs.getMetadata().getGeneration() == null ? 0 : rs.getMetadata().getGeneration();
      long observed = rs.getStatus() == null || rs.getStatus().getObservedGeneration() == null ? 0 : rs.getStatus().getObservedGeneration();
      if ((rs.getStatus() != null && nz(rs.getStatus().getReplicas()) != 0) || replicas(rs) != 0 || gen > observed) {
        continue;
      }
      try {
        client.apps().replicaSets().inNamespace(rs.getMetadata().getNamespace()).withName(rs.getMetadata().getName()).delete();
      } catch (KubernetesClientException e) {
        if (e.getCode() != 404) {
          throw e;
        }
      }
    }
  }

  /** calculateStatus (sync.go). */
  private DeploymentStatus calculateStatus(List<ReplicaSet> all, ReplicaSet newRS, Deployment d) {
    DeploymentStatus old = d.getStatus() == null ? new DeploymentStatus() : d.getStatus();
    int available = DeploymentUtil.availableSum(all);
    int unavailable = Math.max(0, replicas(d) - available);
    DeploymentStatus s = new DeploymentStatus();
    s.setObservedGeneration(d.getMetadata().getGeneration());
    s.setReplicas(DeploymentUtil.statusReplicaSum(all));
    s.setUpdatedReplicas(newRS == null ? 0 : DeploymentUtil.statusReplicaSum(List.of(newRS)));
    s.setReadyReplicas(DeploymentUtil.readySum(all));
    s.setAvailableReplicas(available);
    s.setUnavailableReplicas(unavailable);
    s.setCollisionCount(old.getCollisionCount());
    s.setConditions(old.getConditions() == null ? new ArrayList<>() : new ArrayList<>(old.getConditions()));
    if (available >= replicas(d) - DeploymentUtil.maxUnavailable(d)) {
      DeploymentUtil.setCondition(s, newCondition("Available", "True", "MinimumReplicasAvailable", "Deployment has minimum availability."));
    } else {
      DeploymentUtil.setCondition(s, newCondition("Available", "False", "MinimumReplicasUnavailable", "Deployment does not have minimum availability."));
    }
    return s;
  }

  private void syncDeploymentStatus(List<ReplicaSet> all, ReplicaSet newRS, Deployment d) {
    DeploymentStatus s = calculateStatus(all, newRS, d);
    if (Objects.equals(normalize(d.getStatus()), normalize(s))) {
      return;
    }
    d.setStatus(s);
    updateStatusKeepingRv(d);
  }

  private static DeploymentStatus normalize(DeploymentStatus s) {
    if (s == null) {
      return new DeploymentStatus();
    }
    DeploymentStatus n = new DeploymentStatus(s.getAvailableReplicas() == null ? 0 : s.getAvailableReplicas(), s.getCollisionCount(),
        s.getConditions() == null || s.getConditions().isEmpty() ? null : s.getConditions(), s.getObservedGeneration(),
        nz(s.getReadyReplicas()), nz(s.getReplicas()), s.getTerminatingReplicas(), nz(s.getUnavailableReplicas()), nz(s.getUpdatedReplicas()));
    return n;
  }

  /** syncRolloutStatus (progress.go). */
  private Result syncRolloutStatus(List<ReplicaSet> all, ReplicaSet newRS, Deployment d) {
    DeploymentStatus s = calculateStatus(all, newRS, d);
    if (!DeploymentUtil.hasProgressDeadline(d)) {
      DeploymentUtil.removeCondition(s, "Progressing");
    }
    DeploymentCondition current = DeploymentUtil.condition(s, "Progressing");
    boolean isComplete = nz(s.getReplicas()) == nz(s.getUpdatedReplicas()) && current != null
        && "NewReplicaSetAvailable".equals(current.getReason());
    if (DeploymentUtil.hasProgressDeadline(d) && !isComplete) {
      if (DeploymentUtil.complete(d, s)) {
        String msg = newRS != null ? "ReplicaSet \"" + newRS.getMetadata().getName() + "\" has successfully progressed."
            : "Deployment \"" + d.getMetadata().getName() + "\" has successfully progressed.";
        DeploymentUtil.setCondition(s, newCondition("Progressing", "True", "NewReplicaSetAvailable", msg));
      } else if (DeploymentUtil.progressing(d, s)) {
        String msg = newRS != null ? "ReplicaSet \"" + newRS.getMetadata().getName() + "\" is progressing."
            : "Deployment \"" + d.getMetadata().getName() + "\" is progressing.";
        DeploymentCondition c = newCondition("Progressing", "True", "ReplicaSetUpdated", msg);
        if (current != null) {
          if ("True".equals(current.getStatus())) {
            c.setLastTransitionTime(current.getLastTransitionTime());
          }
          DeploymentUtil.removeCondition(s, "Progressing");
        }
        DeploymentUtil.setCondition(s, c);
      } else if (timedOut(d, s)) {
        String msg = newRS != null ? "ReplicaSet \"" + newRS.getMetadata().getName() + "\" has timed out progressing."
            : "Deployment \"" + d.getMetadata().getName() + "\" has timed out progressing.";
        DeploymentUtil.setCondition(s, newCondition("Progressing", "False", "ProgressDeadlineExceeded", msg));
      }
    }
    // ReplicaFailure mirrors the first failing ReplicaSet's condition.
    ReplicaSetCondition failure = null;
    for (ReplicaSet rs : all) {
      if (rs.getStatus() != null && rs.getStatus().getConditions() != null) {
        for (ReplicaSetCondition c : rs.getStatus().getConditions()) {
          if ("ReplicaFailure".equals(c.getType()) && failure == null) {
            failure = c;
          }
        }
      }
    }
    if (failure != null) {
      DeploymentCondition c = new DeploymentConditionBuilder().withType("ReplicaFailure").withStatus(failure.getStatus())
          .withReason(failure.getReason()).withMessage(failure.getMessage())
          .withLastUpdateTime(failure.getLastTransitionTime()).withLastTransitionTime(failure.getLastTransitionTime()).build();
      DeploymentUtil.setCondition(s, c);
    } else {
      DeploymentUtil.removeCondition(s, "ReplicaFailure");
    }
    if (Objects.equals(normalize(d.getStatus()), normalize(s))) {
      return requeueStuck(d, s);
    }
    d.setStatus(s);
    updateStatusKeepingRv(d);
    return requeueStuck(d, s);
  }

  /** DeploymentTimedOut: the Progressing condition not updated for progressDeadlineSeconds. */
  private boolean timedOut(Deployment d, DeploymentStatus s) {
    DeploymentCondition c = DeploymentUtil.condition(s, "Progressing");
    if (c == null || "NewReplicaSetAvailable".equals(c.getReason())) {
      return false;
    }
    if ("ProgressDeadlineExceeded".equals(c.getReason())) {
      return true;
    }
    Instant from = Pods.parseTime(c.getLastUpdateTime());
    if (from == null) {
      return false;
    }
    return from.plusSeconds(DeploymentUtil.progressDeadline(d)).toEpochMilli() < ctx.clock().currentTimeMillis();
  }

  /** requeueStuckDeployment: look again when the progress deadline would pass. */
  private Result requeueStuck(Deployment d, DeploymentStatus s) {
    DeploymentCondition c = DeploymentUtil.condition(s, "Progressing");
    if (!DeploymentUtil.hasProgressDeadline(d) || c == null || DeploymentUtil.complete(d, s)
        || "ProgressDeadlineExceeded".equals(c.getReason()) || Boolean.TRUE.equals(d.getSpec().getPaused())) {
      return Result.done();
    }
    Instant from = Pods.parseTime(c.getLastUpdateTime());
    if (from == null) {
      return Result.done();
    }
    long after = from.plusSeconds(DeploymentUtil.progressDeadline(d)).toEpochMilli() - ctx.clock().currentTimeMillis();
    // Timestamps have second precision: wait a second past the deadline (progress.go adds 1 s).
    return Result.requeueAfter(Duration.ofMillis(Math.max(after, 0) + 1000));
  }
}
