package dev.skiff.kubelet;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.TestServer;
import dev.skiff.runtime.Clients;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeCondition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Node status is posted when it differs from the server's copy, not from our last post. */
class NodeStatusReporterTest {
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

  private static NodeCondition ready(String node) {
    return client.nodes().withName(node).get().getStatus().getConditions().stream()
        .filter(c -> "Ready".equals(c.getType())).findFirst().orElseThrow();
  }

  @Test
  void readyIsPutBackAtTheNextTickAfterTheLifecycleControllerMarkedItUnknown() throws Exception {
    SteppedClock clock = new SteppedClock();
    NodeStatusReporter reporter = new NodeStatusReporter(client, "stalled", "127.0.0.1", 10250, "skiff-process://1",
        Files.createTempDirectory("nsr"), clock);
    reporter.register();
    NodeCondition first = ready("stalled");
    assertThat(first.getStatus()).isEqualTo("True");

    clock.step(Duration.ofSeconds(10));
    String rv = client.nodes().withName("stalled").get().getMetadata().getResourceVersion();
    reporter.postStatus(false);
    assertThat(client.nodes().withName("stalled").get().getMetadata().getResourceVersion())
        .as("nothing changed, within the report frequency: no write").isEqualTo(rv);

    // What NodeLifecycleController writes when the Lease was not renewed for 40 s.
    client.nodes().withName("stalled").subresource("status").patch(PatchContext.of(PatchType.STRATEGIC_MERGE), """
        {"status":{"conditions":[{"type":"Ready","status":"Unknown","reason":"NodeStatusUnknown",
          "message":"Kubelet stopped posting node status.","lastHeartbeatTime":"%s","lastTransitionTime":"%s"}]}}"""
        .formatted(first.getLastHeartbeatTime(), PodStatusBuilder.time(clock.instant())));
    assertThat(ready("stalled").getStatus()).isEqualTo("Unknown");

    clock.step(Duration.ofSeconds(10));
    reporter.postStatus(false);
    NodeCondition back = ready("stalled");
    assertThat(back.getStatus()).isEqualTo("True");
    assertThat(back.getReason()).isEqualTo("KubeletReady");
    assertThat(back.getLastTransitionTime()).as("a new transition").isEqualTo(PodStatusBuilder.time(clock.instant()));

    clock.step(Duration.ofSeconds(10));
    reporter.postStatus(true);
    assertThat(ready("stalled").getLastTransitionTime()).as("unchanged status keeps its transition time")
        .isEqualTo(back.getLastTransitionTime());
  }

  /** A wall clock that moves only when stepped. */
  static final class SteppedClock extends java.time.Clock {
    private volatile Instant now = Instant.parse("2026-01-01T00:00:00Z");

    void step(Duration d) {
      now = now.plus(d);
    }

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public java.time.Clock withZone(ZoneId zone) {
      return this;
    }
  }
}
