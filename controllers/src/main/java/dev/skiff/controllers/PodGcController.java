package dev.skiff.controllers;

import dev.skiff.runtime.Controller;
import dev.skiff.runtime.EventHandler;
import dev.skiff.runtime.Informer;
import dev.skiff.runtime.Lister;
import dev.skiff.runtime.Result;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The orphaned-pod part of the pod garbage collector ({@code pkg/controller/podgc/gc_controller.go}
 * gcOrphaned): a pod bound to a node that does not exist — no kubelet will ever finish it — is
 * force-deleted once the node has been missing for the quarantine time (40 s) and a live read
 * confirms it is gone. Non-terminal pods first get phase Failed and the DisruptionTarget condition
 * (reason DeletionByPodGC), as upstream does. Checks run every 20 s (gcCheckPeriod) and on node
 * deletion. The terminated-pod threshold is not implemented. Thread-safe.
 */
public final class PodGcController implements AutoCloseable {
  static final String KEY = "podgc";
  static final Duration QUARANTINE = Duration.ofSeconds(40);
  static final Duration PERIOD = Duration.ofSeconds(20);

  private final ControllerContext ctx;
  private final KubernetesClient client;
  private final Lister<Pod> podLister;
  private final Lister<Node> nodeLister;
  private final Controller controller;
  /** Node name to when it was first seen missing (clock nanos). */
  private final Map<String, Long> missingSince = new ConcurrentHashMap<>();

  private PodGcController(ControllerContext ctx) {
    this.ctx = ctx;
    this.client = ctx.client();
    Informer<Pod> podInformer = ctx.informers().informerFor(Pod.class);
    Informer<Node> nodeInformer = ctx.informers().informerFor(Node.class);
    this.podLister = podInformer.lister();
    this.nodeLister = nodeInformer.lister();
    this.controller = Controller.builder("podgc", ctx.informers())
        .watches(Pod.class, p -> List.of())
        .watches(Node.class, n -> List.of())
        .workers(1)
        .clock(ctx.clock())
        .reconciler(k -> sync())
        .build();
    nodeInformer.addHandler(new EventHandler<>() {
      @Override
      public void onAdd(Node node) {
      }

      @Override
      public void onUpdate(Node oldObj, Node newObj) {
      }

      @Override
      public void onDelete(Node node, boolean finalStateUnknown) {
        controller.enqueue(KEY); // start the node's quarantine now
      }
    });
  }

  /** Builds the controller; its worker starts with the others ({@link Controllers} entry point). */
  public static PodGcController start(ControllerContext ctx) {
    PodGcController c = new PodGcController(ctx);
    ctx.afterAllCreated(() -> {
      c.controller.start();
      c.controller.enqueue(KEY);
    });
    return c;
  }

  @Override
  public void close() throws InterruptedException {
    controller.stop(Duration.ofSeconds(5));
  }

  Result sync() {
    long now = ctx.clock().nanoTime();
    Set<String> missing = new HashSet<>();
    for (Pod p : podLister.list()) {
      String node = p.getSpec() == null ? null : p.getSpec().getNodeName();
      if (node != null && !node.isEmpty() && nodeLister.get(null, node) == null) {
        missing.add(node);
      }
    }
    missingSince.keySet().retainAll(missing);
    for (String node : missing) {
      long since = missingSince.computeIfAbsent(node, n -> now);
      if (now - since < QUARANTINE.toNanos()) {
        continue;
      }
      if (client.nodes().withName(node).get() != null) {
        missingSince.remove(node); // only our cache lagged
        continue;
      }
      for (Pod p : podLister.list()) {
        if (node.equals(p.getSpec().getNodeName())) {
          forceDelete(p);
        }
      }
      missingSince.remove(node);
    }
    // Look again at the end of the earliest quarantine, else after the check period.
    long next = PERIOD.toNanos();
    for (long since : missingSince.values()) {
      next = Math.min(next, Math.max(1, since + QUARANTINE.toNanos() - now));
    }
    return Result.requeueAfter(Duration.ofNanos(next));
  }

  private void forceDelete(Pod p) {
    String ns = p.getMetadata().getNamespace();
    String name = p.getMetadata().getName();
    String phase = p.getStatus() == null ? null : p.getStatus().getPhase();
    if (!"Succeeded".equals(phase) && !"Failed".equals(phase)) {
      String now = Instant.ofEpochMilli(ctx.clock().currentTimeMillis()).truncatedTo(ChronoUnit.SECONDS).toString();
      try {
        client.pods().inNamespace(ns).withName(name).subresource("status").patch(PatchContext.of(PatchType.STRATEGIC_MERGE),
            "{\"status\":{\"phase\":\"Failed\",\"conditions\":[{\"type\":\"DisruptionTarget\",\"status\":\"True\","
                + "\"reason\":\"DeletionByPodGC\",\"message\":\"PodGC: node no longer exists\",\"lastTransitionTime\":\"" + now + "\"}]}}");
      } catch (KubernetesClientException e) {
        // best effort
      }
    }
    try {
      client.pods().inNamespace(ns).withName(name).withGracePeriod(0).delete();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw e;
      }
    }
  }
}
