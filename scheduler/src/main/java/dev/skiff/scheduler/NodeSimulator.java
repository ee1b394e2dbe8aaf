package dev.skiff.scheduler;

import dev.skiff.runtime.Component;
import dev.skiff.runtime.ComponentContext;
import dev.skiff.runtime.EventHandler;
import dev.skiff.runtime.Informer;
import dev.skiff.runtime.SharedInformers;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Simulated nodes, as kwok does: registers N Ready Nodes with realistic capacity (cpu 32, memory
 * 256Gi, pods 110) and labels (hostname, zone-a/b/c, instance type), renews their Leases in
 * {@code kube-node-lease}, and plays kwok's fast pod stages for pods bound to them: pod-ready
 * (phase Running, Ready conditions, container statuses, IPs) and pod-delete (a pod being deleted
 * is removed at once). No processes run. Options: {@code simulate.nodes} (N; 0 disables),
 * {@code simulate.prefix} (node name prefix, default "sim-node-"),
 * {@code simulate.leaseSeconds} (renewal period, default 10; 0 disables leases),
 * {@code simulate.podReady} (default true; false leaves bound pods Pending, as scheduler_perf does).
 *
 * <p>All writes go through the API. Thread-safe.
 */
public final class NodeSimulator implements Component {
  private static final Logger log = LoggerFactory.getLogger(NodeSimulator.class);
  private static final DateTimeFormatter RFC3339 = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss'Z'").withZone(ZoneOffset.UTC);
  static final String[] ZONES = {"zone-a", "zone-b", "zone-c"};
  static final String INSTANCE_TYPE = "skiff.sim.32x256";

  @Override
  public String name() {
    return "simulator";
  }

  /** Starts a simulator and registers {@code n} nodes before returning (benchmarks, tests). */
  public static Running startBlocking(KubernetesClient client, String prefix, int n, int leaseSeconds, boolean podReady) {
    Running r = new Running(client, prefix, leaseSeconds, podReady);
    r.addNodes(0, n);
    return r;
  }

  @Override
  public AutoCloseable start(ComponentContext ctx) throws Exception {
    int n = Integer.parseInt(ctx.options().getOrDefault("simulate.nodes", "0"));
    if (n <= 0) {
      return () -> {};
    }
    String prefix = ctx.options().getOrDefault("simulate.prefix", "sim-node-");
    int leaseSeconds = Integer.parseInt(ctx.options().getOrDefault("simulate.leaseSeconds", "10"));
    boolean podReady = Boolean.parseBoolean(ctx.options().getOrDefault("simulate.podReady", "true"));
    Running r = new Running(ctx.client(), prefix, leaseSeconds, podReady);
    Thread.ofVirtual().name("simulator-start").start(() -> r.addNodes(0, n));
    return r;
  }

  /** Builds the Node a simulated node registers. */
  static Node node(String name, int index) {
    String now = RFC3339.format(Instant.now());
    return new NodeBuilder()
        .withNewMetadata().withName(name)
          .addToLabels("kubernetes.io/hostname", name)
          .addToLabels("kubernetes.io/os", "linux")
          .addToLabels("kubernetes.io/arch", "amd64")
          .addToLabels("topology.kubernetes.io/zone", ZONES[index % ZONES.length])
          .addToLabels("topology.kubernetes.io/region", "skiff-sim")
          .addToLabels("node.kubernetes.io/instance-type", INSTANCE_TYPE)
          .addToLabels("type", "simulated")
          .addToAnnotations("node.skiff.dev/simulated", "true")
        .endMetadata()
        .withNewSpec().endSpec()
        .withNewStatus()
          .addToCapacity("cpu", new Quantity("32"))
          .addToCapacity("memory", new Quantity("256Gi"))
          .addToCapacity("pods", new Quantity("110"))
          .addToAllocatable("cpu", new Quantity("32"))
          .addToAllocatable("memory", new Quantity("256Gi"))
          .addToAllocatable("pods", new Quantity("110"))
          .addNewCondition().withType("Ready").withStatus("True").withReason("KubeletReady")
            .withMessage("simulated node is ready").withLastHeartbeatTime(now).withLastTransitionTime(now).endCondition()
          .addNewCondition().withType("MemoryPressure").withStatus("False").withReason("KubeletHasSufficientMemory")
            .withLastHeartbeatTime(now).withLastTransitionTime(now).endCondition()
          .addNewCondition().withType("DiskPressure").withStatus("False").withReason("KubeletHasNoDiskPressure")
            .withLastHeartbeatTime(now).withLastTransitionTime(now).endCondition()
          .addNewCondition().withType("PIDPressure").withStatus("False").withReason("KubeletHasSufficientPID")
            .withLastHeartbeatTime(now).withLastTransitionTime(now).endCondition()
          .addNewAddress().withType("InternalIP").withAddress(nodeIp(index)).endAddress()
          .addNewAddress().withType("Hostname").withAddress(name).endAddress()
          .withNewNodeInfo().withKubeletVersion("v1.33.0-skiff-sim").withOperatingSystem("linux").withArchitecture("amd64")
            .withContainerRuntimeVersion("skiff-sim://0").withKernelVersion("").withOsImage("simulated").withKubeProxyVersion("")
            .withMachineID(name).withSystemUUID(name).withBootID(name).endNodeInfo()
        .endStatus()
        .build();
  }

