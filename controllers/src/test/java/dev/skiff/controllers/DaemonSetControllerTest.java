package dev.skiff.controllers;

import dev.skiff.runtime.LeaderElected;
import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.api.model.TaintBuilder;
import io.fabric8.kubernetes.api.model.apps.ControllerRevision;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The DaemonSet controller against a real API server, with Node objects created by the test and
 * {@link FakeKubelet} marking pods Running/Ready. Each test uses its own nodes (label
 * {@code test=<name>}) and a DaemonSet selecting them with a nodeSelector.
 */
class DaemonSetControllerTest {
  static TestServer server;
  static KubernetesClient client;
  static LeaderElected manager;
  static FakeKubelet kubelet;
  static Kubectl kubectl;

  @BeforeAll
  static void up() throws Exception {
    server = TestServer.start();
    client = Harness.client(server);
    kubelet = new FakeKubelet(client).delay(Duration.ofMillis(100)).start();
    // The test's Node objects have no kubelet: keep the node lifecycle controller from marking
    // them unreachable (and tainting them) should a test run past the 60 s startup grace.
    manager = Harness.startManager(server, client, Map.of("disable", "nodelifecycle,tainteviction"));
    kubectl = server.kubectl();
  }

  @AfterAll
  static void down() throws Exception {
    manager.close();
    kubelet.close();
    client.close();
    server.close();
  }

  static void node(String name, String test, Taint... taints) {
    client.nodes().resource(new NodeBuilder().withNewMetadata().withName(name).withLabels(Map.of("test", test)).endMetadata()
        .withNewSpec().withTaints(taints).endSpec().build()).create();
  }

  static Taint taint(String key, String effect) {
    return new TaintBuilder().withKey(key).withValue("x").withEffect(effect).build();
  }

  static String yaml(String name, String image, String extraSpec, String extraPodSpec) {
    return """
        apiVersion: apps/v1
        kind: DaemonSet
        metadata:
          name: %s
        spec:
        %s  selector:
            matchLabels: {app: %s}
          template:
            metadata:
              labels: {app: %s}
            spec:
              nodeSelector: {test: %s}
        %s      containers:
              - name: c
                image: %s
        """.formatted(name, extraSpec, name, name, name, extraPodSpec, image);
  }

  static DaemonSet get(String name) {
    return client.apps().daemonSets().inNamespace("default").withName(name).get();
  }

