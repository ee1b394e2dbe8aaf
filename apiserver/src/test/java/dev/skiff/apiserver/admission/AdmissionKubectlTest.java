package dev.skiff.apiserver.admission;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** ServiceAccount, LimitRanger and ResourceQuota admission through kubectl. */
class AdmissionKubectlTest {
  static TestServer server;
  static Kubectl kubectl;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
    kubectl = server.kubectl();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  static String pod(String name, String ns, String resources) {
    return """
        apiVersion: v1
        kind: Pod
        metadata: {name: %s, namespace: %s}
        spec:
          containers:
          - name: app
            image: nginx
        %s
        """.formatted(name, ns, resources == null ? "" : resources.indent(4));
  }

  @Test
  void quotaOfTwoPodsRefusesTheThird() throws Exception {
    kubectl.runWithInput("""
        apiVersion: v1
        kind: Namespace
        metadata: {name: quota}
        ---
        apiVersion: v1
        kind: ResourceQuota
        metadata: {name: q, namespace: quota}
        spec:
          hard: {pods: "2", count/configmaps: "5"}
        """, "apply", "-f", "-").ok();
    kubectl.runWithInput(pod("p1", "quota", null), "apply", "-f", "-").ok();
    kubectl.runWithInput(pod("p2", "quota", null), "apply", "-f", "-").ok();
    var third = kubectl.runWithInput(pod("p3", "quota", null), "apply", "-f", "-");
    assertThat(third.code()).isEqualTo(1);
    assertThat(third.err()).contains(
        "pods \"p3\" is forbidden: exceeded quota: q, requested: pods=1, used: pods=2, limited: pods=2");
    assertThat(kubectl.run("get", "pods", "-n", "quota", "-o", "name").ok().out().strip()).isEqualTo("pod/p1\npod/p2");
    String used = "";
    for (int i = 0; i < 50 && !used.equals("2 2"); i++) {
      used = kubectl.run("get", "quota", "q", "-n", "quota", "-o", "jsonpath={.status.used.pods} {.status.hard.pods}").ok().out();
      Thread.sleep(100);
    }
    assertThat(used).isEqualTo("2 2");
    // deleting a pod frees its unit again once the quota controller recounts, also when p2's
    // charge is still settling then (recounted when it settles, not at the 10 s sweep)
    kubectl.run("delete", "pod", "p1", "-n", "quota", "--grace-period=0", "--force").ok();
    String again = "";
    for (long until = System.nanoTime() + 8_000_000_000L; System.nanoTime() < until && again.isEmpty(); ) {
      var r = kubectl.runWithInput(pod("p3", "quota", null), "apply", "-f", "-");
      again = r.code() == 0 ? r.out() : "";
      Thread.sleep(100);
    }
    assertThat(again).contains("pod/p3 created");
  }

  @Test
  void quotaCountsOtherKindsAndComputeResources() throws Exception {
    kubectl.runWithInput("""
        apiVersion: v1
        kind: Namespace
        metadata: {name: compute}
        ---
        apiVersion: v1
        kind: ResourceQuota
        metadata: {name: compute, namespace: compute}
        spec:
          hard: {requests.cpu: "1", limits.memory: 1Gi, count/configmaps: "3"}
        """, "apply", "-f", "-").ok();
    // kube-root-ca.crt is not published here, so three configmaps fit
    for (int i = 1; i <= 3; i++) {
      server.kubectl(Kubectl.V1_27).run("create", "configmap", "c" + i, "-n", "compute").ok();
    }
    var fourth = server.kubectl(Kubectl.V1_27).run("create", "configmap", "c4", "-n", "compute");
    assertThat(fourth.err().strip()).isEqualTo("error: failed to create configmap: configmaps \"c4\" is forbidden: "
        + "exceeded quota: compute, requested: count/configmaps=1, used: count/configmaps=3, limited: count/configmaps=3");
    var unspecified = kubectl.runWithInput(pod("bare", "compute", null), "apply", "-f", "-");
    assertThat(unspecified.err()).contains(
        "pods \"bare\" is forbidden: failed quota: compute: must specify limits.memory for: app; requests.cpu for: app");
    String sized = "resources: {requests: {cpu: 600m}, limits: {memory: 512Mi}}";
    kubectl.runWithInput(pod("a", "compute", sized), "apply", "-f", "-").ok();
    var b = kubectl.runWithInput(pod("b", "compute", sized), "apply", "-f", "-");
    assertThat(b.err()).contains(
        "pods \"b\" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, used: requests.cpu=600m, limited: requests.cpu=1");
  }

