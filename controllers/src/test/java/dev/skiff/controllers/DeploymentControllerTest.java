package dev.skiff.controllers;

import dev.skiff.runtime.LeaderElected;
import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentCondition;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
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

class DeploymentControllerTest {
  static TestServer server;
  static KubernetesClient client;
  static LeaderElected manager;
  static FakeKubelet kubelet;
  static Kubectl kubectl;

  @BeforeAll
  static void up() throws Exception {
    server = TestServer.start();
    client = Harness.client(server);
    kubelet = new FakeKubelet(client).delay(Duration.ofMillis(50)).start();
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

  static String yaml(String name, int replicas, String extraSpec) {
    return """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: %s
        spec:
          replicas: %d
        %s  selector:
            matchLabels: {app: %s}
          template:
            metadata:
              labels: {app: %s}
            spec:
              containers:
              - name: c
                image: nginx:1
        """.formatted(name, replicas, extraSpec, name, name);
  }

  static Deployment get(String name) {
    return client.apps().deployments().inNamespace("default").withName(name).get();
  }

  static List<ReplicaSet> rses(String app) {
    return client.apps().replicaSets().inNamespace("default").withLabel("app", app).list().getItems();
  }

  static DeploymentCondition cond(Deployment d, String type) {
    return d.getStatus() == null || d.getStatus().getConditions() == null ? null
        : d.getStatus().getConditions().stream().filter(c -> type.equals(c.getType())).findFirst().orElse(null);
  }

  @Test
  void applyThenRolloutStatusSucceedsWithExactStatus() throws Exception {
    kubectl.runWithInput(yaml("web", 3, ""), "apply", "-f", "-").ok();
    var r = kubectl.run("rollout", "status", "deploy/web", "--timeout=30s").ok();
    assertThat(r.out()).contains("deployment \"web\" successfully rolled out");
    Deployment d = get("web");
    assertThat(d.getStatus().getReplicas()).isEqualTo(3);
    assertThat(d.getStatus().getUpdatedReplicas()).isEqualTo(3);
    assertThat(d.getStatus().getReadyReplicas()).isEqualTo(3);
    assertThat(d.getStatus().getAvailableReplicas()).isEqualTo(3);
    assertThat(d.getStatus().getObservedGeneration()).isEqualTo(d.getMetadata().getGeneration());
    assertThat(cond(d, "Available").getReason()).isEqualTo("MinimumReplicasAvailable");
    assertThat(Harness.until(Duration.ofSeconds(10), () -> "NewReplicaSetAvailable".equals(cond(get("web"), "Progressing").getReason()))).isTrue();
    assertThat(d.getMetadata().getAnnotations()).containsEntry("deployment.kubernetes.io/revision", "1");
    List<ReplicaSet> rs = rses("web");
    assertThat(rs).hasSize(1);
    String hash = rs.get(0).getMetadata().getLabels().get("pod-template-hash");
    assertThat(rs.get(0).getMetadata().getName()).isEqualTo("web-" + hash);
    assertThat(rs.get(0).getSpec().getSelector().getMatchLabels()).containsEntry("pod-template-hash", hash);
    assertThat(rs.get(0).getMetadata().getAnnotations()).containsEntry("deployment.kubernetes.io/revision", "1")
        .containsEntry("deployment.kubernetes.io/desired-replicas", "3").containsEntry("deployment.kubernetes.io/max-replicas", "4");
    assertThat(Harness.until(Duration.ofSeconds(10), () -> client.v1().events().inNamespace("default").list().getItems().stream()
        .anyMatch(e -> "ScalingReplicaSet".equals(e.getReason())
            && ("Scaled up replica set web-" + hash + " to 3").equals(e.getMessage())))).isTrue();
  }

  @Test
  void setImageRollsWithinSurgeAndUnavailableBounds() throws Exception {
    String strategy = "  strategy:\n    rollingUpdate: {maxSurge: 1, maxUnavailable: 1}\n";
    kubectl.runWithInput(yaml("roll", 4, strategy), "apply", "-f", "-").ok();
    kubectl.run("rollout", "status", "deploy/roll", "--timeout=30s").ok();
    // Watch RSes: the sum of spec.replicas never exceeds replicas + maxSurge = 5; and the
    // sum of available never drops below replicas - maxUnavailable = 3.
    Map<String, ReplicaSet> latest = new ConcurrentHashMap<>();
    List<String> violations = new CopyOnWriteArrayList<>();
    Watch w = client.apps().replicaSets().inNamespace("default").withLabel("app", "roll").watch(new Watcher<>() {
      @Override
      public void eventReceived(Action action, ReplicaSet rs) {
        if (action == Action.DELETED) {
          latest.remove(rs.getMetadata().getName());
        } else {
          latest.put(rs.getMetadata().getName(), rs);
        }
        int spec = latest.values().stream().mapToInt(r -> r.getSpec().getReplicas()).sum();
        int avail = latest.values().stream().mapToInt(r -> r.getStatus() == null || r.getStatus().getAvailableReplicas() == null ? 0
            : r.getStatus().getAvailableReplicas()).sum();
        if (spec > 5) {
          violations.add("spec replicas " + spec);
        }
        if (latest.size() >= 1 && avail < 3) {
          violations.add("available " + avail);
        }
      }

      @Override
      public void onClose(WatcherException cause) {
      }
    });
    try {
      Thread.sleep(200);
      kubectl.run("set", "image", "deploy/roll", "c=nginx:2").ok();
      kubectl.run("rollout", "status", "deploy/roll", "--timeout=60s").ok();
    } finally {
      w.close();
    }
    assertThat(violations).isEmpty();
    List<Pod> pods = client.pods().inNamespace("default").withLabel("app", "roll").list().getItems().stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null).toList();
    assertThat(pods).hasSize(4).allMatch(p -> image(p).equals("nginx:2"));
    assertThat(rses("roll")).hasSize(2);
  }

