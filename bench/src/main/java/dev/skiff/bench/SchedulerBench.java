package dev.skiff.bench;

import dev.skiff.apiserver.ApiServer;
import dev.skiff.runtime.Clients;
import dev.skiff.scheduler.NodeSimulator;
import dev.skiff.scheduler.SchedulerEngine;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodAffinityTermBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.TopologySpreadConstraintBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntFunction;

/**
 * Scheduler throughput with the API server in the loop (as kube-scheduler's scheduler_perf): an
 * in-process API server, N simulated nodes (no pod-ready writes, no node leases: scheduler_perf
 * runs no kubelets), the scheduler with its own informers and client. Per scenario the pods are
 * created first with the scheduler paused and synced into its queue; then scheduling starts and the
 * clock runs until every pod's {@code pods/binding} POST has returned 201. Scenarios (upstream
 * names): basic (10,000 plain pods), node affinity (5,000 pods, required affinity to one zone),
 * required anti-affinity (2,000 pods, one per host per group), required affinity (2,000 pods
 * following 1,000 init pods by zone), topology spread (5,000 pods, maxSkew 1 over zones).
 * Heap: used heap after GC with and without the scheduler (its cache and informers).
 * Args: [nodes] [basicPods] [scenarios comma-separated].
 */
final class SchedulerBench {
  private SchedulerBench() {}

  static void run(String[] args) throws Exception {
    int nodes = args.length > 1 ? Integer.parseInt(args[1]) : 5000;
    int basicPods = args.length > 2 ? Integer.parseInt(args[2]) : 10000;
    String scenarios = args.length > 3 ? args[3] : "basic,node-affinity,anti-affinity,affinity,topology-spread";
    Path dir = Bench.tempDir("skiff-bench-scheduler-");
    ApiServer server = ApiServer.start(new ApiServer.Config(dir, 0, "127.0.0.1"));
    KubernetesClient simClient = client(server);
    KubernetesClient schedClient = client(server);
    KubernetesClient loadClient = client(server);
    Map<String, Object> m = Bench.result("scheduler");
    try {
      long t0 = System.nanoTime();
      NodeSimulator.Running sim = NodeSimulator.startBlocking(simClient, "sim-node-", nodes, 0, false);
      m.put("nodes", nodes);
      m.put("node_register_s", Bench.round((System.nanoTime() - t0) / 1e9, 1));
      long heapWithout = usedHeapAfterGc();
      SchedulerEngine engine = new SchedulerEngine(schedClient);
      engine.start();
      while (engine.nodeCount() < nodes) {
        Thread.sleep(50);
      }
      for (String s : scenarios.split(",")) {
        Map<String, Object> r = switch (s) {
          case "basic" -> scenario(engine, loadClient, "basic", basicPods, 0, null, i -> plain("basic", i));
          case "node-affinity" -> scenario(engine, loadClient, "node-affinity", basicPods / 2, 0, null, i -> nodeAffinity(i));
          case "anti-affinity" -> scenario(engine, loadClient, "anti-affinity", 2000, 0, null, i -> antiAffinity(i));
          case "affinity" -> scenario(engine, loadClient, "affinity", 2000, 1000, i -> affinityTarget(i), i -> affinity(i));
          case "topology-spread" -> scenario(engine, loadClient, "topology-spread", basicPods / 2, 0, null, i -> spread(i));
          default -> throw new IllegalArgumentException("unknown scenario " + s);
        };
        m.put(s.replace('-', '_'), r);
        if (s.equals("basic")) {
          long heapWith = usedHeapAfterGc();
          engine.close();
          engine = null; // drop the only reference so its cache and informers can be collected
          long heapAfter = usedHeapAfterGc();
          m.put("scheduler_heap_mb", Bench.round((heapWith - heapAfter) / 1048576.0, 0));
          m.put("total_heap_mb_with_scheduler", Bench.round(heapWith / 1048576.0, 0));
          m.put("heap_mb_before_scheduler", Bench.round(heapWithout / 1048576.0, 0));
          engine = new SchedulerEngine(schedClient);
          engine.start();
          while (engine.nodeCount() < nodes) {
            Thread.sleep(50);
          }
        }
      }
      engine.close();
      sim.close();
      Bench.print(m);
    } finally {
      simClient.close();
      schedClient.close();
      loadClient.close();
      server.close();
      Bench.deleteTree(dir);
    }
  }

  private static KubernetesClient client(ApiServer server) {
    return Clients.forKubeconfig(server.kubeconfig());
  }

