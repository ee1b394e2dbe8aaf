package dev.skiff.apiserver.rbac;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.auth.Authorizer;
import dev.skiff.apiserver.auth.RequestAttributes;
import dev.skiff.apiserver.auth.UserInfo;
import dev.skiff.apiserver.cache.CachedObject;
import dev.skiff.apiserver.cache.CacheHub;
import dev.skiff.apiserver.cache.WatchCache;
import dev.skiff.apiserver.cache.WatchFilter;
import dev.skiff.apiserver.registry.ResourceRegistry;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * kube-apiserver's authorizer chain for Skiff: members of {@value #SUPERUSER_GROUP} may do
 * everything (the privileged-group authorizer that precedes RBAC upstream), everyone else gets
 * what their RoleBindings and ClusterRoleBindings grant (plugin/pkg/auth/authorizer/rbac/rbac.go).
 *
 * <p>Roles and bindings are read from the watch caches into a {@link Policy} snapshot: bindings
 * indexed by user and by group, each already resolved to its role's compiled rules. The snapshot
 * is rebuilt lazily when one of the four RBAC caches has changed (a volatile counter each), so a
 * request costs a few map lookups and the rules of the bindings naming this user or its groups.
 */
public final class RbacAuthorizer implements Authorizer {
  public static final String SUPERUSER_GROUP = "system:masters";
  static final String GROUP = "rbac.authorization.k8s.io";
  private static final String SA_PREFIX = "system:serviceaccount:";

  private final WatchCache roles;
  private final WatchCache roleBindings;
  private final WatchCache clusterRoles;
  private final WatchCache clusterRoleBindings;
  private final CacheHub hub;
  private volatile Policy policy;

  public RbacAuthorizer(ResourceRegistry registry) {
    this.roles = registry.storeForKind(GROUP, "Role").cache();
    this.roleBindings = registry.storeForKind(GROUP, "RoleBinding").cache();
    this.clusterRoles = registry.storeForKind(GROUP, "ClusterRole").cache();
    this.clusterRoleBindings = registry.storeForKind(GROUP, "ClusterRoleBinding").cache();
    this.hub = registry.hub();
  }

  @Override
  public Decision authorize(UserInfo user, RequestAttributes request) {
    List<String> groups = user.groups();
    for (int i = 0; i < groups.size(); i++) {
      if (groups.get(i).equals(SUPERUSER_GROUP)) {
        return Decision.ALLOW;
      }
    }
    Policy p = current();
    String reason = p.check(user, request);
    if (reason == null) {
      return Decision.ALLOW;
    }
    // A denial may come from a snapshot that has not seen a just-written binding yet: catch up
    // with the store once (rare path) so that "create a binding, then use it" behaves.
    hub.awaitCurrent();
    Policy fresh = current();
    if (fresh != p) {
      reason = fresh.check(user, request);
      if (reason == null) {
        return Decision.ALLOW;
      }
    }
    return Decision.deny(reason);
  }

  /** The rules that apply to a user in a namespace (SelfSubjectRulesReview), and resolution errors. */
  public Policy.Rules rulesFor(UserInfo user, String namespace) {
    return current().rulesFor(user, namespace);
  }

  private long stamp() {
    // Distinct weights so that changes in different caches never cancel out.
    return roles.changeCount() + 1_000_003L * roleBindings.changeCount()
        + 1_000_000_007L * clusterRoles.changeCount() + 1_000_000_000_039L * clusterRoleBindings.changeCount();
  }

  private Policy current() {
    Policy p = policy;
    long s = stamp();
    if (p != null && p.stamp == s) {
      return p;
    }
    synchronized (this) {
      p = policy;
      s = stamp();
      if (p == null || p.stamp != s) {
        p = build(s);
        policy = p;
      }
      return p;
    }
  }

  private Policy build(long stamp) {
    Map<String, List<PolicyRule>> roleRules = new HashMap<>();
    for (CachedObject o : roles.list(WatchFilter.ALL).objects()) {
      roleRules.put(o.namespace() + "/" + o.name(), PolicyRule.parseAll(Json.parseObject(o.json()).get("rules")));
    }
    Map<String, List<PolicyRule>> clusterRoleRules = new HashMap<>();
    for (CachedObject o : clusterRoles.list(WatchFilter.ALL).objects()) {
      clusterRoleRules.put(o.name(), PolicyRule.parseAll(Json.parseObject(o.json()).get("rules")));
    }
    Policy p = new Policy(stamp);
    for (CachedObject o : clusterRoleBindings.list(WatchFilter.ALL).objects()) {
      p.addBinding(Json.parseObject(o.json()), null, roleRules, clusterRoleRules);
    }
    for (CachedObject o : roleBindings.list(WatchFilter.ALL).objects()) {
      p.addBinding(Json.parseObject(o.json()), o.namespace(), roleRules, clusterRoleRules);
    }
    return p;
  }

  /** An immutable view of every binding, indexed by subject. */
  public static final class Policy {
    final long stamp;
    private final Map<String, List<Grant>> byUser = new HashMap<>();
    private final Map<String, List<Grant>> byGroup = new HashMap<>();

    /** A binding's grant: its rules in one namespace (null: everywhere), or why it grants nothing. */
    record Grant(String namespace, List<PolicyRule> rules, String error) {}

