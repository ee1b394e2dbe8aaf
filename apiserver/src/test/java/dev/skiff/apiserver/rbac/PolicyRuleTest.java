package dev.skiff.apiserver.rbac;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.auth.RequestAttributes;
import java.util.List;
import org.junit.jupiter.api.Test;

class PolicyRuleTest {
  private static RequestAttributes res(String verb, String group, String resource, String sub, String ns, String name) {
    return new RequestAttributes(true, verb, group, "v1", resource, sub, ns, name, "/x");
  }

  private static RequestAttributes path(String verb, String path) {
    return new RequestAttributes(false, verb, null, null, null, null, null, null, path);
  }

  private static PolicyRule rule(List<String> verbs, List<String> groups, List<String> resources, List<String> names) {
    return new PolicyRule(verbs, groups, resources, names, List.of());
  }

  @Test
  void verbsGroupsAndResourcesMatchExactlyOrByStar() {
    PolicyRule r = rule(List.of("get", "list"), List.of(""), List.of("pods"), List.of());
    assertThat(r.allows(res("get", "", "pods", null, "default", "p"))).isTrue();
    assertThat(r.allows(res("list", "", "pods", null, "default", null))).isTrue();
    assertThat(r.allows(res("delete", "", "pods", null, "default", "p"))).isFalse();
    assertThat(r.allows(res("get", "apps", "pods", null, "default", "p"))).isFalse();
    assertThat(r.allows(res("get", "", "services", null, "default", "p"))).isFalse();
    PolicyRule all = rule(List.of("*"), List.of("*"), List.of("*"), List.of());
    assertThat(all.allows(res("deletecollection", "apps", "deployments", "scale", null, null))).isTrue();
  }

  @Test
  void subresourcesNeedTheirOwnRuleOrStarSlash() {
    PolicyRule pods = rule(List.of("get"), List.of(""), List.of("pods"), List.of());
    assertThat(pods.allows(res("get", "", "pods", "log", "ns", "p"))).isFalse();
    PolicyRule log = rule(List.of("get"), List.of(""), List.of("pods/log"), List.of());
    assertThat(log.allows(res("get", "", "pods", "log", "ns", "p"))).isTrue();
    assertThat(log.allows(res("get", "", "pods", null, "ns", "p"))).isFalse();
    assertThat(log.allows(res("get", "", "pods", "exec", "ns", "p"))).isFalse();
    PolicyRule anyStatus = rule(List.of("get"), List.of("*"), List.of("*/status"), List.of());
    assertThat(anyStatus.allows(res("get", "apps", "deployments", "status", "ns", "d"))).isTrue();
    assertThat(anyStatus.allows(res("get", "apps", "deployments", "scale", "ns", "d"))).isFalse();
    assertThat(anyStatus.allows(res("get", "apps", "deployments", null, "ns", "d"))).isFalse();
  }

  @Test
  void resourceNamesRestrictToNamedObjects() {
    PolicyRule r = rule(List.of("get", "list"), List.of(""), List.of("configmaps"), List.of("a", "b"));
    assertThat(r.allows(res("get", "", "configmaps", null, "ns", "a"))).isTrue();
    assertThat(r.allows(res("get", "", "configmaps", null, "ns", "c"))).isFalse();
    // a list names no object, so a rule with resourceNames never allows it
    assertThat(r.allows(res("list", "", "configmaps", null, "ns", null))).isFalse();
  }

  @Test
  void nonResourceUrlsMatchExactlyOrByTrailingStar() {
    PolicyRule r = PolicyRule.urls(List.of("get"), List.of("/healthz", "/api/*", "/logs*"));
    assertThat(r.allows(path("get", "/healthz"))).isTrue();
    assertThat(r.allows(path("get", "/healthz/etcd"))).isFalse();
    assertThat(r.allows(path("get", "/api/v1"))).isTrue();
    assertThat(r.allows(path("get", "/api"))).isFalse();
    assertThat(r.allows(path("get", "/logsfoo"))).isTrue();
    assertThat(r.allows(path("post", "/healthz"))).isFalse();
    assertThat(PolicyRule.urls(List.of("*"), List.of("*")).allows(path("delete", "/anything"))).isTrue();
    // non-resource rules never grant resource requests, nor resource rules paths
    assertThat(r.allows(res("get", "", "pods", null, null, null))).isFalse();
    assertThat(rule(List.of("*"), List.of("*"), List.of("*"), List.of()).allows(path("get", "/healthz"))).isFalse();
  }

  @Test
  void jsonRoundTrip() {
    PolicyRule r = rule(List.of("get"), List.of(""), List.of("pods"), List.of("x"));
    assertThat(PolicyRule.parse(r.toJson())).isEqualTo(r);
  }

  @Test
  void aggregationSelectorsMatchLabels() throws Exception {
    var sel = dev.skiff.apiserver.api.Json.MAPPER.readTree(
        "[{\"matchLabels\":{\"a\":\"true\"}},{\"matchExpressions\":[{\"key\":\"b\",\"operator\":\"In\",\"values\":[\"x\"]}]}]");
    assertThat(ClusterRoleAggregator.selected(sel, java.util.Map.of("a", "true"))).isTrue();
    assertThat(ClusterRoleAggregator.selected(sel, java.util.Map.of("b", "x"))).isTrue();
    assertThat(ClusterRoleAggregator.selected(sel, java.util.Map.of("a", "false", "b", "y"))).isFalse();
  }

  @Test
  void coversFollowsPolicyComparator() {
    PolicyRule podsAll = rule(List.of("*"), List.of(""), List.of("pods", "*/status"), List.of());
    PolicyRule named = rule(List.of("get"), List.of(""), List.of("secrets"), List.of("a"));
    List<PolicyRule> owner = List.of(podsAll, named, PolicyRule.urls(List.of("get"), List.of("/api/*")));
    assertThat(EscalationCheck.uncovered(owner, List.of(rule(List.of("get", "delete"), List.of(""), List.of("pods"), List.of())))).isEmpty();
    assertThat(EscalationCheck.uncovered(owner, List.of(rule(List.of("get"), List.of(""), List.of("deployments/status"), List.of())))).isEmpty();
    assertThat(EscalationCheck.uncovered(owner, List.of(rule(List.of("get"), List.of(""), List.of("pods/log"), List.of())))).hasSize(1);
    assertThat(EscalationCheck.uncovered(owner, List.of(rule(List.of("get"), List.of(""), List.of("secrets"), List.of("a"))))).isEmpty();
    // all secrets is more than secret "a"
    assertThat(EscalationCheck.uncovered(owner, List.of(rule(List.of("get"), List.of(""), List.of("secrets"), List.of())))).hasSize(1);
    assertThat(EscalationCheck.uncovered(owner, List.of(PolicyRule.urls(List.of("get"), List.of("/api/v1"))))).isEmpty();
    assertThat(EscalationCheck.uncovered(owner, List.of(PolicyRule.urls(List.of("get"), List.of("/apis"))))).hasSize(1);
    // a "*" verb is only covered by "*"
    assertThat(EscalationCheck.uncovered(List.of(named), List.of(rule(List.of("*"), List.of(""), List.of("secrets"), List.of("a"))))).hasSize(1);
  }
}
