package dev.skiff.apiserver.rbac;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.pki.ClusterPki;
import dev.skiff.apiserver.pki.Kubeconfig;
import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** RBAC, reviews and service-account tokens as kubectl sees them. */
class AuthorizationKubectlTest {
  static final String FORBIDDEN_PODS_DEFAULT =
      "Error from server (Forbidden): pods is forbidden: User \"bob\" cannot list resource \"pods\" in API group \"\" in the namespace \"default\"";

  static final String V1_31 = "/usr/lib/google-cloud-sdk/bin/kubectl.1.31";
  static TestServer server;
  static Kubectl admin;
  static Kubectl admin127;
  static Path bobConfig;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
    admin = server.kubectl();
    admin127 = server.kubectl(Kubectl.V1_27);
    bobConfig = userKubeconfig("bob");
    admin.runWithInput("""
        apiVersion: v1
        kind: Namespace
        metadata: {name: team}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: viewers}
        """, "apply", "-f", "-").ok();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  static Path userKubeconfig(String user) throws Exception {
    Path file = server.home().resolve(user + ".kubeconfig");
    server.server().pki().issueClientCertificate(user, List.of(), Duration.ofHours(1))
        .kubeconfig(ClusterPki.CLUSTER_NAME, server.url(), user).write(file);
    return file;
  }

  static Kubectl as(Path kubeconfig, String binary) throws Exception {
    return new Kubectl(binary, kubeconfig, server.home());
  }

  @Test
  void bobIsRefusedThenGetsExactlyWhatHisRoleBindingGrants() throws Exception {
    Kubectl bob = as(bobConfig, Kubectl.DEFAULT);
    var refused = bob.run("get", "pods", "-n", "default");
    assertThat(refused.code()).isEqualTo(1);
    assertThat(refused.err().strip()).isEqualTo(FORBIDDEN_PODS_DEFAULT);
    assertThat(bob.run("get", "pods", "-n", "team").err()).contains("cannot list resource \"pods\" in API group \"\" in the namespace \"team\"");

    admin.runWithInput("""
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: pod-reader, namespace: team}
        rules:
        - apiGroups: [""]
          resources: [pods]
          verbs: [get, list, watch]
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {name: bob-reads-pods, namespace: team}
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
        subjects:
        - {apiGroup: rbac.authorization.k8s.io, kind: User, name: bob}
        """, "apply", "-f", "-").ok();

    var listed = bob.run("get", "pods", "-n", "team");
    assertThat(listed.code()).as(listed.err()).isZero();
    assertThat(listed.err()).contains("No resources found in team namespace.");
    // nothing else: other namespaces, other resources, other verbs
    assertThat(bob.run("get", "pods", "-n", "default").err().strip()).isEqualTo(FORBIDDEN_PODS_DEFAULT);
    assertThat(bob.run("get", "configmaps", "-n", "team").err().strip()).isEqualTo(
        "Error from server (Forbidden): configmaps is forbidden: User \"bob\" cannot list resource \"configmaps\" in API group \"\" in the namespace \"team\"");
    assertThat(bob.run("delete", "pod", "x", "-n", "team").err().strip()).isEqualTo(
        "Error from server (Forbidden): pods \"x\" is forbidden: User \"bob\" cannot delete resource \"pods\" in API group \"\" in the namespace \"team\"");
    assertThat(bob.run("get", "nodes").err().strip()).isEqualTo(
        "Error from server (Forbidden): nodes is forbidden: User \"bob\" cannot list resource \"nodes\" in API group \"\" at the cluster scope");

    Kubectl bob127 = as(bobConfig, Kubectl.V1_27);
    var yes = bob127.run("auth", "can-i", "list", "pods", "-n", "team");
    assertThat(yes.code()).isZero();
    assertThat(yes.out().strip()).isEqualTo("yes");
    var no = bob127.run("auth", "can-i", "create", "pods", "-n", "team");
    assertThat(no.code()).isEqualTo(1);
    assertThat(no.out().strip()).isEqualTo("no");
    var elsewhere = bob127.run("auth", "can-i", "get", "pods", "-n", "default");
    assertThat(elsewhere.code()).isEqualTo(1);
    assertThat(elsewhere.out().strip()).isEqualTo("no");
    var adminYes = server.kubectl(Kubectl.V1_27).run("auth", "can-i", "delete", "nodes");
    assertThat(adminYes.out().strip()).isEqualTo("yes");

    var list = bob127.run("auth", "can-i", "--list", "-n", "team");
    assertThat(list.code()).as(list.err()).isZero();
    assertThat(list.out()).contains("pods").contains("[get list watch]").contains("selfsubjectaccessreviews.authorization.k8s.io");
  }