  static String nodeIp(int index) {
    return "10.%d.%d.%d".formatted(64 + (index >> 16 & 63), index >> 8 & 255, index & 255);
  }

  /** A running simulator. {@link #addNodes} registers more nodes. */
  public static final class Running implements AutoCloseable {
    private final KubernetesClient client;
    private final String prefix;
    private final int leaseSeconds;
    private final SharedInformers informers;
    private final Set<String> nodes = ConcurrentHashMap.newKeySet();
    private final Map<String, String> nodeIps = new ConcurrentHashMap<>();
    private final Set<String> inFlight = ConcurrentHashMap.newKeySet();
    private final Semaphore writes = new Semaphore(32);
    private final AtomicInteger podIps = new AtomicInteger();
    private volatile boolean closed;
    private final Thread leases;

    Running(KubernetesClient client, String prefix, int leaseSeconds, boolean podReady) {
      this.client = client;
      this.prefix = prefix;
      this.leaseSeconds = leaseSeconds;
      this.informers = new SharedInformers(client);
      Informer<Pod> pods = informers.informerFor(Pod.class);
      if (podReady) pods.addHandler(new EventHandler<Pod>() {
        @Override
        public void onAdd(Pod p) {
          handle(p);
        }

        @Override
        public void onUpdate(Pod o, Pod p) {
          handle(p);
        }

        @Override
        public void onDelete(Pod p, boolean unknown) {}
      });
      if (podReady) {
        informers.start();
      }
      leases = leaseSeconds > 0 ? Thread.ofVirtual().name("simulator-leases").start(this::renewLeases) : null;
    }

