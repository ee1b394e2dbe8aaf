package dev.skiff.controllers;

import dev.skiff.runtime.LeaderElected;
import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class GarbageCollectorTest {
  static TestServer server;
  static KubernetesClient client;
  static LeaderElected manager;
  static FakeKubelet kubelet;
  static Kubectl kubectl;

  @BeforeAll
  static void up() throws Exception {
    server = TestServer.start();
    client = Harness.client(server);
    kubelet = new FakeKubelet(client).start();
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

  static void deploy(String name) throws Exception {
    kubectl.runWithInput(DeploymentControllerTest.yaml(name, 2, ""), "apply", "-f", "-").ok();
    kubectl.run("rollout", "status", "deploy/" + name, "--timeout=30s").ok();
  }

  static List<ReplicaSet> rses(String app) {
    return client.apps().replicaSets().inNamespace("default").withLabel("app", app).list().getItems();
  }

  static int pods(String app) {
    return client.pods().inNamespace("default").withLabel("app", app).list().getItems().size();
  }

  @Test
  void backgroundDeletionRemovesReplicaSetsAndPods() throws Exception {
    deploy("bg");
    kubectl.run("delete", "deploy/bg").ok();
    assertThat(Harness.until(Duration.ofSeconds(20), () -> rses("bg").isEmpty() && pods("bg") == 0)).isTrue();
  }

  @Test
  void foregroundDeletionRemovesDependentsFirst() throws Exception {
    deploy("fg");
    AtomicBoolean ownerSeenWaiting = new AtomicBoolean();
    Process p = kubectl.start("delete", "deploy/fg", "--cascade=foreground", "--wait=false");
    p.waitFor();
    assertThat(p.exitValue()).isZero();
    assertThat(Harness.until(Duration.ofSeconds(20), () -> {
      var d = client.apps().deployments().inNamespace("default").withName("fg").get();
      if (d != null && d.getMetadata().getFinalizers() != null && d.getMetadata().getFinalizers().contains("foregroundDeletion")) {
        ownerSeenWaiting.set(true);
      }
      return d == null && rses("fg").isEmpty() && pods("fg") == 0;
    })).isTrue();
  }

  @Test
  void orphanDeletionKeepsReplicaSetAndStripsOwnerReference() throws Exception {
    deploy("or");
    kubectl.run("delete", "deploy/or", "--cascade=orphan").ok();
    assertThat(Harness.until(Duration.ofSeconds(20), () ->
        client.apps().deployments().inNamespace("default").withName("or").get() == null)).isTrue();
    Thread.sleep(500);
    List<ReplicaSet> rs = rses("or");
    assertThat(rs).hasSize(1);
    assertThat(rs.get(0).getMetadata().getOwnerReferences()).isNullOrEmpty();
    assertThat(pods("or")).isEqualTo(2);
  }

  static ConfigMap cm(String ns, String name, OwnerReference... owners) {
    return client.configMaps().inNamespace(ns).resource(new ConfigMapBuilder().withNewMetadata().withName(name)
        .withNamespace(ns).withOwnerReferences(owners).endMetadata().build()).create();
  }

  static OwnerReference ref(ConfigMap owner, boolean block) {
    return new OwnerReferenceBuilder().withApiVersion("v1").withKind("ConfigMap").withName(owner.getMetadata().getName())
        .withUid(owner.getMetadata().getUid()).withBlockOwnerDeletion(block).build();
  }

  @Test
  void dependentWithAnotherLiveOwnerOnlyLosesTheDeadReference() throws Exception {
    ConfigMap a = cm("default", "owner-a");
    ConfigMap b = cm("default", "owner-b");
    cm("default", "dep-ab", ref(a, false), ref(b, false));
    client.configMaps().inNamespace("default").withName("owner-a").delete();
    assertThat(Harness.until(Duration.ofSeconds(20), () -> {
      ConfigMap d = client.configMaps().inNamespace("default").withName("dep-ab").get();
      return d != null && d.getMetadata().getOwnerReferences().size() == 1
          && d.getMetadata().getOwnerReferences().get(0).getName().equals("owner-b");
    })).isTrue();
    client.configMaps().inNamespace("default").withName("owner-b").delete();
    assertThat(Harness.until(Duration.ofSeconds(20), () ->
        client.configMaps().inNamespace("default").withName("dep-ab").get() == null)).isTrue();
  }

  @Test
  void crossNamespaceOwnerIsTreatedAsAbsentWithWarning() throws Exception {
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("other").endMetadata().build()).create();
    ConfigMap owner = cm("default", "ns-owner");
    cm("other", "ns-dep", ref(owner, false));
    assertThat(Harness.until(Duration.ofSeconds(20), () -> client.v1().events().inNamespace("other").list().getItems().stream()
        .anyMatch(e -> "OwnerRefInvalidNamespace".equals(e.getReason()) && "ns-dep".equals(e.getInvolvedObject().getName())
            && "Warning".equals(e.getType())))).isTrue();
    assertThat(Harness.until(Duration.ofSeconds(20), () ->
        client.configMaps().inNamespace("other").withName("ns-dep").get() == null)).isTrue();
    assertThat(client.configMaps().inNamespace("default").withName("ns-owner").get()).isNotNull();
  }

  @Test
  void clusterScopedOwnerIsLookedUpWithoutNamespace() throws Exception {
    var ns = client.namespaces().withName("default").get();
    OwnerReference nsRef = new OwnerReferenceBuilder().withApiVersion("v1").withKind("Namespace").withName("default")
        .withUid(ns.getMetadata().getUid()).build();
    client.configMaps().inNamespace("default").resource(new ConfigMapBuilder().withNewMetadata().withName("owned-by-ns")
        .withOwnerReferences(nsRef).endMetadata().build()).create();
    OwnerReference ghost = new OwnerReferenceBuilder().withApiVersion("v1").withKind("Namespace").withName("ghost")
        .withUid("00000000-0000-0000-0000-000000000001").build();
    client.configMaps().inNamespace("default").resource(new ConfigMapBuilder().withNewMetadata().withName("owned-by-ghost")
        .withOwnerReferences(ghost).endMetadata().build()).create();
    assertThat(Harness.until(Duration.ofSeconds(20), () ->
        client.configMaps().inNamespace("default").withName("owned-by-ghost").get() == null)).isTrue();
    assertThat(client.configMaps().inNamespace("default").withName("owned-by-ns").get()).isNotNull();
  }

  @Test
  void foregroundWaitsForBlockingDependents() throws Exception {
    ConfigMap owner = cm("default", "fg-owner");
    cm("default", "fg-dep", ref(owner, true));
    // A finalizer keeps the dependent alive so the owner must wait.
    client.configMaps().inNamespace("default").withName("fg-dep")
        .edit(c -> new ConfigMapBuilder(c).editMetadata().addToFinalizers("test/hold").endMetadata().build());
    client.configMaps().inNamespace("default").withName("fg-owner")
        .withPropagationPolicy(io.fabric8.kubernetes.api.model.DeletionPropagation.FOREGROUND).delete();
    assertThat(Harness.until(Duration.ofSeconds(20), () -> client.configMaps().inNamespace("default").withName("fg-dep").get()
        .getMetadata().getDeletionTimestamp() != null)).isTrue();
    Thread.sleep(500);
    assertThat(client.configMaps().inNamespace("default").withName("fg-owner").get()).isNotNull();
    client.configMaps().inNamespace("default").withName("fg-dep")
        .edit(c -> new ConfigMapBuilder(c).editMetadata().withFinalizers().endMetadata().build());
    assertThat(Harness.until(Duration.ofSeconds(20), () ->
        client.configMaps().inNamespace("default").withName("fg-owner").get() == null)).isTrue();
  }
}
