package dev.skiff.kubelet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.TestServer;
import dev.skiff.runtime.Clients;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The asynchronous status manager against a real API server: coalescing, order, flush, gone pods. */
class StatusManagerTest {
  static TestServer server;
  static KubernetesClient client;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
    client = Clients.forKubeconfig(server.kubeconfig());
  }

  @AfterAll
  static void stop() throws Exception {
    client.close();
    server.close();
  }

  static Pod create(String name) {
    return client.pods().inNamespace("default").resource(new PodBuilder().withNewMetadata().withName(name).endMetadata()
        .withNewSpec().withNodeName("n").addNewContainer().withName("c").withImage("busybox").endContainer().endSpec()
        .build()).create();
  }

  static PodStatus status(String phase, String message) {
    return new PodStatusBuilder().withPhase(phase).withMessage(message).build();
  }

  @Test
  void updatesReturnAtOnceCoalesceAndTheNewestIsStored() throws Exception {
    Pod pod = create("burst");
    try (StatusManager statuses = new StatusManager(client)) {
      for (int i = 0; i < 20; i++) {
        statuses.update(pod, status("Pending", "step " + i));
      }
      statuses.update(pod, status("Running", "last"));
      assertThat(statuses.flush(pod.getMetadata().getUid(), Duration.ofSeconds(10))).isTrue();
      Pod stored = client.pods().inNamespace("default").withName("burst").get();
      assertThat(stored.getStatus().getPhase()).isEqualTo("Running");
      assertThat(stored.getStatus().getMessage()).isEqualTo("last");
      // One write per pod at a time, the newest pending one next: far fewer than 21 writes.
      assertThat(statuses.writes()).isBetween(1L, 20L);

      // What the API holds already is not written again.
      long before = statuses.writes();
      statuses.update(stored, status("Running", "last"));
      assertThat(statuses.flush(pod.getMetadata().getUid(), Duration.ofSeconds(10))).isTrue();
      assertThat(statuses.writes()).isEqualTo(before);
    }
  }

  @Test
  void manyPodsAreAllWrittenAndAGonePodIsDropped() throws Exception {
    List<Pod> pods = new ArrayList<>();
    for (int i = 0; i < 30; i++) {
      pods.add(create("many-" + i));
    }
    Pod gone = create("gone");
    client.pods().inNamespace("default").withName("gone").withGracePeriod(0).delete();
    try (StatusManager statuses = new StatusManager(client)) {
      statuses.update(gone, status("Running", "too late"));
      for (Pod p : pods) {
        statuses.update(p, status("Running", "up " + p.getMetadata().getName()));
      }
      for (Pod p : pods) {
        assertThat(statuses.flush(p.getMetadata().getUid(), Duration.ofSeconds(20))).isTrue();
      }
      assertThat(statuses.flush(gone.getMetadata().getUid(), Duration.ofSeconds(10))).isTrue();
      for (Pod p : pods) {
        Pod stored = client.pods().inNamespace("default").withName(p.getMetadata().getName()).get();
        assertThat(stored.getStatus().getMessage()).isEqualTo("up " + p.getMetadata().getName());
      }
      assertThat(statuses.writes()).isEqualTo(pods.size());
    }
  }
}
