package dev.skiff.kubelet;

import dev.skiff.kubelet.cri.ContainerStatus;
import dev.skiff.kubelet.cri.ProcessRuntime;
import dev.skiff.kubelet.sandbox.NamespaceLauncher;
import dev.skiff.kubelet.sandbox.PodNetwork;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import dev.skiff.kubelet.prober.LifecycleHooks;
import dev.skiff.kubelet.prober.ProbeManager;
import dev.skiff.kubelet.prober.Prober;
import dev.skiff.kubelet.streaming.StreamingServer;
import dev.skiff.runtime.Component;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.ComponentContext;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node agent (kubelet) as a {@link Component} named "kubelet": registers the Node, renews
 * its Lease, watches only the pods bound to this node (fieldSelector spec.nodeName) and runs
 * them with the {@link ProcessRuntime}, writing their status; serves their logs.
 *
 * <p>Its heart is the sync loop (pkg/kubelet/kubelet.go syncLoopIteration): one thread
 * multiplexing pod updates from the API (ADD/UPDATE/DELETE), lifecycle events (a container's
 * process exited: delivered at once by the runtime, plus a 1 s relist as a safety net), a
 * periodic resync of every pod and housekeeping (removing sandboxes of pods that no longer
 * exist), all handed to {@link PodWorkers}: one virtual thread per pod.
 *
 * <p>Options ({@code --set kubelet.KEY=VALUE}): {@code port} for the log server (default 0:
 * any free loopback port; the Node's daemonEndpoints tells the API server which) and
 * {@code streaming-port} for the exec/attach/port-forward server (default 0; the log server
 * redirects to it). Probes run in a {@link ProbeManager}.
 * Stopping the agent never stops containers: a new agent over the same data directory
 * re-adopts them.
 */
public final class NodeAgent implements Component {
  private static final Logger log = LoggerFactory.getLogger(NodeAgent.class);
  static final Duration RELIST_PERIOD = Duration.ofSeconds(1);
  static final Duration SYNC_PERIOD = Duration.ofSeconds(60);
  static final Duration HOUSEKEEPING_PERIOD = Duration.ofSeconds(2);
  static final Duration NODE_STATUS_PERIOD = Duration.ofSeconds(10);
  /** Node annotation: {@code bridge} (pods have their own network namespace and IP) or {@code host}. */
  public static final String POD_NETWORK_ANNOTATION = "skiff.dev/pod-network";
  /** Node annotation: the pod subnet of the bridge, when there is one. */
  public static final String POD_SUBNET_ANNOTATION = "skiff.dev/pod-subnet";
  /** {@code https} when the log/streaming servers use mutual TLS on the node's address (apiserver KubeletClient). */
  public static final String KUBELET_SERVING_ANNOTATION = "skiff.dev/kubelet-serving";
  /**
   * The pod sandbox pool ({@code kubelet.sandbox-pool}) that {@code skiff server} and
   * {@code skiff agent} give their agent; an agent built without the option keeps none. A burst
   * of pods skips the sandbox set-up: 0 -> 100 process pods Ready in 2.37 s with 16 against 3.06 s
   * with none (docs/benchmarks.md, real-pods). Each costs ~640 KB of kernel memory, only as root.
   */
  public static final int SERVER_SANDBOX_POOL = 16;

  @Override
  public String name() {
    return "kubelet";
  }

  @Override
  public Running start(ComponentContext context) throws Exception {
    return new Running(context);
  }

  private sealed interface Event permits PodChanged, PodGone, Lifecycle, SyncAll, Housekeeping {}

  private record PodChanged(Pod pod) implements Event {}

  private record PodGone(Pod pod) implements Event {}

  private record Lifecycle(String uid) implements Event {}

  private record SyncAll() implements Event {}

  private record Housekeeping() implements Event {}

  /** A started agent; {@link #close()} stops it (containers keep running). */
  public static final class Running implements AutoCloseable {
    private final KubernetesClient client;
    private final String nodeName;
    private final ProcessRuntime runtime;
    /** Inodes made ahead of a burst of pod starts (with a sandbox pool only), else null. */
    private final dev.skiff.kubelet.sandbox.SpareInodes spares;
    private final LogServer logServer;
    private final StreamingServer streaming;
    private final NodeStatusReporter node;
    private final PodWorkers workers;
    private final SharedIndexInformer<Pod> informer;
    private final ScheduledExecutorService timers;
    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private final Thread loop;
    private final StatusManager statuses;
    private final ServiceEnv serviceEnv;
    private final EventRecorder recorder;
    private final ProbeManager probes;
    private volatile boolean stopped;
    private Map<String, ContainerStatus.State> lastRelist = new HashMap<>();

    Running(ComponentContext ctx) throws Exception {
      this.client = ctx.client();
      this.nodeName = ctx.nodeName();
      Path root = ctx.dataDir().resolve("kubelet");
      String configuredIp = option(ctx, "node-ip", null);
      String nodeIp = configuredIp != null ? configuredIp : NodeStatusReporter.hostIp();
      int port = Integer.parseInt(option(ctx, "port", "0"));
      Clock clock = Clock.systemUTC();
      timers = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "kubelet-timers");
        t.setDaemon(true);
        return t;
      });
      PodNetwork network = podNetwork(ctx, root);
      NamespaceLauncher.Mode mountMode = NamespaceLauncher.detect();
      runtime = new ProcessRuntime(root, network, mountMode);
      int pool = Integer.parseInt(option(ctx, "sandbox-pool", "0"));
      spares = pool <= 0 ? null : dev.skiff.kubelet.sandbox.SpareInodes.open(root.resolve("spare"), root,
          pool * dev.skiff.kubelet.sandbox.SpareInodes.DIRS_PER_POD, pool * dev.skiff.kubelet.sandbox.SpareInodes.FILES_PER_POD);
      runtime.setLogRotation(dev.skiff.kubelet.cri.LogRotation.parse(option(ctx, "container-log-max-size", null),
          option(ctx, "container-log-max-files", null)));
      informer = client.pods().inAnyNamespace().withField("spec.nodeName", nodeName).runnableInformer(0);
      ServingTls tls = servingTls(ctx);
      // With serving credentials: mutual TLS on the node's address only; else plain HTTP on loopback.
      String bind = tls != null ? nodeIp : "127.0.0.1";
      streaming = new StreamingServer(bind, Integer.parseInt(option(ctx, "streaming-port", "0")),
          tls == null ? null : tls.context(),
          (ns, name, container) -> StreamTargets.resolve(informer.getIndexer().getByKey(ns + "/" + name), name, container,
              runtime, nodeIp), runtime::pid);
      logServer = new LogServer(bind, port, tls == null ? null : tls.context(), runtime,
          (ns, name) -> informer.getIndexer().getByKey(ns + "/" + name));
      logServer.redirectStreaming(streaming.port());
      node = new NodeStatusReporter(client, nodeName, nodeIp, logServer.port(), runtime.version(), root.getParent(), clock);
      node.register();
      // Says how pods are networked here (CONTRACTS.md: bridge as root, else the host's network).
      client.nodes().withName(nodeName).patch(PatchContext.of(PatchType.JSON_MERGE),
          "{\"metadata\":{\"annotations\":{\"" + POD_NETWORK_ANNOTATION + "\":\""
          + (network != null ? "bridge" : "host") + "\",\"" + POD_SUBNET_ANNOTATION + "\":"
          + (network != null ? "\"" + network.subnet() + "\"" : "null") + ",\"" + KUBELET_SERVING_ANNOTATION + "\":"
          + (tls != null ? "\"https\"" : "null") + "}}}");
      statuses = new StatusManager(client);
      serviceEnv = new ServiceEnv(client);
      ContainerEnv env = new ContainerEnv(client, NodeStatusReporter.capacity(root.getParent()), nodeIp, serviceEnv);
      ContainerMounts mounts = new ContainerMounts(
          new VolumeManager(client, root.resolve("pods"), env, mountMode == NamespaceLauncher.Mode.ROOT, clock),
          new PodDns(option(ctx, "cluster-dns", "10.43.0.10"), option(ctx, "cluster-domain", "cluster.local"),
              Path.of("/etc/resolv.conf"), Path.of("/etc/hosts")),
          mountMode, root.resolve("pods"));
      recorder = new EventRecorder(client, "kubelet", nodeName, dev.skiff.runtime.Clock.system());
      probes = new ProbeManager(new Prober(), runtime::pid, new ProbeManager.Listener() {
        @Override
        public void resultChanged(String podUid) {
          events.add(new Lifecycle(podUid)); // the pod's status is rewritten at once
        }

        @Override
        public void probeFailed(Pod pod, io.fabric8.kubernetes.api.model.Container c, ProbeManager.Kind kind, String msg) {
          recorder.event(pod, EventRecorder.WARNING, "Unhealthy", "%s", msg);
        }
      });
      LifecycleHooks hooks = new LifecycleHooks(new Prober(), runtime::pid);
      PodSync sync = new PodSync(runtime, client, env, statuses, clock, mounts, probes, hooks, recorder);
      sync.parallelStarts(Integer.parseInt(option(ctx, "parallel-container-starts",
          String.valueOf(PodSync.defaultParallelStarts()))));
      workers = new PodWorkers(sync, timers);
      runtime.onContainerExit(id -> {
        ContainerStatus s = runtime.containerStatus(id);
        if (s != null) {
          events.add(new Lifecycle(s.sandboxId()));
        }
      });
      informer.addEventHandler(new ResourceEventHandler<>() {
        @Override
        public void onAdd(Pod pod) {
          StartupTrace.mark(pod.getMetadata().getNamespace(), pod.getMetadata().getName(), "informer");
          events.add(new PodChanged(pod));
        }

        @Override
        public void onUpdate(Pod old, Pod pod) {
          events.add(new PodChanged(pod));
        }

        @Override
        public void onDelete(Pod pod, boolean unknownFinalState) {
          events.add(new PodGone(pod));
        }
      });
      loop = Thread.ofPlatform().name("kubelet-sync-loop").daemon().start(this::syncLoop);
      informer.start();
      every(NodeStatusReporter.LEASE_RENEW, node::renewLease);
      every(NODE_STATUS_PERIOD, () -> node.postStatus(false));
      every(RELIST_PERIOD, this::relist);
      every(SYNC_PERIOD, () -> events.add(new SyncAll()));
      every(HOUSEKEEPING_PERIOD, () -> events.add(new Housekeeping()));
      log.info("node agent {} started (ip {}, log server {}://{}:{}, runtime {})", nodeName, nodeIp,
          tls != null ? "https" : "http", bind, logServer.port(), runtime.version());
    }

    /**
     * Serving credentials from {@code kubelet.tls-cert-file}, {@code kubelet.tls-private-key-file}
     * and {@code kubelet.client-ca-file} (all three, or none: null).
     */
    private static ServingTls servingTls(ComponentContext ctx) throws Exception {
      String cert = option(ctx, "tls-cert-file", null);
      String key = option(ctx, "tls-private-key-file", null);
      String ca = option(ctx, "client-ca-file", null);
      if (cert == null && key == null && ca == null) {
        return null;
      }
      if (cert == null || key == null || ca == null) {
        throw new IllegalArgumentException("kubelet.tls-cert-file, kubelet.tls-private-key-file and "
            + "kubelet.client-ca-file go together");
      }
      return ServingTls.load(Path.of(cert), Path.of(key), Path.of(ca), List.of(ServingTls.API_SERVER_CLIENT));
    }

    /** The pod network ({@code --set kubelet.pod-network=host|auto}), or null for the host's network. */
    private static PodNetwork podNetwork(ComponentContext ctx, Path root) {
      if ("host".equals(option(ctx, "pod-network", "auto")) || !PodNetwork.supported()) {
        return null;
      }
      try {
        Node n = ctx.client().nodes().withName(ctx.nodeName()).get();
        String cidr = n == null || n.getSpec() == null ? null : n.getSpec().getPodCIDR();
        PodNetwork net = PodNetwork.open(root.resolve("network"), cidr);
        // Sandboxes built ahead of the pods that will take them (off the start's critical path).
        net.startPool(Integer.parseInt(option(ctx, "sandbox-pool", "0")));
        return net;
      } catch (Exception e) {
        log.warn("pod network unavailable, pods use the host's network: {}", e.toString());
        return null;
      }
    }

    /** {@code --set kubelet.KEY=V} (as the command line passes it) or a plain {@code KEY}. */
    private static String option(ComponentContext ctx, String key, String dflt) {
      String v = ctx.options().get("kubelet." + key);
      return v != null ? v : ctx.options().getOrDefault(key, dflt);
    }

    private void every(Duration period, Runnable r) {
      timers.scheduleWithFixedDelay(() -> {
        try {
          r.run();
        } catch (RuntimeException e) {
          log.warn("kubelet periodic task failed: {}", e.toString());
        }
      }, 0, period.toMillis(), TimeUnit.MILLISECONDS);
    }

    /** The loop: one event at a time, each handed to the pod workers (never blocks on a sync). */
    private void syncLoop() {
      while (!stopped) {
        Event e;
        try {
          e = events.take();
        } catch (InterruptedException ex) {
          return;
        }
        try {
          switch (e) {
            case PodChanged c -> workers.updatePod(c.pod(), false, false, null);
            case PodGone g -> workers.updatePod(g.pod(), true, true, null);
            case Lifecycle l -> workers.resync(l.uid());
            case SyncAll s -> workers.known().forEach(workers::resync);
            case Housekeeping h -> housekeeping();
          }
        } catch (RuntimeException ex) {
          log.warn("sync loop: {} failed: {}", e, ex.toString());
        }
      }
    }

    /** Generic PLEG relist: any container whose state changed since the last relist wakes its pod. */
    private void relist() {
      Map<String, ContainerStatus.State> now = new HashMap<>();
      Set<String> changed = new HashSet<>();
      for (ContainerStatus s : runtime.listContainers(null)) {
        now.put(s.id(), s.state());
        if (lastRelist.get(s.id()) != s.state()) {
          changed.add(s.sandboxId());
        }
      }
      lastRelist = now;
      changed.forEach(uid -> events.add(new Lifecycle(uid)));
    }

    /** Sandboxes whose pod is gone from the API (deleted while the agent was down) are killed and removed. */
    private void housekeeping() {
      if (!informer.hasSynced()) {
        return;
      }
      Set<String> live = new HashSet<>();
      informer.getIndexer().list().forEach(p -> live.add(p.getMetadata().getUid()));
      for (String uid : runtime.listPodSandboxes()) {
        if (!live.contains(uid) && !workers.known().contains(uid)) {
          Thread.ofVirtual().start(() -> {
            try {
              runtime.stopPodSandbox(uid, 2);
              runtime.removePodSandbox(uid);
            } catch (Exception ex) {
              log.warn("removing orphaned sandbox {} failed: {}", uid, ex.toString());
            }
          });
        }
      }
    }

    /** The port of the agent's log server on loopback. */
    public int port() {
      return logServer.port();
    }

    /** The runtime (for tests). */
    ProcessRuntime runtime() {
      return runtime;
    }

    StatusManager statuses() {
      return statuses;
    }

    @Override
    public void close() {
      stop(false);
    }

    /** Stops as a SIGKILL would: nothing is flushed, copiers stop mid-write. Containers keep running. */
    void abandon() {
      stop(true);
    }

    private void stop(boolean abrupt) {
      stopped = true;
      timers.shutdownNow();
      informer.close();
      serviceEnv.close();
      loop.interrupt();
      workers.stop();
      statuses.close();
      probes.close();
      recorder.close();
      logServer.close();
      streaming.close();
      if (abrupt) {
        runtime.abandon();
      } else {
        runtime.close();
      }
      if (spares != null) {
        spares.close();
      }
    }
  }
}
