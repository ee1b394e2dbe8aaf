package dev.skiff.apiserver.rbac;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.auth.RequestAttributes;
import dev.skiff.apiserver.auth.RequestUser;
import dev.skiff.apiserver.auth.UserInfo;
import dev.skiff.apiserver.registry.Admission;
import dev.skiff.apiserver.registry.Meta;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.ResourceRegistry;
import dev.skiff.apiserver.registry.ResourceStore;
import dev.skiff.apiserver.registry.WriteOptions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * RBAC's privilege-escalation prevention (pkg/registry/rbac/{role,clusterrole,rolebinding,
 * clusterrolebinding}/policybased and rbac/validation/policy_comparator.go): a user may write a
 * role only with rules they already hold (or the {@code escalate} verb on it), and bind a role
 * only if they hold its rules (or the {@code bind} verb on it). system:masters and the server's
 * own writes are exempt.
 */
public final class EscalationCheck implements Admission {
  private final RbacAuthorizer rbac;
  private final ResourceStore roles;
  private final ResourceStore clusterRoles;

  public EscalationCheck(RbacAuthorizer rbac, ResourceRegistry registry) {
    this.rbac = rbac;
    this.roles = registry.storeForKind(RbacAuthorizer.GROUP, "Role");
    this.clusterRoles = registry.storeForKind(RbacAuthorizer.GROUP, "ClusterRole");
  }

  @Override
  public void admit(ResourceDescriptor d, ObjectNode obj, ObjectNode old, WriteOptions options) {
    if (!d.group.equals(RbacAuthorizer.GROUP)) {
      return;
    }
    UserInfo user = RequestUser.current();
    if (user == null || user.groups().contains(RbacAuthorizer.SUPERUSER_GROUP)) {
      return;
    }
    String ns = d.namespaced ? Meta.namespace(obj) : null;
    String name = Meta.name(obj);
    switch (d.kind) {
      case "Role", "ClusterRole" -> {
        if (old != null && old.path("rules").equals(obj.path("rules"))
            && old.path("aggregationRule").equals(obj.path("aggregationRule"))) {
          return;
        }
        if (allowed(user, "escalate", d.plural, ns, name)) {
          return;
        }
        if (obj.hasNonNull("aggregationRule")) {
          throw forbidden(d, name, "must have cluster-admin privileges to use the aggregationRule");
        }
        confirmNoEscalation(d, name, user, ns, PolicyRule.parseAll(obj.get("rules")));
      }
      case "RoleBinding", "ClusterRoleBinding" -> {
        if (old != null && old.path("subjects").equals(obj.path("subjects")) && old.path("roleRef").equals(obj.path("roleRef"))) {
          return;
        }
        JsonNode ref = obj.path("roleRef");
        String kind = ref.path("kind").asText();
        String roleName = ref.path("name").asText();
        if (allowed(user, "bind", kind.equals("Role") ? "roles" : "clusterroles", ns, roleName)) {
          return;
        }
        List<PolicyRule> rules = List.of();
        try {
          ObjectNode role = kind.equals("Role") ? roles.getObject(ns, roleName) : clusterRoles.getObject(null, roleName);
          rules = PolicyRule.parseAll(role.get("rules"));
        } catch (ApiException notFound) {
          // a binding to a missing role grants nothing (yet)
        }
        confirmNoEscalation(d, name, user, ns, rules);
      }
      default -> { }
    }
  }

  private boolean allowed(UserInfo user, String verb, String resource, String ns, String name) {
    return rbac.authorize(user, new RequestAttributes(true, verb, RbacAuthorizer.GROUP, "*", resource, null, ns, name, ""))
        .allowed();
  }

  private void confirmNoEscalation(ResourceDescriptor d, String name, UserInfo user, String ns, List<PolicyRule> wanted) {
    RbacAuthorizer.Policy.Rules owner = rbac.rulesFor(user, ns);
    List<PolicyRule> ownerRules = new ArrayList<>(owner.resourceRules());
    ownerRules.addAll(owner.nonResourceRules());
    List<PolicyRule> missing = uncovered(ownerRules, wanted);
    if (missing.isEmpty()) {
      return;
    }
    String msg = "user " + quote(user.name()) + " (groups=" + quoteAll(user.groups())
        + ") is attempting to grant RBAC permissions not currently held:\n" + String.join("\n", compact(missing));
    if (!owner.errors().isEmpty()) {
      msg += "; resolution errors: [" + String.join(" ", owner.errors()) + "]";
    }
    throw forbidden(d, name, msg);
  }

