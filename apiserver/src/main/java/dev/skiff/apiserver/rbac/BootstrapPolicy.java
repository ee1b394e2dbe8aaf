package dev.skiff.apiserver.rbac;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.registry.ResourceRegistry;
import dev.skiff.apiserver.registry.ResourceStore;
import dev.skiff.apiserver.registry.WriteOptions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The default roles and bindings, created at start-up when missing (kube-apiserver's
 * rbac/bootstrap-roles post-start hook; the content follows
 * plugin/pkg/auth/authorizer/rbac/bootstrappolicy/policy.go, trimmed to the resources Skiff serves
 * and the roles users rely on). admin, edit and view are aggregated roles: their rules come from
 * the system:aggregate-to-* roles through {@link ClusterRoleAggregator}.
 */
public final class BootstrapPolicy {
  public static final String AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate";
  public static final String BOOTSTRAPPING = "kubernetes.io/bootstrapping";
  private static final String AGG = "rbac.authorization.k8s.io/aggregate-to-";

  static final List<String> READ = List.of("get", "list", "watch");
  static final List<String> WRITE = List.of("create", "delete", "deletecollection", "patch", "update");
  static final List<String> READ_WRITE = List.of("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection");

  private BootstrapPolicy() {}

  /** Creates every missing default ClusterRole and ClusterRoleBinding; existing ones are left alone. */
  public static void ensure(ResourceRegistry registry) {
    ResourceStore roles = registry.storeForKind(RbacAuthorizer.GROUP, "ClusterRole");
    ResourceStore bindings = registry.storeForKind(RbacAuthorizer.GROUP, "ClusterRoleBinding");
    for (ObjectNode r : clusterRoles()) {
      createIfMissing(roles, r);
    }
    for (ObjectNode b : clusterRoleBindings()) {
      createIfMissing(bindings, b);
    }
  }

  private static void createIfMissing(ResourceStore store, ObjectNode obj) {
    String name = obj.path("metadata").path("name").asText();
    ObjectNode existing;
    try {
      existing = store.getObject(null, name);
    } catch (ApiException notFound) {
      try {
        store.create(null, obj, WriteOptions.internal("kube-apiserver"));
      } catch (ApiException e) {
        if (!"AlreadyExists".equals(e.reason())) {
          throw e;
        }
      }
      return;
    }
    // Objects still annotated autoupdate=true get back what the defaults add (reconciliation in
    // pkg/registry/rbac/reconciliation: missing rules and subjects are added, nothing is removed).
    if (!"true".equals(existing.path("metadata").path("annotations").path(AUTOUPDATE).asText())) {
      return;
    }
    String field = obj.has("subjects") ? "subjects" : "rules";
    if (obj.has("aggregationRule")) {
      if (!obj.get("aggregationRule").equals(existing.get("aggregationRule"))) {
        store.guaranteedUpdate(null, name, 0, cur -> {
          cur.set("aggregationRule", obj.get("aggregationRule").deepCopy());
          return cur;
        }, WriteOptions.internal("kube-apiserver"), false);
      }
      return;
    }
    List<com.fasterxml.jackson.databind.JsonNode> missing = new ArrayList<>();
    for (var want : obj.path(field)) {
      boolean found = false;
      for (var have : existing.path(field)) {
        if (sameEntry(want, have)) {
          found = true;
        }
      }
      if (!found) {
        missing.add(want);
      }
    }
    if (!missing.isEmpty()) {
      store.guaranteedUpdate(null, name, 0, cur -> {
        ArrayNode a = cur.withArray(field);
        missing.forEach(m -> a.add(m.deepCopy()));
        return cur;
      }, WriteOptions.internal("kube-apiserver"), false);
    }
  }

  /** Equal ignoring fields the store may have defaulted (empty lists dropped, apiGroup added). */
  private static boolean sameEntry(com.fasterxml.jackson.databind.JsonNode want, com.fasterxml.jackson.databind.JsonNode have) {
    var it = want.fields();
    while (it.hasNext()) {
      var e = it.next();
      if (e.getValue().isArray() && e.getValue().isEmpty() && !have.has(e.getKey())) {
        continue;
      }
      if (!e.getValue().equals(have.get(e.getKey()))) {
        return false;
      }
    }
    return true;
  }

