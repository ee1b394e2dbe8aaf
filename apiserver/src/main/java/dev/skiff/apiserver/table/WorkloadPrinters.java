package dev.skiff.apiserver.table;

import static dev.skiff.apiserver.table.ColumnDefinition.ageColumn;
import static dev.skiff.apiserver.table.ColumnDefinition.nameColumn;
import static dev.skiff.apiserver.table.ColumnDefinition.of;
import static dev.skiff.apiserver.table.ColumnDefinition.wide;
import static dev.skiff.apiserver.table.Obj.*;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * apps/v1 controllers, ReplicationControllers and PodTemplates: {@code printDeployment},
 * {@code printReplicaSet}, {@code printStatefulSet}, {@code printDaemonSet},
 * {@code printReplicationController}, {@code printControllerRevision}, {@code printPodTemplate} in
 * kubernetes {@code pkg/printers/internalversion/printers.go}.
 *
 * <p>{@code spec.replicas} reads as 1 when absent because the server decodes stored objects
 * through v1 defaulting, which sets it.
 */
final class WorkloadPrinters {
  private WorkloadPrinters() {}

  static TablePrinter deployments() {
    return SimplePrinter.of(
        (obj, now) -> {
          JsonNode spec = obj.path("spec");
          String[] ci = containerCells(at(spec, "template", "spec"));
          String selector = selectorString(spec.get("selector"));
          return new Object[] {
            name(obj),
            num(obj, "status", "readyReplicas") + "/" + numOr(spec, 1, "replicas"),
            num(obj, "status", "updatedReplicas"),
            num(obj, "status", "availableReplicas"),
            age(obj, now),
            ci[0],
            ci[1],
            selector
          };
        },
        nameColumn(),
        of("Ready", "string", "Number of the pod with ready state"),
        of(
            "Up-to-date",
            "string",
            "Total number of non-terminating pods targeted by this deployment that have the desired"
                + " template spec."),
        of(
            "Available",
            "string",
            "Total number of available non-terminating pods (ready for at least minReadySeconds)"
                + " targeted by this deployment."),
        ageColumn(),
        wide("Containers", "string", Docs.CONTAINERS),
        wide("Images", "string", Docs.IMAGES),
        wide("Selector", "string", Docs.SELECTOR));
  }

  static TablePrinter replicaSets() {
    return SimplePrinter.of(
        (obj, now) -> {
          JsonNode spec = obj.path("spec");
          String[] ci = containerCells(at(spec, "template", "spec"));
          return new Object[] {
            name(obj),
            numOr(spec, 1, "replicas"),
            num(obj, "status", "replicas"),
            num(obj, "status", "readyReplicas"),
            age(obj, now),
            ci[0],
            ci[1],
            formatLabelSelector(spec.get("selector"))
          };
        },
        nameColumn(),
        of(
            "Desired",
            "integer",
            "Replicas is the number of desired pods. This is a pointer to distinguish between"
                + " explicit zero and unspecified. Defaults to 1. More info:"
                + " https://kubernetes.io/docs/concepts/workloads/controllers/replicaset"),
        of(
            "Current",
            "integer",
            "Replicas is the most recently observed number of non-terminating pods. More info:"
                + " https://kubernetes.io/docs/concepts/workloads/controllers/replicaset"),
        of(
            "Ready",
            "integer",
            "The number of non-terminating pods targeted by this ReplicaSet with a Ready"
                + " Condition."),
        ageColumn(),
        wide("Containers", "string", Docs.CONTAINERS),
        wide("Images", "string", Docs.IMAGES),
        wide("Selector", "string", Docs.RS_SELECTOR));
  }

  static TablePrinter replicationControllers() {
    return SimplePrinter.of(
        (obj, now) -> {
          JsonNode spec = obj.path("spec");
          String[] ci = containerCells(at(spec, "template", "spec"));
          return new Object[] {
            name(obj),
            numOr(spec, 1, "replicas"),
            num(obj, "status", "replicas"),
            num(obj, "status", "readyReplicas"),
            age(obj, now),
            ci[0],
            ci[1],
            formatLabels(map(spec, "selector"))
          };
        },
        nameColumn(),
        of(
            "Desired",
            "integer",
            "Replicas is the number of desired replicas. This is a pointer to distinguish between"
                + " explicit zero and unspecified. Defaults to 1. More info:"
                + " https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller"),
        of(
            "Current",
            "integer",
            "Replicas is the most recently observed number of replicas. More info:"
                + " https://kubernetes.io/docs/concepts/workloads/controllers/replicationcontroller#what-is-a-replicationcontroller"),
        of(
            "Ready",
            "integer",
            "The number of ready replicas for this replication controller."),
        ageColumn(),
        wide("Containers", "string", Docs.CONTAINERS),
        wide("Images", "string", Docs.IMAGES),
        wide("Selector", "string", Docs.RC_SELECTOR));
  }

