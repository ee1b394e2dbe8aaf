package dev.skiff.kubelet;

import dev.skiff.kubelet.cri.ContainerConfig;
import dev.skiff.kubelet.cri.ContainerConfigException;
import dev.skiff.kubelet.cri.ContainerRuntime;
import dev.skiff.kubelet.cri.ContainerStatus;
import dev.skiff.kubelet.cri.Mount;
import dev.skiff.kubelet.cri.PodSandboxConfig;
import dev.skiff.kubelet.prober.LifecycleHooks;
import dev.skiff.kubelet.prober.ProbeManager;
import dev.skiff.runtime.EventRecorder;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pod syncer behind {@link PodWorkers} (pkg/kubelet/kubelet.go SyncPod and
 * kuberuntime_manager.go computePodActions, reduced to the process runtime): make the
 * containers match the spec and the restart policy, then write the status.
 *
 * <p>One sync at a time per pod (the worker guarantees it); syncs of different pods run
 * concurrently, so everything shared here is thread-safe.
 */
final class PodSync implements PodWorkers.PodSyncer {
  private static final Logger log = LoggerFactory.getLogger(PodSync.class);
  private static final Duration CONFIG_ERROR_RETRY = Duration.ofSeconds(10);

  private final ContainerRuntime runtime;
  private final KubernetesClient client;
  private final ContainerEnv env;
  private final StatusManager statuses;
  private final CrashLoopBackOff backoff = new CrashLoopBackOff();
  private final Clock clock;
  private final ContainerMounts mounts;
  /** Containers whose last start failed: uid/name -> {reason, message}. */
  private final Map<String, String[]> startErrors = new ConcurrentHashMap<>();
  private final ProbeManager probes;
  private final LifecycleHooks hooks;
  private final EventRecorder events;
  /**
   * Container starts under way at once (fair: in the order the workers asked). A start is CPU
   * work (environment, mounts, state files, the spawn chain and its namespace setup); on a node
   * with a few cores, 100 pods starting at once only share the CPU until all of them are late
   * (pod-startup benchmark: every pod Running near the end of the burst). Bounded, a burst is
   * served roughly in arrival order, as the kubelet bounds parallel image pulls
   * ({@code maxParallelImagePulls}). postStart hooks run outside it.
   */
  private volatile Semaphore starts = new Semaphore(defaultParallelStarts(), true);

  PodSync(ContainerRuntime runtime, KubernetesClient client, ContainerEnv env, StatusManager statuses, Clock clock) {
    this(runtime, client, env, statuses, clock, null, null, null, null);
  }

  /**
   * {@code mounts} (volumes and DNS files; null: containers get no mounts), {@code probes} and
   * {@code events} may be null (no probes: running containers are ready).
   */
  PodSync(ContainerRuntime runtime, KubernetesClient client, ContainerEnv env, StatusManager statuses, Clock clock,
      ContainerMounts mounts, ProbeManager probes, LifecycleHooks hooks, EventRecorder events) {
    this.mounts = mounts;
    this.runtime = runtime;
    this.client = client;
    this.env = env;
    this.statuses = statuses;
    this.clock = clock;
    this.probes = probes;
    this.hooks = hooks;
    this.events = events;
  }