  static List<ObjectNode> clusterRoles() {
    List<ObjectNode> out = new ArrayList<>();
    out.add(role("cluster-admin", Map.of(), null,
        PolicyRule.resources(List.of("*"), List.of("*"), List.of("*")),
        PolicyRule.urls(List.of("*"), List.of("*"))));
    out.add(role("admin", Map.of(), "admin"));
    out.add(role("edit", Map.of(AGG + "admin", "true"), "edit"));
    out.add(role("view", Map.of(AGG + "edit", "true"), "view"));
    out.add(role("system:aggregate-to-admin", Map.of(AGG + "admin", "true"), null,
        PolicyRule.resources(List.of("create"), List.of("authorization.k8s.io"), List.of("localsubjectaccessreviews")),
        PolicyRule.resources(READ_WRITE, List.of(RbacAuthorizer.GROUP), List.of("roles", "rolebindings"))));
    out.add(role("system:aggregate-to-edit", Map.of(AGG + "edit", "true"), null,
        PolicyRule.resources(READ, List.of(""), List.of("pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets", "services/proxy")),
        PolicyRule.resources(List.of("impersonate"), List.of(""), List.of("serviceaccounts")),
        PolicyRule.resources(WRITE, List.of(""), List.of("pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward")),
        PolicyRule.resources(List.of("create"), List.of(""), List.of("pods/eviction")),
        PolicyRule.resources(WRITE, List.of(""), List.of("replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
            "services", "services/proxy", "persistentvolumeclaims", "configmaps", "secrets", "events")),
        PolicyRule.resources(List.of("create"), List.of(""), List.of("serviceaccounts/token")),
        PolicyRule.resources(WRITE, List.of("apps"), List.of("statefulsets", "statefulsets/scale", "daemonsets", "deployments",
            "deployments/scale", "deployments/rollback", "replicasets", "replicasets/scale")),
        PolicyRule.resources(WRITE, List.of("autoscaling"), List.of("horizontalpodautoscalers")),
        PolicyRule.resources(WRITE, List.of("batch"), List.of("jobs", "cronjobs")),
        PolicyRule.resources(WRITE, List.of("policy"), List.of("poddisruptionbudgets")),
        PolicyRule.resources(WRITE, List.of("networking.k8s.io"), List.of("networkpolicies", "ingresses")),
        PolicyRule.resources(READ_WRITE, List.of("coordination.k8s.io"), List.of("leases"))));
    out.add(role("system:aggregate-to-view", Map.of(AGG + "view", "true"), null,
        PolicyRule.resources(READ, List.of(""), List.of("pods", "replicationcontrollers", "replicationcontrollers/scale",
            "serviceaccounts", "services", "services/status", "endpoints", "persistentvolumeclaims",
            "persistentvolumeclaims/status", "configmaps")),
        PolicyRule.resources(READ, List.of(""), List.of("limitranges", "resourcequotas", "bindings", "events", "pods/status",
            "resourcequotas/status", "namespaces/status", "replicationcontrollers/status", "pods/log")),
        PolicyRule.resources(READ, List.of(""), List.of("namespaces")),
        PolicyRule.resources(READ, List.of("discovery.k8s.io"), List.of("endpointslices")),
        PolicyRule.resources(READ, List.of("apps"), List.of("controllerrevisions", "statefulsets", "statefulsets/scale",
            "statefulsets/status", "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
            "deployments/status", "replicasets", "replicasets/scale", "replicasets/status")),
        PolicyRule.resources(READ, List.of("autoscaling"), List.of("horizontalpodautoscalers", "horizontalpodautoscalers/status")),
        PolicyRule.resources(READ, List.of("batch"), List.of("jobs", "cronjobs", "cronjobs/status", "jobs/status")),
        PolicyRule.resources(READ, List.of("policy"), List.of("poddisruptionbudgets", "poddisruptionbudgets/status")),
        PolicyRule.resources(READ, List.of("networking.k8s.io"), List.of("networkpolicies", "ingresses", "ingresses/status"))));
    out.add(role("system:discovery", Map.of(), null,
        PolicyRule.urls(List.of("get"), List.of("/api", "/api/*", "/apis", "/apis/*", "/openapi", "/openapi/*"))));
    out.add(role("system:basic-user", Map.of(), null,
        PolicyRule.resources(List.of("create"), List.of("authorization.k8s.io"), List.of("selfsubjectaccessreviews", "selfsubjectrulesreviews")),
        PolicyRule.resources(List.of("create"), List.of("authentication.k8s.io"), List.of("selfsubjectreviews"))));
    // What a node agent does (policy.go NodeRules, without the Node authorizer's per-node
    // narrowing: Skiff binds the role to the system:nodes group, as clusters without the Node
    // authorizer did).
    out.add(role("system:node", Map.of(), null,
        PolicyRule.resources(List.of("create", "delete", "get", "list", "watch", "patch", "update"), List.of(""), List.of("nodes")),
        PolicyRule.resources(List.of("patch", "update"), List.of(""), List.of("nodes/status")),
        PolicyRule.resources(READ_WRITE, List.of(""), List.of("pods")),
        PolicyRule.resources(List.of("patch", "update"), List.of(""), List.of("pods/status")),
        PolicyRule.resources(List.of("create"), List.of(""), List.of("pods/eviction", "serviceaccounts/token")),
        PolicyRule.resources(READ, List.of(""), List.of("services", "endpoints", "configmaps", "secrets",
            "persistentvolumeclaims", "persistentvolumes", "namespaces")),
        PolicyRule.resources(List.of("create", "patch", "update"), List.of("", "events.k8s.io"), List.of("events")),
        PolicyRule.resources(READ_WRITE, List.of("coordination.k8s.io"), List.of("leases")),
        PolicyRule.resources(READ_WRITE, List.of("discovery.k8s.io"), List.of("endpointslices")),
        PolicyRule.resources(READ, List.of("storage.k8s.io"), List.of("csidrivers", "csinodes", "storageclasses", "volumeattachments")),
        PolicyRule.resources(List.of("create"), List.of("authentication.k8s.io"), List.of("tokenreviews")),
        PolicyRule.resources(List.of("create"), List.of("authorization.k8s.io"), List.of("subjectaccessreviews")),
        PolicyRule.resources(READ, List.of("node.k8s.io"), List.of("runtimeclasses"))));
    // A joining agent with the node token may only ask for its node credentials.
    out.add(role("skiff:node-bootstrapper", Map.of(), null,
        PolicyRule.resources(List.of("create"), List.of("skiff.dev"), List.of("nodecredentialrequests"))));
    out.add(role("system:public-info-viewer", Map.of(), null,
        PolicyRule.urls(List.of("get"), List.of("/livez", "/readyz", "/healthz", "/version", "/version/"))));
    return out;
  }