  @Test
  void historyUndoAndToRevision() throws Exception {
    kubectl.runWithInput(yaml("hist", 2, ""), "apply", "-f", "-").ok();
    kubectl.run("rollout", "status", "deploy/hist", "--timeout=30s").ok();
    kubectl.run("set", "image", "deploy/hist", "c=nginx:2").ok();
    kubectl.run("rollout", "status", "deploy/hist", "--timeout=30s").ok();
    kubectl.run("annotate", "deploy/hist", "kubernetes.io/change-cause=to v3").ok();
    kubectl.run("set", "image", "deploy/hist", "c=nginx:3").ok();
    kubectl.run("rollout", "status", "deploy/hist", "--timeout=30s").ok();
    String history = kubectl.run("rollout", "history", "deploy/hist").ok().out();
    assertThat(history).contains("REVISION").containsPattern("(?m)^1\\s").containsPattern("(?m)^2\\s").containsPattern("(?m)^3\\s+to v3");
    assertThat(kubectl.run("rollout", "history", "deploy/hist", "--revision=2").ok().out()).contains("nginx:2");

    kubectl.run("rollout", "undo", "deploy/hist").ok();
    kubectl.run("rollout", "status", "deploy/hist", "--timeout=30s").ok();
    assertThat(get("hist").getSpec().getTemplate().getSpec().getContainers().get(0).getImage()).isEqualTo("nginx:2");
    // The v2 ReplicaSet becomes revision 4 and remembers 2; history lists 1, 3, 4.
    assertThat(Harness.until(Duration.ofSeconds(10), () -> rses("hist").stream().anyMatch(rs ->
        "4".equals(rs.getMetadata().getAnnotations().get("deployment.kubernetes.io/revision"))
            && "2".equals(rs.getMetadata().getAnnotations().get("deployment.kubernetes.io/revision-history"))
            && rs.getSpec().getTemplate().getSpec().getContainers().get(0).getImage().equals("nginx:2"))))
        .as(() -> rses("hist").stream().map(x -> x.getMetadata().getName() + x.getMetadata().getAnnotations()
            + client.getKubernetesSerialization().asJson(x.getSpec().getTemplate())).toList()
            + "\n" + client.getKubernetesSerialization().asJson(get("hist"))).isTrue();
    assertThat(rses("hist")).hasSize(3);
    history = kubectl.run("rollout", "history", "deploy/hist").ok().out();
    assertThat(history).containsPattern("(?m)^1\\s").containsPattern("(?m)^3\\s").containsPattern("(?m)^4\\s").doesNotContainPattern("(?m)^2\\s");

    kubectl.run("rollout", "undo", "deploy/hist", "--to-revision=1").ok();
    kubectl.run("rollout", "status", "deploy/hist", "--timeout=30s").ok();
    assertThat(client.pods().inNamespace("default").withLabel("app", "hist").list().getItems().stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null).map(DeploymentControllerTest::image).distinct().toList())
        .containsExactly("nginx:1");
    assertThat(get("hist").getMetadata().getAnnotations()).containsEntry("deployment.kubernetes.io/revision", "5");
  }

  @Test
  void pauseResumeAndRestart() throws Exception {
    kubectl.runWithInput(yaml("pz", 2, ""), "apply", "-f", "-").ok();
    kubectl.run("rollout", "status", "deploy/pz", "--timeout=30s").ok();
    kubectl.run("rollout", "pause", "deploy/pz").ok();
    kubectl.run("set", "image", "deploy/pz", "c=nginx:2").ok();
    assertThat(Harness.until(Duration.ofSeconds(10), () -> {
      DeploymentCondition c = cond(get("pz"), "Progressing");
      return c != null && "DeploymentPaused".equals(c.getReason()) && "Unknown".equals(c.getStatus());
    })).isTrue();
    Thread.sleep(500);
    assertThat(rses("pz")).hasSize(1); // no rollout while paused
    kubectl.run("rollout", "resume", "deploy/pz").ok();
    kubectl.run("rollout", "status", "deploy/pz", "--timeout=30s").ok();
    assertThat(rses("pz")).hasSize(2);

    kubectl.run("rollout", "restart", "deploy/pz").ok();
    kubectl.run("rollout", "status", "deploy/pz", "--timeout=30s").ok();
    List<ReplicaSet> rs = rses("pz");
    assertThat(rs).hasSize(3);
    assertThat(rs.stream().filter(r -> r.getSpec().getReplicas() == 2).findFirst().orElseThrow()
        .getSpec().getTemplate().getMetadata().getAnnotations()).containsKey("kubectl.kubernetes.io/restartedAt");
  }

  @Test
  void brokenVersionStopsAtProgressDeadlineAndOldReplicasStay() throws Exception {
    kubectl.runWithInput(yaml("dl", 3, "  progressDeadlineSeconds: 3\n"), "apply", "-f", "-").ok();
    kubectl.run("rollout", "status", "deploy/dl", "--timeout=30s").ok();
    kubectl.run("set", "image", "deploy/dl", "c=bad").ok();
    var r = kubectl.run("rollout", "status", "deploy/dl", "--timeout=30s");
    assertThat(r.code()).isNotZero();
    assertThat(r.err()).contains("exceeded its progress deadline");
    Deployment d = get("dl");
    DeploymentCondition c = cond(d, "Progressing");
    assertThat(c.getStatus()).isEqualTo("False");
    assertThat(c.getReason()).isEqualTo("ProgressDeadlineExceeded");
    // Default 25%: maxUnavailable 0 of 3, maxSurge 1: all three old pods still serve.
    assertThat(d.getStatus().getAvailableReplicas()).isEqualTo(3);
    assertThat(client.pods().inNamespace("default").withLabel("app", "dl").list().getItems().stream()
        .filter(p -> "nginx:1".equals(image(p)) && p.getMetadata().getDeletionTimestamp() == null).count()).isEqualTo(3);
  }

  @Test
  void scalingDuringAStuckRolloutIsProportional() throws Exception {
    String strategy = "  strategy:\n    rollingUpdate: {maxSurge: 3, maxUnavailable: 2}\n";
    kubectl.runWithInput(yaml("prop", 10, strategy), "apply", "-f", "-").ok();
    kubectl.run("rollout", "status", "deploy/prop", "--timeout=30s").ok();
    kubectl.run("set", "image", "deploy/prop", "c=bad").ok();
    // New pods never become ready: the rollout settles at old 8 (10 - maxUnavailable), new 5 (13 - 8).
    assertThat(Harness.until(Duration.ofSeconds(20), () -> sizes("prop").equals(List.of(5, 8)))).as(() -> "" + sizes("prop")).isTrue();
    Thread.sleep(300);
    assertThat(sizes("prop")).containsExactly(5, 8);
    kubectl.run("scale", "deploy/prop", "--replicas=20").ok();
    // sync.go scale(): 10 more (23 allowed - 13), split by size: old 8*23/13 -> 14, new 5*23/13 -> 9.
    assertThat(Harness.until(Duration.ofSeconds(20), () -> sizes("prop").equals(List.of(9, 14)))).as(() -> "" + sizes("prop")).isTrue();
  }

  /** spec.replicas of the deployment's ReplicaSets with replicas, ascending. */
  static List<Integer> sizes(String app) {
    return rses(app).stream().map(r -> r.getSpec().getReplicas()).filter(n -> n > 0).sorted().toList();
  }

  @Test
  void recreateScalesOldToZeroBeforeNew() throws Exception {
    kubectl.runWithInput(yaml("rc", 2, "  strategy: {type: Recreate}\n"), "apply", "-f", "-").ok();
    kubectl.run("rollout", "status", "deploy/rc", "--timeout=30s").ok();
    List<String> violations = new CopyOnWriteArrayList<>();
    Map<String, Pod> live = new ConcurrentHashMap<>();
    Watch w = client.pods().inNamespace("default").withLabel("app", "rc").watch(new Watcher<>() {
      @Override
      public void eventReceived(Action action, Pod p) {
        if (action == Action.DELETED) {
          live.remove(p.getMetadata().getName());
        } else {
          live.put(p.getMetadata().getName(), p);
        }
        if (live.values().stream().map(DeploymentControllerTest::image).distinct().count() > 1) {
          violations.add("old and new pods together: " + live.keySet());
        }
      }

      @Override
      public void onClose(WatcherException cause) {
      }
    });
    try {
      Thread.sleep(200);
      kubectl.run("set", "image", "deploy/rc", "c=nginx:2").ok();
      kubectl.run("rollout", "status", "deploy/rc", "--timeout=30s").ok();
    } finally {
      w.close();
    }
    assertThat(violations).isEmpty();
  }
}