    /** Rules for a user in a namespace; {@code incomplete} when some binding could not be resolved. */
    public record Rules(List<PolicyRule> resourceRules, List<PolicyRule> nonResourceRules, List<String> errors) {}

    Policy(long stamp) {
      this.stamp = stamp;
    }

    void addBinding(ObjectNode binding, String namespace, Map<String, List<PolicyRule>> roleRules,
        Map<String, List<PolicyRule>> clusterRoleRules) {
      JsonNode ref = binding.path("roleRef");
      String kind = ref.path("kind").asText();
      String name = ref.path("name").asText();
      List<PolicyRule> rules;
      String error = null;
      if (kind.equals("ClusterRole")) {
        rules = clusterRoleRules.get(name);
        if (rules == null) {
          error = "clusterrole.rbac.authorization.k8s.io \"" + name + "\" not found";
        }
      } else if (kind.equals("Role") && namespace != null) {
        rules = roleRules.get(namespace + "/" + name);
        if (rules == null) {
          error = "role.rbac.authorization.k8s.io \"" + name + "\" not found";
        }
      } else {
        rules = null;
        error = "unknown roleRef kind " + kind;
      }
      Grant g = new Grant(namespace, rules == null ? List.of() : rules, error);
      for (JsonNode s : binding.path("subjects")) {
        String sk = s.path("kind").asText();
        String sn = s.path("name").asText();
        switch (sk) {
          case "User" -> byUser.computeIfAbsent(sn, k -> new ArrayList<>(2)).add(g);
          case "Group" -> byGroup.computeIfAbsent(sn, k -> new ArrayList<>(2)).add(g);
          case "ServiceAccount" -> {
            // A service account subject without a namespace means the binding's own namespace
            // (rbac.go appliesToUser); in a ClusterRoleBinding it then matches nobody.
            String ns = s.path("namespace").asText("");
            if (ns.isEmpty()) {
              ns = namespace == null ? "" : namespace;
            }
            if (!ns.isEmpty()) {
              byUser.computeIfAbsent(SA_PREFIX + ns + ":" + sn, k -> new ArrayList<>(2)).add(g);
            }
          }
          default -> { }
        }
      }
    }

    /** Null when allowed, else the deny reason ("" or "RBAC: ..." listing resolution errors). */
    String check(UserInfo user, RequestAttributes a) {
      List<String> errors = null;
      List<Grant> mine = byUser.get(user.name());
      if (mine != null) {
        for (int i = 0; i < mine.size(); i++) {
          Grant g = mine.get(i);
          if (!applies(g, a)) {
            continue;
          }
          if (g.error != null) {
            errors = addError(errors, g.error);
          } else if (allows(g.rules, a)) {
            return null;
          }
        }
      }
      List<String> groups = user.groups();
      for (int j = 0; j < groups.size(); j++) {
        List<Grant> gs = byGroup.get(groups.get(j));
        if (gs == null) {
          continue;
        }
        for (int i = 0; i < gs.size(); i++) {
          Grant g = gs.get(i);
          if (!applies(g, a)) {
            continue;
          }
          if (g.error != null) {
            errors = addError(errors, g.error);
          } else if (allows(g.rules, a)) {
            return null;
          }
        }
      }
      if (errors == null) {
        return "";
      }
      // rbac.go: "RBAC: " + utilerrors.NewAggregate(errors); one error prints bare, several as [a, b].
      return "RBAC: " + (errors.size() == 1 ? errors.get(0) : "[" + String.join(", ", errors) + "]");
    }

    private static List<String> addError(List<String> errors, String e) {
      List<String> out = errors == null ? new ArrayList<>(2) : errors;
      if (!out.contains(e)) {
        out.add(e);
      }
      return out;
    }

    private static boolean applies(Grant g, RequestAttributes a) {
      // ClusterRoleBindings apply everywhere; RoleBindings only to requests in their namespace.
      return g.namespace == null || g.namespace.equals(a.namespace());
    }

    private static boolean allows(List<PolicyRule> rules, RequestAttributes a) {
      for (int i = 0; i < rules.size(); i++) {
        if (rules.get(i).allows(a)) {
          return true;
        }
      }
      return false;
    }

    Rules rulesFor(UserInfo user, String namespace) {
      Set<PolicyRule> res = new LinkedHashSet<>();
      Set<PolicyRule> non = new LinkedHashSet<>();
      List<String> errors = new ArrayList<>();
      List<Grant> all = new ArrayList<>(byUser.getOrDefault(user.name(), List.of()));
      for (String g : user.groups()) {
        all.addAll(byGroup.getOrDefault(g, List.of()));
      }
      for (Grant g : all) {
        if (g.namespace != null && !g.namespace.equals(namespace)) {
          continue;
        }
        if (g.error != null) {
          if (!errors.contains(g.error)) {
            errors.add(g.error);
          }
          continue;
        }
        for (PolicyRule r : g.rules) {
          if (!r.resources().isEmpty()) {
            res.add(r);
          }
          if (!r.nonResourceURLs().isEmpty()) {
            non.add(r);
          }
        }
      }
      return new Rules(List.copyOf(res), List.copyOf(non), errors);
    }
  }
}
