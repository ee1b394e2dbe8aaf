package dev.skiff.controllers;

import dev.skiff.runtime.Controller;
import dev.skiff.runtime.EventHandler;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.Informer;
import dev.skiff.runtime.Keys;
import dev.skiff.runtime.Lister;
import dev.skiff.runtime.Result;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Taint-based eviction ({@code pkg/controller/tainteviction/taint_eviction.go}): a pod bound to a
 * node with NoExecute taints is deleted at once if it does not tolerate one of them, otherwise
 * after the smallest {@code tolerationSeconds} of the tolerations that match (never, if one of
 * them has no tolerationSeconds; at once for 0 or less), counted from the taint's timeAdded or,
 * without one, from when this controller first saw the pod under the taint (upstream counts from
 * the latter only). Removing the taints cancels a pending eviction. Before deleting,
 * the pod gets the DisruptionTarget condition (reason DeletionByTaintManager); event
 * TaintManagerEviction "Marking for deletion Pod ns/name". Timing uses the controller manager's
 * clock, so a fake clock drives it in tests. Thread-safe.
 */
public final class TaintEvictionController implements AutoCloseable {
  /** Pod index by spec.nodeName, shared with the node lifecycle controller. */
  static final String BY_NODE = "spec.nodeName";

  private final ControllerContext ctx;
  private final KubernetesClient client;
  private final EventRecorder recorder;
  private final Lister<Pod> podLister;
  private final Lister<Node> nodeLister;
  private final Controller controller;
  /** Pod key to when its eviction clock started (clock nanos); absent = nothing scheduled. */
  private final Map<String, Long> scheduled = new ConcurrentHashMap<>();

  private TaintEvictionController(ControllerContext ctx) {
    this.ctx = ctx;
    this.client = ctx.client();
    this.recorder = ctx.recorder();
    Informer<Pod> podInformer = ctx.informers().informerFor(Pod.class);
    Informer<Node> nodeInformer = ctx.informers().informerFor(Node.class);
    addNodeNameIndex(podInformer);
    this.podLister = podInformer.lister();
    this.nodeLister = nodeInformer.lister();
    this.controller = Controller.builder("taint-eviction", ctx.informers())
        .watches(Pod.class, p -> p.getSpec() != null && p.getSpec().getNodeName() != null && !p.getSpec().getNodeName().isEmpty()
            ? List.of(Keys.of(p)) : List.of())
        .watches(Node.class, n -> List.of())
        .workers(ctx.intOption("tainteviction.workers", 2))
        .clock(ctx.clock())
        .reconciler(this::sync)
        .build();
    nodeInformer.addHandler(new EventHandler<>() {
      @Override
      public void onAdd(Node node) {
        if (hasNoExecute(node)) {
          enqueuePodsOn(node);
        }
      }

      @Override
      public void onUpdate(Node old, Node cur) {
        if (!Objects.equals(old.getSpec().getTaints(), cur.getSpec().getTaints())) {
          enqueuePodsOn(cur);
        }
      }

      @Override
      public void onDelete(Node node, boolean finalStateUnknown) {
      }
    });
  }

  /** Builds the controller; its workers start with the others ({@link Controllers} entry point). */
  public static TaintEvictionController start(ControllerContext ctx) {
    TaintEvictionController c = new TaintEvictionController(ctx);
    ctx.afterAllCreated(c.controller::start);
    return c;
  }

  @Override
  public void close() throws InterruptedException {
    controller.stop(Duration.ofSeconds(5));
  }

  /** Adds the spec.nodeName pod index if no other controller did. */
  static synchronized void addNodeNameIndex(Informer<Pod> pods) {
    try {
      pods.addIndexer(BY_NODE, p -> p.getSpec() == null || p.getSpec().getNodeName() == null || p.getSpec().getNodeName().isEmpty()
          ? List.of() : List.of(p.getSpec().getNodeName()));
    } catch (RuntimeException e) {
      // already there (or the informer runs): podsOn falls back to a scan
    }
  }

  /** Pods bound to {@code node}, from the index or by a scan. */
  static List<Pod> podsOn(Lister<Pod> pods, String node) {
    try {
      return pods.byIndex(BY_NODE, node);
    } catch (RuntimeException e) {
      List<Pod> out = new ArrayList<>();
      for (Pod p : pods.list()) {
        if (node.equals(p.getSpec().getNodeName())) {
          out.add(p);
        }
      }
      return out;
    }
  }

