package dev.skiff.apiserver.table;

import static dev.skiff.apiserver.table.ColumnDefinition.ageColumn;
import static dev.skiff.apiserver.table.ColumnDefinition.nameColumn;
import static dev.skiff.apiserver.table.ColumnDefinition.of;
import static dev.skiff.apiserver.table.ColumnDefinition.wide;
import static dev.skiff.apiserver.table.Obj.*;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * Cluster and configuration kinds: {@code printNode}, {@code printNamespace},
 * {@code printConfigMap}, {@code printSecret}, {@code printServiceAccount},
 * {@code printResourceQuota}, {@code printLease}, {@code printPodDisruptionBudget},
 * {@code printPriorityClass} in printers.go.
 */
final class CorePrinters {
  private CorePrinters() {}

  private static final String ADDRESSES_DOC =
      "List of addresses reachable to the node. Queried from cloud provider, if available. More"
          + " info: https://kubernetes.io/docs/reference/node/node-status/#addresses Note: This"
          + " field is declared as mergeable, but the merge key is not sufficiently unique, which"
          + " can cause data corruption when it is merged. Callers should instead use a"
          + " full-replacement patch. See https://pr.k8s.io/79391 for an example. Consumers should"
          + " assume that addresses can change during the lifetime of a Node. However, there are"
          + " some exceptions where this may not be possible, such as Pods that inherit a Node's"
          + " address in its own status or consumers of the downward API (status.hostIP).";

  static TablePrinter nodes() {
    return SimplePrinter.of(
        (obj, now) -> {
          // Only the Ready condition feeds STATUS upstream (NodeAllConditions = {NodeReady}).
          List<String> status = new ArrayList<>();
          JsonNode ready = lastCondition(at(obj, "status", "conditions"), "Ready");
          if (ready != null) {
            status.add("True".equals(str(ready, "status")) ? "Ready" : "NotReady");
          }
          if (status.isEmpty()) {
            status.add("Unknown");
          }
          if (bool(obj, "spec", "unschedulable")) {
            status.add("SchedulingDisabled");
          }
          // findNodeRoles: node-role.kubernetes.io/<role> keys and kubernetes.io/role values.
          TreeSet<String> roles = new TreeSet<>();
          for (Map.Entry<String, String> e : map(obj, "metadata", "labels").entrySet()) {
            if (e.getKey().startsWith("node-role.kubernetes.io/")) {
              String role = e.getKey().substring("node-role.kubernetes.io/".length());
              if (!role.isEmpty()) {
                roles.add(role);
              }
            } else if (e.getKey().equals("kubernetes.io/role") && !e.getValue().isEmpty()) {
              roles.add(e.getValue());
            }
          }
          JsonNode info = at(obj, "status", "nodeInfo");
          return new Object[] {
            name(obj),
            String.join(",", status),
            roles.isEmpty() ? "<none>" : String.join(",", roles),
            age(obj, now),
            str(info, "kubeletVersion"),
            nodeAddress(obj, "InternalIP"),
            nodeAddress(obj, "ExternalIP"),
            orUnknown(str(info, "osImage")),
            orUnknown(str(info, "kernelVersion")),
            orUnknown(str(info, "containerRuntimeVersion"))
          };
        },
        nameColumn(),
        of("Status", "string", "The status of the node"),
        of("Roles", "string", "The roles of the node"),
        ageColumn(),
        of("Version", "string", "Kubelet Version reported by the node."),
        wide("Internal-IP", "string", ADDRESSES_DOC),
        wide("External-IP", "string", ADDRESSES_DOC),
        wide("OS-Image", "string", "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy))."),
        wide("Kernel-Version", "string", "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64)."),
        wide(
            "Container-Runtime",
            "string",
            "ContainerRuntime Version reported by the node through runtime remote API (e.g."
                + " containerd://1.4.2)."));
  }

  /** Upstream builds a map keyed by type, so a duplicated condition type resolves to the last. */
  private static JsonNode lastCondition(JsonNode conditions, String type) {
    JsonNode found = null;
    for (JsonNode c : conditions.isArray() ? conditions : List.<JsonNode>of()) {
      if (type.equals(str(c, "type"))) {
        found = c;
      }
    }
    return found;
  }

  private static String nodeAddress(JsonNode node, String type) {
    for (JsonNode a : list(node, "status", "addresses")) {
      if (type.equals(str(a, "type"))) {
        return str(a, "address");
      }
    }
    return "<none>";
  }

  private static String orUnknown(String s) {
    return s.isEmpty() ? "<unknown>" : s;
  }

  static TablePrinter namespaces() {
    return SimplePrinter.of(
        (obj, now) -> new Object[] {name(obj), str(obj, "status", "phase"), age(obj, now)},
        nameColumn(),
        of("Status", "string", "The status of the namespace"),
        ageColumn());
  }

  static TablePrinter configMaps() {
    return SimplePrinter.of(
        (obj, now) ->
            new Object[] {
              name(obj), (long) (size(obj, "data") + size(obj, "binaryData")), age(obj, now)
            },
        nameColumn(),
        of(
            "Data",
            "string",
            "Data contains the configuration data. Each key must consist of alphanumeric"
                + " characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the"
                + " BinaryData field. The keys stored in Data must not overlap with the keys in the"
                + " BinaryData field, this is enforced during validation process."),
        ageColumn());
  }

