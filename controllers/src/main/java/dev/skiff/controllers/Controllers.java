package dev.skiff.controllers;

import java.util.ArrayList;
import java.util.List;

/**
 * The controllers the {@link ControllerManager} runs while it leads, in start order. To add one:
 * write a class with a static {@code start(ControllerContext)} returning an {@link AutoCloseable}
 * that builds the controller (informers, indexers, handlers) and defers starting its workers with
 * {@link ControllerContext#afterAllCreated(Runnable)}, and add ONE line here (keep edits to single lines so parallel branches merge cleanly).
 */
final class Controllers {
  private Controllers() {
  }

  /** Starts a controller; the handle stops it (it must not stop the shared informers). */
  @FunctionalInterface
  interface Starter {
    AutoCloseable start(ControllerContext context) throws Exception;
  }

  /** A named controller; the name is what {@code --set controllers.disable=a,b} refers to. */
  record Entry(String name, Starter starter) {}

  /** Job, CronJob and TTL-after-finished: built now, started with the others. */
  private static AutoCloseable startBatch(ControllerContext ctx) {
    List<dev.skiff.runtime.Controller> cs = dev.skiff.controllers.batch.BatchControllers.create(
        ctx.informers(), ctx.client(), ctx.recorder(), ctx.clock());
    ctx.afterAllCreated(() -> cs.forEach(dev.skiff.runtime.Controller::start));
    return () -> {
      for (dev.skiff.runtime.Controller c : cs) {
        c.stop(java.time.Duration.ofSeconds(5));
      }
    };
  }

  static List<Entry> all() {
    List<Entry> all = new ArrayList<>();
    // One line per controller, each a complete statement so parallel additions merge cleanly.
    all.add(new Entry("replicaset", ReplicaSetController::start));
    all.add(new Entry("deployment", DeploymentController::start));
    all.add(new Entry("garbagecollector", GarbageCollector::start));
    all.add(new Entry("batch", Controllers::startBatch));
    all.add(new Entry("endpointslice", dev.skiff.controllers.network.EndpointSliceController::start));
    all.add(new Entry("endpoints", dev.skiff.controllers.network.EndpointsController::start));
    all.add(new Entry("endpointslicemirroring", dev.skiff.controllers.network.EndpointSliceMirroringController::start));
    all.add(new Entry("servicelb", dev.skiff.controllers.network.ServiceLoadBalancerController::start));
    all.add(new Entry("nodeipam", dev.skiff.controllers.network.NodeIpamController::start));
    all.add(new Entry("statefulset", StatefulSetController::start));
    all.add(new Entry("daemonset", DaemonSetController::start));
    all.add(new Entry("nodelifecycle", NodeLifecycleController::start));
    all.add(new Entry("tainteviction", TaintEvictionController::start));
    all.add(new Entry("podgc", PodGcController::start));
    return all;
  }
}