  private static Map<String, Object> scenario(SchedulerEngine engine, KubernetesClient c, String ns, int pods, int initPods,
      IntFunction<Pod> init, IntFunction<Pod> measured) throws Exception {
    c.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
    long base = engine.boundCount();
    if (initPods > 0) {
      engine.startScheduling();
      create(c, initPods, init);
      while (engine.boundCount() < base + initPods) {
        Thread.sleep(20);
      }
      base = engine.boundCount();
    }
    engine.stopScheduling();
    long c0 = System.nanoTime();
    create(c, pods, measured);
    double createS = (System.nanoTime() - c0) / 1e9;
    while (engine.queuedCount() < pods) {
      Thread.sleep(20);
    }
    long cycles0 = engine.cycles();
    long cycleNanos0 = engine.cycleNanos();
    long bindNanos0 = engine.bindNanos();
    long t0 = System.nanoTime();
    engine.startScheduling();
    long deadline = t0 + 300_000_000_000L;
    while (engine.boundCount() < base + pods && System.nanoTime() < deadline) {
      Thread.sleep(5);
    }
    double secs = (System.nanoTime() - t0) / 1e9;
    long done = engine.boundCount() - base;
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("pods", pods);
    r.put("init_pods", initPods);
    r.put("bound", done);
    r.put("pods_per_s", Bench.round(done / secs, 0));
    r.put("seconds", Bench.round(secs, 2));
    r.put("create_s", Bench.round(createS, 1));
    r.put("cycle_us_avg", Bench.round((engine.cycleNanos() - cycleNanos0) / 1000.0 / Math.max(1, engine.cycles() - cycles0), 0));
    r.put("bind_ms_avg", Bench.round((engine.bindNanos() - bindNanos0) / 1e6 / Math.max(1, done), 1));
    return r;
  }

  private static void create(KubernetesClient c, int n, IntFunction<Pod> f) throws InterruptedException {
    AtomicInteger next = new AtomicInteger();
    List<Thread> ts = new ArrayList<>();
    for (int w = 0; w < 32; w++) {
      ts.add(Thread.ofVirtual().start(() -> {
        for (int i = next.getAndIncrement(); i < n; i = next.getAndIncrement()) {
          Pod p = f.apply(i);
          c.pods().inNamespace(p.getMetadata().getNamespace()).resource(p).create();
        }
      }));
    }
    for (Thread t : ts) {
      t.join();
    }
  }

  private static PodBuilder base(String ns, String name) {
    return new PodBuilder().withNewMetadata().withNamespace(ns).withName(name).endMetadata()
        .withNewSpec().addNewContainer().withName("c").withImage("registry.k8s.io/pause:3.10").withNewResources()
        .addToRequests("cpu", new Quantity("100m")).addToRequests("memory", new Quantity("500Mi")).endResources().endContainer().endSpec();
  }

  static Pod plain(String ns, int i) {
    return base(ns, "p-" + i).build();
  }

  static Pod nodeAffinity(int i) {
    return base("node-affinity", "p-" + i).editSpec().withNewAffinity().withNewNodeAffinity()
        .withNewRequiredDuringSchedulingIgnoredDuringExecution().addNewNodeSelectorTerm().addNewMatchExpression()
        .withKey("topology.kubernetes.io/zone").withOperator("In").withValues("zone-a").endMatchExpression().endNodeSelectorTerm()
        .endRequiredDuringSchedulingIgnoredDuringExecution().endNodeAffinity().endAffinity().endSpec().build();
  }

  static Pod antiAffinity(int i) {
    String group = "g" + (i % 4);
    return base("anti-affinity", "p-" + i).editMetadata().addToLabels("group", group).endMetadata().editSpec().withNewAffinity()
        .withNewPodAntiAffinity().addToRequiredDuringSchedulingIgnoredDuringExecution(new PodAffinityTermBuilder()
            .withTopologyKey("kubernetes.io/hostname").withLabelSelector(new LabelSelectorBuilder().addToMatchLabels("group", group).build()).build())
        .endPodAntiAffinity().endAffinity().endSpec().build();
  }

  static Pod affinityTarget(int i) {
    return base("affinity", "init-" + i).editMetadata().addToLabels("foo", "bar").endMetadata()
        .editSpec().addToNodeSelector("topology.kubernetes.io/zone", "zone-" + "abc".charAt(i % 3)).endSpec().build();
  }

  static Pod affinity(int i) {
    return base("affinity", "p-" + i).editSpec().withNewAffinity().withNewPodAffinity()
        .addToRequiredDuringSchedulingIgnoredDuringExecution(new PodAffinityTermBuilder().withTopologyKey("topology.kubernetes.io/zone")
            .withLabelSelector(new LabelSelectorBuilder().addToMatchLabels("foo", "bar").build()).build())
        .endPodAffinity().endAffinity().endSpec().build();
  }

  static Pod spread(int i) {
    return base("topology-spread", "p-" + i).editMetadata().addToLabels("app", "spread").endMetadata().editSpec()
        .addToTopologySpreadConstraints(new TopologySpreadConstraintBuilder().withMaxSkew(1).withTopologyKey("topology.kubernetes.io/zone")
            .withWhenUnsatisfiable("DoNotSchedule").withLabelSelector(new LabelSelectorBuilder().addToMatchLabels("app", "spread").build()).build())
        .endSpec().build();
  }

  private static long usedHeapAfterGc() throws InterruptedException {
    Runtime rt = Runtime.getRuntime();
    for (int i = 0; i < 3; i++) {
      System.gc();
      Thread.sleep(200);
    }
    return rt.totalMemory() - rt.freeMemory();
  }
}
