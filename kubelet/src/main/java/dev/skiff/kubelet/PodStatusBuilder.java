package dev.skiff.kubelet;

import dev.skiff.kubelet.cri.ContainerStatus;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerStateBuilder;
import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.ContainerStateTerminatedBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodIP;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.api.model.HostIP;
import java.time.Clock;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Pure computation of a pod's status from the spec and what the runtime reports
 * (pkg/kubelet/kubelet_pods.go generateAPIPodStatus, getPhase, convertToAPIContainerStatuses;
 * pkg/kubelet/status/generate.go for the conditions). Stateless.
 *
 * <p>The rule from seed 000's stuck Job: a container whose latest instance exited and will not
 * be restarted (Never, or OnFailure with exit 0) is reported Terminated, never Running, and the
 * phase follows at once.
 */
final class PodStatusBuilder {
  private PodStatusBuilder() {}

  record Result(PodStatus status, boolean terminal) {}

  /** Probe results by container id (ProbeManager); without probes every running container is ready. */
  interface Probes {
    Probes NONE = new Probes() {
      @Override
      public boolean ready(String containerId) {
        return true;
      }

      @Override
      public boolean started(String containerId) {
        return true;
      }
    };

    boolean ready(String containerId);

    boolean started(String containerId);
  }

  static Result build(Pod pod, Map<String, List<ContainerStatus>> byName, Map<String, String[]> waiting,
      boolean deleting, String nodeIp, Clock clock) {
    return build(pod, byName, waiting, deleting, false, nodeIp, nodeIp, clock);
  }

  /** {@code stopping}: the pod's containers were stopped for good (nothing restarts any more). */
  static Result build(Pod pod, Map<String, List<ContainerStatus>> byName, Map<String, String[]> waiting,
      boolean deleting, boolean stopping, String nodeIp, String podIp, Clock clock) {
    return build(pod, byName, waiting, deleting, stopping, nodeIp, podIp, clock, Probes.NONE);
  }