  static List<Pod> livePods(String app) {
    return client.pods().inNamespace("default").withLabel("app", app).list().getItems().stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null).toList();
  }

  static Set<String> podNodes(String app) {
    return livePods(app).stream().map(DaemonSetController::targetNode).collect(Collectors.toSet());
  }

  static String image(Pod p) {
    return p.getSpec().getContainers().get(0).getImage();
  }

  @Test
  void onePodPerEligibleNodeFollowingNodesAndTaints() throws Exception {
    node("a1", "basic");
    node("a2", "basic");
    node("a3", "basic", taint("dedicated", "NoSchedule"));
    node("a9", "other");
    kubectl.runWithInput(yaml("basic", "nginx:1", "", ""), "apply", "-f", "-").ok();
    var r = kubectl.run("rollout", "status", "ds/basic", "--timeout=30s").ok();
    assertThat(r.out()).contains("daemon set \"basic\" successfully rolled out");
    assertThat(podNodes("basic")).containsExactlyInAnyOrder("a1", "a2");
    Pod p = livePods("basic").get(0);
    var terms = p.getSpec().getAffinity().getNodeAffinity().getRequiredDuringSchedulingIgnoredDuringExecution().getNodeSelectorTerms();
    assertThat(terms).hasSize(1);
    assertThat(terms.get(0).getMatchFields()).singleElement().satisfies(f -> {
      assertThat(f.getKey()).isEqualTo("metadata.name");
      assertThat(f.getOperator()).isEqualTo("In");
      assertThat(f.getValues()).containsExactly(DaemonSetController.targetNode(p));
    });
    assertThat(p.getSpec().getTolerations()).extracting(t -> t.getKey() + ":" + t.getEffect()).contains(
        "node.kubernetes.io/not-ready:NoExecute", "node.kubernetes.io/unreachable:NoExecute",
        "node.kubernetes.io/disk-pressure:NoSchedule", "node.kubernetes.io/memory-pressure:NoSchedule",
        "node.kubernetes.io/pid-pressure:NoSchedule", "node.kubernetes.io/unschedulable:NoSchedule");
    assertThat(p.getMetadata().getLabels()).containsKey("controller-revision-hash");
    DaemonSet ds = get("basic");
    assertThat(ds.getStatus().getDesiredNumberScheduled()).isEqualTo(2);
    assertThat(ds.getStatus().getCurrentNumberScheduled()).isEqualTo(2);
    assertThat(ds.getStatus().getNumberReady()).isEqualTo(2);
    assertThat(ds.getStatus().getNumberAvailable()).isEqualTo(2);
    assertThat(ds.getStatus().getUpdatedNumberScheduled()).isEqualTo(2);
    assertThat(ds.getStatus().getNumberMisscheduled()).isZero();
    String table = kubectl.run("get", "ds", "basic").ok().out();
    assertThat(table).containsPattern("NAME\\s+DESIRED\\s+CURRENT\\s+READY\\s+UP-TO-DATE\\s+AVAILABLE\\s+NODE SELECTOR\\s+AGE")
        .containsPattern("basic\\s+2\\s+2\\s+2\\s+2\\s+2\\s+test=basic\\s");

    node("a4", "basic"); // a new node gets a pod
    assertThat(Harness.until(Duration.ofSeconds(10), () -> podNodes("basic").equals(Set.of("a1", "a2", "a4")))).isTrue();
    client.nodes().withName("a2").delete(); // a removed node loses it
    assertThat(Harness.until(Duration.ofSeconds(10), () -> podNodes("basic").equals(Set.of("a1", "a4")))).as(() -> "" + podNodes("basic")).isTrue();
    client.nodes().withName("a3").edit(n -> { n.getSpec().setTaints(List.of()); return n; }); // untainted: eligible
    assertThat(Harness.until(Duration.ofSeconds(10), () -> podNodes("basic").equals(Set.of("a1", "a3", "a4")))).isTrue();
    client.nodes().withName("a1").edit(n -> { n.getMetadata().getLabels().put("test", "gone"); return n; }); // no longer selected
    assertThat(Harness.until(Duration.ofSeconds(10), () -> podNodes("basic").equals(Set.of("a3", "a4")))).isTrue();
    // A NoSchedule taint does not evict a running daemon pod.
    client.nodes().withName("a4").edit(n -> { n.getSpec().setTaints(List.of(taint("dedicated", "NoSchedule"))); return n; });
    Thread.sleep(500);
    assertThat(podNodes("basic")).containsExactlyInAnyOrder("a3", "a4");
    assertThat(Harness.until(Duration.ofSeconds(5), () -> get("basic").getStatus().getDesiredNumberScheduled() == 1
        && get("basic").getStatus().getNumberMisscheduled() == 1)).isTrue();
  }

  @Test
  void noExecuteTaintsEvictUnlessTolerated() throws Exception {
    node("b1", "taint");
    node("b2", "taint");
    kubectl.runWithInput(yaml("taint", "nginx:1", "", ""), "apply", "-f", "-").ok();
    kubectl.run("rollout", "status", "ds/taint", "--timeout=30s").ok();
    // unreachable:NoExecute is tolerated by every daemon pod; a foreign NoExecute taint is not.
    client.nodes().withName("b1").edit(n -> { n.getSpec().setTaints(List.of(taint("node.kubernetes.io/unreachable", "NoExecute"))); return n; });
    client.nodes().withName("b2").edit(n -> { n.getSpec().setTaints(List.of(taint("evict", "NoExecute"))); return n; });
    assertThat(Harness.until(Duration.ofSeconds(10), () -> podNodes("taint").equals(Set.of("b1")))).as(() -> "" + podNodes("taint")).isTrue();
    // With a toleration in the template the pod comes back.
    kubectl.run("patch", "ds/taint", "--type=json", "-p",
        "[{\"op\":\"add\",\"path\":\"/spec/template/spec/tolerations\",\"value\":[{\"key\":\"evict\",\"operator\":\"Exists\"}]}]").ok();
    kubectl.run("rollout", "status", "ds/taint", "--timeout=30s").ok();
    assertThat(podNodes("taint")).containsExactlyInAnyOrder("b1", "b2");
  }

  /** Counts, from a watch, the moments fewer than {@code min} nodes had a ready, non-terminating pod. */
  static final class ReadyWatch implements AutoCloseable {
    final Map<String, Pod> live = new ConcurrentHashMap<>();
    final List<String> violations = new CopyOnWriteArrayList<>();
    final Watch watch;

    ReadyWatch(String app, int min, int maxPods) {
      var list = client.pods().inNamespace("default").withLabel("app", app).list();
      list.getItems().forEach(p -> live.put(p.getMetadata().getName(), p));
      var opts = new io.fabric8.kubernetes.api.model.ListOptionsBuilder().withLabelSelector("app=" + app)
          .withResourceVersion(list.getMetadata().getResourceVersion()).build();
      watch = client.pods().inNamespace("default").watch(opts, new Watcher<>() {
        @Override
        public synchronized void eventReceived(Action action, Pod p) {
          if (action == Action.DELETED) {
            live.remove(p.getMetadata().getName());
          } else {
            live.put(p.getMetadata().getName(), p);
          }
          long readyNodes = live.values().stream().filter(x -> x.getMetadata().getDeletionTimestamp() == null && Pods.isReady(x))
              .map(DaemonSetController::targetNode).distinct().count();
          long pods = live.values().stream().filter(x -> x.getMetadata().getDeletionTimestamp() == null).count();
          if (readyNodes < min || pods > maxPods) {
            violations.add("ready nodes " + readyNodes + ", pods " + pods + " after " + action + " " + p.getMetadata().getName() + ": "
                + live.values().stream().map(x -> x.getMetadata().getName() + "@" + DaemonSetController.targetNode(x) + "/" + image(x)
                + (Pods.isReady(x) ? "/ready" : "") + (x.getMetadata().getDeletionTimestamp() != null ? "/deleting" : "")).toList());
          }
        }

        @Override
        public void onClose(WatcherException cause) {
        }
      });
    }

    @Override
    public void close() {
      watch.close();
    }
  }

  @Test
  void rollingUpdateKeepsMaxUnavailableThenHistoryAndUndo() throws Exception {
    for (int i = 1; i <= 4; i++) {
      node("c" + i, "roll");
    }
    kubectl.runWithInput(yaml("roll", "nginx:1", "", ""), "apply", "-f", "-").ok();
    kubectl.run("rollout", "status", "ds/roll", "--timeout=30s").ok();
    try (ReadyWatch w = new ReadyWatch("roll", 3, 4)) {
      Thread.sleep(300);
      kubectl.run("set", "image", "ds/roll", "c=nginx:2").ok();
      kubectl.run("rollout", "status", "ds/roll", "--timeout=60s").ok();
      assertThat(w.violations).isEmpty();
    }
    assertThat(livePods("roll")).hasSize(4).allMatch(p -> image(p).equals("nginx:2"));
    String history = kubectl.run("rollout", "history", "ds/roll").ok().out();
    assertThat(history).containsPattern("(?m)^1\\s").containsPattern("(?m)^2\\s");
    kubectl.run("rollout", "undo", "ds/roll").ok();
    kubectl.run("rollout", "status", "ds/roll", "--timeout=60s").ok();
    assertThat(Harness.until(Duration.ofSeconds(10), () -> livePods("roll").size() == 4
        && livePods("roll").stream().allMatch(p -> image(p).equals("nginx:1")))).isTrue();
    List<ControllerRevision> revs = client.apps().controllerRevisions().inNamespace("default").withLabel("app", "roll").list().getItems();
    assertThat(revs).hasSize(2);
    assertThat(revs).extracting(ControllerRevision::getRevision).containsExactlyInAnyOrder(2L, 3L);
  }

  @Test
  void maxSurgeStartsTheNewPodBeforeTheOldGoes() throws Exception {
    node("d1", "surge");
    node("d2", "surge");
    String strategy = "  updateStrategy:\n    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}\n";
    kubectl.runWithInput(yaml("surge", "nginx:1", strategy, ""), "apply", "-f", "-").ok();
    kubectl.run("rollout", "status", "ds/surge", "--timeout=30s").ok();
    try (ReadyWatch w = new ReadyWatch("surge", 2, 3)) {
      Thread.sleep(300);
      kubectl.run("set", "image", "ds/surge", "c=nginx:2").ok();
      kubectl.run("rollout", "status", "ds/surge", "--timeout=60s").ok();
      assertThat(Harness.until(Duration.ofSeconds(10), () -> livePods("surge").size() == 2)).isTrue();
      assertThat(w.violations).isEmpty();
    }
    assertThat(livePods("surge")).allMatch(p -> image(p).equals("nginx:2"));
  }

  @Test
  void failedDaemonPodIsReplacedAndRestartWorks() throws Exception {
    node("f1", "fail");
    kubectl.runWithInput(yaml("fail", "nginx:1", "", ""), "apply", "-f", "-").ok();
    kubectl.run("rollout", "status", "ds/fail", "--timeout=30s").ok();
    Pod first = livePods("fail").get(0);
    client.pods().inNamespace("default").withName(first.getMetadata().getName()).subresource("status")
        .patch(io.fabric8.kubernetes.client.dsl.base.PatchContext.of(io.fabric8.kubernetes.client.dsl.base.PatchType.JSON_MERGE),
            "{\"status\":{\"phase\":\"Failed\"}}");
    assertThat(Harness.until(Duration.ofSeconds(15), () -> livePods("fail").size() == 1
        && !livePods("fail").get(0).getMetadata().getUid().equals(first.getMetadata().getUid())
        && Pods.isReady(livePods("fail").get(0)))).isTrue();
    assertThat(Harness.until(Duration.ofSeconds(5), () -> client.v1().events().inNamespace("default").list().getItems().stream()
        .anyMatch(e -> "FailedDaemonPod".equals(e.getReason())))).isTrue();
    String before = livePods("fail").get(0).getMetadata().getUid();
    kubectl.run("rollout", "restart", "ds/fail").ok();
    kubectl.run("rollout", "status", "ds/fail", "--timeout=30s").ok();
    assertThat(Harness.until(Duration.ofSeconds(10), () -> livePods("fail").size() == 1
        && !livePods("fail").get(0).getMetadata().getUid().equals(before))).isTrue();
  }

  @Test
  void onDeleteReplacesOnlyDeletedPods() throws Exception {
    node("e1", "od");
    node("e2", "od");
    kubectl.runWithInput(yaml("od", "nginx:1", "  updateStrategy: {type: OnDelete}\n", ""), "apply", "-f", "-").ok();
    assertThat(Harness.until(Duration.ofSeconds(10), () -> get("od").getStatus().getNumberReady() == 2)).isTrue();
    kubectl.run("set", "image", "ds/od", "c=nginx:2").ok();
    Thread.sleep(800);
    assertThat(livePods("od")).hasSize(2).allMatch(p -> image(p).equals("nginx:1"));
    Pod onE1 = livePods("od").stream().filter(p -> "e1".equals(DaemonSetController.targetNode(p))).findFirst().orElseThrow();
    client.pods().inNamespace("default").withName(onE1.getMetadata().getName()).delete();
    assertThat(Harness.until(Duration.ofSeconds(10), () -> livePods("od").stream()
        .anyMatch(p -> "e1".equals(DaemonSetController.targetNode(p)) && image(p).equals("nginx:2")))).isTrue();
    assertThat(livePods("od").stream().filter(p -> "e2".equals(DaemonSetController.targetNode(p))).map(DaemonSetControllerTest::image))
        .containsExactly("nginx:1");
    assertThat(Harness.until(Duration.ofSeconds(5), () -> get("od").getStatus().getUpdatedNumberScheduled() == 1)).isTrue();
  }
}