    /** Registers nodes {@code prefix+from .. prefix+(to-1)}; blocks until created. */
    public void addNodes(int from, int to) {
      List<Thread> ts = new ArrayList<>();
      AtomicInteger next = new AtomicInteger(from);
      for (int w = 0; w < Math.min(16, to - from); w++) {
        ts.add(Thread.ofVirtual().start(() -> {
          for (int i = next.getAndIncrement(); i < to && !closed; i = next.getAndIncrement()) {
            String name = prefix + String.format("%05d", i);
            Node node = node(name, i);
            nodeIps.put(name, nodeIp(i));
            nodes.add(name);
            try {
              Node created = client.nodes().resource(node).create();
              if (created.getStatus() == null || created.getStatus().getAllocatable() == null
                  || created.getStatus().getAllocatable().isEmpty()) {
                client.nodes().resource(node).updateStatus();
              }
            } catch (KubernetesClientException e) {
              if (e.getCode() != 409) {
                log.warn("registering {}: {}", name, e.getMessage());
              }
            }
            renewLease(name);
          }
        }));
      }
      for (Thread t : ts) {
        try {
          t.join();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }

    public int nodeCount() {
      return nodes.size();
    }

    private void renewLeases() {
      try {
        while (!closed) {
          Thread.sleep(Duration.ofSeconds(leaseSeconds));
          for (String n : nodes) {
            if (closed) {
              return;
            }
            renewLease(n);
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    private void renewLease(String node) {
      if (leaseSeconds <= 0) {
        return;
      }
      String now = Instant.now().toString();
      try {
        var res = client.leases().inNamespace("kube-node-lease").withName(node);
        Lease l = res.get();
        if (l == null) {
          client.leases().inNamespace("kube-node-lease").resource(new LeaseBuilder()
              .withNewMetadata().withName(node).withNamespace("kube-node-lease").endMetadata()
              .withNewSpec().withHolderIdentity(node).withLeaseDurationSeconds(40).withRenewTime(java.time.ZonedDateTime.now(ZoneOffset.UTC)).endSpec()
              .build()).create();
        } else {
          l.getSpec().setRenewTime(java.time.ZonedDateTime.now(ZoneOffset.UTC));
          client.leases().inNamespace("kube-node-lease").resource(l).update();
        }
      } catch (KubernetesClientException e) {
        log.debug("lease {} at {}: {}", node, now, e.getMessage());
      }
    }

    private void handle(Pod p) {
      String node = p.getSpec().getNodeName();
      if (node == null || !nodes.contains(node) || closed) {
        return;
      }
      String key = p.getMetadata().getNamespace() + "/" + p.getMetadata().getName();
      if (p.getMetadata().getDeletionTimestamp() != null) {
        // kwok pod-delete: nothing runs, so the pod is gone at once.
        submit(key + "#delete", () -> client.pods().inNamespace(p.getMetadata().getNamespace()).withName(p.getMetadata().getName())
            .withGracePeriod(0).delete());
        return;
      }
      String phase = p.getStatus() == null ? null : p.getStatus().getPhase();
      if ("Running".equals(phase) || "Succeeded".equals(phase) || "Failed".equals(phase)) {
        return;
      }
      submit(key + "#ready", () -> markRunning(p, nodeIps.get(node)));
    }

    private void submit(String key, Runnable r) {
      if (!inFlight.add(key)) {
        return;
      }
      Thread.ofVirtual().start(() -> {
        try {
          writes.acquire();
          try {
            r.run();
          } finally {
            writes.release();
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        } catch (KubernetesClientException e) {
          log.debug("simulator write {}: {}", key, e.getMessage());
        } finally {
          inFlight.remove(key);
        }
      });
    }

    /** kwok's pod-ready stage. */
    private void markRunning(Pod p, String hostIp) {
      String now = RFC3339.format(Instant.now());
      int ip = podIps.incrementAndGet();
      String podIp = "10.128.%d.%d".formatted(ip >> 8 & 255, ip & 255);
      List<PodCondition> conds = new ArrayList<>();
      for (String t : List.of("PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled")) {
        conds.add(new PodConditionBuilder().withType(t).withStatus("True").withLastTransitionTime(now).build());
      }
      List<ContainerStatus> cs = new ArrayList<>();
      p.getSpec().getContainers().forEach(c -> cs.add(new ContainerStatusBuilder()
          .withName(c.getName()).withImage(c.getImage()).withImageID("").withReady(true).withStarted(true).withRestartCount(0)
          .withNewState().withNewRunning().withStartedAt(now).endRunning().endState().build()));
      List<ContainerStatus> ics = new ArrayList<>();
      if (p.getSpec().getInitContainers() != null) {
        p.getSpec().getInitContainers().forEach(c -> ics.add(new ContainerStatusBuilder()
            .withName(c.getName()).withImage(c.getImage()).withImageID("").withReady(true).withRestartCount(0)
            .withNewState().withNewTerminated().withExitCode(0).withReason("Completed").withStartedAt(now).withFinishedAt(now)
            .endTerminated().endState().build()));
      }
      client.pods().inNamespace(p.getMetadata().getNamespace()).withName(p.getMetadata().getName()).editStatus(cur -> {
        cur.getStatus().setPhase("Running");
        cur.getStatus().setConditions(conds);
        cur.getStatus().setContainerStatuses(cs);
        cur.getStatus().setInitContainerStatuses(ics);
        cur.getStatus().setHostIP(hostIp);
        cur.getStatus().setPodIP(podIp);
        cur.getStatus().setHostIPs(List.of(new io.fabric8.kubernetes.api.model.HostIP(hostIp)));
        cur.getStatus().setPodIPs(List.of(new io.fabric8.kubernetes.api.model.PodIP(podIp)));
        cur.getStatus().setStartTime(now);
        return cur;
      });
    }

    @Override
    public void close() {
      closed = true;
      if (leases != null) {
        leases.interrupt();
      }
      informers.close();
    }
  }
}