  @Test
  void whoamiShowsTheUserAndGroups() throws Exception {
    var r = as(bobConfig, Kubectl.V1_27).run("auth", "whoami");
    assertThat(r.code()).as(r.err()).isZero();
    assertThat(r.out()).contains("Username").contains("bob").contains("system:authenticated");
    var a = admin127.run("auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}");
    assertThat(a.ok().out()).isEqualTo("skiff-admin [\"system:masters\",\"system:authenticated\"]");
  }

  @Test
  void aggregatedViewRoleLetsABoundUserReadConfigMaps() throws Exception {
    Path carolConfig = userKubeconfig("carol");
    Kubectl carol = as(carolConfig, Kubectl.DEFAULT);
    admin127.run("create", "configmap", "settings", "-n", "viewers", "--from-literal=a=b").ok();
    assertThat(carol.run("get", "configmaps", "-n", "viewers").code()).isEqualTo(1);
    // the imperative form (kubectl 1.31 still sends JSON; 1.32 sends protobuf)
    server.kubectl(V1_31).run("create", "rolebinding", "carol-views", "--clusterrole=view", "--user=carol", "-n", "viewers").ok();
    var got = carol.run("get", "configmaps", "-n", "viewers");
    assertThat(got.code()).as(got.err()).isZero();
    assertThat(got.out()).contains("settings");
    assertThat(carol.run("get", "configmaps", "-n", "team").code()).isEqualTo(1);
    assertThat(as(carolConfig, Kubectl.V1_27).run("create", "configmap", "x", "-n", "viewers").err())
        .contains("User \"carol\" cannot create resource \"configmaps\" in API group \"\" in the namespace \"viewers\"");
    // the aggregated roles carry their sub-roles' rules
    var view = admin.run("get", "clusterrole", "view", "-o", "jsonpath={.rules[0].resources}").ok();
    assertThat(view.out()).contains("pods").contains("configmaps");
    var adminRole = admin.run("get", "clusterrole", "admin", "-o", "json").ok();
    assertThat(adminRole.out()).contains("localsubjectaccessreviews").contains("configmaps").contains("rolebindings");
    var labels = admin.run("get", "clusterrole", "cluster-admin", "-o",
        "jsonpath={.metadata.labels.kubernetes\\.io/bootstrapping} {.metadata.annotations.rbac\\.authorization\\.kubernetes\\.io/autoupdate}").ok();
    assertThat(labels.out()).isEqualTo("rbac-defaults true");
  }

