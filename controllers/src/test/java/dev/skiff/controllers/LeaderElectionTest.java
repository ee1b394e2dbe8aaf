package dev.skiff.controllers;

import dev.skiff.runtime.LeaderElected;
import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.TestServer;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class LeaderElectionTest {
  @Test
  void twoManagersActOnceAndTheSurvivorTakesOver() throws Exception {
    try (TestServer server = TestServer.start(); KubernetesClient c1 = Harness.client(server);
        KubernetesClient c2 = Harness.client(server)) {
      LeaderElected m1 = Harness.startManager(server, c1);
      LeaderElected m2 = Harness.startManager(server, c2);
      try {
        assertThat(Harness.until(Duration.ofSeconds(15), () -> m1.isLeader() || m2.isLeader())).isTrue();
        Thread.sleep(1000);
        assertThat(m1.isLeader() && m2.isLeader()).isFalse();
        c1.apps().replicaSets().inNamespace("default").resource(ReplicaSetControllerTest.rs("le", 5)).create();
        assertThat(Harness.until(Duration.ofSeconds(20), () ->
            c1.pods().inNamespace("default").withLabel("app", "le").list().getItems().size() == 5)).isTrue();
        Thread.sleep(1500);
        // Exactly one manager acted: 5 pods, 5 creation events, no more.
        assertThat(c1.pods().inNamespace("default").withLabel("app", "le").list().getItems()).hasSize(5);
        assertThat(c1.v1().events().inNamespace("default").list().getItems().stream()
            .filter(e -> "SuccessfulCreate".equals(e.getReason())).count()).isEqualTo(5);
        // The leader goes away without releasing: the other takes over within the lease duration.
        LeaderElected leader = m1.isLeader() ? m1 : m2;
        LeaderElected other = leader == m1 ? m2 : m1;
        leader.abandon();
        assertThat(Harness.until(Duration.ofSeconds(10), other::isLeader)).isTrue();
        new dev.skiff.apiserver.testing.Kubectl(dev.skiff.apiserver.testing.Kubectl.DEFAULT, server.kubeconfig(), server.home())
            .run("scale", "rs/le", "--replicas=7").ok();
        assertThat(Harness.until(Duration.ofSeconds(20), () ->
            c1.pods().inNamespace("default").withLabel("app", "le").list().getItems().size() == 7)).isTrue();
      } finally {
        m1.close();
        m2.close();
      }
    }
  }
}
