package dev.skiff.controllers;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpecBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.api.model.apps.ReplicaSetBuilder;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DeploymentUtilTest {
  static Deployment d(int replicas, Object surge, Object unavailable) {
    return new DeploymentBuilder().withNewMetadata().withName("d").endMetadata().withNewSpec().withReplicas(replicas)
        .withNewStrategy().withType("RollingUpdate").withNewRollingUpdate()
        .withMaxSurge(new IntOrString(surge)).withMaxUnavailable(new IntOrString(unavailable)).endRollingUpdate().endStrategy()
        .endSpec().build();
  }

  static ReplicaSet rs(int replicas) {
    return new ReplicaSetBuilder().withNewMetadata().withName("r" + replicas).endMetadata().withNewSpec().withReplicas(replicas).endSpec().build();
  }

  @Test
  void fencepostsRoundSurgeUpAndUnavailableDown() {
    int[] f = DeploymentUtil.resolveFenceposts(d(10, "25%", "25%"));
    assertThat(f).containsExactly(3, 2);
    assertThat(DeploymentUtil.resolveFenceposts(d(3, "25%", "25%"))).containsExactly(1, 0);
    // Both zero: maxUnavailable becomes 1.
    assertThat(DeploymentUtil.resolveFenceposts(d(3, 0, 0))).containsExactly(0, 1);
    assertThat(DeploymentUtil.maxUnavailable(d(2, 0, 5))).isEqualTo(2); // capped at replicas
  }

  @Test
  void newReplicaSetScalesUpWithinSurge() {
    Deployment dep = d(10, "30%", 0); // surge 3
    ReplicaSet old = rs(10);
    ReplicaSet neu = rs(0);
    assertThat(DeploymentUtil.newRSNewReplicas(dep, List.of(old, neu), neu)).isEqualTo(3);
    ReplicaSet neu3 = rs(3);
    assertThat(DeploymentUtil.newRSNewReplicas(dep, List.of(old, neu3), neu3)).isEqualTo(3); // at max total
    ReplicaSet old8 = rs(8);
    assertThat(DeploymentUtil.newRSNewReplicas(dep, List.of(old8, neu3), neu3)).isEqualTo(5);
  }

  static PodTemplateSpec template(String image, boolean emptyResources) {
    var b = new PodTemplateSpecBuilder().withNewMetadata().addToLabels("app", "x").endMetadata().withNewSpec()
        .addNewContainer().withName("c").withImage(image);
    if (emptyResources) {
      b = b.withNewResources().endResources();
    }
    return b.endContainer().endSpec().build();
  }

  @Test
  void templateHashIsStableIgnoresHashLabelAndZeroValues() {
    PodTemplateSpec a = template("nginx:1", false);
    PodTemplateSpec b = template("nginx:1", true);
    PodTemplateSpec withHash = template("nginx:1", false);
    withHash.getMetadata().getLabels().put("pod-template-hash", "abc");
    assertThat(DeploymentUtil.computeHash(a, null)).isEqualTo(DeploymentUtil.computeHash(b, null))
        .isEqualTo(DeploymentUtil.computeHash(withHash, null)).matches("[bcdfghjklmnpqrstvwxz2456789]+");
    assertThat(DeploymentUtil.equalIgnoreHash(a, b)).isTrue();
    assertThat(DeploymentUtil.equalIgnoreHash(a, withHash)).isTrue();
    assertThat(DeploymentUtil.equalIgnoreHash(a, template("nginx:2", false))).isFalse();
    assertThat(DeploymentUtil.computeHash(a, 1)).isNotEqualTo(DeploymentUtil.computeHash(a, null));
    assertThat(DeploymentUtil.computeHash(a, null)).isNotEqualTo(DeploymentUtil.computeHash(template("nginx:2", false), null));
  }

  static Pod pod(String name, String node, String phase, boolean ready, String cost, Instant created) {
    var b = new PodBuilder().withNewMetadata().withName(name).withUid(name).withCreationTimestamp(created.toString());
    if (cost != null) {
      b = b.addToAnnotations("controller.kubernetes.io/pod-deletion-cost", cost);
    }
    return b.endMetadata().withNewSpec().withNodeName(node).endSpec().withNewStatus().withPhase(phase)
        .addNewCondition().withType("Ready").withStatus(ready ? "True" : "False")
        .withLastTransitionTime(created.toString()).endCondition().endStatus().build();
  }

  @Test
  void deletionRankingFollowsUpstreamOrder() {
    Instant now = Instant.parse("2026-01-01T00:00:00Z");
    Pod unassigned = pod("unassigned", null, "Pending", false, null, now.minusSeconds(1000));
    Pod pending = pod("pending", "n1", "Pending", false, null, now.minusSeconds(1000));
    Pod notReady = pod("notready", "n1", "Running", false, null, now.minusSeconds(1000));
    Pod cheap = pod("cheap", "n2", "Running", true, "-10", now.minusSeconds(1000));
    Pod young = pod("young", "n3", "Running", true, null, now.minusSeconds(5));
    Pod old = pod("old", "n4", "Running", true, null, now.minusSeconds(5000));
    List<Pod> pods = new ArrayList<>(List.of(old, young, cheap, notReady, pending, unassigned));
    Map<Pod, Integer> ranks = Map.of();
    pods.sort(ReplicaSetController.deletionOrder(ranks, now.toEpochMilli()));
    assertThat(pods).extracting(p -> p.getMetadata().getName())
        .containsExactly("unassigned", "pending", "notready", "cheap", "young", "old");
    // Doubled-up: a pod sharing its node with more related pods goes first.
    Pod a = pod("a", "n5", "Running", true, null, now.minusSeconds(5000));
    Pod b = pod("b", "n6", "Running", true, null, now.minusSeconds(5000));
    List<Pod> two = new ArrayList<>(List.of(a, b));
    two.sort(ReplicaSetController.deletionOrder(Map.of(a, 1, b, 3), now.toEpochMilli()));
    assertThat(two).extracting(p -> p.getMetadata().getName()).containsExactly("b", "a");
  }

  @Test
  void availabilityHonoursMinReadySeconds() {
    Instant now = Instant.parse("2026-01-01T00:00:00Z");
    Pod p = pod("p", "n", "Running", true, null, now.minusSeconds(5));
    assertThat(Pods.isAvailable(p, 0, now.toEpochMilli())).isTrue();
    assertThat(Pods.isAvailable(p, 10, now.toEpochMilli())).isFalse();
    assertThat(Pods.isAvailable(p, 5, now.toEpochMilli())).isTrue();
  }
}