  @Override
  public PodWorkers.SyncResult syncPod(Pod pod) throws Exception {
    String uid = pod.getMetadata().getUid();
    String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
    if (("Succeeded".equals(phase) || "Failed".equals(phase)) && !anyRunning(uid)) {
      // A terminal pod never runs again (kubelet: podIsTerminated), whatever the runtime lost.
      return new PodWorkers.SyncResult(true, null);
    }
    StartupTrace.mark(pod.getMetadata().getNamespace(), pod.getMetadata().getName(), "sync");
    runtime.runPodSandbox(new PodSandboxConfig(uid, pod.getMetadata().getNamespace(), pod.getMetadata().getName(),
        Boolean.TRUE.equals(pod.getSpec().getHostNetwork()), PodDns.hostname(pod)));
    StartupTrace.mark(pod.getMetadata().getNamespace(), pod.getMetadata().getName(), "sandbox");
    String policy = restartPolicy(pod);
    Map<String, String[]> waiting = new HashMap<>();
    Duration requeue = null;
    Map<String, List<ContainerStatus>> byName = byName(uid);
    if (killUnhealthy(pod, policy, byName)) {
      byName = byName(uid);
    }

    boolean initDone = true;
    for (Container ic : list(pod.getSpec().getInitContainers())) {
      ContainerStatus latest = last(byName.get(ic.getName()));
      if (isSidecar(ic)) {
        // A sidecar (sidecar-containers.md): once its process runs, the next init container
        // starts; it keeps running beside the app and restarts whatever the pod's policy.
        if (latest == null) {
          requeue = min(requeue, start(pod, ic, 0, waiting));
        } else if (latest.state() == ContainerStatus.State.EXITED) {
          requeue = min(requeue, restart(pod, ic, latest, waiting));
        }
        ContainerStatus now = last(byName(uid).get(ic.getName()));
        if (now == null) {
          initDone = false; // could not start: the next init container waits
          break;
        }
        if (probes != null && now.state() == ContainerStatus.State.RUNNING && !probes.started(now.id(), ic)) {
          initDone = false; // started means its startupProbe succeeded (sidecar-containers.md)
          break;
        }
        continue;
      }
      if (latest != null && latest.state() == ContainerStatus.State.EXITED && latest.exitCode() == 0) {
        continue;
      }
      initDone = false;
      if (latest == null) {
        requeue = min(requeue, start(pod, ic, 0, waiting));
      } else if (latest.state() == ContainerStatus.State.EXITED && !policy.equals("Never")) {
        requeue = min(requeue, restart(pod, ic, latest, waiting));
      }
      break; // init containers run one at a time, in order
    }
    if (initDone) {
      for (Container c : pod.getSpec().getContainers()) {
        ContainerStatus latest = last(byName.get(c.getName()));
        if (latest == null) {
          requeue = min(requeue, start(pod, c, 0, waiting));
        } else if (latest.state() == ContainerStatus.State.EXITED && shouldRestart(policy, latest.exitCode())) {
          requeue = min(requeue, restart(pod, c, latest, waiting));
        }
      }
    }
    if (mounts != null && requeue == null && waiting.isEmpty()) {
      mounts.refresh(pod); // configMap/secret/token content follows its sources while the pod runs
    }
    PodStatusBuilder.Result result;
    String podIp = podIp(uid);
    if (probes == null) {
      result = PodStatusBuilder.build(pod, byName(uid), waiting, false, false, env.nodeIp(), podIp, clock);
    } else {
      Map<String, List<ContainerStatus>> now = byName(uid);
      PodStatusBuilder.Probes view = probeView();
      result = PodStatusBuilder.build(pod, now, waiting, false, false, env.nodeIp(), podIp, clock, view);
      // Workers for new instances start now; their initial results (readiness false) go into
      // this very status, so build it again (cheap: a pure function).
      probes.sync(pod, result.status().getPodIP(), running(pod, now));
      result = PodStatusBuilder.build(pod, now, waiting, false, false, env.nodeIp(), podIp, clock, view);
    }
    statuses.update(pod, result.status());
    return new PodWorkers.SyncResult(result.terminal(), requeue);
  }

  private PodStatusBuilder.Probes probeView() {
    return new PodStatusBuilder.Probes() {
      @Override
      public boolean ready(String containerId) {
        return probes.ready(containerId);
      }

      @Override
      public boolean started(String containerId) {
        return probes.started(containerId);
      }
    };
  }

  /** Containers that may have probes: regular containers and sidecars. */
  private static List<Container> probed(Pod pod) {
    List<Container> out = new ArrayList<>(pod.getSpec().getContainers());
    list(pod.getSpec().getInitContainers()).stream().filter(PodSync::isSidecar).forEach(out::add);
    return out;
  }

  private static List<ProbeManager.Running> running(Pod pod, Map<String, List<ContainerStatus>> byName) {
    List<ProbeManager.Running> out = new ArrayList<>();
    for (Container c : probed(pod)) {
      ContainerStatus latest = last(byName.get(c.getName()));
      if (latest != null && latest.state() == ContainerStatus.State.RUNNING) {
        out.add(new ProbeManager.Running(latest.id(), c, latest.startedAt()));
      }
    }
    return out;
  }

