package dev.skiff.apiserver.rbac;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.auth.RequestAttributes;
import dev.skiff.apiserver.auth.UserInfo;
import dev.skiff.apiserver.http.ApiHandler;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The Forbidden wording, checked against responsewriters/errors.go + apierrors.NewForbidden. */
class RbacAuthorizerTest {
  @Test
  void forbiddenMessagesFollowUpstream() {
    UserInfo bob = new UserInfo("bob", List.of());
    assertThat(ApiHandler.forbiddenMessage(bob,
        new RequestAttributes(true, "list", "", "v1", "pods", null, "default", null, "/api/v1/namespaces/default/pods"), ""))
        .isEqualTo("pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"");
    assertThat(ApiHandler.forbiddenMessage(bob,
        new RequestAttributes(true, "get", "apps", "v1", "deployments", "scale", "ns", "web", "/x"), ""))
        .isEqualTo("deployments.apps \"web\" is forbidden: User \"bob\" cannot get resource \"deployments/scale\" in API group \"apps\" in the namespace \"ns\"");
    assertThat(ApiHandler.forbiddenMessage(bob,
        new RequestAttributes(true, "list", "", "v1", "nodes", null, null, null, "/api/v1/nodes"), ""))
        .isEqualTo("nodes is forbidden: User \"bob\" cannot list resource \"nodes\" in API group \"\" at the cluster scope");
    assertThat(ApiHandler.forbiddenMessage(bob,
        new RequestAttributes(false, "get", null, null, null, null, null, null, "/logs"), ""))
        .isEqualTo("forbidden: User \"bob\" cannot get path \"/logs\"");
    assertThat(ApiHandler.forbiddenMessage(bob,
        new RequestAttributes(true, "get", "", "v1", "pods", null, "default", "p", "/x"),
        "RBAC: clusterrole.rbac.authorization.k8s.io \"gone\" not found"))
        .endsWith("in the namespace \"default\": RBAC: clusterrole.rbac.authorization.k8s.io \"gone\" not found");
  }

  private static com.fasterxml.jackson.databind.node.ObjectNode binding(String roleKind, String role, String subjects) {
    return dev.skiff.apiserver.api.Json.parseObject(("{\"roleRef\":{\"kind\":\"" + roleKind + "\",\"name\":\"" + role
        + "\"},\"subjects\":" + subjects + "}").getBytes());
  }

  private static RequestAttributes list(String resource, String ns) {
    return new RequestAttributes(true, "list", "", "v1", resource, null, ns, null, "/x");
  }

  @Test
  void bindingsGrantByScopeAndSubject() {
    var readPods = List.of(PolicyRule.resources(List.of("list"), List.of(""), List.of("pods")));
    var roles = java.util.Map.of("team/reader", readPods);
    var clusterRoles = java.util.Map.of("pod-lister", readPods);
    RbacAuthorizer.Policy p = new RbacAuthorizer.Policy(0);
    // RoleBinding to a Role: that namespace only; a ServiceAccount subject defaults to it
    p.addBinding(binding("Role", "reader", "[{\"kind\":\"User\",\"name\":\"bob\"},{\"kind\":\"ServiceAccount\",\"name\":\"ci\"}]"),
        "team", roles, clusterRoles);
    // ClusterRoleBinding: everywhere, for a group
    p.addBinding(binding("ClusterRole", "pod-lister", "[{\"kind\":\"Group\",\"name\":\"ops\"}]"), null, roles, clusterRoles);
    // RoleBinding to a ClusterRole: only in the binding's namespace
    p.addBinding(binding("ClusterRole", "pod-lister", "[{\"kind\":\"User\",\"name\":\"carol\"}]"), "dev", roles, clusterRoles);
    // a binding to a missing role explains the denial
    p.addBinding(binding("ClusterRole", "gone", "[{\"kind\":\"User\",\"name\":\"dan\"}]"), null, roles, clusterRoles);

    UserInfo bob = new UserInfo("bob", List.of());
    assertThat(p.check(bob, list("pods", "team"))).isNull();
    assertThat(p.check(bob, list("pods", "other"))).isEmpty();
    assertThat(p.check(bob, list("pods", null))).isEmpty();
    assertThat(p.check(bob, list("secrets", "team"))).isEmpty();
    assertThat(p.check(new UserInfo("system:serviceaccount:team:ci", List.of()), list("pods", "team"))).isNull();
    assertThat(p.check(new UserInfo("system:serviceaccount:other:ci", List.of()), list("pods", "team"))).isEmpty();
    UserInfo ops = new UserInfo("olga", List.of("ops"));
    assertThat(p.check(ops, list("pods", "anywhere"))).isNull();
    assertThat(p.check(ops, list("pods", null))).isNull();
    UserInfo carol = new UserInfo("carol", List.of());
    assertThat(p.check(carol, list("pods", "dev"))).isNull();
    assertThat(p.check(carol, list("pods", "team"))).isEmpty();
    assertThat(p.check(new UserInfo("dan", List.of()), list("pods", "x")))
        .isEqualTo("RBAC: clusterrole.rbac.authorization.k8s.io \"gone\" not found");
    var rules = p.rulesFor(carol, "dev");
    assertThat(rules.resourceRules()).containsExactlyElementsOf(readPods);
    assertThat(p.rulesFor(carol, "team").resourceRules()).isEmpty();
  }
}
