package dev.skiff.controllers;

import dev.skiff.runtime.LeaderElected;
import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.TestServer;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.api.model.apps.ReplicaSetBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class ReplicaSetControllerTest {
  static TestServer server;
  static KubernetesClient client;
  static LeaderElected manager;
  static FakeKubelet kubelet;

  @BeforeAll
  static void up() throws Exception {
    server = TestServer.start();
    client = Harness.client(server);
    kubelet = new FakeKubelet(client).start();
    manager = Harness.startManager(server, client);
  }

  @AfterAll
  static void down() throws Exception {
    manager.close();
    kubelet.close();
    client.close();
    server.close();
  }

  static ReplicaSet rs(String name, int replicas) {
    return new ReplicaSetBuilder()
        .withNewMetadata().withName(name).withNamespace("default").endMetadata()
        .withNewSpec().withReplicas(replicas)
        .withNewSelector().addToMatchLabels("app", name).endSelector()
        .withNewTemplate().withNewMetadata().addToLabels("app", name).endMetadata()
        .withNewSpec().addNewContainer().withName("c").withImage("nginx").endContainer().endSpec().endTemplate()
        .endSpec().build();
  }

  static List<Pod> activePods(String app) {
    return client.pods().inNamespace("default").withLabel("app", app).list().getItems().stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null).toList();
  }

  static ReplicaSet get(String name) {
    return client.apps().replicaSets().inNamespace("default").withName(name).get();
  }

  @Test
  void createsOwnedPodsAndReportsStatus() throws Exception {
    client.apps().replicaSets().inNamespace("default").resource(rs("a", 3)).create();
    assertThat(Harness.until(Duration.ofSeconds(20), () -> {
      ReplicaSet r = get("a");
      return r.getStatus() != null && Integer.valueOf(3).equals(r.getStatus().getAvailableReplicas());
    })).isTrue();
    ReplicaSet r = get("a");
    assertThat(r.getStatus().getReplicas()).isEqualTo(3);
    assertThat(r.getStatus().getFullyLabeledReplicas()).isEqualTo(3);
    assertThat(r.getStatus().getReadyReplicas()).isEqualTo(3);
    assertThat(r.getStatus().getObservedGeneration()).isEqualTo(r.getMetadata().getGeneration());
    List<Pod> pods = activePods("a");
    assertThat(pods).hasSize(3);
    for (Pod p : pods) {
      assertThat(p.getMetadata().getName()).startsWith("a-");
      var ref = p.getMetadata().getOwnerReferences().get(0);
      assertThat(ref.getUid()).isEqualTo(r.getMetadata().getUid());
      assertThat(ref.getController()).isTrue();
      assertThat(ref.getBlockOwnerDeletion()).isTrue();
    }
    assertThat(Harness.until(Duration.ofSeconds(10), () -> client.v1().events().inNamespace("default").list().getItems().stream()
        .filter(e -> "SuccessfulCreate".equals(e.getReason()) && "a".equals(e.getInvolvedObject().getName())).count() == 3)).isTrue();
  }

  @Test
  void scaleDownDeletesNotReadyPodsFirst() throws Exception {
    client.apps().replicaSets().inNamespace("default").resource(rs("b", 2)).create();
    assertThat(Harness.until(Duration.ofSeconds(20), () -> {
      ReplicaSet r = get("b");
      return r.getStatus() != null && Integer.valueOf(2).equals(r.getStatus().getReadyReplicas());
    })).isTrue();
    Set<String> readyOnes = activePods("b").stream().map(p -> p.getMetadata().getName()).collect(Collectors.toSet());
    kubelet.neverReady(p -> "b".equals(p.getMetadata().getLabels().get("app")));
    try {
      server.kubectl().run("scale", "rs/b", "--replicas=5").ok();
      assertThat(Harness.until(Duration.ofSeconds(20), () -> activePods("b").size() == 5
          && activePods("b").stream().allMatch(p -> "Running".equals(p.getStatus().getPhase())))).isTrue();
      server.kubectl().run("scale", "rs/b", "--replicas=2").ok();
      assertThat(Harness.until(Duration.ofSeconds(20), () -> activePods("b").size() == 2)).isTrue();
      // The three not-ready pods go first; the two ready ones stay.
      assertThat(activePods("b").stream().map(p -> p.getMetadata().getName()).collect(Collectors.toSet()))
          .isEqualTo(readyOnes);
      assertThat(Harness.until(Duration.ofSeconds(10), () -> client.v1().events().inNamespace("default").list().getItems().stream()
          .filter(e -> "SuccessfulDelete".equals(e.getReason()) && "b".equals(e.getInvolvedObject().getName())).count() == 3)).isTrue();
    } finally {
      kubelet.neverReady(p -> false);
    }
  }

  @Test
  void adoptsMatchingOrphansAndReleasesPodsThatStopMatching() throws Exception {
    client.pods().inNamespace("default").resource(new PodBuilder()
        .withNewMetadata().withName("orphan-c").addToLabels("app", "c").endMetadata()
        .withNewSpec().addNewContainer().withName("c").withImage("nginx").endContainer().endSpec().build()).create();
    client.apps().replicaSets().inNamespace("default").resource(rs("c", 2)).create();
    assertThat(Harness.until(Duration.ofSeconds(20), () -> {
      Pod p = client.pods().inNamespace("default").withName("orphan-c").get();
      return p.getMetadata().getOwnerReferences() != null && !p.getMetadata().getOwnerReferences().isEmpty()
          && activePods("c").size() == 2;
    })).isTrue();
    Thread.sleep(300);
    assertThat(activePods("c")).hasSize(2); // the orphan counted: only one pod was created
    // Relabel the adopted pod: the RS releases it and makes a replacement.
    client.pods().inNamespace("default").withName("orphan-c").edit(p -> new PodBuilder(p).editMetadata()
        .addToLabels("app", "gone").endMetadata().build());
    assertThat(Harness.until(Duration.ofSeconds(20), () -> {
      Pod p = client.pods().inNamespace("default").withName("orphan-c").get();
      return (p.getMetadata().getOwnerReferences() == null || p.getMetadata().getOwnerReferences().isEmpty())
          && activePods("c").size() == 2;
    })).isTrue();
  }

  @Test
  void failedCreatesSetReplicaFailureUntilTheyStop() throws Exception {
    client.namespaces().resource(new io.fabric8.kubernetes.api.model.NamespaceBuilder().withNewMetadata().withName("quota")
        .endMetadata().build()).create();
    client.resourceQuotas().inNamespace("quota").resource(new io.fabric8.kubernetes.api.model.ResourceQuotaBuilder()
        .withNewMetadata().withName("q").endMetadata().withNewSpec()
        .addToHard("pods", new io.fabric8.kubernetes.api.model.Quantity("0")).endSpec().build()).create();
    // Admission enforces the quota once the API server's quota controller has published its status.
    assertThat(Harness.until(Duration.ofSeconds(20), () -> {
      var q = client.resourceQuotas().inNamespace("quota").withName("q").get();
      return q.getStatus() != null && q.getStatus().getHard() != null && q.getStatus().getHard().containsKey("pods");
    })).isTrue();
    ReplicaSet r = rs("q", 3);
    r.getMetadata().setNamespace("quota");
    client.apps().replicaSets().inNamespace("quota").resource(r).create();
    assertThat(Harness.until(Duration.ofSeconds(20), () -> {
      ReplicaSet cur = client.apps().replicaSets().inNamespace("quota").withName("q").get();
      return cur.getStatus() != null && cur.getStatus().getConditions() != null && cur.getStatus().getConditions().stream()
          .anyMatch(c -> "ReplicaFailure".equals(c.getType()) && "FailedCreate".equals(c.getReason()) && "True".equals(c.getStatus()));
    })).as(() -> client.getKubernetesSerialization().asJson(client.apps().replicaSets().inNamespace("quota").withName("q").get().getStatus())
        + " pods=" + client.pods().inNamespace("quota").list().getItems().size()
        + " quota=" + client.resourceQuotas().inNamespace("quota").withName("q").get().getStatus()).isTrue();
    assertThat(client.pods().inNamespace("quota").list().getItems()).isEmpty();
    assertThat(Harness.until(Duration.ofSeconds(10), () -> client.v1().events().inNamespace("quota").list().getItems().stream()
        .anyMatch(e -> "FailedCreate".equals(e.getReason()) && "Warning".equals(e.getType())))).isTrue();
    client.resourceQuotas().inNamespace("quota").withName("q").edit(q -> new io.fabric8.kubernetes.api.model.ResourceQuotaBuilder(q)
        .editSpec().addToHard("pods", new io.fabric8.kubernetes.api.model.Quantity("5")).endSpec().build());
    // The failed key is retried with backoff; once creates succeed the condition goes away.
    assertThat(Harness.until(Duration.ofSeconds(30), () -> {
      ReplicaSet cur = client.apps().replicaSets().inNamespace("quota").withName("q").get();
      return Integer.valueOf(3).equals(cur.getStatus().getReplicas())
          && (cur.getStatus().getConditions() == null || cur.getStatus().getConditions().isEmpty());
    })).isTrue();
  }

  @Test
  void slowStartBatchesDoubleAndStopAtFirstFailure() throws Exception {
    ReplicaSetController c = null;
    // Exercise the batching arithmetic directly: 10 creations = 1 + 2 + 4 + 3.
    var counter = new java.util.concurrent.atomic.AtomicInteger();
    var ctx = new ControllerContext(client, new dev.skiff.runtime.SharedInformers(client), null,
        dev.skiff.runtime.Clock.system(), java.util.Map.of());
    var m = ReplicaSetController.class.getDeclaredConstructor(ControllerContext.class);
    m.setAccessible(true);
    c = m.newInstance(ctx);
    assertThat(c.slowStartBatch(10, 1, () -> { counter.incrementAndGet(); return true; })).isEqualTo(10);
    assertThat(counter.get()).isEqualTo(10);
    counter.set(0);
    // Failing from the 4th call on: batches 1, 2 succeed, the batch of 4 fails; nothing after it.
    int ok = c.slowStartBatch(10, 1, () -> counter.incrementAndGet() <= 3);
    assertThat(ok).isEqualTo(3);
    assertThat(counter.get()).isEqualTo(7);
    c.close();
  }
}
