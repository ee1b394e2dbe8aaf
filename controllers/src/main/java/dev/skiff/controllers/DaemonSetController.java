package dev.skiff.controllers;

import dev.skiff.runtime.Controller;
import dev.skiff.runtime.EventHandler;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.Expectations;
import dev.skiff.runtime.Informer;
import dev.skiff.runtime.Keys;
import dev.skiff.runtime.Lister;
import dev.skiff.runtime.Result;
import io.fabric8.kubernetes.api.model.Affinity;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAffinity;
import io.fabric8.kubernetes.api.model.NodeSelector;
import io.fabric8.kubernetes.api.model.NodeSelectorRequirement;
import io.fabric8.kubernetes.api.model.NodeSelectorRequirementBuilder;
import io.fabric8.kubernetes.api.model.NodeSelectorTerm;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.TolerationBuilder;
import io.fabric8.kubernetes.api.model.apps.ControllerRevision;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.DaemonSetStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The DaemonSet controller ({@code pkg/controller/daemon}: daemon_controller.go, update.go,
 * util/daemonset_util.go). One pod per eligible node: the node must match the template's
 * nodeSelector and required node affinity, and its NoSchedule/NoExecute taints must be tolerated
 * (a pod already there stays while every NoExecute taint is tolerated). Pods get the tolerations
 * upstream adds (not-ready and unreachable NoExecute; disk-, memory-, pid-pressure and
 * unschedulable NoSchedule; network-unavailable for host-network pods) and are pinned to their node
 * with a required node affinity {@code matchFields metadata.name In [node]}, so the default
 * scheduler binds them. Updates: RollingUpdate with maxUnavailable (default 1) or maxSurge, and
 * OnDelete; history in ControllerRevisions {@code <ds>-<hash>} whose hash is the pods'
 * {@code controller-revision-hash} label. Status: desired/current/misscheduled/ready/updated/
 * available/unavailable counts and observedGeneration, as {@code kubectl rollout status ds} reads
 * them. Failed pods are killed and replaced, with a per-node backoff (1 s doubling to 15 min).
 * Events: SuccessfulCreate, SuccessfulDelete, FailedCreate, FailedDaemonPod. Thread-safe.
 */
