package dev.skiff.apiserver.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The resources kube-apiserver serves that Skiff serves too, with upstream's names, short names,
 * categories, subresources and selectable fields (pkg/registry/&lt;group&gt;/&lt;resource&gt;/strategy.go
 * GetAttrs / ToSelectableFields for the field lists).
 */
public final class BuiltInResources {
  private BuiltInResources() {}

  private static ResourceDescriptor.Builder core(String kind, String plural) {
    return ResourceDescriptor.builder("", "v1", kind, plural);
  }

  private static ResourceDescriptor.Builder res(String group, String version, String kind, String plural) {
    return ResourceDescriptor.builder(group, version, kind, plural);
  }

  public static List<ResourceDescriptor> all() {
    return List.of(
        core("Namespace", "namespaces").clusterScoped().shortNames("ns")
            .subresources("status", "finalize")
            .fields(o -> Map.of("status.phase", text(o, "status", "phase")), "status.phase").build(),
        core("Pod", "pods").shortNames("po").categories("all")
            .subresources("status", "binding", "log", "exec", "attach", "portforward", "eviction", "ephemeralcontainers")
            .fields(BuiltInResources::podFields, "spec.nodeName", "spec.restartPolicy", "spec.schedulerName",
                "spec.serviceAccountName", "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName")
            .build(),
        core("Service", "services").shortNames("svc").categories("all").subresources("status", "proxy")
            .fields(o -> Map.of("spec.clusterIP", text(o, "spec", "clusterIP"), "spec.type", text(o, "spec", "type")),
                "spec.clusterIP", "spec.type").build(),
        core("Endpoints", "endpoints").shortNames("ep").createOnUpdate().build(),
        core("ConfigMap", "configmaps").shortNames("cm").build(),
        core("Secret", "secrets").fields(o -> Map.of("type", text(o, "type")), "type").build(),
        core("ServiceAccount", "serviceaccounts").shortNames("sa").subresources("token").build(),
        core("Event", "events").shortNames("ev").createOnUpdate()
            .fields(BuiltInResources::eventFields, "involvedObject.kind", "involvedObject.namespace",
                "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion",
                "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "reportingComponent",
                "source", "type").build(),
        core("Node", "nodes").clusterScoped().shortNames("no").subresources("status", "proxy")
            .fields(o -> Map.of("spec.unschedulable", bool(o.path("spec").path("unschedulable"))), "spec.unschedulable")
            .build(),
        core("PersistentVolume", "persistentvolumes").clusterScoped().shortNames("pv").subresources("status")
            .build(),
        core("PersistentVolumeClaim", "persistentvolumeclaims").shortNames("pvc").subresources("status").build(),
        core("LimitRange", "limitranges").shortNames("limits").build(),
        core("ResourceQuota", "resourcequotas").shortNames("quota").subresources("status").build(),
        core("PodTemplate", "podtemplates").build(),
        core("ReplicationController", "replicationcontrollers").shortNames("rc").categories("all")
            .subresources("status", "scale").generation().scale("status.selector").build(),
        res("events.k8s.io", "v1", "Event", "events").shortNames("ev").createOnUpdate().storage("", "events")
            .converter(new EventConversion())
            .fields(BuiltInResources::eventFields, "regarding.kind", "regarding.namespace", "regarding.name",
                "regarding.uid", "reason", "type", "reportingController").build(),
        res("apps", "v1", "Deployment", "deployments").shortNames("deploy").categories("all")
            .subresources("status", "scale").generation().scale("status.selector").build(),
        res("apps", "v1", "ReplicaSet", "replicasets").shortNames("rs").categories("all")
            .subresources("status", "scale").generation().scale("status.selector")
            .fields(o -> Map.of("status.replicas", text(o, "status", "replicas")), "status.replicas").build(),
        res("apps", "v1", "StatefulSet", "statefulsets").shortNames("sts").categories("all")
            .subresources("status", "scale").generation().scale("status.selector").build(),
        res("apps", "v1", "DaemonSet", "daemonsets").shortNames("ds").categories("all")
            .subresources("status").generation().build(),
        res("apps", "v1", "ControllerRevision", "controllerrevisions").build(),
        res("batch", "v1", "Job", "jobs").categories("all").subresources("status").generation()
            .fields(o -> Map.of("status.successful", text(o, "status", "succeeded")), "status.successful").build(),
        res("batch", "v1", "CronJob", "cronjobs").shortNames("cj").categories("all").subresources("status")
            .generation().build(),
        res("coordination.k8s.io", "v1", "Lease", "leases").createOnUpdate().build(),
        res("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices")
            .fields(o -> Map.of("addressType", text(o, "addressType")), "addressType").build(),
        res("storage.k8s.io", "v1", "StorageClass", "storageclasses").clusterScoped().shortNames("sc").build(),
        res("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses").clusterScoped().shortNames("pc").build(),
        res("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets").shortNames("pdb")
            .subresources("status").generation().build(),
        res("networking.k8s.io", "v1", "Ingress", "ingresses").shortNames("ing").subresources("status")
            .generation().build(),
        res("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies").shortNames("netpol").generation().build(),
        res("rbac.authorization.k8s.io", "v1", "Role", "roles").build(),
        res("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings").build(),
        res("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles").clusterScoped().build(),
        res("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings").clusterScoped().build());
  }

  static String text(JsonNode o, String... path) {
    JsonNode n = o;
    for (String p : path) {
      n = n.path(p);
    }
    return n.isMissingNode() || n.isNull() ? "" : n.asText();
  }

  private static String bool(JsonNode n) {
    return n.isBoolean() && n.asBoolean() ? "true" : "false";
  }

  private static Map<String, String> podFields(ObjectNode o) {
    Map<String, String> m = new HashMap<>();
    JsonNode spec = o.path("spec");
    m.put("spec.nodeName", text(spec, "nodeName"));
    m.put("spec.restartPolicy", text(spec, "restartPolicy"));
    m.put("spec.schedulerName", text(spec, "schedulerName"));
    m.put("spec.serviceAccountName", text(spec, "serviceAccountName"));
    m.put("spec.hostNetwork", bool(spec.path("hostNetwork")));
    m.put("status.phase", text(o, "status", "phase"));
    m.put("status.podIP", text(o, "status", "podIP"));
    m.put("status.nominatedNodeName", text(o, "status", "nominatedNodeName"));
    return m;
  }

  private static Map<String, String> eventFields(ObjectNode o) {
    Map<String, String> m = new HashMap<>();
    // Stored as core/v1; events.k8s.io/v1 names are aliases of the same fields.
    JsonNode io = o.path("involvedObject");
    for (String f : List.of("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")) {
      m.put("involvedObject." + f, text(io, f));
      m.put("regarding." + f, text(io, f));
    }
    m.put("reason", text(o, "reason"));
    m.put("reportingComponent", text(o, "reportingComponent"));
    m.put("reportingController", text(o, "reportingComponent"));
    m.put("source", text(o, "source", "component"));
    m.put("type", text(o, "type"));
    return m;
  }
}