  @Test
  void serviceAccountTokenAuthenticatesAndIsAuthorized() throws Exception {
    admin.runWithInput("""
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: robot, namespace: team}
        """, "apply", "-f", "-").ok();
    var tok = server.kubectl(Kubectl.V1_27).run("create", "token", "robot", "-n", "team");
    assertThat(tok.code()).as(tok.err()).isZero();
    String token = tok.out().strip();
    assertThat(token.split("\\.")).hasSize(3);
    Path robotConfig = server.home().resolve("robot.kubeconfig");
    Kubeconfig.withToken(ClusterPki.CLUSTER_NAME, server.url(), List.of(server.server().pki().caCertificate()), "robot", token)
        .write(robotConfig);
    Kubectl robot = as(robotConfig, Kubectl.DEFAULT);
    var refused = robot.run("get", "pods", "-n", "team");
    assertThat(refused.err().strip()).isEqualTo(
        "Error from server (Forbidden): pods is forbidden: User \"system:serviceaccount:team:robot\" cannot list resource \"pods\" in API group \"\" in the namespace \"team\"");
    admin.runWithInput("""
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {name: robot-reads-pods, namespace: team}
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
        subjects:
        - {kind: ServiceAccount, name: robot}
        """, "apply", "-f", "-").ok();
    var ok = robot.run("get", "pods", "-n", "team");
    assertThat(ok.code()).as(ok.err()).isZero();
    var who = as(robotConfig, Kubectl.V1_27).run("auth", "whoami", "-o", "jsonpath={.status.userInfo.username} {.status.userInfo.groups}");
    assertThat(who.ok().out()).isEqualTo(
        "system:serviceaccount:team:robot [\"system:serviceaccounts\",\"system:serviceaccounts:team\",\"system:authenticated\"]");
    var extra = as(robotConfig, Kubectl.V1_27).run("auth", "whoami", "-o", "json").ok();
    assertThat(extra.out()).contains("\"authentication.kubernetes.io/credential-id\"").contains("JTI=");
    // a token bound to a pod names it, and stops working when the pod goes
    admin.runWithInput("""
        apiVersion: v1
        kind: Pod
        metadata: {name: robot-pod, namespace: team}
        spec:
          serviceAccountName: robot
          containers: [{name: app, image: nginx}]
        """, "apply", "-f", "-").ok();
    String boundToken = server.kubectl(Kubectl.V1_27).run("create", "token", "robot", "-n", "team",
        "--bound-object-kind", "Pod", "--bound-object-name", "robot-pod").ok().out().strip();
    Path boundConfig = server.home().resolve("robot-bound.kubeconfig");
    Kubeconfig.withToken(ClusterPki.CLUSTER_NAME, server.url(), List.of(server.server().pki().caCertificate()), "robot", boundToken)
        .write(boundConfig);
    var boundWho = as(boundConfig, Kubectl.V1_27).run("auth", "whoami", "-o", "json").ok();
    assertThat(boundWho.out()).contains("\"authentication.kubernetes.io/pod-name\"").contains("robot-pod");
    var wrongPod = server.kubectl(Kubectl.V1_27).run("create", "token", "default", "-n", "team",
        "--bound-object-kind", "Pod", "--bound-object-name", "robot-pod");
    assertThat(wrongPod.err()).contains("cannot bind token for serviceaccount \"default\" to pod running with different serviceaccount name.");
    admin.run("delete", "pod", "robot-pod", "-n", "team", "--grace-period=0", "--force").ok();
    int code = 0;
    for (int i = 0; i < 20 && code == 0; i++) {
      code = as(boundConfig, Kubectl.DEFAULT).run("get", "pods", "-n", "team").code();
      Thread.sleep(100);
    }
    assertThat(code).isEqualTo(1);
    // a token for a deleted account stops working
    admin.run("delete", "sa", "robot", "-n", "team").ok();
    var gone = robot.run("get", "pods", "-n", "team");
    assertThat(gone.code()).isEqualTo(1);
    assertThat(gone.err()).contains("Unauthorized");
  }

  @Test
  void everyNamespaceGetsADefaultServiceAccount() throws Exception {
    admin127.run("create", "namespace", "fresh").ok();
    String out = "";
    for (int i = 0; i < 50 && !out.contains("default"); i++) {
      out = admin.run("get", "serviceaccounts", "-n", "fresh", "-o", "name").out();
      Thread.sleep(100);
    }
    assertThat(out.strip()).isEqualTo("serviceaccount/default");
  }

  @Test
  void namespaceAdminsCannotGrantWhatTheyDoNotHold() throws Exception {
    admin.runWithInput("""
        apiVersion: v1
        kind: Namespace
        metadata: {name: franks}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {name: frank-admin, namespace: franks}
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}
        subjects:
        - {apiGroup: rbac.authorization.k8s.io, kind: User, name: frank}
        """, "apply", "-f", "-").ok();
    Kubectl frank = as(userKubeconfig("frank"), Kubectl.DEFAULT);
    // within his rights: a role and a binding to it
    frank.runWithInput("""
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: reader, namespace: franks}
        rules:
        - {apiGroups: [""], resources: [pods], verbs: [get, list]}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {name: gina-reads, namespace: franks}
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: reader}
        subjects:
        - {apiGroup: rbac.authorization.k8s.io, kind: User, name: gina}
        """, "apply", "-f", "-").ok();
    var role = frank.runWithInput("""
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: node-reader, namespace: franks}
        rules:
        - {apiGroups: [""], resources: [nodes], verbs: [get, list]}
        """, "apply", "-f", "-");
    assertThat(role.code()).isEqualTo(1);
    assertThat(role.err()).contains("roles.rbac.authorization.k8s.io \"node-reader\" is forbidden: user \"frank\" "
        + "(groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n"
        + "{APIGroups:[\"\"], Resources:[\"nodes\"], Verbs:[\"get\" \"list\"]}");
    var binding = frank.runWithInput("""
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {name: frank-root, namespace: franks}
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
        subjects:
        - {apiGroup: rbac.authorization.k8s.io, kind: User, name: frank}
        """, "apply", "-f", "-");
    assertThat(binding.code()).isEqualTo(1);
    assertThat(binding.err()).contains("rolebindings.rbac.authorization.k8s.io \"frank-root\" is forbidden: user \"frank\" "
        + "(groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:");
  }
}