public final class DaemonSetController implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(DaemonSetController.class);

  /** apps.DefaultDaemonSetUniqueLabelKey. */
  static final String REVISION_LABEL = "controller-revision-hash";
  /** extensions.DaemonSetTemplateGenerationKey (deprecated, still written). */
  static final String TEMPLATE_GENERATION_LABEL = "pod-template-generation";
  /** daemon_controller.go BurstReplicas. */
  static final int BURST_REPLICAS = 250;

  private final ControllerContext ctx;
  private final KubernetesClient client;
  private final EventRecorder recorder;
  private final Lister<DaemonSet> dsLister;
  private final Lister<Pod> podLister;
  private final Lister<Node> nodeLister;
  private final ControllerHistory history;
  private final Expectations expectations;
  private final Controller controller;
  private final ExecutorService io = Executors.newVirtualThreadPerTaskExecutor();
  /** failedPodsBackoff: "dsKey/node" to {next allowed kill (clock nanos), current delay}. */
  private final Map<String, long[]> failedBackoff = new java.util.concurrent.ConcurrentHashMap<>();
  static final Duration FAILED_BACKOFF_INITIAL = Duration.ofSeconds(1);
  static final Duration FAILED_BACKOFF_MAX = Duration.ofMinutes(15);

  private DaemonSetController(ControllerContext ctx) {
    this.ctx = ctx;
    this.client = ctx.client();
    this.recorder = ctx.recorder();
    this.expectations = new Expectations(ctx.clock());
    Informer<DaemonSet> dsInformer = ctx.informers().informerFor(DaemonSet.class);
    Informer<Pod> podInformer = ctx.informers().informerFor(Pod.class);
    Informer<Node> nodeInformer = ctx.informers().informerFor(Node.class);
    Informer<ControllerRevision> revInformer = ctx.informers().informerFor(ControllerRevision.class);
    this.dsLister = dsInformer.lister();
    this.podLister = podInformer.lister();
    this.nodeLister = nodeInformer.lister();
    this.history = new ControllerHistory(client, revInformer.lister());
    this.controller = Controller.builder("daemonset", ctx.informers())
        .watches(DaemonSet.class)
        .watches(ControllerRevision.class, this::daemonSetsFor)
        .watches(Pod.class, p -> List.of()) // routed by PodHandler (expectations)
        .watches(Node.class, n -> List.of()) // routed by NodeHandler (only relevant changes)
        .workers(ctx.intOption("daemonset.workers", 2))
        .clock(ctx.clock())
        .reconciler(this::sync)
        .build();
    podInformer.addHandler(new PodHandler());
    nodeInformer.addHandler(new NodeHandler());
  }

  /** Builds the controller; its workers start with the others ({@link Controllers} entry point). */
  public static DaemonSetController start(ControllerContext ctx) {
    DaemonSetController c = new DaemonSetController(ctx);
    ctx.afterAllCreated(c.controller::start);
    return c;
  }

  @Override
  public void close() throws InterruptedException {
    controller.stop(Duration.ofSeconds(5));
    io.shutdownNow();
  }

  // ---- event routing ----

  private List<String> daemonSetsFor(HasMetadata obj) {
    return Selectors.owners(obj, "DaemonSet", dsLister.list(obj.getMetadata().getNamespace()), ds -> ds.getSpec().getSelector());
  }

  private DaemonSet owner(Pod pod) {
    OwnerReference ref = Keys.controllerOf(pod);
    if (ref == null || !"DaemonSet".equals(ref.getKind())) {
      return null;
    }
    DaemonSet ds = dsLister.get(pod.getMetadata().getNamespace(), ref.getName());
    return ds != null && ref.getUid().equals(ds.getMetadata().getUid()) ? ds : null;
  }

  private final class PodHandler implements EventHandler<Pod> {
    @Override
    public void onAdd(Pod pod) {
      if (pod.getMetadata().getDeletionTimestamp() != null) {
        onDelete(pod, false);
        return;
      }
      DaemonSet ds = owner(pod);
      if (ds != null) {
        String key = Keys.of(ds);
        expectations.creationObserved(key);
        controller.enqueue(key);
      } else if (Keys.controllerOf(pod) == null) {
        daemonSetsFor(pod).forEach(controller::enqueue);
      }
    }

    @Override
    public void onUpdate(Pod old, Pod cur) {
      if (Objects.equals(old.getMetadata().getResourceVersion(), cur.getMetadata().getResourceVersion())) {
        return;
      }
      if (cur.getMetadata().getDeletionTimestamp() != null) {
        onDelete(cur, false);
        return;
      }
      DaemonSet ds = owner(cur);
      if (ds != null) {
        String key = Keys.of(ds);
        controller.enqueue(key);
        int minReady = ds.getSpec().getMinReadySeconds() == null ? 0 : ds.getSpec().getMinReadySeconds();
        if (minReady > 0 && !Pods.isReady(old) && Pods.isReady(cur)) {
          controller.queue().addAfter(key, Duration.ofSeconds(minReady).plusMillis(100));
        }
      } else if (Keys.controllerOf(cur) == null) {
        daemonSetsFor(cur).forEach(controller::enqueue);
      }
      DaemonSet oldDs = owner(old);
      if (oldDs != null && (ds == null || !oldDs.getMetadata().getUid().equals(ds.getMetadata().getUid()))) {
        controller.enqueue(Keys.of(oldDs));
      }
    }

    @Override
    public void onDelete(Pod pod, boolean finalStateUnknown) {
      DaemonSet ds = owner(pod);
      if (ds != null) {
        String key = Keys.of(ds);
        expectations.deletionObserved(key, Keys.of(pod));
        controller.enqueue(key);
      }
    }
  }

  /** Node changes that can change where daemons run: labels, taints, unschedulable; adds and deletes. */
  private final class NodeHandler implements EventHandler<Node> {
    @Override
    public void onAdd(Node node) {
      enqueueAll();
    }

    @Override
    public void onUpdate(Node old, Node cur) {
      if (!Objects.equals(old.getMetadata().getLabels(), cur.getMetadata().getLabels())
          || !Objects.equals(old.getSpec().getTaints(), cur.getSpec().getTaints())
          || !Objects.equals(old.getSpec().getUnschedulable(), cur.getSpec().getUnschedulable())) {
        enqueueAll();
      }
    }

    @Override
    public void onDelete(Node node, boolean finalStateUnknown) {
      enqueueAll();
    }

    private void enqueueAll() {
      for (DaemonSet ds : dsLister.list()) {
        controller.enqueue(Keys.of(ds));
      }
    }
  }

  // ---- pods for nodes (daemonset_util.go) ----

  /** util.AddOrUpdateDaemonPodTolerations: the tolerations every daemon pod gets. */
  static void addDaemonTolerations(PodSpec spec) {
    List<Toleration> add = new ArrayList<>(List.of(
        toleration("node.kubernetes.io/not-ready", "NoExecute"),
        toleration("node.kubernetes.io/unreachable", "NoExecute"),
        toleration("node.kubernetes.io/disk-pressure", "NoSchedule"),
        toleration("node.kubernetes.io/memory-pressure", "NoSchedule"),
        toleration("node.kubernetes.io/pid-pressure", "NoSchedule"),
        toleration("node.kubernetes.io/unschedulable", "NoSchedule")));
    if (Boolean.TRUE.equals(spec.getHostNetwork())) {
      add.add(toleration("node.kubernetes.io/network-unavailable", "NoSchedule"));
    }
    List<Toleration> tolerations = spec.getTolerations() == null ? new ArrayList<>() : new ArrayList<>(spec.getTolerations());
    for (Toleration t : add) {
      // AddOrUpdateTolerationInPodSpec: a toleration with the same key, operator, value and effect is replaced.
      tolerations.removeIf(x -> Objects.equals(x.getKey(), t.getKey()) && Objects.equals(x.getEffect(), t.getEffect())
          && Objects.equals(x.getOperator(), t.getOperator()) && Objects.equals(nzs(x.getValue()), nzs(t.getValue())));
      tolerations.add(t);
    }
    spec.setTolerations(tolerations);
  }

  private static String nzs(String s) {
    return s == null ? "" : s;
  }

  private static Toleration toleration(String key, String effect) {
    return new TolerationBuilder().withKey(key).withOperator("Exists").withEffect(effect).build();
  }

  /** util.ReplaceDaemonSetPodNodeNameNodeAffinity: required affinity becomes {@code metadata.name In [node]}. */
  static void pinToNode(PodSpec spec, String nodeName) {
    NodeSelectorRequirement req = new NodeSelectorRequirementBuilder().withKey("metadata.name").withOperator("In")
        .withValues(nodeName).build();
    NodeSelectorTerm term = new NodeSelectorTerm(List.of(), List.of(req));
    Affinity a = spec.getAffinity() == null ? new Affinity() : spec.getAffinity();
    NodeAffinity na = a.getNodeAffinity() == null ? new NodeAffinity() : a.getNodeAffinity();
    NodeSelector sel = na.getRequiredDuringSchedulingIgnoredDuringExecution() == null ? new NodeSelector()
        : na.getRequiredDuringSchedulingIgnoredDuringExecution();
    sel.setNodeSelectorTerms(new ArrayList<>(List.of(term)));
    na.setRequiredDuringSchedulingIgnoredDuringExecution(sel);
    a.setNodeAffinity(na);
    spec.setAffinity(a);
  }

  /** util.GetTargetNodeName: spec.nodeName, else the node named by the pinning affinity, else null. */
  static String targetNode(Pod pod) {
    if (pod.getSpec().getNodeName() != null && !pod.getSpec().getNodeName().isEmpty()) {
      return pod.getSpec().getNodeName();
    }
    Affinity a = pod.getSpec().getAffinity();
    if (a == null || a.getNodeAffinity() == null || a.getNodeAffinity().getRequiredDuringSchedulingIgnoredDuringExecution() == null) {
      return null;
    }
    for (NodeSelectorTerm t : a.getNodeAffinity().getRequiredDuringSchedulingIgnoredDuringExecution().getNodeSelectorTerms()) {
      if (t.getMatchFields() == null) {
        continue;
      }
      for (NodeSelectorRequirement r : t.getMatchFields()) {
        if ("metadata.name".equals(r.getKey()) && "In".equals(r.getOperator()) && r.getValues() != null && r.getValues().size() == 1) {
          return r.getValues().get(0);
        }
      }
    }
    return null;
  }

  /**
   * NodeShouldRunDaemonPod: {@code [shouldRun, shouldContinueRunning]}. A node that fits the
   * template's node name, selector and affinity runs the pod if every NoSchedule/NoExecute taint
   * is tolerated; a pod already there continues while every NoExecute taint is tolerated.
   */
  static boolean[] shouldRun(Node node, DaemonSet ds) {
    PodSpec spec = ds.getSpec().getTemplate().getSpec();
    String fixed = spec.getNodeName();
    if (fixed != null && !fixed.isEmpty() && !fixed.equals(node.getMetadata().getName())) {
      return new boolean[] {false, false};
    }
    if (!NodePredicates.fitsNodeAffinity(spec, node)) {
      return new boolean[] {false, false};
    }
    PodSpec withTolerations = new PodSpec();
    withTolerations.setTolerations(spec.getTolerations());
    withTolerations.setHostNetwork(spec.getHostNetwork());
    addDaemonTolerations(withTolerations);
    List<Taint> taints = node.getSpec() == null ? null : node.getSpec().getTaints();
    if (NodePredicates.untolerated(taints, withTolerations.getTolerations(), NodePredicates::isScheduleOrExecute) == null) {
      return new boolean[] {true, true};
    }
    boolean cont = NodePredicates.untolerated(taints, withTolerations.getTolerations(), t -> "NoExecute".equals(t.getEffect())) == null;
    return new boolean[] {false, cont};
  }

  Pod newPod(DaemonSet ds, String nodeName, String hash) {
    PodTemplateSpec template = ds.getSpec().getTemplate();
    ObjectMeta tm = template.getMetadata() == null ? new ObjectMeta() : template.getMetadata();
    Map<String, String> labels = new LinkedHashMap<>();
    if (tm.getLabels() != null) {
      labels.putAll(tm.getLabels());
    }
    labels.put(REVISION_LABEL, hash);
    if (ds.getMetadata().getGeneration() != null) {
      labels.put(TEMPLATE_GENERATION_LABEL, String.valueOf(ds.getMetadata().getGeneration()));
    }
    PodSpec spec = client.getKubernetesSerialization().clone(template.getSpec());
    addDaemonTolerations(spec);
    pinToNode(spec, nodeName);
    return new PodBuilder()
        .withNewMetadata()
        .withGenerateName(ds.getMetadata().getName() + "-")
        .withNamespace(ds.getMetadata().getNamespace())
        .withLabels(labels)
        .withAnnotations(tm.getAnnotations() == null ? null : new LinkedHashMap<>(tm.getAnnotations()))
        .withFinalizers(tm.getFinalizers())
        .withOwnerReferences(Pods.controllerRef(ds))
        .endMetadata()
        .withSpec(spec)
        .build();
  }

  // ---- sync (daemon_controller.go syncDaemonSet) ----

  Result sync(String key) throws Exception {
    DaemonSet ds = dsLister.getByKey(key);
    if (ds == null) {
      expectations.delete(key);
      failedBackoff.keySet().removeIf(k -> k.startsWith(key + "/"));
      return Result.done();
    }
    if (Selectors.isEmpty(ds.getSpec().getSelector())) {
      recorder.event(ds, EventRecorder.WARNING, "SelectingAll", "This daemon set is selecting all pods. A non-empty selector is required.");
      return Result.done();
    }
    List<Node> nodes = nodeLister.list();
    int[] collision = {ds.getStatus() == null || ds.getStatus().getCollisionCount() == null ? 0 : ds.getStatus().getCollisionCount()};
    List<ControllerRevision> old = new ArrayList<>();
    ControllerRevision cur = constructHistory(ds, collision, old);
    String hash = cur.getMetadata().getLabels().get(REVISION_LABEL);
    if (ds.getMetadata().getDeletionTimestamp() != null) {
      return updateStatus(ds, nodes, hash, collision[0]);
    }
    long retryNanos = 0;
    if (expectations.satisfied(key)) {
      retryNanos = manage(ds, nodes, hash, key);
      if (expectations.satisfied(key) && isRollingUpdate(ds)) {
        rollingUpdate(ds, nodes, hash, key);
      }
      cleanupHistory(ds, old);
    }
    Result r = updateStatus(ds, nodes, hash, collision[0]);
    return retryNanos > 0 && (r.delay().isEmpty() || r.delay().get().toNanos() > retryNanos)
        ? Result.requeueAfter(Duration.ofNanos(retryNanos)) : r;
  }

  static boolean isRollingUpdate(DaemonSet ds) {
    var s = ds.getSpec().getUpdateStrategy();
    return s == null || s.getType() == null || "RollingUpdate".equals(s.getType());
  }

  /**
   * constructHistory: the revision equal to the template becomes current (renumbered to the
   * newest if it was an old one, as after {@code rollout undo}); without one a new revision is
   * stored. Other revisions go to {@code old}.
   */
  private ControllerRevision constructHistory(DaemonSet ds, int[] collision, List<ControllerRevision> old) {
    List<ControllerRevision> revisions = history.claim(ds, ds.getSpec().getSelector());
    ControllerRevision candidate = ControllerHistory.newRevision(ds, ds.getSpec().getTemplate(), Map.of(), 0, collision[0]);
    ControllerRevision cur = null;
    for (ControllerRevision r : revisions) {
      if (ControllerHistory.equal(r, candidate) && cur == null) {
        cur = r;
      } else if (ControllerHistory.equal(r, candidate)) {
        history.delete(r); // dedupCurHistories: keep one
      } else {
        old.add(r);
      }
    }
    long next = ControllerHistory.next(old);
    if (cur == null) {
      candidate.setRevision(next);
      candidate.getMetadata().getLabels().put(REVISION_LABEL, ControllerHistory.hashOf(candidate));
      cur = history.create(ds, candidate, collision);
    } else if (cur.getRevision() == null || cur.getRevision() < next) {
      cur = history.renumber(cur, next);
    }
    if (cur.getMetadata().getLabels() == null || !cur.getMetadata().getLabels().containsKey(REVISION_LABEL)) {
      // A revision without the unique label (adopted): its name stands in for the hash.
      cur = client.apps().controllerRevisions().inNamespace(cur.getMetadata().getNamespace()).withName(cur.getMetadata().getName())
          .patch(PatchContext.of(PatchType.STRATEGIC_MERGE),
              "{\"metadata\":{\"labels\":{\"" + REVISION_LABEL + "\":\"" + cur.getMetadata().getName() + "\"}}}");
    }
    return cur;
  }

  /** Claims pods (adopt matching orphans, release non-matching) and groups them by target node. */
  private Map<String, List<Pod>> nodeToDaemonPods(DaemonSet ds) {
    String uid = ds.getMetadata().getUid();
    var selector = ds.getSpec().getSelector();
    Map<String, List<Pod>> out = new HashMap<>();
    List<Pod> toAdopt = new ArrayList<>();
    for (Pod pod : podLister.list(ds.getMetadata().getNamespace())) {
      OwnerReference ref = Keys.controllerOf(pod);
      boolean match = Selectors.matches(selector, pod.getMetadata().getLabels());
      if (ref != null) {
        if (!uid.equals(ref.getUid())) {
          continue;
        }
        if (!match && ds.getMetadata().getDeletionTimestamp() == null) {
          if (pod.getMetadata().getDeletionTimestamp() == null) {
            patchPod(pod, "{\"metadata\":{\"ownerReferences\":[{\"$patch\":\"delete\",\"uid\":\"" + uid + "\"}],\"uid\":\""
                + pod.getMetadata().getUid() + "\"}}");
          }
          continue;
        }
      } else {
        if (!match || pod.getMetadata().getDeletionTimestamp() != null || ds.getMetadata().getDeletionTimestamp() != null
            || !Pods.isActive(pod)) {
          continue;
        }
        toAdopt.add(pod);
        continue;
      }
      add(out, pod);
    }
    if (!toAdopt.isEmpty()) {
      DaemonSet fresh = client.apps().daemonSets().inNamespace(ds.getMetadata().getNamespace()).withName(ds.getMetadata().getName()).get();
      if (fresh != null && fresh.getMetadata().getDeletionTimestamp() == null && uid.equals(fresh.getMetadata().getUid())) {
        OwnerReference c = Pods.controllerRef(ds);
        for (Pod pod : toAdopt) {
          Pod adopted = patchPod(pod, "{\"metadata\":{\"ownerReferences\":[{\"apiVersion\":\"" + c.getApiVersion() + "\",\"kind\":\""
              + c.getKind() + "\",\"name\":\"" + c.getName() + "\",\"uid\":\"" + uid
              + "\",\"controller\":true,\"blockOwnerDeletion\":true}],\"uid\":\"" + pod.getMetadata().getUid() + "\"}}");
          if (adopted != null) {
            add(out, adopted);
          }
        }
      }
    }
    return out;
  }

  private static void add(Map<String, List<Pod>> out, Pod pod) {
    String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
    boolean terminal = "Succeeded".equals(phase) || "Failed".equals(phase);
    if (terminal && pod.getMetadata().getDeletionTimestamp() != null) {
      return; // getNodesToDaemonPods(includeDeletedTerminal=false)
    }
    String node = targetNode(pod);
    out.computeIfAbsent(node == null ? "" : node, k -> new ArrayList<>()).add(pod);
  }

  private Pod patchPod(Pod pod, String patch) {
    try {
      return client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName())
          .patch(PatchContext.of(PatchType.STRATEGIC_MERGE), patch);
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404 || e.getCode() == 409 || e.getCode() == 422) {
        return null;
      }
      throw e;
    }
  }

  /** Oldest first; on equal creation times a running pod before a pending one (podByCreationTimestampAndPhase). */
  private static final Comparator<Pod> OLDEST_FIRST = Comparator
      .comparing((Pod p) -> String.valueOf(p.getMetadata().getCreationTimestamp()))
      .thenComparing(p -> "Running".equals(p.getStatus() == null ? null : p.getStatus().getPhase()) ? 0 : 1)
      .thenComparing(p -> p.getMetadata().getName());

  private static boolean allowsSurge(DaemonSet ds, int desired) {
    return isRollingUpdate(ds) && surgeCount(ds, desired) > 0;
  }

  private static int surgeCount(DaemonSet ds, int desired) {
    var ru = ds.getSpec().getUpdateStrategy() == null ? null : ds.getSpec().getUpdateStrategy().getRollingUpdate();
    if (!isRollingUpdate(ds) || ru == null || ru.getMaxSurge() == null) {
      return 0;
    }
    return DeploymentUtil.scaled(ru.getMaxSurge(), desired, true, "0");
  }

  private static int unavailableCount(DaemonSet ds, int desired) {
    var ru = ds.getSpec().getUpdateStrategy() == null ? null : ds.getSpec().getUpdateStrategy().getRollingUpdate();
    return DeploymentUtil.scaled(ru == null ? null : ru.getMaxUnavailable(), desired, true, "1");
  }

  /**
   * manage: creates daemon pods where missing, deletes those that should not run or failed.
   * Returns nanoseconds until a failed pod still in backoff may be killed, or 0.
   */
  private long manage(DaemonSet ds, List<Node> nodes, String hash, String key) throws Exception {
    long retry = 0;
    Map<String, List<Pod>> byNode = nodeToDaemonPods(ds);
    List<String> toCreate = new ArrayList<>();
    List<Pod> toDelete = new ArrayList<>();
    Set<String> nodeNames = new HashSet<>();
    long now = ctx.clock().currentTimeMillis();
    int desired = 0;
    for (Node n : nodes) {
      if (shouldRun(n, ds)[0]) {
        desired++;
      }
    }
    for (Node node : nodes) {
      String name = node.getMetadata().getName();
      nodeNames.add(name);
      boolean[] run = shouldRun(node, ds);
      List<Pod> pods = byNode.get(name);
      boolean exists = pods != null && !pods.isEmpty();
      if (run[0] && !exists) {
        toCreate.add(name);
      } else if (run[1] && exists) {
        List<Pod> running = new ArrayList<>();
        for (Pod p : pods) {
          if (p.getMetadata().getDeletionTimestamp() != null) {
            continue;
          }
          String phase = p.getStatus() == null ? null : p.getStatus().getPhase();
          if ("Failed".equals(phase)) {
            // A kubelet that keeps rejecting the pod must not make us hot-loop: back off per node.
            String bk = key + "/" + name;
            long nowNanos = ctx.clock().nanoTime();
            long[] b = failedBackoff.get(bk);
            if (b != null && nowNanos < b[0]) {
              retry = retry == 0 ? b[0] - nowNanos : Math.min(retry, b[0] - nowNanos);
              continue;
            }
            long delay = b == null ? FAILED_BACKOFF_INITIAL.toNanos() : Math.min(2 * b[1], FAILED_BACKOFF_MAX.toNanos());
            failedBackoff.put(bk, new long[] {nowNanos + delay, delay});
            recorder.event(ds, EventRecorder.WARNING, "FailedDaemonPod", "Found failed daemon pod %s/%s on node %s, will try to kill it",
                p.getMetadata().getNamespace(), p.getMetadata().getName(), name);
            toDelete.add(p);
          } else if ("Succeeded".equals(phase)) {
            recorder.event(ds, EventRecorder.WARNING, "SucceededDaemonPod", "Found succeeded daemon pod %s/%s on node %s, will try to delete it",
                p.getMetadata().getNamespace(), p.getMetadata().getName(), name);
            toDelete.add(p);
          } else {
            running.add(p);
          }
        }
        if (running.size() <= 1) {
          continue;
        }
        running.sort(OLDEST_FIRST);
        if (!allowsSurge(ds, desired)) {
          toDelete.addAll(running.subList(1, running.size())); // keep the oldest
          continue;
        }
        // Surge: keep the oldest new pod, and the oldest old pod only while it is ready and the new one not yet available.
        Pod oldestNew = null;
        Pod oldestOld = null;
        for (Pod p : running) {
          boolean isNew = hash.equals(p.getMetadata().getLabels() == null ? null : p.getMetadata().getLabels().get(REVISION_LABEL));
          if (isNew && oldestNew == null) {
            oldestNew = p;
          } else if (!isNew && oldestOld == null) {
            oldestOld = p;
          } else {
            toDelete.add(p);
          }
        }
        if (oldestNew != null && oldestOld != null) {
          int minReady = ds.getSpec().getMinReadySeconds() == null ? 0 : ds.getSpec().getMinReadySeconds();
          if (!Pods.isReady(oldestOld) || Pods.isAvailable(oldestNew, minReady, now)) {
            toDelete.add(oldestOld);
          }
        }
      } else if (!run[1] && exists) {
        for (Pod p : pods) {
          if (p.getMetadata().getDeletionTimestamp() == null) {
            toDelete.add(p);
          }
        }
      }
    }
    // Pods aimed at nodes that do not exist (or at no node) are deleted; one already bound to a
    // deleted node then waits for PodGcController to force-delete it (upstream: PodGC alone).
    for (var e : byNode.entrySet()) {
      if (!nodeNames.contains(e.getKey())) {
        for (Pod p : e.getValue()) {
          if (p.getMetadata().getDeletionTimestamp() == null) {
            toDelete.add(p);
          }
        }
      }
    }
    syncNodes(ds, toDelete, toCreate, hash, key);
    return retry;
  }

  /** syncNodes: deletions in parallel, creations in slow-start batches, both bounded by BurstReplicas. */
  private void syncNodes(DaemonSet ds, List<Pod> toDelete, List<String> toCreate, String hash, String key) throws Exception {
    List<Pod> deletes = toDelete.size() > BURST_REPLICAS ? toDelete.subList(0, BURST_REPLICAS) : toDelete;
    List<String> creates = toCreate.size() > BURST_REPLICAS ? toCreate.subList(0, BURST_REPLICAS) : toCreate;
    if (deletes.isEmpty() && creates.isEmpty()) {
      return;
    }
    // One record for both (each expect* call replaces the record).
    expectations.expectDeletions(key, deletes.stream().map(Keys::of).toList());
    expectations.raise(key, creates.size(), 0);
    String error = null;
    int next = 0;
    for (int batch = Math.min(1, creates.size()); batch > 0 && next < creates.size(); batch = Math.min(2 * batch, creates.size() - next)) {
      List<Future<Boolean>> fs = new ArrayList<>();
      for (String node : creates.subList(next, next + batch)) {
        fs.add(io.submit(() -> create(ds, node, hash, key)));
      }
      next += batch;
      boolean failed = false;
      for (Future<Boolean> f : fs) {
        failed |= !f.get();
      }
      if (failed) {
        error = "failed to create daemon pods";
        break;
      }
    }
    for (int i = next; i < creates.size(); i++) {
      expectations.creationObserved(key); // skipped creations will never be observed
    }
    List<Future<?>> fs = new ArrayList<>();
    for (Pod p : deletes) {
      fs.add(io.submit(() -> {
        try {
          client.pods().inNamespace(p.getMetadata().getNamespace()).withName(p.getMetadata().getName()).delete();
          recorder.event(ds, EventRecorder.NORMAL, "SuccessfulDelete", "Deleted pod: %s", p.getMetadata().getName());
        } catch (KubernetesClientException e) {
          expectations.deletionObserved(key, Keys.of(p));
          if (e.getCode() != 404) {
            recorder.event(ds, EventRecorder.WARNING, "FailedDelete", "Error deleting: %s", e.getMessage());
          }
        }
      }));
    }
    for (Future<?> f : fs) {
      f.get();
    }
    if (error != null) {
      throw new IllegalStateException(error);
    }
  }

  private boolean create(DaemonSet ds, String node, String hash, String key) {
    try {
      Pod pod = client.pods().inNamespace(ds.getMetadata().getNamespace()).resource(newPod(ds, node, hash)).create();
      recorder.event(ds, EventRecorder.NORMAL, "SuccessfulCreate", "Created pod: %s", pod.getMetadata().getName());
      return true;
    } catch (KubernetesClientException e) {
      expectations.creationObserved(key);
      if (e.getCode() == 403 && e.getMessage() != null && e.getMessage().contains("being terminated")) {
        return true;
      }
      recorder.event(ds, EventRecorder.WARNING, "FailedCreate", "Error creating: %s", e.getMessage());
      log.debug("daemonset {}: creating pod for node {}: {}", key, node, e.getMessage());
      return false;
    }
  }

  // ---- rolling update (update.go) ----

  /** findUpdatedPodsOnNode: the node's one new and one old pod; null array when it has more of either. */
  private static Pod[] newAndOld(List<Pod> pods, String hash) {
    Pod newPod = null;
    Pod oldPod = null;
    for (Pod p : pods) {
      if (p.getMetadata().getDeletionTimestamp() != null) {
        continue;
      }
      String phase = p.getStatus() == null ? null : p.getStatus().getPhase();
      if ("Failed".equals(phase) || "Succeeded".equals(phase)) {
        continue;
      }
      boolean isNew = hash.equals(p.getMetadata().getLabels() == null ? null : p.getMetadata().getLabels().get(REVISION_LABEL));
      if (isNew) {
        if (newPod != null) {
          return null;
        }
        newPod = p;
      } else {
        if (oldPod != null) {
          return null;
        }
        oldPod = p;
      }
    }
    return new Pod[] {newPod, oldPod};
  }

  private void rollingUpdate(DaemonSet ds, List<Node> nodes, String hash, String key) throws Exception {
    Map<String, List<Pod>> byNode = nodeToDaemonPods(ds);
    int desired = 0;
    Map<String, Node> nodeByName = new HashMap<>();
    for (Node n : nodes) {
      nodeByName.put(n.getMetadata().getName(), n);
      if (shouldRun(n, ds)[0]) {
        desired++;
      }
    }
    int maxSurge = surgeCount(ds, desired);
    int maxUnavailable = unavailableCount(ds, desired);
    if (maxSurge == 0 && maxUnavailable == 0) {
      maxUnavailable = 1;
    }
    int minReady = ds.getSpec().getMinReadySeconds() == null ? 0 : ds.getSpec().getMinReadySeconds();
    long now = ctx.clock().currentTimeMillis();
    List<String> names = new ArrayList<>(byNode.keySet());
    names.sort(null); // deterministic order (upstream iterates a map)
    if (maxSurge == 0) {
      int unavailable = 0;
      List<Pod> replacements = new ArrayList<>();
      List<Pod> candidates = new ArrayList<>();
      for (String node : names) {
        Pod[] no = newAndOld(byNode.get(node), hash);
        if (no == null) {
          unavailable++;
          continue;
        }
        Pod newPod = no[0];
        Pod oldPod = no[1];
        if ((oldPod == null && newPod == null) || (oldPod != null && newPod != null)) {
          unavailable++;
        } else if (newPod != null) {
          if (!Pods.isAvailable(newPod, minReady, now)) {
            unavailable++;
          }
        } else if (!Pods.isAvailable(oldPod, minReady, now)) {
          replacements.add(oldPod); // an unavailable old pod is replaced at once
          unavailable++;
        } else if (unavailable < maxUnavailable) {
          candidates.add(oldPod);
        }
      }
      int remaining = Math.max(0, Math.min(maxUnavailable - unavailable, candidates.size()));
      List<Pod> delete = new ArrayList<>(replacements);
      delete.addAll(candidates.subList(0, remaining));
      syncNodes(ds, delete, List.of(), hash, key);
      return;
    }
    List<Pod> delete = new ArrayList<>();
    List<String> allowedNew = new ArrayList<>();
    List<String> candidateNew = new ArrayList<>();
    int surge = 0;
    for (String node : names) {
      Pod[] no = newAndOld(byNode.get(node), hash);
      if (no == null) {
        surge++;
        continue;
      }
      Pod newPod = no[0];
      Pod oldPod = no[1];
      if (oldPod == null) {
        continue; // manage handles it
      }
      if (newPod == null) {
        if (!Pods.isAvailable(oldPod, minReady, now)) {
          Node n = nodeByName.get(node);
          if (n == null || !shouldRun(n, ds)[0]) {
            delete.add(oldPod);
            continue;
          }
          allowedNew.add(node);
        } else if (surge < maxSurge) {
          candidateNew.add(node);
        }
      } else if (!Pods.isAvailable(newPod, minReady, now)) {
        surge++;
      } else {
        delete.add(oldPod);
      }
    }
    int remaining = Math.max(0, Math.min(maxSurge - surge, candidateNew.size()));
    List<String> create = new ArrayList<>(allowedNew);
    create.addAll(candidateNew.subList(0, remaining));
    syncNodes(ds, delete, create, hash, key);
  }

  /** cleanupHistory: old revisions beyond revisionHistoryLimit whose hash no pod carries, oldest first. */
  private void cleanupHistory(DaemonSet ds, List<ControllerRevision> old) {
    int limit = ds.getSpec().getRevisionHistoryLimit() == null ? 10 : ds.getSpec().getRevisionHistoryLimit();
    int toKill = old.size() - limit;
    if (toKill <= 0) {
      return;
    }
    Set<String> live = new HashSet<>();
    for (Pod p : podLister.list(ds.getMetadata().getNamespace())) {
      OwnerReference ref = Keys.controllerOf(p);
      if (ref != null && ref.getUid().equals(ds.getMetadata().getUid()) && p.getMetadata().getLabels() != null) {
        live.add(p.getMetadata().getLabels().get(REVISION_LABEL));
      }
    }
    old.sort(ControllerHistory.BY_REVISION);
    for (ControllerRevision r : old) {
      if (toKill <= 0) {
        break;
      }
      if (live.contains(r.getMetadata().getLabels() == null ? null : r.getMetadata().getLabels().get(REVISION_LABEL))) {
        continue;
      }
      history.delete(r);
      toKill--;
    }
  }

  // ---- status ----

  private Result updateStatus(DaemonSet ds, List<Node> nodes, String hash, int collisionCount) {
    Map<String, List<Pod>> byNode = new HashMap<>();
    for (Pod pod : podLister.list(ds.getMetadata().getNamespace())) {
      OwnerReference ref = Keys.controllerOf(pod);
      if (ref != null && ref.getUid().equals(ds.getMetadata().getUid())) {
        add(byNode, pod);
      }
    }
    int minReady = ds.getSpec().getMinReadySeconds() == null ? 0 : ds.getSpec().getMinReadySeconds();
    long now = ctx.clock().currentTimeMillis();
    int desired = 0;
    int current = 0;
    int misscheduled = 0;
    int ready = 0;
    int available = 0;
    int updated = 0;
    for (Node node : nodes) {
      boolean run = shouldRun(node, ds)[0];
      List<Pod> pods = byNode.get(node.getMetadata().getName());
      boolean scheduled = pods != null && !pods.isEmpty();
      if (run) {
        desired++;
        if (!scheduled) {
          continue;
        }
        current++;
        pods.sort(OLDEST_FIRST);
        Pod pod = pods.get(0);
        if (Pods.isReady(pod)) {
          ready++;
          if (Pods.isAvailable(pod, minReady, now)) {
            available++;
          }
        }
        if (hash.equals(pod.getMetadata().getLabels() == null ? null : pod.getMetadata().getLabels().get(REVISION_LABEL))) {
          updated++;
        }
      } else if (scheduled) {
        misscheduled++;
      }
    }
    DaemonSetStatus s = new DaemonSetStatus();
    s.setDesiredNumberScheduled(desired);
    s.setCurrentNumberScheduled(current);
    s.setNumberMisscheduled(misscheduled);
    s.setNumberReady(ready);
    s.setNumberAvailable(available);
    s.setNumberUnavailable(desired - available);
    s.setUpdatedNumberScheduled(updated);
    s.setObservedGeneration(ds.getMetadata().getGeneration());
    s.setCollisionCount(collisionCount);
    if (ds.getStatus() != null) {
      s.setConditions(ds.getStatus().getConditions());
    }
    if (!Objects.equals(ds.getStatus(), s)) {
      // A merge patch (no resourceVersion): see StatefulSetController#updateStatus.
      try {
        client.apps().daemonSets().inNamespace(ds.getMetadata().getNamespace()).withName(ds.getMetadata().getName())
            .subresource("status").patch(PatchContext.of(PatchType.JSON_MERGE),
                "{\"status\":" + client.getKubernetesSerialization().asJson(s) + "}");
      } catch (KubernetesClientException e) {
        if (e.getCode() != 404) {
          throw e;
        }
      }
    }
    if (minReady > 0 && ready != available) {
      return Result.requeueAfter(Duration.ofSeconds(minReady));
    }
    return Result.done();
  }
}