  /** As above, with container readiness and started from the probes. */
  static Result build(Pod pod, Map<String, List<ContainerStatus>> byName, Map<String, String[]> waiting,
      boolean deleting, boolean stopping, String nodeIp, String podIp, Clock clock, Probes probes) {
    String policy = PodSync.restartPolicy(pod);
    List<Container> inits = pod.getSpec().getInitContainers() == null ? List.of() : pod.getSpec().getInitContainers();
    boolean initDone = true;
    boolean initFailed = false;
    List<String> pendingInits = new ArrayList<>();
    for (Container ic : inits) {
      ContainerStatus latest = PodSync.last(byName.get(ic.getName()));
      if (PodSync.isSidecar(ic)) {
        if (latest == null || (latest.state() == ContainerStatus.State.RUNNING && !probes.started(latest.id()))) {
          initDone = false;
          pendingInits.add(ic.getName());
        }
        continue;
      }
      if (latest == null || latest.state() != ContainerStatus.State.EXITED || latest.exitCode() != 0) {
        initDone = false;
        pendingInits.add(ic.getName());
        if (latest != null && latest.state() == ContainerStatus.State.EXITED && (policy.equals("Never") || deleting)) {
          initFailed = true;
        }
      }
    }
    List<io.fabric8.kubernetes.api.model.ContainerStatus> initStatuses = new ArrayList<>();
    for (Container ic : inits) {
      ContainerStatus latest = PodSync.last(byName.get(ic.getName()));
      boolean restartable = !deleting && !stopping && latest != null && latest.state() == ContainerStatus.State.EXITED
          && (PodSync.isSidecar(ic) || (!policy.equals("Never") && latest.exitCode() != 0));
      var ics = container(ic, byName.get(ic.getName()), waiting.get(ic.getName()), restartable, "PodInitializing", false,
          probes);
      if (!PodSync.isSidecar(ic)) {
        ics.setReady(ics.getState().getTerminated() != null && ics.getState().getTerminated().getExitCode() == 0);
      }
      initStatuses.add(ics);
    }
    List<io.fabric8.kubernetes.api.model.ContainerStatus> statuses = new ArrayList<>();
    int running = 0;
    int waitingCount = 0;
    int stopped = 0;
    int succeeded = 0;
    List<String> unready = new ArrayList<>();
    for (Container c : pod.getSpec().getContainers()) {
      List<ContainerStatus> instances = byName.get(c.getName());
      ContainerStatus latest = PodSync.last(instances);
      boolean restartable = !deleting && !stopping && latest != null && latest.state() == ContainerStatus.State.EXITED
          && PodSync.shouldRestart(policy, latest.exitCode());
      var cs = container(c, instances, waiting.get(c.getName()), restartable, inits.isEmpty() || initDone
          ? "ContainerCreating" : "PodInitializing", true, probes);
      statuses.add(cs);
      // getPhase counts (kubelet_pods.go)
      if (cs.getState().getRunning() != null) {
        running++;
      } else if (cs.getState().getTerminated() != null) {
        stopped++;
        if (cs.getState().getTerminated().getExitCode() == 0) {
          succeeded++;
        }
      } else if (cs.getLastState() != null && cs.getLastState().getTerminated() != null) {
        stopped++;
      } else {
        waitingCount++;
      }
      if (!Boolean.TRUE.equals(cs.getReady())) {
        unready.add(c.getName());
      }
    }
    String phase;
    if (initFailed) {
      phase = "Failed";
    } else if (!initDone) {
      phase = "Pending";
    } else if (waitingCount > 0) {
      phase = "Pending";
    } else if (running > 0) {
      phase = "Running";
    } else if (stopped > 0) {
      if (deleting) {
        phase = stopped == succeeded ? "Succeeded" : "Failed";
      } else if (policy.equals("Always")) {
        phase = "Running";
      } else if (stopped == succeeded) {
        phase = "Succeeded";
      } else if (policy.equals("Never")) {
        phase = "Failed";
      } else {
        phase = "Running";
      }
    } else {
      phase = "Pending";
    }
    boolean terminal = phase.equals("Succeeded") || phase.equals("Failed");

    PodStatus old = pod.getStatus() == null ? new PodStatus() : pod.getStatus();
    String now = time(clock.instant());
    List<PodCondition> conditions = new ArrayList<>();
    conditions.add(condition(old, "PodReadyToStartContainers", !terminal, null, null, now));
    conditions.add(condition(old, "Initialized", initDone, initDone ? null : "ContainersNotInitialized",
        initDone ? null : "containers with incomplete status: " + pendingInits, now));
    for (int i = 0; i < inits.size(); i++) {
      // A sidecar's readiness counts towards the pod's (sidecar-containers.md).
      if (PodSync.isSidecar(inits.get(i)) && !Boolean.TRUE.equals(initStatuses.get(i).getReady())) {
        unready.add(inits.get(i).getName());
      }
    }
    boolean ready = unready.isEmpty() && !terminal;
    String notReadyReason = terminal ? "PodCompleted" : "ContainersNotReady";
    String notReadyMessage = terminal ? null : "containers with unready status: " + unready;
    conditions.add(condition(old, "ContainersReady", ready, ready ? null : notReadyReason, ready ? null : notReadyMessage, now));
    conditions.add(condition(old, "Ready", ready, ready ? null : notReadyReason, ready ? null : notReadyMessage, now));
    conditions.add(condition(old, "PodScheduled", true, null, null, now));

    PodStatus s = new PodStatus();
    s.setPhase(phase);
    s.setConditions(conditions);
    s.setHostIP(nodeIp);
    s.setHostIPs(List.of(new HostIP(nodeIp)));
    s.setPodIP(podIp);
    s.setPodIPs(List.of(new PodIP(podIp)));
    s.setStartTime(old.getStartTime() != null ? old.getStartTime() : now);
    s.setQosClass(old.getQosClass());
    s.setContainerStatuses(statuses);
    if (!inits.isEmpty()) {
      s.setInitContainerStatuses(initStatuses);
    }
    return new Result(s, terminal);
  }

