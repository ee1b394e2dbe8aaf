package dev.skiff.controllers;

import dev.skiff.runtime.LeaderElected;
import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import dev.skiff.runtime.ComponentContext;
import dev.skiff.runtime.FakeClock;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.NodeCondition;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.api.model.TaintBuilder;
import io.fabric8.kubernetes.api.model.Toleration;
import io.fabric8.kubernetes.api.model.TolerationBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Node lifecycle and taint eviction with a {@link FakeClock}: the 40 s grace period and the
 * tolerationSeconds pass when the test moves the clock. Nodes, Leases and pod statuses are written
 * by the test as a kubelet would.
 */
class NodeLifecycleControllerTest {
  static TestServer server;
  static KubernetesClient client;
  static FakeClock clock;
  static LeaderElected manager;
  static Kubectl kubectl;

  @BeforeAll
  static void up() throws Exception {
    server = TestServer.start();
    client = Harness.client(server);
    kubectl = server.kubectl();
    if (client.namespaces().withName("kube-node-lease").get() == null) {
      client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("kube-node-lease").endMetadata().build()).create();
    }
    clock = new FakeClock(System.currentTimeMillis());
    Map<String, String> opts = new HashMap<>(Harness.FAST_LEASE);
    opts.put("disable", "replicaset,deployment,statefulset,daemonset,batch");
    manager = (LeaderElected) new ControllerManager(clock).start(
        new ComponentContext(client, Files.createTempDirectory("cm"), "test", opts));
    // The controllers must be running before a test moves the clock: a node first seen after a
    // step starts its grace period there.
    assertThat(Harness.until(Duration.ofSeconds(20), manager::isLeader)).isTrue();
    Thread.sleep(1500);
  }

  @AfterAll
  static void down() throws Exception {
    manager.close();
    client.close();
    server.close();
  }

  static String ts() {
    return Instant.ofEpochMilli(clock.currentTimeMillis()).truncatedTo(ChronoUnit.SECONDS).toString();
  }

  /** A node posting Ready=True, with a Lease, as a kubelet registers it. */
  static void readyNode(String name, Taint... taints) {
    client.nodes().resource(new NodeBuilder().withNewMetadata().withName(name).endMetadata()
        .withNewSpec().withTaints(taints).endSpec().build()).create();
    postReady(name, "True");
    client.leases().inNamespace("kube-node-lease").resource(new LeaseBuilder().withNewMetadata().withName(name)
        .withNamespace("kube-node-lease").endMetadata().withNewSpec().withHolderIdentity(name).withLeaseDurationSeconds(40)
        .withRenewTime(ZonedDateTime.ofInstant(Instant.ofEpochMilli(clock.currentTimeMillis()), ZoneOffset.UTC)).endSpec().build()).create();
  }

  static void postReady(String name, String status) {
    String now = ts();
    client.nodes().withName(name).subresource("status").patch(PatchContext.of(PatchType.JSON_MERGE),
        "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"" + status + "\",\"reason\":\"KubeletReady\","
            + "\"lastHeartbeatTime\":\"" + now + "\",\"lastTransitionTime\":\"" + now + "\"}]}}");
  }

  static void renewLease(String name) {
    client.leases().inNamespace("kube-node-lease").withName(name).edit(l -> {
      l.getSpec().setRenewTime(ZonedDateTime.ofInstant(Instant.ofEpochMilli(clock.currentTimeMillis()), ZoneOffset.UTC).plusNanos(1000));
      return l;
    });
  }

  static Pod runningPod(String name, String node, Toleration... tolerations) {
    client.pods().inNamespace("default").resource(new PodBuilder().withNewMetadata().withName(name).endMetadata()
        .withNewSpec().withNodeName(node).withTolerations(tolerations).addNewContainer().withName("c").withImage("x").endContainer()
        .endSpec().build()).create();
    String now = ts();
    return client.pods().inNamespace("default").withName(name).subresource("status").patch(PatchContext.of(PatchType.JSON_MERGE),
        "{\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"" + now + "\"}]}}");
  }

  static Toleration tol(String key, Long seconds) {
    return new TolerationBuilder().withKey(key).withOperator("Exists").withEffect("NoExecute").withTolerationSeconds(seconds).build();
  }

  static Node node(String name) {
    return client.nodes().withName(name).get();
  }

  static NodeCondition ready(String name) {
    return NodeLifecycleController.condition(node(name), "Ready");
  }

  static List<String> taints(String name) {
    Node n = node(name);
    return n.getSpec().getTaints() == null ? List.of()
        : n.getSpec().getTaints().stream().map(t -> t.getKey() + ":" + t.getEffect()).sorted().toList();
  }

  static boolean gone(String pod) {
    Pod p = client.pods().inNamespace("default").withName(pod).get();
    return p == null || p.getMetadata().getDeletionTimestamp() != null;
  }

  static int markers;

  /**
   * Waits until the node lifecycle controller has caught up with the nodes created so far: a
   * marker node posting Ready=False, created after them, gets its not-ready taint only once the
   * queue reached it (a fixed sleep is not enough on a loaded machine, and a node first seen
   * after a clock step starts its grace period there).
   */
  static void awaitObserved() throws Exception {
    String name = "marker-" + (++markers);
    client.nodes().resource(new NodeBuilder().withNewMetadata().withName(name).endMetadata().build()).create();
    postReady(name, "False");
    assertThat(Harness.until(Duration.ofSeconds(20), () -> taints(name).contains("node.kubernetes.io/not-ready:NoExecute"))).isTrue();
    Thread.sleep(200);
    client.nodes().withName(name).delete();
  }

  /** Moves the fake clock and gives the controllers a moment to act on it. */
  static void step(Duration d) throws InterruptedException {
    clock.step(d);
    Thread.sleep(300);
  }

  @Test
  void silentNodeBecomesUnknownIsTaintedAndItsPodsAreEvictedAfterTheirTolerationSeconds() throws Exception {
    readyNode("quiet");
    readyNode("alive");
    runningPod("default-tol", "quiet"); // admission adds unreachable:NoExecute for 300 s
    runningPod("short-tol", "quiet", tol("node.kubernetes.io/unreachable", 10L));
    runningPod("forever", "quiet", tol("node.kubernetes.io/unreachable", null));
    runningPod("on-alive", "alive");
    assertThat(client.pods().inNamespace("default").withName("default-tol").get().getSpec().getTolerations())
        .anyMatch(t -> "node.kubernetes.io/unreachable".equals(t.getKey()) && Long.valueOf(300).equals(t.getTolerationSeconds()));
    awaitObserved(); // the controllers have seen both nodes (their probe clocks start now)

    step(Duration.ofSeconds(30));
    renewLease("alive"); // a heartbeat through the Lease only
    assertThat(ready("quiet").getStatus()).isEqualTo("True");
    step(Duration.ofSeconds(15)); // 45 s without a heartbeat from "quiet"
    assertThat(Harness.until(Duration.ofSeconds(10), () -> "Unknown".equals(ready("quiet").getStatus()))).isTrue();
    NodeCondition c = ready("quiet");
    assertThat(c.getReason()).isEqualTo("NodeStatusUnknown");
    assertThat(c.getMessage()).isEqualTo("Kubelet stopped posting node status.");
    assertThat(Harness.until(Duration.ofSeconds(10), () -> taints("quiet").equals(
        List.of("node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule")))).as(() -> "" + taints("quiet")).isTrue();
    assertThat(node("quiet").getSpec().getTaints().stream().filter(t -> "NoExecute".equals(t.getEffect())).findFirst().orElseThrow()
        .getTimeAdded()).isNotNull();
    // The Lease-renewing node stays Ready and untainted.
    assertThat(ready("alive").getStatus()).isEqualTo("True");
    assertThat(taints("alive")).isEmpty();
    // Pods on the unreachable node are marked NotReady.
    assertThat(Harness.until(Duration.ofSeconds(10), () -> !Pods.isReady(client.pods().inNamespace("default").withName("forever").get()))).isTrue();
    assertThat(Pods.isReady(client.pods().inNamespace("default").withName("on-alive").get())).isTrue();

    step(Duration.ofSeconds(5));
    assertThat(gone("short-tol")).isFalse();
    step(Duration.ofSeconds(6)); // 11 s under the taint > tolerationSeconds 10
    assertThat(Harness.until(Duration.ofSeconds(10), () -> gone("short-tol"))).isTrue();
    assertThat(gone("default-tol")).isFalse();
    step(Duration.ofSeconds(280));
    assertThat(gone("default-tol")).isFalse();
    step(Duration.ofSeconds(15)); // 306 s under the taint
    assertThat(Harness.until(Duration.ofSeconds(10), () -> gone("default-tol"))).isTrue();
    assertThat(gone("forever")).isFalse();
    assertThat(gone("on-alive")).isFalse();
    assertThat(client.v1().events().inNamespace("default").list().getItems()).anyMatch(e -> "TaintManagerEviction".equals(e.getReason())
        && "Marking for deletion Pod default/short-tol".equals(e.getMessage()));

    // The kubelet comes back: Ready again, taints removed.
    postReady("quiet", "True");
    assertThat(Harness.until(Duration.ofSeconds(10), () -> taints("quiet").isEmpty())).as(() -> "" + taints("quiet")).isTrue();
  }

  @Test
  void untoleratedNoExecuteTaintEvictsAtOnceAndConditionsBecomeTaints() throws Exception {
    Taint dedicated = new TaintBuilder().withKey("dedicated").withValue("db").withEffect("NoExecute").build();
    readyNode("tainted", dedicated);
    runningPod("intruder", "tainted");
    runningPod("guest", "tainted", new TolerationBuilder().withKey("dedicated").withOperator("Equal").withValue("db")
        .withEffect("NoExecute").build());
    assertThat(Harness.until(Duration.ofSeconds(10), () -> gone("intruder"))).isTrue();
    // The eviction is recorded as an event (the pod's DisruptionTarget condition may be
    // overwritten by this test's own status write of the pod when the eviction wins the race).
    assertThat(Harness.until(Duration.ofSeconds(10), () -> client.v1().events().inNamespace("default").list().getItems()
        .stream().anyMatch(e -> "TaintManagerEviction".equals(e.getReason())
            && "intruder".equals(e.getInvolvedObject().getName())))).isTrue();
    Thread.sleep(300);
    assertThat(gone("guest")).isFalse();

    readyNode("flaky");
    postReady("flaky", "False");
    assertThat(Harness.until(Duration.ofSeconds(10), () -> taints("flaky").equals(
        List.of("node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/not-ready:NoSchedule")))).as(() -> "" + taints("flaky")).isTrue();
    postReady("flaky", "True");
    assertThat(Harness.until(Duration.ofSeconds(10), () -> taints("flaky").isEmpty())).isTrue();

    kubectl.run("cordon", "flaky").ok();
    assertThat(Harness.until(Duration.ofSeconds(10), () -> taints("flaky").equals(List.of("node.kubernetes.io/unschedulable:NoSchedule"))))
        .as(() -> "" + taints("flaky")).isTrue();
    kubectl.run("uncordon", "flaky").ok();
    assertThat(Harness.until(Duration.ofSeconds(10), () -> taints("flaky").isEmpty())).isTrue();
    // A user's own taint is left alone.
    assertThat(taints("tainted")).containsExactly("dedicated:NoExecute");
  }

  @Test
  void podsOfADeletedNodeAreForceDeletedAfterTheQuarantine() throws Exception {
    readyNode("doomed");
    runningPod("orphan", "doomed");
    client.nodes().withName("doomed").delete();
    awaitObserved();
    step(Duration.ofSeconds(30));
    assertThat(client.pods().inNamespace("default").withName("orphan").get()).isNotNull();
    // Past the 40 s quarantine (counted from when the pod GC saw the node go, which a loaded
    // machine may delay by a few seconds of real time, hence up to three more steps).
    boolean deleted = false;
    for (int i = 0; i < 3 && !deleted; i++) {
      step(Duration.ofSeconds(15));
      deleted = Harness.until(Duration.ofSeconds(5), () -> client.pods().inNamespace("default").withName("orphan").get() == null);
    }
    assertThat(deleted).isTrue();
  }

  @Test
  void nodeThatNeverPostedStatusGetsTheStartupGracePeriod() throws Exception {
    kubectl.runWithInput("apiVersion: v1\nkind: Node\nmetadata: {name: ghost}\n", "apply", "-f", "-").ok();
    awaitObserved();
    step(Duration.ofSeconds(50)); // more than 40 s, less than the 60 s startup grace
    assertThat(ready("ghost")).isNull();
    step(Duration.ofSeconds(15));
    assertThat(Harness.until(Duration.ofSeconds(10), () -> ready("ghost") != null)).isTrue();
    assertThat(ready("ghost").getStatus()).isEqualTo("Unknown");
    assertThat(ready("ghost").getReason()).isEqualTo("NodeStatusNeverUpdated");
    assertThat(ready("ghost").getMessage()).isEqualTo("Kubelet never posted node status.");
    assertThat(Harness.until(Duration.ofSeconds(10), () -> taints("ghost").equals(
        List.of("node.kubernetes.io/unreachable:NoExecute", "node.kubernetes.io/unreachable:NoSchedule")))).as(() -> "" + taints("ghost")).isTrue();
  }
}
