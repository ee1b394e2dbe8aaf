package dev.skiff.apiserver.table;

import static dev.skiff.apiserver.table.Obj.*;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Pods: {@code printPod} in kubernetes {@code pkg/printers/internalversion/printers.go}. The
 * Status column is the aggregate the kubelet-facing fields imply: pod reason, then the first
 * unfinished init container ({@code Init:0/1}, {@code Init:CrashLoopBackOff}, {@code Init:Error}),
 * then container waiting/terminated reasons, then {@code Terminating}/{@code Unknown} while being
 * deleted.
 */
final class PodPrinter implements TablePrinter {

  /** {@code node.NodeUnreachablePodReason} (pkg/util/node). */
  static final String NODE_UNREACHABLE_POD_REASON = "NodeLost";

  private static final List<ColumnDefinition> COLUMNS =
      List.of(
          ColumnDefinition.nameColumn(),
          ColumnDefinition.of(
              "Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
          ColumnDefinition.of(
              "Status", "string", "The aggregate status of the containers in this pod."),
          // A string since the "N (5m ago)" form appeared (kubernetes#100142); plain counts are
          // strings too.
          ColumnDefinition.of(
              "Restarts",
              "string",
              "The number of times the containers in this pod have been restarted and when the"
                  + " last container in this pod has restarted."),
          ColumnDefinition.ageColumn(),
          ColumnDefinition.wide(
              "IP",
              "string",
              "podIP address allocated to the pod. Routable at least within the cluster. Empty if"
                  + " not yet allocated."),
          ColumnDefinition.wide(
              "Node",
              "string",
              "NodeName indicates in which node this pod is scheduled. If empty, this pod is a"
                  + " candidate for scheduling by the scheduler defined in schedulerName. Once this"
                  + " field is set, the kubelet for this node becomes responsible for the lifecycle"
                  + " of this pod. This field should not be used to express a desire for the pod to"
                  + " be scheduled on a specific node."
                  + " https://kubernetes.io/docs/concepts/scheduling-eviction/assign-pod-node/#nodename"),
          ColumnDefinition.wide(
              "Nominated Node",
              "string",
              "nominatedNodeName is set only when this pod preempts other pods on the node, but it"
                  + " cannot be scheduled right away as preemption victims receive their graceful"
                  + " termination periods. This field does not guarantee that the pod will be"
                  + " scheduled on this node. Scheduler may decide to place the pod elsewhere if"
                  + " other nodes become available sooner. Scheduler may also decide to give the"
                  + " resources on this node to a higher priority pod that is created after"
                  + " preemption. As a result, this field may be different than PodSpec.nodeName"
                  + " when the pod is scheduled."),
          ColumnDefinition.wide(
              "Readiness Gates",
              "string",
              "If specified, all readiness gates will be evaluated for pod readiness. A pod is"
                  + " ready when all its containers are ready AND all conditions specified in the"
                  + " readiness gates have status equal to \"True\" More info:"
                  + " https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates"));

  @Override
  public List<ColumnDefinition> columns() {
    return COLUMNS;
  }

  @Override
  public List<Object> cells(ObjectNode pod, Instant now) {
    JsonNode spec = pod.path("spec");
    JsonNode status = pod.path("status");
    JsonNode conditions = status.path("conditions");

    long restarts = 0;
    long restartableInitContainerRestarts = 0;
    int totalContainers = size(spec, "containers");
    int readyContainers = 0;
    Instant lastRestartDate = null;
    Instant lastRestartableInitContainerRestartDate = null;

    String podPhase = str(status, "phase");
    String reason = podPhase;
    if (!str(status, "reason").isEmpty()) {
      reason = str(status, "reason");
    }
    // A pod held back by scheduling gates reports {type: PodScheduled, reason: SchedulingGated}.
    for (JsonNode c : list(status, "conditions")) {
      if ("PodScheduled".equals(str(c, "type")) && "SchedulingGated".equals(str(c, "reason"))) {
        reason = "SchedulingGated";
      }
    }

    // Sidecars (init containers with restartPolicy Always) count towards READY's denominator.
    Map<String, JsonNode> initContainers = new HashMap<>();
    List<JsonNode> initSpecs = list(spec, "initContainers");
    for (JsonNode ic : initSpecs) {
      initContainers.put(str(ic, "name"), ic);
      if (isRestartable(ic)) {
        totalContainers++;
      }
    }

    boolean initializing = false;
    List<JsonNode> initStatuses = list(status, "initContainerStatuses");
    for (int i = 0; i < initStatuses.size(); i++) {
      JsonNode container = initStatuses.get(i);
      boolean restartable = isRestartable(initContainers.get(str(container, "name")));
      restarts += num(container, "restartCount");
      Instant terminatedAt = lastTerminationFinishedAt(container);
      if (terminatedAt != null) {
        lastRestartDate = later(lastRestartDate, terminatedAt);
      }
      if (restartable) {
        restartableInitContainerRestarts += num(container, "restartCount");
        if (terminatedAt != null) {
          lastRestartableInitContainerRestartDate =
              later(lastRestartableInitContainerRestartDate, terminatedAt);
        }
      }
      JsonNode terminated = at(container, "state", "terminated");
      JsonNode waiting = at(container, "state", "waiting");
      if (terminated.isObject() && num(terminated, "exitCode") == 0) {
        continue;
      } else if (restartable && bool(container, "started")) {
        if (bool(container, "ready")) {
          readyContainers++;
        }
        continue;
      } else if (terminated.isObject()) {
        // initialization failed
        if (str(terminated, "reason").isEmpty()) {
          if (num(terminated, "signal") != 0) {
            reason = "Init:Signal:" + num(terminated, "signal");
          } else {
            reason = "Init:ExitCode:" + num(terminated, "exitCode");
          }
        } else {
          reason = "Init:" + str(terminated, "reason");
        }
        initializing = true;
      } else if (waiting.isObject()
          && !str(waiting, "reason").isEmpty()
          && !"PodInitializing".equals(str(waiting, "reason"))) {
        reason = "Init:" + str(waiting, "reason");
        initializing = true;
      } else {
        reason = "Init:" + i + "/" + initSpecs.size();
        initializing = true;
      }
      break;
    }

    if (!initializing || conditionStatusTrue(conditions, "Initialized")) {
      restarts = restartableInitContainerRestarts;
      lastRestartDate = lastRestartableInitContainerRestartDate;
      boolean hasRunning = false;
      List<JsonNode> statuses = list(status, "containerStatuses");
      // Walked backwards so that the first container's state wins.
      for (int i = statuses.size() - 1; i >= 0; i--) {
        JsonNode container = statuses.get(i);
        restarts += num(container, "restartCount");
        Instant terminatedAt = lastTerminationFinishedAt(container);
        if (terminatedAt != null) {
          lastRestartDate = later(lastRestartDate, terminatedAt);
        }
        JsonNode waiting = at(container, "state", "waiting");
        JsonNode terminated = at(container, "state", "terminated");
        if (waiting.isObject() && !str(waiting, "reason").isEmpty()) {
          reason = str(waiting, "reason");
        } else if (terminated.isObject() && !str(terminated, "reason").isEmpty()) {
          reason = str(terminated, "reason");
        } else if (terminated.isObject()) {
          if (num(terminated, "signal") != 0) {
            reason = "Signal:" + num(terminated, "signal");
          } else {
            reason = "ExitCode:" + num(terminated, "exitCode");
          }
        } else if (bool(container, "ready") && at(container, "state", "running").isObject()) {
          hasRunning = true;
          readyContainers++;
        }
      }
      // Back to Running if a container still runs (e.g. one of two containers completed).
      if ("Completed".equals(reason) && hasRunning) {
        reason = conditionStatusTrue(conditions, "Ready") ? "Running" : "NotReady";
      }
    }

    if (has(pod, "metadata", "deletionTimestamp")
        && NODE_UNREACHABLE_POD_REASON.equals(str(status, "reason"))) {
      reason = "Unknown";
    } else if (has(pod, "metadata", "deletionTimestamp")
        && !"Succeeded".equals(podPhase)
        && !"Failed".equals(podPhase)) {
      reason = "Terminating";
    }

    String restartsStr = Long.toString(restarts);
    if (restarts != 0 && lastRestartDate != null) {
      restartsStr = restarts + " (" + since(lastRestartDate, now) + " ago)";
    }

    String podIP = str(at(status, "podIPs").path(0), "ip");
    String nodeName = str(spec, "nodeName");
    String nominatedNodeName = str(status, "nominatedNodeName");
    String readinessGates = "<none>";
    List<JsonNode> gates = list(spec, "readinessGates");
    if (!gates.isEmpty()) {
      int trueConditions = 0;
      for (JsonNode gate : gates) {
        JsonNode c = condition(conditions, str(gate, "conditionType"));
        if (c != null && "True".equals(str(c, "status"))) {
          trueConditions++;
        }
      }
      readinessGates = trueConditions + "/" + gates.size();
    }

    return java.util.Arrays.asList(
        name(pod),
        readyContainers + "/" + totalContainers,
        reason,
        restartsStr,
        age(pod, now),
        podIP.isEmpty() ? "<none>" : podIP,
        nodeName.isEmpty() ? "<none>" : nodeName,
        nominatedNodeName.isEmpty() ? "<none>" : nominatedNodeName,
        readinessGates);
  }

  /** {@code podutil.IsRestartableInitContainer}: a sidecar. */
  private static boolean isRestartable(JsonNode initContainer) {
    return initContainer != null && "Always".equals(str(initContainer, "restartPolicy"));
  }

  private static Instant lastTerminationFinishedAt(JsonNode containerStatus) {
    JsonNode t = at(containerStatus, "lastState", "terminated");
    if (!t.isObject()) {
      return null;
    }
    // A terminated state without finishedAt is Go's zero time, which never wins "Before".
    return time(t, "finishedAt");
  }

  private static Instant later(Instant current, Instant candidate) {
    if (candidate == null) {
      return current;
    }
    return current == null || current.isBefore(candidate) ? candidate : current;
  }

  /** Like {@code isPodInitializedConditionTrue}/{@code hasPodReadyCondition}. */
  private static boolean conditionStatusTrue(JsonNode conditions, String type) {
    return conditionTrue(conditions, type);
  }
}
