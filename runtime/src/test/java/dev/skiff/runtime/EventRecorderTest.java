package dev.skiff.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.TestServer;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.Comparator;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class EventRecorderTest extends ClusterTest {



  @Test
  void identicalEventsAggregateIntoACount() throws Exception {
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("ev").endMetadata().build()).create();
    ConfigMap cm = client.configMaps().inNamespace("ev").resource(new ConfigMapBuilder().withNewMetadata()
        .withName("rs").endMetadata().build()).create();
    FakeClock clock = new FakeClock(System.currentTimeMillis());
    try (EventRecorder recorder = new EventRecorder(client, "replicaset-controller", "node-1", clock)) {
      recorder.event(cm, EventRecorder.NORMAL, "ScalingReplicaSet", "Scaled up replica set %s to %d", "rs", 3);
      clock.step(java.time.Duration.ofSeconds(2));
      recorder.event(cm, EventRecorder.NORMAL, "ScalingReplicaSet", "Scaled up replica set %s to %d", "rs", 3);
      recorder.event(cm, EventRecorder.NORMAL, "ScalingReplicaSet", "Scaled up replica set %s to %d", "rs", 3);
      recorder.event(cm, EventRecorder.WARNING, "FailedCreate", "Error creating: %s", "quota");
      recorder.event(cm, "Bogus", "Nope", "dropped");
      recorder.flush();
    }
    List<Event> events = client.v1().events().inNamespace("ev").list().getItems().stream()
        .sorted(Comparator.comparing(Event::getReason).reversed()).toList();
    assertThat(events).hasSize(2);
    Event scaled = events.get(0);
    assertThat(scaled.getReason()).isEqualTo("ScalingReplicaSet");
    assertThat(scaled.getType()).isEqualTo("Normal");
    assertThat(scaled.getMessage()).isEqualTo("Scaled up replica set rs to 3");
    assertThat(scaled.getCount()).isEqualTo(3);
    assertThat(scaled.getFirstTimestamp()).isNotEqualTo(scaled.getLastTimestamp());
    assertThat(scaled.getSource().getComponent()).isEqualTo("replicaset-controller");
    assertThat(scaled.getSource().getHost()).isEqualTo("node-1");
    assertThat(scaled.getReportingComponent()).isEqualTo("replicaset-controller");
    assertThat(scaled.getInvolvedObject().getKind()).isEqualTo("ConfigMap");
    assertThat(scaled.getInvolvedObject().getName()).isEqualTo("rs");
    assertThat(scaled.getInvolvedObject().getUid()).isEqualTo(cm.getMetadata().getUid());
    assertThat(scaled.getMetadata().getName()).startsWith("rs.");
    Event failed = events.get(1);
    assertThat(failed.getType()).isEqualTo("Warning");
    assertThat(failed.getCount()).isEqualTo(1);
    assertThat(failed.getMessage()).isEqualTo("Error creating: quota");
  }

  @Test
  void eventsAboutClusterScopedObjectsGoToDefault() throws Exception {
    var ns = client.namespaces().withName("default").get();
    try (EventRecorder recorder = new EventRecorder(client, "namespace-controller")) {
      recorder.event(ns, EventRecorder.NORMAL, "Checked", "checked");
      recorder.flush();
    }
    assertThat(client.v1().events().inNamespace("default").list().getItems())
        .anyMatch(e -> e.getReason().equals("Checked") && e.getInvolvedObject().getKind().equals("Namespace"));
  }
}