  @Test
  void limitRangeDefaultsAppearOnPodsAndMaxIsEnforced() throws Exception {
    kubectl.runWithInput("""
        apiVersion: v1
        kind: Namespace
        metadata: {name: limits}
        ---
        apiVersion: v1
        kind: LimitRange
        metadata: {name: lr, namespace: limits}
        spec:
          limits:
          - type: Container
            default: {cpu: 500m, memory: 128Mi}
            defaultRequest: {cpu: 100m}
            max: {cpu: "1"}
        """, "apply", "-f", "-").ok();
    kubectl.runWithInput(pod("web", "limits", null), "apply", "-f", "-").ok();
    var res = kubectl.run("get", "pod", "web", "-n", "limits", "-o",
        "jsonpath={.spec.containers[0].resources.limits.cpu} {.spec.containers[0].resources.limits.memory} "
            + "{.spec.containers[0].resources.requests.cpu} {.spec.containers[0].resources.requests.memory}").ok();
    assertThat(res.out()).isEqualTo("500m 128Mi 100m 128Mi");
    var ann = kubectl.run("get", "pod", "web", "-n", "limits", "-o", "jsonpath={.metadata.annotations.kubernetes\\.io/limit-ranger}").ok();
    assertThat(ann.out()).isEqualTo("LimitRanger plugin set: cpu, memory request for container app; cpu, memory limit for container app");
    var big = kubectl.runWithInput(pod("big", "limits", "resources: {limits: {cpu: \"2\"}}"), "apply", "-f", "-");
    assertThat(big.code()).isEqualTo(1);
    assertThat(big.err()).contains("pods \"big\" is forbidden: maximum cpu usage per Container is 1, but limit is 2");
    kubectl.runWithInput("""
        apiVersion: v1
        kind: LimitRange
        metadata: {name: ratio, namespace: limits}
        spec:
          limits:
          - type: Container
            maxLimitRequestRatio: {memory: "2"}
        """, "apply", "-f", "-").ok();
    var greedy = kubectl.runWithInput(pod("greedy", "limits", "resources: {requests: {memory: 64Mi}, limits: {memory: 256Mi}}"),
        "apply", "-f", "-");
    assertThat(greedy.err()).contains(
        "pods \"greedy\" is forbidden: memory max limit to request ratio per Container is 2, but provided ratio is 4.000000");
  }

  @Test
  void podsRunAsTheDefaultServiceAccount() throws Exception {
    kubectl.runWithInput(pod("sa-pod", "default", null), "apply", "-f", "-").ok();
    var r = kubectl.run("get", "pod", "sa-pod", "-o", "jsonpath={.spec.serviceAccountName}").ok();
    assertThat(r.out()).isEqualTo("default");
    assertThat(kubectl.run("get", "sa", "default", "-n", "kube-system", "-o", "name").ok().out().strip())
        .isEqualTo("serviceaccount/default");
    var missing = kubectl.runWithInput(pod("ghost-pod", "default", null).replace("  containers:", "  serviceAccountName: ghost\n  containers:"),
        "apply", "-f", "-");
    assertThat(missing.code()).isEqualTo(1);
    assertThat(missing.err()).contains(
        "pods \"ghost-pod\" is forbidden: error looking up service account default/ghost: serviceaccount \"ghost\" not found");
    // a pod created together with its namespace finds the default account
    var together = kubectl.runWithInput("""
        apiVersion: v1
        kind: Namespace
        metadata: {name: instant}
        ---
        """ + pod("first", "instant", null), "apply", "-f", "-");
    assertThat(together.code()).as(together.err()).isZero();
  }
}