  static TablePrinter statefulSets() {
    return SimplePrinter.of(
        (obj, now) -> {
          JsonNode spec = obj.path("spec");
          String[] ci = containerCells(at(spec, "template", "spec"));
          return new Object[] {
            name(obj),
            num(obj, "status", "readyReplicas") + "/" + numOr(spec, 1, "replicas"),
            age(obj, now),
            ci[0],
            ci[1]
          };
        },
        nameColumn(),
        of("Ready", "string", "Number of the pod with ready state"),
        ageColumn(),
        wide("Containers", "string", Docs.CONTAINERS),
        wide("Images", "string", Docs.IMAGES));
  }

  static TablePrinter daemonSets() {
    return SimplePrinter.of(
        (obj, now) -> {
          JsonNode spec = obj.path("spec");
          JsonNode podSpec = at(spec, "template", "spec");
          String[] ci = containerCells(podSpec);
          JsonNode st = obj.path("status");
          return new Object[] {
            name(obj),
            num(st, "desiredNumberScheduled"),
            num(st, "currentNumberScheduled"),
            num(st, "numberReady"),
            num(st, "updatedNumberScheduled"),
            num(st, "numberAvailable"),
            formatLabels(map(podSpec, "nodeSelector")),
            age(obj, now),
            ci[0],
            ci[1],
            formatLabelSelector(spec.get("selector"))
          };
        },
        nameColumn(),
        of(
            "Desired",
            "integer",
            "The total number of nodes that should be running the daemon pod (including nodes"
                + " correctly running the daemon pod). More info:"
                + " https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
        of(
            "Current",
            "integer",
            "The number of nodes that are running at least 1 daemon pod and are supposed to run"
                + " the daemon pod. More info:"
                + " https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/"),
        of(
            "Ready",
            "integer",
            "numberReady is the number of nodes that should be running the daemon pod and have one"
                + " or more of the daemon pod running with a Ready Condition."),
        of(
            "Up-to-date",
            "integer",
            "The total number of nodes that are running updated daemon pod"),
        of(
            "Available",
            "integer",
            "The number of nodes that should be running the daemon pod and have one or more of the"
                + " daemon pod running and available (ready for at least"
                + " spec.minReadySeconds)"),
        of(
            "Node Selector",
            "string",
            "NodeSelector is a selector which must be true for the pod to fit on a node. Selector"
                + " which must match a node's labels for the pod to be scheduled on that node. More"
                + " info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/"),
        ageColumn(),
        wide("Containers", "string", Docs.CONTAINERS),
        wide("Images", "string", Docs.IMAGES),
        wide("Selector", "string", Docs.DS_SELECTOR));
  }

  static TablePrinter controllerRevisions() {
    return SimplePrinter.of(
        (obj, now) -> {
          String controller = "<none>";
          for (JsonNode ref : list(obj, "metadata", "ownerReferences")) {
            if (bool(ref, "controller")) {
              // formatResourceName: lower(Kind.group)/name, group from the ref's apiVersion.
              String apiVersion = str(ref, "apiVersion");
              int slash = apiVersion.indexOf('/');
              String group = slash < 0 ? "" : apiVersion.substring(0, slash);
              String kind = str(ref, "kind");
              String gk = group.isEmpty() ? kind : kind + "." + group;
              controller = gk.isEmpty() ? str(ref, "name") : gk.toLowerCase() + "/" + str(ref, "name");
              break;
            }
          }
          return new Object[] {name(obj), controller, num(obj, "revision"), age(obj, now)};
        },
        nameColumn(),
        of("Controller", "string", "Controller of the object"),
        of("Revision", "string", "Revision indicates the revision of the state represented by Data."),
        ageColumn());
  }

  static TablePrinter podTemplates() {
    return SimplePrinter.of(
        (obj, now) -> {
          String[] ci = containerCells(at(obj, "template", "spec"));
          return new Object[] {
            name(obj), ci[0], ci[1], formatLabels(map(obj, "template", "metadata", "labels"))
          };
        },
        nameColumn(),
        of("Containers", "string", Docs.CONTAINERS),
        of("Images", "string", Docs.IMAGES),
        of("Pod Labels", "string", "The labels for the pod template."));
  }
}