  /**
   * Kills the running containers whose liveness or startup probe failed
   * (kuberuntime_manager.go computePodActions): the restart that follows is the ordinary one,
   * so it counts in restartCount, honours restartPolicy and CrashLoopBackOff.
   */
  private boolean killUnhealthy(Pod pod, String policy, Map<String, List<ContainerStatus>> byName) {
    if (probes == null) {
      return false;
    }
    boolean killed = false;
    for (Container c : probed(pod)) {
      ContainerStatus latest = last(byName.get(c.getName()));
      if (latest == null || latest.state() != ContainerStatus.State.RUNNING || probes.livenessFailure(latest.id()) == null) {
        continue;
      }
      ProbeManager.Kind kind = probes.failedKind(latest.id());
      io.fabric8.kubernetes.api.model.Probe probe = kind == ProbeManager.Kind.STARTUP ? c.getStartupProbe() : c.getLivenessProbe();
      String message = "Container " + c.getName() + " failed " + (kind == ProbeManager.Kind.STARTUP ? "startup" : "liveness")
          + " probe";
      if (isSidecar(c) || !policy.equals("Never")) {
        message += ", will be restarted";
      }
      if (events != null) {
        events.event(pod, EventRecorder.NORMAL, "Killing", message);
      }
      // The probe's own terminationGracePeriodSeconds wins over the pod's (ProbeTerminationGracePeriod).
      long grace = probe != null && probe.getTerminationGracePeriodSeconds() != null ? probe.getTerminationGracePeriodSeconds()
          : pod.getSpec().getTerminationGracePeriodSeconds() != null ? pod.getSpec().getTerminationGracePeriodSeconds() : 30;
      probes.remove(latest.id());
      runtime.stopContainer(latest.id(), grace);
      killed = true;
    }
    return killed;
  }

  private Duration restart(Pod pod, Container c, ContainerStatus latest, Map<String, String[]> waiting) throws Exception {
    String key = pod.getMetadata().getUid() + "/" + c.getName();
    Duration left = backoff.check(key, latest.startedAt(), latest.finishedAt(), clock.instant());
    if (left != null) {
      waiting.put(c.getName(), new String[] {"CrashLoopBackOff", "back-off " + backoff.current(key).toSeconds()
          + "s restarting failed container=" + c.getName() + " pod=" + pod.getMetadata().getName() + "_"
          + pod.getMetadata().getNamespace() + "(" + pod.getMetadata().getUid() + ")"});
      return left;
    }
    return start(pod, c, latest.attempt() + 1, waiting);
  }

  /**
   * Four per core: a start also waits (for its spawn and for the namespace setup of its process
   * chain, whose CPU is not the agent's). pod-startup on 2 cores: with 4, the CPU idled (the burst
   * took 1.2 s against 0.9 s unbounded); with 8, p50 fell from ~750 to ~515 ms, p99 unchanged.
   */
  static int defaultParallelStarts() {
    return Math.max(4, 4 * Runtime.getRuntime().availableProcessors());
  }

  /** How many container starts may be under way at once ({@code kubelet.parallel-container-starts}). */
  void parallelStarts(int n) {
    starts = new Semaphore(Math.max(1, n), true);
  }

  /** Creates and starts one container instance; a start error becomes the container's waiting reason. */
  private Duration start(Pod pod, Container c, int attempt, Map<String, String[]> waiting) throws Exception {
    String uid = pod.getMetadata().getUid();
    String key = uid + "/" + c.getName();
    Semaphore permits = starts;
    permits.acquire();
    boolean held = true;
    try {
      String podIp = runtime.podSandboxIp(uid);
      Map<String, String> environment = env.environment(pod, c, podIp);
      List<Mount> containerMounts = mounts == null ? List.of()
          : mounts.mounts(pod, c, environment, podIp != null ? podIp : env.nodeIp());
      ContainerConfig cfg = new ContainerConfig(c.getName(), attempt, c.getImage(), ContainerEnv.argv(c, environment),
          environment, c.getWorkingDir(), containerMounts, resources(c), Boolean.TRUE.equals(c.getStdin()),
          Boolean.TRUE.equals(c.getStdinOnce()), Boolean.TRUE.equals(c.getTty()));
      StartupTrace.mark(pod.getMetadata().getNamespace(), pod.getMetadata().getName(), "config");
      String id = runtime.createContainer(uid, cfg);
      StartupTrace.mark(pod.getMetadata().getNamespace(), pod.getMetadata().getName(), "created");
      runtime.startContainer(id);
      StartupTrace.mark(pod.getMetadata().getNamespace(), pod.getMetadata().getName(), "started");
      permits.release();
      held = false;
      startErrors.remove(key);
      postStart(pod, c, id, podIp);
      // Dead-container cleanup keeps the last terminated instance (MaxPerPodContainerCount 1).
      for (ContainerStatus old : runtime.listContainers(uid)) {
        if (old.name().equals(c.getName()) && old.attempt() < attempt - 1
            && old.state() == ContainerStatus.State.EXITED) {
          runtime.removeContainer(old.id());
        }
      }
      return null;
    } catch (ContainerConfigException e) {
      String[] err = {e.reason(), e.getMessage()};
      startErrors.put(key, err);
      waiting.put(c.getName(), err);
      return CONFIG_ERROR_RETRY;
    } finally {
      if (held) {
        permits.release();
      }
    }
  }

