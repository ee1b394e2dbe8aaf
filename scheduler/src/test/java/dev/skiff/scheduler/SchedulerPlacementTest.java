package dev.skiff.scheduler;

import static dev.skiff.scheduler.Fixtures.*;
import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.TestServer;
import dev.skiff.runtime.Clients;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodAffinityTermBuilder;
import io.fabric8.kubernetes.api.model.TaintBuilder;
import io.fabric8.kubernetes.api.model.TopologySpreadConstraintBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Placement decisions against a real API server: each test brings its own nodes and namespace. */
class SchedulerPlacementTest {
  static TestServer server;
  static KubernetesClient client;
  static SchedulerEngine engine;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
    client = Clients.forKubeconfig(server.kubeconfig());
    engine = new SchedulerEngine(client);
    engine.start();
    engine.startScheduling();
  }

  @AfterAll
  static void stop() throws Exception {
    engine.close();
    client.close();
    server.close();
  }

  @AfterEach
  void cleanNodes() throws Exception {
    for (Pod p : client.pods().inAnyNamespace().list().getItems()) {
      client.pods().inNamespace(p.getMetadata().getNamespace()).withName(p.getMetadata().getName()).withGracePeriod(0).delete();
    }
    client.nodes().delete();
    await(() -> engine.cache.nodeCount() == 0, Duration.ofSeconds(10), "nodes deleted");
  }

  private static void threeZones(String cpu) {
    create(client, node("a", "zone-a", cpu, Map.of()));
    create(client, node("b", "zone-b", cpu, Map.of()));
    create(client, node("c", "zone-c", cpu, Map.of()));
  }

  @Test
  void nodeSelectorAndRequiredNodeAffinity() throws Exception {
    namespace(client, "sel");
    threeZones("4");
    create(client, pod("sel", "p1", "100m").editSpec().addToNodeSelector("topology.kubernetes.io/zone", "zone-b").endSpec().build());
    create(client, pod("sel", "p2", "100m").editSpec().withNewAffinity().withNewNodeAffinity()
        .withNewRequiredDuringSchedulingIgnoredDuringExecution().addNewNodeSelectorTerm().addNewMatchExpression()
        .withKey("topology.kubernetes.io/zone").withOperator("In").withValues("zone-c").endMatchExpression().endNodeSelectorTerm()
        .endRequiredDuringSchedulingIgnoredDuringExecution().endNodeAffinity().endAffinity().endSpec().build());
    create(client, pod("sel", "p3", "100m").editSpec().withNewAffinity().withNewNodeAffinity()
        .addNewPreferredDuringSchedulingIgnoredDuringExecution().withWeight(50).withNewPreference().addNewMatchExpression()
        .withKey("kubernetes.io/hostname").withOperator("In").withValues("a").endMatchExpression().endPreference()
        .endPreferredDuringSchedulingIgnoredDuringExecution().endNodeAffinity().endAffinity().endSpec().build());
    assertThat(awaitBound(client, "sel", "p1")).isEqualTo("b");
    assertThat(awaitBound(client, "sel", "p2")).isEqualTo("c");
    assertThat(awaitBound(client, "sel", "p3")).isEqualTo("a");
  }

  @Test
  void taintsKeepUntoleratingPodsAway() throws Exception {
    namespace(client, "taint");
    var a = node("a", "zone-a", "4", Map.of());
    a.getSpec().setTaints(List.of(new TaintBuilder().withKey("dedicated").withValue("gpu").withEffect("NoSchedule").build()));
    create(client, a);
    var b = node("b", "zone-b", "4", Map.of());
    b.getSpec().setTaints(List.of(new TaintBuilder().withKey("soft").withValue("x").withEffect("PreferNoSchedule").build()));
    create(client, b);
    for (int i = 0; i < 3; i++) {
      create(client, pod("taint", "plain-" + i, "100m").build());
    }
    create(client, pod("taint", "tol", "100m").editSpec().addNewToleration().withKey("dedicated").withOperator("Equal")
        .withValue("gpu").withEffect("NoSchedule").endToleration()
        .addToNodeSelector("kubernetes.io/hostname", "a").endSpec().build());
    for (int i = 0; i < 3; i++) {
      assertThat(awaitBound(client, "taint", "plain-" + i)).isEqualTo("b");
    }
    assertThat(awaitBound(client, "taint", "tol")).isEqualTo("a");
  }

  @Test
  void resourcesDecideAndUnschedulableShowsUpstreamReason() throws Exception {
    namespace(client, "res");
    create(client, node("small", "zone-a", "2", Map.of()));
    create(client, node("big", "zone-b", "8", Map.of()));
    var t = node("tainted", "zone-c", "64", Map.of());
    t.getSpec().setTaints(List.of(new TaintBuilder().withKey("k").withValue("v").withEffect("NoSchedule").build()));
    create(client, t);
    create(client, pod("res", "four", "4").build());
    assertThat(awaitBound(client, "res", "four")).isEqualTo("big");
    create(client, pod("res", "huge", "6").build());
    String expected = "0/3 nodes are available: 1 node(s) had untolerated taint {k: v}, 2 Insufficient cpu. "
        + "preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod..";
    await(() -> {
      Pod p = client.pods().inNamespace("res").withName("huge").get();
      return p.getStatus().getConditions() != null && p.getStatus().getConditions().stream()
          .anyMatch(c -> c.getType().equals("PodScheduled") && "Unschedulable".equals(c.getReason()) && expected.equals(c.getMessage()));
    }, Duration.ofSeconds(10), "PodScheduled=False with the upstream message");
    String describe = server.kubectl().run("describe", "pod", "-n", "res", "huge").out();
    assertThat(describe).contains("PodScheduled").contains("FailedScheduling").contains("Insufficient cpu");
    // Deleting the blocking pod frees the node: the pending pod is scheduled on the event.
    client.pods().inNamespace("res").withName("four").withGracePeriod(0).delete();
    assertThat(awaitBound(client, "res", "huge")).isEqualTo("big");
  }

  @Test
  void requiredAntiAffinitySpreadsAndAddingANodeSchedulesThePendingPod() throws Exception {
    namespace(client, "anti");
    threeZones("4");
    for (int i = 0; i < 4; i++) {
      create(client, pod("anti", "web-" + i, "100m").editMetadata().addToLabels("app", "web").endMetadata()
          .editSpec().withNewAffinity().withNewPodAntiAffinity().addToRequiredDuringSchedulingIgnoredDuringExecution(
              new PodAffinityTermBuilder().withTopologyKey("kubernetes.io/hostname")
                  .withLabelSelector(new LabelSelectorBuilder().addToMatchLabels("app", "web").build()).build())
          .endPodAntiAffinity().endAffinity().endSpec().build());
    }
    await(() -> client.pods().inNamespace("anti").list().getItems().stream().filter(p -> p.getSpec().getNodeName() != null).count() == 3,
        Duration.ofSeconds(20), "three placed");
    Map<String, Integer> perNode = new HashMap<>();
    client.pods().inNamespace("anti").list().getItems().forEach(p -> {
      if (p.getSpec().getNodeName() != null) {
        perNode.merge(p.getSpec().getNodeName(), 1, Integer::sum);
      }
    });
    assertThat(perNode).containsOnlyKeys("a", "b", "c").containsValues(1);
    Pod pending = client.pods().inNamespace("anti").list().getItems().stream().filter(p -> p.getSpec().getNodeName() == null).findFirst().orElseThrow();
    await(() -> {
      Pod p = client.pods().inNamespace("anti").withName(pending.getMetadata().getName()).get();
      return p.getStatus().getConditions() != null && p.getStatus().getConditions().stream()
          .anyMatch(c -> c.getMessage() != null && c.getMessage().startsWith("0/3 nodes are available: 3 node(s) didn't match pod anti-affinity rules."));
    }, Duration.ofSeconds(10), "anti-affinity reason");
    create(client, node("d", "zone-a", "4", Map.of()));
    assertThat(awaitBound(client, "anti", pending.getMetadata().getName())).isEqualTo("d");
  }

  @Test
  void requiredPodAffinityFollowsTheTargetsZone() throws Exception {
    namespace(client, "aff");
    threeZones("4");
    create(client, pod("aff", "db", "100m").editSpec().addToNodeSelector("topology.kubernetes.io/zone", "zone-c").endSpec().build());
    awaitBound(client, "aff", "db");
    for (int i = 0; i < 3; i++) {
      create(client, pod("aff", "app-" + i, "100m").editSpec().withNewAffinity().withNewPodAffinity()
          .addToRequiredDuringSchedulingIgnoredDuringExecution(new PodAffinityTermBuilder().withTopologyKey("topology.kubernetes.io/zone")
              .withLabelSelector(new LabelSelectorBuilder().addToMatchLabels("app", "db").build()).build())
          .endPodAffinity().endAffinity().endSpec().build());
      assertThat(awaitBound(client, "aff", "app-" + i)).isEqualTo("c");
    }
  }

  @Test
  void topologySpreadDoNotScheduleBalancesZones() throws Exception {
    namespace(client, "spread");
    create(client, node("a1", "zone-a", "8", Map.of()));
    create(client, node("a2", "zone-a", "8", Map.of()));
    create(client, node("a3", "zone-a", "8", Map.of()));
    create(client, node("b1", "zone-b", "8", Map.of()));
    for (int i = 0; i < 6; i++) {
      create(client, pod("spread", "s-" + i, "100m").editMetadata().addToLabels("group", "s").endMetadata().editSpec()
          .addToTopologySpreadConstraints(new TopologySpreadConstraintBuilder().withMaxSkew(1).withTopologyKey("topology.kubernetes.io/zone")
              .withWhenUnsatisfiable("DoNotSchedule").withLabelSelector(new LabelSelectorBuilder().addToMatchLabels("group", "s").build()).build())
          .endSpec().build());
      awaitBound(client, "spread", "s-" + i);
    }
    long inB = client.pods().inNamespace("spread").list().getItems().stream().filter(p -> "b1".equals(p.getSpec().getNodeName())).count();
    assertThat(inB).isEqualTo(3);
  }

  @Test
  void identicalPodsFillIdenticalNodesEvenly() throws Exception {
    namespace(client, "even");
    for (int i = 0; i < 10; i++) {
      create(client, node("n" + i, NodeSimulator.ZONES[i % 3], "32", Map.of()));
    }
    for (int i = 0; i < 100; i++) {
      create(client, pod("even", "p-" + i, "100m").build());
    }
    await(() -> client.pods().inNamespace("even").list().getItems().stream().allMatch(p -> p.getSpec().getNodeName() != null),
        Duration.ofSeconds(30), "all bound");
    Map<String, Integer> perNode = new HashMap<>();
    client.pods().inNamespace("even").list().getItems().forEach(p -> perNode.merge(p.getSpec().getNodeName(), 1, Integer::sum));
    assertThat(perNode).hasSize(10).allSatisfy((n, c) -> assertThat(c).isEqualTo(10));
  }

  @Test
  void hostPortsAndProcessRuntimeContainerPortsConflict() throws Exception {
    namespace(client, "ports");
    create(client, node("h1", "zone-a", "4", Map.of("skiff.dev/runtime", "process")));
    create(client, node("h2", "zone-b", "4", Map.of()));
    create(client, pod("ports", "hp-1", "100m").editSpec().editFirstContainer().addNewPort().withContainerPort(80).withHostPort(8080).endPort()
        .endContainer().addToNodeSelector("kubernetes.io/hostname", "h2").endSpec().build());
    assertThat(awaitBound(client, "ports", "hp-1")).isEqualTo("h2");
    create(client, pod("ports", "hp-2", "100m").editSpec().editFirstContainer().addNewPort().withContainerPort(80).withHostPort(8080).endPort()
        .endContainer().endSpec().build());
    assertThat(awaitBound(client, "ports", "hp-2")).isEqualTo("h1");
    // On the process-runtime node a declared containerPort is a host port: 9090 twice cannot share h1.
    create(client, pod("ports", "cp-1", "100m").editSpec().editFirstContainer().addNewPort().withContainerPort(9090).endPort()
        .endContainer().addToNodeSelector("kubernetes.io/hostname", "h1").endSpec().build());
    assertThat(awaitBound(client, "ports", "cp-1")).isEqualTo("h1");
    create(client, pod("ports", "cp-2", "100m").editSpec().editFirstContainer().addNewPort().withContainerPort(9090).endPort()
        .endContainer().endSpec().build());
    assertThat(awaitBound(client, "ports", "cp-2")).isEqualTo("h2");
  }

  @Test
  void volumeNodeAffinityAndWaitForFirstConsumer() throws Exception {
    namespace(client, "vol");
    threeZones("4");
    client.storage().v1().storageClasses().resource(new io.fabric8.kubernetes.api.model.storage.StorageClassBuilder()
        .withNewMetadata().withName("wffc").endMetadata().withProvisioner("skiff.dev/local-path")
        .withVolumeBindingMode("WaitForFirstConsumer").build()).create();
    client.persistentVolumes().resource(new io.fabric8.kubernetes.api.model.PersistentVolumeBuilder().withNewMetadata().withName("pv-b").endMetadata()
        .withNewSpec().addToCapacity("storage", new io.fabric8.kubernetes.api.model.Quantity("1Gi")).withAccessModes("ReadWriteOnce")
        .withNewHostPath().withPath("/tmp/pv-b").endHostPath().withClaimRef(new io.fabric8.kubernetes.api.model.ObjectReferenceBuilder()
            .withNamespace("vol").withName("bound").build())
        .withNewNodeAffinity().withNewRequired().addNewNodeSelectorTerm().addNewMatchExpression().withKey("kubernetes.io/hostname")
        .withOperator("In").withValues("b").endMatchExpression().endNodeSelectorTerm().endRequired().endNodeAffinity().endSpec().build()).create();
    client.persistentVolumeClaims().inNamespace("vol").resource(new io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder()
        .withNewMetadata().withName("bound").endMetadata().withNewSpec().withAccessModes("ReadWriteOnce").withVolumeName("pv-b")
        .withStorageClassName("").withNewResources().addToRequests("storage", new io.fabric8.kubernetes.api.model.Quantity("1Gi")).endResources()
        .endSpec().build()).create();
    client.persistentVolumeClaims().inNamespace("vol").resource(new io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder()
        .withNewMetadata().withName("later").endMetadata().withNewSpec().withAccessModes("ReadWriteOnce").withStorageClassName("wffc")
        .withNewResources().addToRequests("storage", new io.fabric8.kubernetes.api.model.Quantity("1Gi")).endResources().endSpec().build()).create();
    create(client, pod("vol", "uses-pv", "100m").editSpec().addNewVolume().withName("d").withNewPersistentVolumeClaim()
        .withClaimName("bound").endPersistentVolumeClaim().endVolume().endSpec().build());
    assertThat(awaitBound(client, "vol", "uses-pv")).isEqualTo("b");
    create(client, pod("vol", "uses-wffc", "100m").editSpec().addNewVolume().withName("d").withNewPersistentVolumeClaim()
        .withClaimName("later").endPersistentVolumeClaim().endVolume().endSpec().build());
    String node = awaitBound(client, "vol", "uses-wffc");
    assertThat(client.persistentVolumeClaims().inNamespace("vol").withName("later").get().getMetadata().getAnnotations())
        .containsEntry("volume.kubernetes.io/selected-node", node);
  }

  @Test
  void gatedPodsWaitUntilTheirGatesAreRemoved() throws Exception {
    namespace(client, "gates");
    threeZones("4");
    create(client, pod("gates", "gated", "100m").editSpec().addNewSchedulingGate().withName("example.com/wait").endSchedulingGate().endSpec().build());
    create(client, pod("gates", "plain", "100m").build());
    awaitBound(client, "gates", "plain");
    // The plain pod, created after the gated one, is bound: the gated one was never attempted.
    assertThat(nodeOf(client, "gates", "gated")).isNull();
    client.pods().inNamespace("gates").withName("gated").edit(p -> {
      p.getSpec().setSchedulingGates(List.of());
      return p;
    });
    assertThat(awaitBound(client, "gates", "gated")).isIn("a", "b", "c");
  }
}
