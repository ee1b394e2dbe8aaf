package dev.skiff.controllers;

import dev.skiff.runtime.LeaderElected;
import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.ControllerRevision;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The StatefulSet controller against a real API server, with {@link FakeKubelet} marking pods
 * Running/Ready (pods whose image is {@code bad} never become ready) and the real kubectl.
 */
class StatefulSetControllerTest {
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
    kubelet.neverReady(p -> "bad".equals(image(p)));
    manager = Harness.startManager(server, client);
    kubectl = server.kubectl();
  }

  @AfterAll
  static void down() throws Exception {
    manager.close();
    kubelet.close();
    client.close();
    server.close();
  }

  static String image(Pod p) {
    return p.getSpec().getContainers().get(0).getImage();
  }

  static String yaml(String name, int replicas, String image, String extraSpec) {
    return """
        apiVersion: apps/v1
        kind: StatefulSet
        metadata:
          name: %s
        spec:
          replicas: %d
          serviceName: %s-svc
        %s  selector:
            matchLabels: {app: %s}
          template:
            metadata:
              labels: {app: %s}
            spec:
              containers:
              - name: c
                image: %s
          volumeClaimTemplates:
          - metadata:
              name: www
            spec:
              accessModes: [ReadWriteOnce]
              resources:
                requests: {storage: 1Gi}
        """.formatted(name, replicas, name, extraSpec, name, name, image);
  }

  static StatefulSet get(String name) {
    return client.apps().statefulSets().inNamespace("default").withName(name).get();
  }

  static List<Pod> livePods(String app) {
    return client.pods().inNamespace("default").withLabel("app", app).list().getItems().stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null).toList();
  }

  static PersistentVolumeClaim claim(String name) {
    return client.persistentVolumeClaims().inNamespace("default").withName(name).get();
  }

  /** Records, from a watch, every moment a pod appeared while a lower ordinal was not Ready. */
  static final class OrderWatch implements AutoCloseable {
    final Map<String, Pod> live = new ConcurrentHashMap<>();
    final List<String> violations = new CopyOnWriteArrayList<>();
    final List<String> created = new CopyOnWriteArrayList<>();
    final List<String> deleted = new CopyOnWriteArrayList<>();
    final Watch watch;

    OrderWatch(String app) {
      watch = client.pods().inNamespace("default").withLabel("app", app).watch(new Watcher<>() {
        @Override
        public void eventReceived(Action action, Pod p) {
          String name = p.getMetadata().getName();
          int ord = StatefulSetController.ordinal(p);
          if (action == Action.ADDED) {
            created.add(name);
            for (Pod other : live.values()) {
              if (StatefulSetController.ordinal(other) < ord && !Pods.isReady(other)) {
                violations.add(name + " created while " + other.getMetadata().getName() + " not ready");
              }
            }
          }
          if (action == Action.DELETED) {
            live.remove(name);
          }
          // Unscheduled pods are deleted at once (no graceful MODIFIED event first).
          if ((action == Action.DELETED || p.getMetadata().getDeletionTimestamp() != null) && !deleted.contains(name)) {
            deleted.add(name);
            for (Pod other : live.values()) {
              if (StatefulSetController.ordinal(other) > ord) {
                violations.add(name + " deleted while " + other.getMetadata().getName() + " still exists");
              }
            }
          }
          if (action != Action.DELETED) {
            live.put(name, p);
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
  void orderedReadyCreatesInOrderWithStableIdentityAndClaims() throws Exception {
    try (OrderWatch w = new OrderWatch("web")) {
      Thread.sleep(200);
      kubectl.runWithInput(yaml("web", 3, "nginx:1", ""), "apply", "-f", "-").ok();
      var r = kubectl.run("rollout", "status", "sts/web", "--timeout=30s").ok();
      assertThat(r.out()).contains("partitioned roll out complete: 3 new pods have been updated");
      assertThat(w.violations).isEmpty();
      assertThat(w.created).containsExactly("web-0", "web-1", "web-2");
    }
    StatefulSet s = get("web");
    assertThat(s.getStatus().getReplicas()).isEqualTo(3);
    assertThat(s.getStatus().getReadyReplicas()).isEqualTo(3);
    assertThat(s.getStatus().getAvailableReplicas()).isEqualTo(3);
    assertThat(s.getStatus().getObservedGeneration()).isEqualTo(s.getMetadata().getGeneration());
    assertThat(Harness.until(Duration.ofSeconds(5), () -> get("web").getStatus().getCurrentReplicas() == 3)).isTrue();
    s = get("web");
    assertThat(s.getStatus().getCurrentRevision()).isEqualTo(s.getStatus().getUpdateRevision()).startsWith("web-");
    for (int n = 0; n < 3; n++) {
      final int i = n;
      Pod p = client.pods().inNamespace("default").withName("web-" + i).get();
      assertThat(p.getMetadata().getLabels())
          .containsEntry("statefulset.kubernetes.io/pod-name", "web-" + i)
          .containsEntry("apps.kubernetes.io/pod-index", String.valueOf(i))
          .containsEntry("controller-revision-hash", s.getStatus().getUpdateRevision());
      assertThat(p.getSpec().getHostname()).isEqualTo("web-" + i);
      assertThat(p.getSpec().getSubdomain()).isEqualTo("web-svc");
      assertThat(p.getSpec().getVolumes()).anyMatch(v -> "www".equals(v.getName())
          && v.getPersistentVolumeClaim() != null && ("www-web-" + i).equals(v.getPersistentVolumeClaim().getClaimName()));
      PersistentVolumeClaim c = claim("www-web-" + i);
      assertThat(c).isNotNull();
      assertThat(c.getMetadata().getLabels()).containsEntry("app", "web");
      assertThat(c.getMetadata().getOwnerReferences()).isNullOrEmpty(); // Retain/Retain
    }
    List<ControllerRevision> revs = client.apps().controllerRevisions().inNamespace("default").withLabel("app", "web").list().getItems();
    assertThat(revs).hasSize(1);
    assertThat(revs.get(0).getRevision()).isEqualTo(1L);
    assertThat(revs.get(0).getMetadata().getName()).isEqualTo(s.getStatus().getUpdateRevision());
    String table = kubectl.run("get", "sts", "web").ok().out();
    assertThat(table).containsPattern("NAME\\s+READY\\s+AGE").containsPattern("web\\s+3/3\\s");
    assertThat(Harness.until(Duration.ofSeconds(10), () -> client.v1().events().inNamespace("default").list().getItems().stream()
        .anyMatch(e -> "SuccessfulCreate".equals(e.getReason()) && "create Pod web-2 in StatefulSet web successful".equals(e.getMessage()))))
        .isTrue();
  }

  @Test
  void scaleDownRemovesHighestOrdinalFirstAndKeepsClaims() throws Exception {
    kubectl.runWithInput(yaml("down", 4, "nginx:1", ""), "apply", "-f", "-").ok();
    kubectl.run("rollout", "status", "sts/down", "--timeout=30s").ok();
    try (OrderWatch w = new OrderWatch("down")) {
      Thread.sleep(200);
      kubectl.run("scale", "sts/down", "--replicas=1").ok();
      assertThat(Harness.until(Duration.ofSeconds(20), () -> livePods("down").size() == 1
          && client.pods().inNamespace("default").withLabel("app", "down").list().getItems().size() == 1)).isTrue();
      assertThat(w.deleted).containsExactly("down-3", "down-2", "down-1");
      assertThat(w.violations).isEmpty();
    }
    assertThat(livePods("down")).extracting(p -> p.getMetadata().getName()).containsExactly("down-0");
    for (int i = 0; i < 4; i++) {
      assertThat(claim("www-down-" + i)).as("claim %d retained", i).isNotNull();
    }
    assertThat(Harness.until(Duration.ofSeconds(5), () -> get("down").getStatus().getReplicas() == 1)).isTrue();
  }

  @Test
  void orderedReadyWaitsForAnUnreadyPod() throws Exception {
    kubectl.runWithInput(yaml("stuck", 3, "bad", ""), "apply", "-f", "-").ok();
    assertThat(Harness.until(Duration.ofSeconds(10), () -> client.pods().inNamespace("default").withName("stuck-0").get() != null
        && "Running".equals(client.pods().inNamespace("default").withName("stuck-0").get().getStatus().getPhase()))).isTrue();
    Thread.sleep(1000);
    assertThat(livePods("stuck")).extracting(p -> p.getMetadata().getName()).containsExactly("stuck-0");
    var r = kubectl.run("rollout", "status", "sts/stuck", "--timeout=2s");
    assertThat(r.code()).isNotZero();
    assertThat(r.out()).contains("Waiting for 3 pods to be ready");
  }

  @Test
  void parallelCreatesAllAtOnce() throws Exception {
    kubectl.runWithInput(yaml("par", 3, "bad", "  podManagementPolicy: Parallel\n"), "apply", "-f", "-").ok();
    assertThat(Harness.until(Duration.ofSeconds(10), () -> livePods("par").size() == 3)).isTrue();
    kubectl.run("scale", "sts/par", "--replicas=0").ok();
    assertThat(Harness.until(Duration.ofSeconds(10), () -> livePods("par").isEmpty())).isTrue();
  }

  @Test
  void rollingUpdateWithPartitionThenHistoryAndUndo() throws Exception {
    String strategy = "  updateStrategy:\n    type: RollingUpdate\n    rollingUpdate: {partition: 2}\n";
    kubectl.runWithInput(yaml("roll", 3, "nginx:1", strategy), "apply", "-f", "-").ok();
    kubectl.run("rollout", "status", "sts/roll", "--timeout=30s").ok();
    String rev1 = get("roll").getStatus().getUpdateRevision();
    try (OrderWatch w = new OrderWatch("roll")) {
      Thread.sleep(200);
      kubectl.run("set", "image", "sts/roll", "c=nginx:2").ok();
      var r = kubectl.run("rollout", "status", "sts/roll", "--timeout=30s").ok();
      assertThat(r.out()).contains("partitioned roll out complete: 1 new pods have been updated");
      // Only ordinal 2 (>= partition) moved to the new revision.
      assertThat(Harness.until(Duration.ofSeconds(10), () -> livePods("roll").size() == 3)).isTrue();
      assertThat(image(client.pods().inNamespace("default").withName("roll-2").get())).isEqualTo("nginx:2");
      assertThat(image(client.pods().inNamespace("default").withName("roll-1").get())).isEqualTo("nginx:1");
      assertThat(image(client.pods().inNamespace("default").withName("roll-0").get())).isEqualTo("nginx:1");
      StatefulSet s = get("roll");
      assertThat(s.getStatus().getCurrentRevision()).isEqualTo(rev1);
      assertThat(s.getStatus().getUpdateRevision()).isNotEqualTo(rev1);
      assertThat(s.getStatus().getUpdatedReplicas()).isEqualTo(1);
      assertThat(s.getStatus().getCurrentReplicas()).isEqualTo(2);

      kubectl.run("patch", "sts/roll", "-p", "{\"spec\":{\"updateStrategy\":{\"rollingUpdate\":{\"partition\":0}}}}").ok();
      kubectl.run("rollout", "status", "sts/roll", "--timeout=30s").ok();
      assertThat(Harness.until(Duration.ofSeconds(10), () -> livePods("roll").stream().allMatch(p -> image(p).equals("nginx:2"))
          && get("roll").getStatus().getCurrentRevision().equals(get("roll").getStatus().getUpdateRevision()))).isTrue();
      assertThat(w.deleted).containsExactly("roll-2", "roll-1", "roll-0");
    }
    String history = kubectl.run("rollout", "history", "sts/roll").ok().out();
    assertThat(history).contains("REVISION").containsPattern("(?m)^1\\s").containsPattern("(?m)^2\\s");
    assertThat(kubectl.run("rollout", "history", "sts/roll", "--revision=1").ok().out()).contains("nginx:1");

    kubectl.run("rollout", "undo", "sts/roll").ok();
    kubectl.run("rollout", "status", "sts/roll", "--timeout=30s").ok();
    assertThat(get("roll").getSpec().getTemplate().getSpec().getContainers().get(0).getImage()).isEqualTo("nginx:1");
    assertThat(Harness.until(Duration.ofSeconds(15), () -> livePods("roll").size() == 3
        && livePods("roll").stream().allMatch(p -> image(p).equals("nginx:1")))).isTrue();
    // The old revision is reused and renumbered 3 (no third ControllerRevision).
    assertThat(Harness.until(Duration.ofSeconds(5), () -> get("roll").getStatus().getUpdateRevision().equals(rev1))).isTrue();
    List<ControllerRevision> revs = client.apps().controllerRevisions().inNamespace("default").withLabel("app", "roll").list().getItems();
    assertThat(revs).hasSize(2);
    assertThat(revs.stream().filter(r -> r.getMetadata().getName().equals(rev1)).findFirst().orElseThrow().getRevision()).isEqualTo(3L);
    history = kubectl.run("rollout", "history", "sts/roll").ok().out();
    assertThat(history).containsPattern("(?m)^2\\s").containsPattern("(?m)^3\\s").doesNotContainPattern("(?m)^1\\s");

    // rollout restart changes the template: a new revision, every pod replaced.
    String uid0 = client.pods().inNamespace("default").withName("roll-0").get().getMetadata().getUid();
    kubectl.run("rollout", "restart", "sts/roll").ok();
    kubectl.run("rollout", "status", "sts/roll", "--timeout=30s").ok();
    assertThat(Harness.until(Duration.ofSeconds(15), () -> {
      Pod p = client.pods().inNamespace("default").withName("roll-0").get();
      return p != null && !p.getMetadata().getUid().equals(uid0)
          && get("roll").getStatus().getCurrentRevision().equals(get("roll").getStatus().getUpdateRevision());
    })).isTrue();
    assertThat(kubectl.run("rollout", "history", "sts/roll").ok().out()).containsPattern("(?m)^4\\s");
  }

  @Test
  void maxUnavailableReplacesSeveralPodsAtOnceButNoMore() throws Exception {
    String spec = "  podManagementPolicy: Parallel\n  updateStrategy:\n    rollingUpdate: {maxUnavailable: 2}\n";
    kubectl.runWithInput(yaml("mu", 5, "nginx:1", spec), "apply", "-f", "-").ok();
    kubectl.run("rollout", "status", "sts/mu", "--timeout=30s").ok();
    Map<String, Pod> live = new ConcurrentHashMap<>();
    client.pods().inNamespace("default").withLabel("app", "mu").list().getItems().forEach(p -> live.put(p.getMetadata().getName(), p));
    List<Integer> readyCounts = new CopyOnWriteArrayList<>();
    Watch w = client.pods().inNamespace("default").withLabel("app", "mu").watch(new Watcher<>() {
      @Override
      public synchronized void eventReceived(Action action, Pod p) {
        if (action == Action.DELETED) {
          live.remove(p.getMetadata().getName());
        } else {
          live.put(p.getMetadata().getName(), p);
        }
        readyCounts.add((int) live.values().stream().filter(x -> x.getMetadata().getDeletionTimestamp() == null && Pods.isReady(x)).count());
      }

      @Override
      public void onClose(WatcherException cause) {
      }
    });
    try {
      Thread.sleep(200);
      kubectl.run("set", "image", "sts/mu", "c=nginx:2").ok();
      kubectl.run("rollout", "status", "sts/mu", "--timeout=30s").ok();
      assertThat(Harness.until(Duration.ofSeconds(10), () -> livePods("mu").size() == 5
          && livePods("mu").stream().allMatch(p -> image(p).equals("nginx:2") && Pods.isReady(p)))).isTrue();
    } finally {
      w.close();
    }
    assertThat(readyCounts).allMatch(n -> n >= 3);
    assertThat(readyCounts).contains(3); // two at a time were replaced
  }

  @Test
  void failedPodIsRecreatedUnderTheSameName() throws Exception {
    kubectl.runWithInput(yaml("crash", 1, "nginx:1", ""), "apply", "-f", "-").ok();
    kubectl.run("rollout", "status", "sts/crash", "--timeout=30s").ok();
    String uid = client.pods().inNamespace("default").withName("crash-0").get().getMetadata().getUid();
    client.pods().inNamespace("default").withName("crash-0").subresource("status")
        .patch(io.fabric8.kubernetes.client.dsl.base.PatchContext.of(io.fabric8.kubernetes.client.dsl.base.PatchType.JSON_MERGE),
            "{\"status\":{\"phase\":\"Failed\"}}");
    assertThat(Harness.until(Duration.ofSeconds(15), () -> {
      Pod p = client.pods().inNamespace("default").withName("crash-0").get();
      return p != null && !p.getMetadata().getUid().equals(uid) && Pods.isReady(p);
    })).isTrue();
    assertThat(claim("www-crash-0")).isNotNull();
  }

  @Test
  void onDeleteUpdatesOnlyDeletedPods() throws Exception {
    kubectl.runWithInput(yaml("od", 2, "nginx:1", "  updateStrategy: {type: OnDelete}\n"), "apply", "-f", "-").ok();
    assertThat(Harness.until(Duration.ofSeconds(20), () -> get("od").getStatus().getReadyReplicas() == 2)).isTrue();
    kubectl.run("set", "image", "sts/od", "c=nginx:2").ok();
    Thread.sleep(1000);
    assertThat(livePods("od")).allMatch(p -> image(p).equals("nginx:1"));
    kubectl.run("delete", "pod", "od-1").ok();
    assertThat(Harness.until(Duration.ofSeconds(15), () -> {
      Pod p = client.pods().inNamespace("default").withName("od-1").get();
      return p != null && image(p).equals("nginx:2") && Pods.isReady(p);
    })).isTrue();
    assertThat(image(client.pods().inNamespace("default").withName("od-0").get())).isEqualTo("nginx:1");
    assertThat(Harness.until(Duration.ofSeconds(5), () -> get("od").getStatus().getUpdatedReplicas() == 1
        && get("od").getStatus().getCurrentReplicas() == 1)).isTrue();
  }

  @Test
  void retentionPolicyDeleteRemovesClaimsOnScaleDownAndDeletion() throws Exception {
    String policy = "  persistentVolumeClaimRetentionPolicy: {whenScaled: Delete, whenDeleted: Delete}\n";
    kubectl.runWithInput(yaml("ret", 2, "nginx:1", policy), "apply", "-f", "-").ok();
    kubectl.run("rollout", "status", "sts/ret", "--timeout=30s").ok();
    String uid = get("ret").getMetadata().getUid();
    assertThat(Harness.until(Duration.ofSeconds(5), () -> claim("www-ret-0").getMetadata().getOwnerReferences().stream()
        .anyMatch(r -> r.getUid().equals(uid) && "StatefulSet".equals(r.getKind())))).isTrue();
    kubectl.run("scale", "sts/ret", "--replicas=1").ok();
    assertThat(Harness.until(Duration.ofSeconds(20), () -> claim("www-ret-1") == null)).isTrue();
    assertThat(claim("www-ret-0")).isNotNull();
    kubectl.run("delete", "sts", "ret").ok();
    assertThat(Harness.until(Duration.ofSeconds(20), () -> claim("www-ret-0") == null && livePods("ret").isEmpty())).isTrue();
  }
}