  /**
   * postStart (handlers.go): runs right after the container starts; a failure is a
   * FailedPostStartHook event and the container is killed, to be restarted per restartPolicy.
   */
  private void postStart(Pod pod, Container c, String id, String podIp) {
    if (hooks == null || c.getLifecycle() == null || c.getLifecycle().getPostStart() == null) {
      return;
    }
    // The hook runs in the container's namespaces: wait until they exist (the runtime reports
    // the container running once its mounts are in place).
    long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    ContainerStatus st = runtime.containerStatus(id);
    while (st != null && st.state() == ContainerStatus.State.CREATED && System.nanoTime() < deadline) {
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
      st = runtime.containerStatus(id);
    }
    if (st == null || st.state() != ContainerStatus.State.RUNNING) {
      return; // exited already: nothing to hook into
    }
    String failure = hooks.run(c.getLifecycle().getPostStart(), c, id, podIp != null ? podIp : env.nodeIp(),
        Duration.ofSeconds(30));
    if (failure != null) {
      if (events != null) {
        events.event(pod, EventRecorder.WARNING, "FailedPostStartHook", "PostStartHook failed: %s", failure);
      }
      runtime.stopContainer(id, 0);
    }
  }

  /**
   * preStop hooks of the running containers, in parallel, within the grace period
   * (kuberuntime_container.go killContainer: the hook's time comes out of the grace period,
   * and at least 2 s remain for SIGTERM). Returns the grace left for stopping.
   */
  private long preStop(Pod pod, long grace) throws InterruptedException {
    if (hooks == null || grace <= 0) {
      return grace;
    }
    String uid = pod.getMetadata().getUid();
    List<Thread> running = new java.util.ArrayList<>();
    long t0 = System.nanoTime();
    List<Container> all = new java.util.ArrayList<>(pod.getSpec().getContainers());
    if (pod.getSpec().getInitContainers() != null) {
      all.addAll(pod.getSpec().getInitContainers());
    }
    for (Container c : all) {
      if (c.getLifecycle() == null || c.getLifecycle().getPreStop() == null) {
        continue;
      }
      ContainerStatus latest = last(byName(uid).get(c.getName()));
      if (latest == null || latest.state() != ContainerStatus.State.RUNNING) {
        continue;
      }
      running.add(Thread.ofVirtual().name("prestop-" + c.getName()).start(() -> {
        String failure = hooks.run(c.getLifecycle().getPreStop(), c, latest.id(), podIp(uid), Duration.ofSeconds(grace));
        if (failure != null && events != null) {
          events.event(pod, EventRecorder.WARNING, "FailedPreStopHook", "PreStopHook failed: %s", failure);
        }
      }));
    }
    long deadline = t0 + Duration.ofSeconds(grace).toNanos();
    for (Thread t : running) {
      long left = deadline - System.nanoTime();
      if (left > 0) {
        t.join(Duration.ofNanos(left));
      }
    }
    if (running.isEmpty()) {
      return grace;
    }
    long spent = Duration.ofNanos(System.nanoTime() - t0).toSeconds();
    return Math.max(2, grace - spent);
  }