  private static boolean hasNoExecute(Node node) {
    return node.getSpec() != null && node.getSpec().getTaints() != null
        && node.getSpec().getTaints().stream().anyMatch(t -> "NoExecute".equals(t.getEffect()));
  }

  private void enqueuePodsOn(Node node) {
    for (Pod p : podsOn(podLister, node.getMetadata().getName())) {
      controller.enqueue(Keys.of(p));
    }
  }

  /**
   * getMinTolerationTime over the tolerations matching NoExecute taints: -1 for "forever", 0 for
   * "now", else the smallest tolerationSeconds.
   */
  static long minTolerationSeconds(List<Toleration> used) {
    long min = -1;
    for (Toleration t : used) {
      if (t.getTolerationSeconds() == null) {
        continue; // tolerates forever
      }
      long s = Math.max(0, t.getTolerationSeconds());
      if (min < 0 || s < min) {
        min = s;
      }
    }
    return min;
  }

  Result sync(String key) {
    Pod pod = podLister.getByKey(key);
    if (pod == null || pod.getMetadata().getDeletionTimestamp() != null) {
      scheduled.remove(key);
      return Result.done();
    }
    String nodeName = pod.getSpec().getNodeName();
    Node node = nodeName == null ? null : nodeLister.get(null, nodeName);
    List<Taint> taints = new ArrayList<>();
    if (node != null && node.getSpec() != null && node.getSpec().getTaints() != null) {
      for (Taint t : node.getSpec().getTaints()) {
        if ("NoExecute".equals(t.getEffect())) {
          taints.add(t);
        }
      }
    }
    if (taints.isEmpty()) {
      scheduled.remove(key); // taints gone: cancel
      return Result.done();
    }
    List<Toleration> tolerations = pod.getSpec().getTolerations() == null ? List.of() : pod.getSpec().getTolerations();
    List<Toleration> used = new ArrayList<>();
    for (Taint t : taints) {
      Toleration match = null;
      for (Toleration tol : tolerations) {
        if (NodePredicates.tolerates(tol, t)) {
          match = tol; // GetMatchingTolerations: the first toleration of each taint counts
          used.add(tol);
          break;
        }
      }
      if (match == null) {
        evict(pod, key);
        return Result.done();
      }
    }
    long seconds = minTolerationSeconds(used);
    if (seconds < 0) {
      scheduled.remove(key);
      return Result.done();
    }
    long now = ctx.clock().nanoTime();
    long start = scheduled.computeIfAbsent(key, k -> now);
    // A taint's timeAdded (written by the node lifecycle controller) counts from when the taint
    // appeared, not from when this controller got to the pod (or restarted).
    long nowMillis = ctx.clock().currentTimeMillis();
    for (Taint t : taints) {
      Instant added = Pods.parseTime(t.getTimeAdded());
      if (added != null) {
        start = Math.min(start, now - Math.max(0, nowMillis - added.toEpochMilli()) * 1_000_000L);
      }
    }
    long due = start + Duration.ofSeconds(seconds).toNanos();
    if (now >= due) {
      evict(pod, key);
      return Result.done();
    }
    return Result.requeueAfter(Duration.ofNanos(due - now));
  }

  /** addConditionAndDeletePod: DisruptionTarget condition, then delete. */
  private void evict(Pod pod, String key) {
    scheduled.remove(key);
    String ns = pod.getMetadata().getNamespace();
    String name = pod.getMetadata().getName();
    recorder.event(pod, EventRecorder.NORMAL, "TaintManagerEviction", "Marking for deletion Pod %s", key);
    String now = Instant.ofEpochMilli(ctx.clock().currentTimeMillis()).truncatedTo(ChronoUnit.SECONDS).toString();
    // A strategic merge patch (conditions merge by type), so a stale cached pod cannot conflict.
    String patch = "{\"status\":{\"conditions\":[{\"type\":\"DisruptionTarget\",\"status\":\"True\","
        + "\"reason\":\"DeletionByTaintManager\",\"message\":\"Taint manager: deleting due to NoExecute taint\","
        + "\"lastTransitionTime\":\"" + now + "\"}]}}";
    try {
      client.pods().inNamespace(ns).withName(name).subresource("status").patch(PatchContext.of(PatchType.STRATEGIC_MERGE), patch);
    } catch (KubernetesClientException e) {
      // best effort: the deletion is what matters
    }
    try {
      client.pods().inNamespace(ns).withName(name).delete();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw e;
      }
    }
  }
}