  private static ApiException forbidden(ResourceDescriptor d, String name, String why) {
    ObjectNode details = Json.object();
    details.put("name", name);
    details.put("group", d.group);
    details.put("kind", d.plural);
    return new ApiException(403, "Forbidden", d.plural + "." + d.group + " " + quote(name) + " is forbidden: " + why, details);
  }

  /** Covers(): every atomic piece of the wanted rules must be covered by some owned rule. */
  static List<PolicyRule> uncovered(List<PolicyRule> owner, List<PolicyRule> wanted) {
    List<PolicyRule> missing = new ArrayList<>();
    for (PolicyRule w : wanted) {
      for (PolicyRule sub : breakdown(w)) {
        boolean covered = false;
        for (PolicyRule o : owner) {
          if (covers(o, sub)) {
            covered = true;
            break;
          }
        }
        if (!covered) {
          missing.add(sub);
        }
      }
    }
    return missing;
  }

  static List<PolicyRule> breakdown(PolicyRule r) {
    List<PolicyRule> out = new ArrayList<>();
    for (String g : r.apiGroups()) {
      for (String res : r.resources()) {
        for (String v : r.verbs()) {
          if (r.resourceNames().isEmpty()) {
            out.add(new PolicyRule(List.of(v), List.of(g), List.of(res), List.of(), List.of()));
          } else {
            for (String n : r.resourceNames()) {
              out.add(new PolicyRule(List.of(v), List.of(g), List.of(res), List.of(n), List.of()));
            }
          }
        }
      }
    }
    for (String u : r.nonResourceURLs()) {
      for (String v : r.verbs()) {
        out.add(new PolicyRule(List.of(v), List.of(), List.of(), List.of(), List.of(u)));
      }
    }
    return out;
  }

  static boolean covers(PolicyRule owner, PolicyRule sub) {
    boolean verbs = owner.verbs().contains("*") || owner.verbs().containsAll(sub.verbs());
    boolean groups = owner.apiGroups().contains("*") || owner.apiGroups().containsAll(sub.apiGroups());
    boolean resources = resourcesCover(owner.resources(), sub.resources());
    boolean urls = sub.nonResourceURLs().stream().allMatch(p -> owner.nonResourceURLs().stream().anyMatch(o ->
        o.equals(p) || (o.endsWith("*") && p.startsWith(o.replaceAll("\\*+$", "")))));
    boolean names = sub.resourceNames().isEmpty() ? owner.resourceNames().isEmpty()
        : owner.resourceNames().isEmpty() || owner.resourceNames().containsAll(sub.resourceNames());
    return verbs && groups && resources && names && urls;
  }

  private static boolean resourcesCover(List<String> owner, List<String> wanted) {
    if (owner.contains("*") || owner.containsAll(wanted)) {
      return true;
    }
    for (String p : wanted) {
      if (owner.contains(p)) {
        continue;
      }
      int slash = p.indexOf('/');
      if (slash < 0 || !owner.contains("*/" + p.substring(slash + 1))) {
        return false;
      }
    }
    return true;
  }

  /** CompactRules + CompactString: verbs of the same group/resource/name merged, one rule a line, sorted. */
  private static List<String> compact(List<PolicyRule> missing) {
    Map<String, List<String>> verbs = new LinkedHashMap<>();
    Map<String, PolicyRule> first = new LinkedHashMap<>();
    for (PolicyRule r : missing) {
      String key = r.apiGroups() + "|" + r.resources() + "|" + r.resourceNames() + "|" + r.nonResourceURLs();
      first.putIfAbsent(key, r);
      verbs.computeIfAbsent(key, k -> new ArrayList<>()).addAll(r.verbs());
    }
    TreeSet<String> lines = new TreeSet<>();
    first.forEach((k, r) -> {
      List<String> parts = new ArrayList<>();
      if (!r.apiGroups().isEmpty()) {
        parts.add("APIGroups:" + quoteAll(r.apiGroups()));
      }
      if (!r.resources().isEmpty()) {
        parts.add("Resources:" + quoteAll(r.resources()));
      }
      if (!r.nonResourceURLs().isEmpty()) {
        parts.add("NonResourceURLs:" + quoteAll(r.nonResourceURLs()));
      }
      if (!r.resourceNames().isEmpty()) {
        parts.add("ResourceNames:" + quoteAll(r.resourceNames()));
      }
      parts.add("Verbs:" + quoteAll(verbs.get(k)));
      lines.add("{" + String.join(", ", parts) + "}");
    });
    return new ArrayList<>(lines);
  }

  private static String quote(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }

  /** Go's %q of a []string: ["a" "b"]. */
  private static String quoteAll(List<String> values) {
    List<String> q = new ArrayList<>();
    values.forEach(v -> q.add(quote(v)));
    return "[" + String.join(" ", q) + "]";
  }
}