  @Override
  public void syncTerminatingPod(Pod pod, Long gracePeriodOverride) throws Exception {
    String uid = pod.getMetadata().getUid();
    long grace = gracePeriodOverride != null ? gracePeriodOverride
        : pod.getMetadata().getDeletionGracePeriodSeconds() != null ? pod.getMetadata().getDeletionGracePeriodSeconds()
        : pod.getSpec().getTerminationGracePeriodSeconds() != null ? pod.getSpec().getTerminationGracePeriodSeconds()
        : 30;
    if (probes != null) {
      probes.removePod(uid); // a terminating pod is no longer probed
    }
    grace = preStop(pod, grace);
    // Regular containers first, then init containers (sidecars) - pod-lifecycle.md
    runtime.stopPodSandbox(uid, grace);
    if (!runtime.listPodSandboxes().contains(uid)) {
      return;
    }
    PodStatusBuilder.Result result = PodStatusBuilder.build(pod, byName(uid), Map.of(),
        pod.getMetadata().getDeletionTimestamp() != null, true, env.nodeIp(), podIp(uid), clock);
    statuses.update(pod, result.status());
  }

  @Override
  public void syncTerminatedPod(Pod pod) throws Exception {
    if (pod.getMetadata().getDeletionTimestamp() == null) {
      return;
    }
    // Everything stopped: the kubelet removes the object (grace 0), as status_manager.go does,
    // once the final status is stored (canBeDeleted).
    statuses.flush(pod.getMetadata().getUid(), Duration.ofSeconds(10));
    try {
      client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName())
          .withGracePeriod(0).delete();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw e;
      }
    }
  }

  @Override
  public void forgetPod(String uid) throws Exception {
    runtime.stopPodSandbox(uid, 0);
    runtime.removePodSandbox(uid);
    backoff.forgetPrefix(uid + "/");
    if (mounts != null) {
      mounts.forget(uid);
    }
    startErrors.keySet().removeIf(k -> k.startsWith(uid + "/"));
    statuses.forget(uid);
    if (probes != null) {
      probes.removePod(uid);
    }
  }

  /** The pod's own IP, else (host network) the node's. */
  private String podIp(String uid) {
    String ip = runtime.podSandboxIp(uid);
    return ip != null ? ip : env.nodeIp();
  }

  /** Limits and the CPU request in bytes and millicores (enforced by the runtime where it can). */
  static ContainerConfig.Resources resources(Container c) {
    var r = c.getResources();
    if (r == null) {
      return ContainerConfig.Resources.NONE;
    }
    Map<String, io.fabric8.kubernetes.api.model.Quantity> limits = r.getLimits() == null ? Map.of() : r.getLimits();
    Map<String, io.fabric8.kubernetes.api.model.Quantity> requests = r.getRequests() == null ? Map.of() : r.getRequests();
    return new ContainerConfig.Resources(amount(limits.get("memory"), 1), amount(limits.get("cpu"), 1000),
        amount(requests.get("cpu"), 1000));
  }

  private static long amount(io.fabric8.kubernetes.api.model.Quantity q, long scale) {
    return q == null ? 0 : io.fabric8.kubernetes.api.model.Quantity.getAmountInBytes(q)
        .multiply(java.math.BigDecimal.valueOf(scale)).setScale(0, java.math.RoundingMode.CEILING).longValueExact();
  }

  private boolean anyRunning(String uid) {
    return runtime.listContainers(uid).stream().anyMatch(s -> s.state() == ContainerStatus.State.RUNNING);
  }

  private Map<String, List<ContainerStatus>> byName(String uid) {
    Map<String, List<ContainerStatus>> m = new HashMap<>();
    for (ContainerStatus s : runtime.listContainers(uid)) {
      m.computeIfAbsent(s.name(), k -> new ArrayList<>()).add(s); // sorted by attempt
    }
    return m;
  }

  /** An init container with restartPolicy Always (SidecarContainers, on by default since 1.29). */
  static boolean isSidecar(Container c) {
    return "Always".equals(c.getRestartPolicy());
  }

  static String restartPolicy(Pod pod) {
    String p = pod.getSpec().getRestartPolicy();
    return p == null || p.isEmpty() ? "Always" : p;
  }

  static boolean shouldRestart(String policy, int exitCode) {
    return policy.equals("Always") || (policy.equals("OnFailure") && exitCode != 0);
  }

  static <T> T last(List<T> l) {
    return l == null || l.isEmpty() ? null : l.get(l.size() - 1);
  }

  private static <T> List<T> list(List<T> l) {
    return l == null ? List.of() : l;
  }

  private static Duration min(Duration a, Duration b) {
    return a == null ? b : b == null ? a : a.compareTo(b) <= 0 ? a : b;
  }
}