  private static io.fabric8.kubernetes.api.model.ContainerStatus container(Container c, List<ContainerStatus> instances,
      String[] waiting, boolean restartable, String defaultWaiting, boolean regular, Probes probes) {
    var cs = new io.fabric8.kubernetes.api.model.ContainerStatus();
    cs.setName(c.getName());
    cs.setImage(c.getImage());
    cs.setImageID("");
    ContainerStatus latest = PodSync.last(instances);
    ContainerStatus previous = instances != null && instances.size() >= 2 ? instances.get(instances.size() - 2) : null;
    cs.setRestartCount(latest == null ? 0 : latest.attempt());
    cs.setReady(false);
    cs.setStarted(false);
    cs.setLastState(new ContainerStateBuilder().build());
    if (latest == null) {
      String[] w = waiting != null ? waiting : new String[] {defaultWaiting, null};
      cs.setState(new ContainerStateBuilder().withNewWaiting().withReason(w[0]).withMessage(w[1]).endWaiting().build());
      return cs;
    }
    cs.setContainerID("skiff-process://" + latest.id());
    if (latest.state() == ContainerStatus.State.RUNNING || latest.state() == ContainerStatus.State.CREATED) {
      cs.setState(new ContainerStateBuilder().withNewRunning()
          .withStartedAt(latest.startedAt() == null ? null : time(latest.startedAt())).endRunning().build());
      // Without probes a running container is ready (readiness defaults to Success).
      boolean started = probes.started(latest.id());
      cs.setReady(latest.state() == ContainerStatus.State.RUNNING && started && probes.ready(latest.id()));
      cs.setStarted(started);
      if (previous != null) {
        cs.setLastState(new ContainerStateBuilder().withTerminated(terminated(previous)).build());
      }
      return cs;
    }
    if (restartable && waiting != null) {
      String[] w = waiting;
      cs.setState(new ContainerStateBuilder().withNewWaiting().withReason(w[0]).withMessage(w[1]).endWaiting().build());
      cs.setLastState(new ContainerStateBuilder().withTerminated(terminated(latest)).build());
      return cs;
    }
    // Also a restartable container that exited after this sync decided (its exit event brings
    // the next sync, which restarts it or reports the back-off): terminated until then.
    cs.setState(new ContainerStateBuilder().withTerminated(terminated(latest)).build());
    if (previous != null) {
      cs.setLastState(new ContainerStateBuilder().withTerminated(terminated(previous)).build());
    }
    return cs;
  }

  private static ContainerStateTerminated terminated(ContainerStatus s) {
    return new ContainerStateTerminatedBuilder().withExitCode(s.exitCode()).withReason(s.reason())
        .withStartedAt(s.startedAt() == null ? null : time(s.startedAt()))
        .withFinishedAt(s.finishedAt() == null ? null : time(s.finishedAt()))
        .withContainerID("skiff-process://" + s.id()).build();
  }

  private static PodCondition condition(PodStatus old, String type, boolean status, String reason, String message,
      String now) {
    String st = status ? "True" : "False";
    String since = now;
    if (old.getConditions() != null) {
      for (PodCondition c : old.getConditions()) {
        if (type.equals(c.getType()) && st.equals(c.getStatus()) && c.getLastTransitionTime() != null) {
          since = c.getLastTransitionTime();
        }
      }
    }
    PodCondition c = new PodCondition();
    c.setType(type);
    c.setStatus(st);
    c.setReason(reason);
    c.setMessage(message);
    c.setLastTransitionTime(since);
    c.setLastProbeTime(null);
    return c;
  }

  /** metav1.Time: RFC 3339 with second precision. */
  static String time(Instant t) {
    return t.truncatedTo(ChronoUnit.SECONDS).toString();
  }
}