  static List<ObjectNode> clusterRoleBindings() {
    return List.of(
        binding("cluster-admin", "cluster-admin", "system:masters"),
        binding("system:discovery", "system:discovery", "system:authenticated"),
        binding("system:node", "system:node", "system:nodes"),
        binding("skiff:node-bootstrapper", "skiff:node-bootstrapper", "system:bootstrappers"),
        binding("system:basic-user", "system:basic-user", "system:authenticated"),
        binding("system:public-info-viewer", "system:public-info-viewer", "system:authenticated", "system:unauthenticated"));
  }

  private static ObjectNode meta(ObjectNode obj, String name, Map<String, String> labels) {
    ObjectNode m = obj.putObject("metadata");
    m.put("name", name);
    m.putObject("annotations").put(AUTOUPDATE, "true");
    ObjectNode l = m.putObject("labels");
    l.put(BOOTSTRAPPING, "rbac-defaults");
    labels.forEach(l::put);
    return m;
  }

  private static ObjectNode role(String name, Map<String, String> labels, String aggregateFrom, PolicyRule... rules) {
    ObjectNode r = Json.object();
    r.put("apiVersion", RbacAuthorizer.GROUP + "/v1");
    r.put("kind", "ClusterRole");
    meta(r, name, labels);
    if (aggregateFrom != null) {
      r.putObject("aggregationRule").putArray("clusterRoleSelectors").addObject()
          .putObject("matchLabels").put(AGG + aggregateFrom, "true");
    }
    ArrayNode a = r.putArray("rules");
    for (PolicyRule rule : rules) {
      a.add(rule.toJson());
    }
    return r;
  }

  private static ObjectNode binding(String name, String role, String... groups) {
    ObjectNode b = Json.object();
    b.put("apiVersion", RbacAuthorizer.GROUP + "/v1");
    b.put("kind", "ClusterRoleBinding");
    meta(b, name, Map.of());
    ObjectNode ref = b.putObject("roleRef");
    ref.put("apiGroup", RbacAuthorizer.GROUP);
    ref.put("kind", "ClusterRole");
    ref.put("name", role);
    ArrayNode subjects = b.putArray("subjects");
    for (String g : groups) {
      ObjectNode s = subjects.addObject();
      s.put("apiGroup", RbacAuthorizer.GROUP);
      s.put("kind", "Group");
      s.put("name", g);
    }
    return b;
  }
}
