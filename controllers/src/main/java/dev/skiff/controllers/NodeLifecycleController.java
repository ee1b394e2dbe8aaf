package dev.skiff.controllers;

import dev.skiff.runtime.Controller;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.Informer;
import dev.skiff.runtime.Keys;
import dev.skiff.runtime.Lister;
import dev.skiff.runtime.Result;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeCondition;
import io.fabric8.kubernetes.api.model.NodeConditionBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.api.model.TaintBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The node lifecycle controller ({@code pkg/controller/nodelifecycle/node_lifecycle_controller.go}),
 * node-health half: every monitor period (5 s) each node is checked for a heartbeat, which is a
 * change of its Ready condition's lastHeartbeatTime or of its Lease's renewTime in
 * {@code kube-node-lease}. With no heartbeat for the grace period (40 s; 60 s for a node that never
 * posted status) the controller sets Ready, MemoryPressure, DiskPressure and PIDPressure to Unknown
 * ("Kubelet stopped posting node status.", reason NodeStatusUnknown) and marks the node's pods
 * NotReady. Taints follow the conditions (TaintNodesByCondition and the NoExecute tainting pass):
 * Ready False gives {@code node.kubernetes.io/not-ready} and Unknown gives
 * {@code node.kubernetes.io/unreachable}, each NoSchedule and NoExecute; memory-, disk-, pid-pressure
 * and network-unavailable give NoSchedule taints; {@code spec.unschedulable} gives
 * {@code node.kubernetes.io/unschedulable:NoSchedule}. Other taints are left alone. Pods are evicted
 * from NoExecute taints by {@link TaintEvictionController}.
 *
 * <p>Unlike upstream, NoExecute taints are applied at once, without the per-zone eviction rate
 * limits and the full-disruption mode. Times come from the controller manager's clock, observed
 * locally (as upstream's probeTimestamp), so a fake clock drives the grace period in tests.
 * Options: {@code nodelifecycle.gracePeriodSeconds} (40), {@code nodelifecycle.startupGracePeriodSeconds}
 * (60), {@code nodelifecycle.monitorPeriodMillis} (5000). Thread-safe.
 */
public final class NodeLifecycleController implements AutoCloseable {
  static final String NOT_READY = "node.kubernetes.io/not-ready";
  static final String UNREACHABLE = "node.kubernetes.io/unreachable";
  static final String UNSCHEDULABLE = "node.kubernetes.io/unschedulable";
  static final String LEASE_NAMESPACE = "kube-node-lease";
  /** Taint keys this controller owns; any other taint is left as the user set it. */
  static final Set<String> MANAGED = Set.of(NOT_READY, UNREACHABLE, UNSCHEDULABLE, "node.kubernetes.io/memory-pressure",
      "node.kubernetes.io/disk-pressure", "node.kubernetes.io/pid-pressure", "node.kubernetes.io/network-unavailable");

  private final ControllerContext ctx;
  private final KubernetesClient client;
  private final EventRecorder recorder;
  private final Lister<Node> nodeLister;
  private final Lister<Lease> leaseLister;
  private final Lister<Pod> podLister;
  private final Controller controller;
  private final Duration grace;
  private final Duration startupGrace;
  private final Duration period;
  private final Map<String, Health> health = new ConcurrentHashMap<>();

  /** nodeHealthData: when we last saw a heartbeat (local clock) and what it was. */
  private static final class Health {
    long probeNanos;
    String heartbeat;
    String leaseRenew;
  }

  private NodeLifecycleController(ControllerContext ctx) {
    this.ctx = ctx;
    this.client = ctx.client();
    this.recorder = ctx.recorder();
    this.grace = Duration.ofSeconds(ctx.intOption("nodelifecycle.gracePeriodSeconds", 40));
    this.startupGrace = Duration.ofSeconds(ctx.intOption("nodelifecycle.startupGracePeriodSeconds", 60));
    this.period = Duration.ofMillis(ctx.intOption("nodelifecycle.monitorPeriodMillis", 5000));
    Informer<Node> nodeInformer = ctx.informers().informerFor(Node.class);
    Informer<Lease> leaseInformer = ctx.informers().informerFor(Lease.class);
    Informer<Pod> podInformer = ctx.informers().informerFor(Pod.class);
    TaintEvictionController.addNodeNameIndex(podInformer);
    this.nodeLister = nodeInformer.lister();
    this.leaseLister = leaseInformer.lister();
    this.podLister = podInformer.lister();
    this.controller = Controller.builder("nodelifecycle", ctx.informers())
        .watches(Node.class)
        .watches(Lease.class, l -> LEASE_NAMESPACE.equals(l.getMetadata().getNamespace()) ? List.of(l.getMetadata().getName()) : List.of())
        .watches(Pod.class, p -> List.of())
        .workers(ctx.intOption("nodelifecycle.workers", 2))
        .clock(ctx.clock())
        .reconciler(this::sync)
        .build();
  }

  /** Builds the controller; its workers start with the others ({@link Controllers} entry point). */
  public static NodeLifecycleController start(ControllerContext ctx) {
    NodeLifecycleController c = new NodeLifecycleController(ctx);
    ctx.afterAllCreated(c.controller::start);
    return c;
  }

  @Override
  public void close() throws InterruptedException {
    controller.stop(Duration.ofSeconds(5));
  }

  private String now() {
    return Instant.ofEpochMilli(ctx.clock().currentTimeMillis()).truncatedTo(ChronoUnit.SECONDS).toString();
  }

  static NodeCondition condition(Node node, String type) {
    if (node.getStatus() == null || node.getStatus().getConditions() == null) {
      return null;
    }
    for (NodeCondition c : node.getStatus().getConditions()) {
      if (type.equals(c.getType())) {
        return c;
      }
    }
    return null;
  }

  /** One node: health check, then taints, then (if unreachable) its pods; looks again after the monitor period. */
  Result sync(String key) throws Exception {
    Node node = nodeLister.getByKey(key);
    if (node == null) {
      health.remove(key);
      return Result.done();
    }
    node = tryUpdateNodeHealth(node);
    reconcileTaints(node);
    NodeCondition ready = condition(node, "Ready");
    if (ready != null && "Unknown".equals(ready.getStatus())) {
      markPodsNotReady(node);
    }
    return Result.requeueAfter(period);
  }

  /**
   * tryUpdateNodeHealth: a changed heartbeat (Ready lastHeartbeatTime or Lease renewTime) resets
   * the probe time; past the grace period the kubelet-owned conditions become Unknown.
   */
  private Node tryUpdateNodeHealth(Node node) {
    String name = node.getMetadata().getName();
    long nowNanos = ctx.clock().nanoTime();
    NodeCondition ready = condition(node, "Ready");
    String heartbeat = ready == null ? null : ready.getLastHeartbeatTime();
    Lease lease = leaseLister.get(LEASE_NAMESPACE, name);
    String renew = lease == null || lease.getSpec() == null || lease.getSpec().getRenewTime() == null ? null
        : lease.getSpec().getRenewTime().toString();
    Health h = health.computeIfAbsent(name, n -> {
      Health x = new Health();
      x.probeNanos = nowNanos;
      x.heartbeat = heartbeat;
      x.leaseRenew = renew;
      return x;
    });
    synchronized (h) {
      if (!Objects.equals(h.heartbeat, heartbeat)) {
        h.heartbeat = heartbeat;
        h.probeNanos = nowNanos;
      }
      if (!Objects.equals(h.leaseRenew, renew)) {
        h.leaseRenew = renew;
        h.probeNanos = nowNanos;
      }
      Duration g = ready == null ? startupGrace : grace;
      if (nowNanos - h.probeNanos <= g.toNanos()) {
        return node;
      }
    }
    // No heartbeat within the grace period.
    Node copy = client.getKubernetesSerialization().clone(node);
    String now = now();
    List<NodeCondition> conditions = copy.getStatus() == null || copy.getStatus().getConditions() == null
        ? new ArrayList<>() : new ArrayList<>(copy.getStatus().getConditions());
    boolean changed = false;
    for (String type : List.of("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")) {
      NodeCondition c = conditions.stream().filter(x -> type.equals(x.getType())).findFirst().orElse(null);
      if (c == null) {
        conditions.add(new NodeConditionBuilder().withType(type).withStatus("Unknown").withReason("NodeStatusNeverUpdated")
            .withMessage("Kubelet never posted node status.").withLastHeartbeatTime(now).withLastTransitionTime(now).build());
        changed = true;
      } else if (!"Unknown".equals(c.getStatus())) {
        c.setStatus("Unknown");
        c.setReason("NodeStatusUnknown");
        c.setMessage("Kubelet stopped posting node status.");
        c.setLastTransitionTime(now);
        changed = true;
      }
    }
    if (!changed) {
      return node;
    }
    if (copy.getStatus() == null) {
      copy.setStatus(new io.fabric8.kubernetes.api.model.NodeStatus()); // a Node nobody ever posted status for
    }
    copy.getStatus().setConditions(conditions);
    try {
      Node updated = client.nodes().resource(copy).updateStatus();
      if (ready != null && "True".equals(ready.getStatus())) {
        recorder.event(node, EventRecorder.NORMAL, "NodeNotReady", "Node %s status is now: %s", name, "NodeNotReady");
      }
      synchronized (h) {
        h.heartbeat = heartbeat(updated); // our own write is not a heartbeat
      }
      return updated;
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409 || e.getCode() == 404) {
        return node; // the kubelet wrote meanwhile, or the node went: look again next period
      }
      throw e;
    }
  }

  private static String heartbeat(Node node) {
    NodeCondition r = condition(node, "Ready");
    return r == null ? null : r.getLastHeartbeatTime();
  }

  /** The taints the node's conditions and unschedulable flag call for (doNoScheduleTaintingPass + NoExecute pass). */
  static Set<String> desiredTaints(Node node) {
    Set<String> out = new LinkedHashSet<>(); // "key:effect"
    NodeCondition ready = condition(node, "Ready");
    if (ready != null && "False".equals(ready.getStatus())) {
      out.add(NOT_READY + ":NoSchedule");
      out.add(NOT_READY + ":NoExecute");
    } else if (ready != null && "Unknown".equals(ready.getStatus())) {
      out.add(UNREACHABLE + ":NoSchedule");
      out.add(UNREACHABLE + ":NoExecute");
    }
    for (var e : Map.of("MemoryPressure", "node.kubernetes.io/memory-pressure", "DiskPressure", "node.kubernetes.io/disk-pressure",
        "PIDPressure", "node.kubernetes.io/pid-pressure", "NetworkUnavailable", "node.kubernetes.io/network-unavailable").entrySet()) {
      NodeCondition c = condition(node, e.getKey());
      if (c != null && "True".equals(c.getStatus())) {
        out.add(e.getValue() + ":NoSchedule");
      }
    }
    if (node.getSpec() != null && Boolean.TRUE.equals(node.getSpec().getUnschedulable())) {
      out.add(UNSCHEDULABLE + ":NoSchedule");
    }
    return out;
  }

  private void reconcileTaints(Node node) {
    Set<String> want = desiredTaints(node);
    List<Taint> current = node.getSpec() == null || node.getSpec().getTaints() == null ? List.of() : node.getSpec().getTaints();
    Set<String> have = new LinkedHashSet<>();
    for (Taint t : current) {
      if (MANAGED.contains(t.getKey())) {
        have.add(t.getKey() + ":" + t.getEffect());
      }
    }
    if (have.equals(want)) {
      return;
    }
    List<Taint> next = new ArrayList<>();
    for (Taint t : current) {
      String id = t.getKey() + ":" + t.getEffect();
      if (!MANAGED.contains(t.getKey()) || want.contains(id)) {
        next.add(t); // kept (with its original timeAdded)
      }
    }
    String now = now();
    for (String id : want) {
      if (!have.contains(id)) {
        int colon = id.lastIndexOf(':');
        String effect = id.substring(colon + 1);
        next.add(new TaintBuilder().withKey(id.substring(0, colon)).withEffect(effect)
            .withTimeAdded("NoExecute".equals(effect) ? now : null).build());
      }
    }
    Node copy = client.getKubernetesSerialization().clone(node);
    if (copy.getSpec() == null) {
      copy.setSpec(new io.fabric8.kubernetes.api.model.NodeSpec());
    }
    copy.getSpec().setTaints(next);
    try {
      client.nodes().resource(copy).update();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409 && e.getCode() != 404) {
        throw e;
      }
      controller.queue().addRateLimited(Keys.of(node)); // conflict: retry soon with a fresh node
    }
  }

  /** MarkPodsNotReady: the Ready condition of every pod bound to the node becomes False. */
  private void markPodsNotReady(Node node) {
    String name = node.getMetadata().getName();
    for (Pod pod : TaintEvictionController.podsOn(podLister, name)) {
      PodCondition c = Pods.readyCondition(pod);
      if (c == null || !"True".equals(c.getStatus()) || pod.getMetadata().getDeletionTimestamp() != null) {
        continue;
      }
      Pod copy = client.getKubernetesSerialization().clone(pod);
      for (PodCondition pc : copy.getStatus().getConditions()) {
        if ("Ready".equals(pc.getType())) {
          pc.setStatus("False");
          pc.setLastTransitionTime(now());
        }
      }
      try {
        client.pods().inNamespace(pod.getMetadata().getNamespace()).resource(copy).updateStatus();
        recorder.event(pod, EventRecorder.WARNING, "NodeNotReady", "Node is not ready");
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409 && e.getCode() != 404) {
          throw e;
        }
      }
    }
  }
}