  static TablePrinter secrets() {
    return SimplePrinter.of(
        // Data counts data only: stringData is write-only and merged into data on write.
        (obj, now) ->
            new Object[] {name(obj), str(obj, "type"), (long) size(obj, "data"), age(obj, now)},
        nameColumn(),
        of(
            "Type",
            "string",
            "Used to facilitate programmatic handling of secret data. More info:"
                + " https://kubernetes.io/docs/concepts/configuration/secret/#secret-types"),
        of(
            "Data",
            "string",
            "Data contains the secret data. Each key must consist of alphanumeric characters, '-',"
                + " '_' or '.'. The serialized form of the secret data is a base64 encoded string,"
                + " representing the arbitrary (possibly non-string) data value here. Described in"
                + " https://tools.ietf.org/html/rfc4648#section-4"),
        ageColumn());
  }

  static TablePrinter serviceAccounts() {
    return SimplePrinter.of(
        (obj, now) -> new Object[] {name(obj), (long) size(obj, "secrets"), age(obj, now)},
        nameColumn(),
        of(
            "Secrets",
            "string",
            "Secrets is a list of the secrets in the same namespace that pods running using this"
                + " ServiceAccount are allowed to use. Pods are only limited to this list if this"
                + " service account has a \"kubernetes.io/enforce-mountable-secrets\" annotation"
                + " set to \"true\". The \"kubernetes.io/enforce-mountable-secrets\" annotation is"
                + " deprecated since v1.32. Prefer separate namespaces to isolate access to mounted"
                + " secrets. This field should not be used to find auto-generated service account"
                + " token secrets for use outside of pods. Instead, tokens can be requested"
                + " directly using the TokenRequest API, or service account token secrets can be"
                + " manually created. More info:"
                + " https://kubernetes.io/docs/concepts/configuration/secret"),
        ageColumn());
  }

  static TablePrinter resourceQuotas() {
    return SimplePrinter.of(
        (obj, now) -> {
          Map<String, String> hard = map(obj, "status", "hard"); // sorted by resource name
          Map<String, String> used = map(obj, "status", "used");
          List<String> request = new ArrayList<>();
          List<String> limit = new ArrayList<>();
          for (Map.Entry<String, String> e : hard.entrySet()) {
            String resource = e.getKey();
            String u = used.getOrDefault(resource, "");
            String piece = resource + ": " + (u.isEmpty() ? "0" : u) + "/" + e.getValue();
            String[] pieces = resource.split("\\.");
            if (pieces.length > 1 && pieces[0].equals("limits")) {
              limit.add(piece);
            } else {
              request.add(piece);
            }
          }
          return new Object[] {
            name(obj), String.join(", ", request), String.join(", ", limit), age(obj, now)
          };
        },
        nameColumn(),
        of(
            "Request",
            "string",
            "Request represents a minimum amount of cpu/memory that a container may consume."),
        of(
            "Limit",
            "string",
            "Limits control the maximum amount of cpu/memory that a container may use independent"
                + " of contention on the node."),
        ageColumn());
  }

  static TablePrinter leases() {
    return SimplePrinter.of(
        (obj, now) -> new Object[] {name(obj), str(obj, "spec", "holderIdentity"), age(obj, now)},
        nameColumn(),
        of(
            "Holder",
            "string",
            "holderIdentity contains the identity of the holder of a current lease. If"
                + " Coordinated Leader Election is used, the holder identity must be equal to the"
                + " elected LeaseCandidate.metadata.name field."),
        ageColumn());
  }

  static TablePrinter podDisruptionBudgets() {
    return SimplePrinter.of(
        (obj, now) -> {
          JsonNode spec = obj.path("spec");
          return new Object[] {
            name(obj),
            has(spec, "minAvailable") ? spec.path("minAvailable").asText() : "N/A",
            has(spec, "maxUnavailable") ? spec.path("maxUnavailable").asText() : "N/A",
            num(obj, "status", "disruptionsAllowed"),
            age(obj, now)
          };
        },
        nameColumn(),
        of("Min Available", "string", "The minimum number of pods that must be available."),
        of("Max Unavailable", "string", "The maximum number of pods that may be unavailable."),
        of(
            "Allowed Disruptions",
            "integer",
            "Calculated number of pods that may be disrupted at this time."),
        ageColumn());
  }

  static TablePrinter priorityClasses() {
    return SimplePrinter.of(
        (obj, now) ->
            new Object[] {
              name(obj),
              num(obj, "value"),
              bool(obj, "globalDefault"),
              age(obj, now),
              str(obj, "preemptionPolicy")
            },
        nameColumn(),
        of(
            "Value",
            "integer",
            "value represents the integer value of this priority class. This is the actual"
                + " priority that pods receive when they have the name of this class in their pod"
                + " spec."),
        of(
            "Global-Default",
            "boolean",
            "globalDefault specifies whether this PriorityClass should be considered as the"
                + " default priority for pods that do not have any priority class. Only one"
                + " PriorityClass can be marked as `globalDefault`. However, if more than one"
                + " PriorityClasses exists with their `globalDefault` field set to true, the"
                + " smallest value of such global default PriorityClasses will be used as the"
                + " default priority."),
        ageColumn(),
        of(
            "PreemptionPolicy",
            "string",
            "preemptionPolicy is the Policy for preempting pods with lower priority. One of Never,"
                + " PreemptLowerPriority. Defaults to PreemptLowerPriority if unset."));
  }
}
