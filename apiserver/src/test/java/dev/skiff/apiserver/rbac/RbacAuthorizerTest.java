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
}
