package dev.skiff.scheduler;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Which Node updates give unschedulable pods another try. */
class NodeUpdateRequeueTest {
  @Test
  void thePodNetworkAnnotationArrivingRetriesPodsRefusedForContainerPorts() {
    Node before = Fixtures.node("n1", "z", "4", Map.of("skiff.dev/runtime", "process"));
    // The node agent announces its bridge after registering: containerPorts stop being host ports.
    Node after = new NodeBuilder(before).editMetadata()
        .addToAnnotations(NodeInfo.POD_NETWORK_ANNOTATION, "bridge").endMetadata().build();
    assertThat(SchedulerEngine.schedulingRelevantChange(before, after)).isTrue();

    Node other = new NodeBuilder(after).editMetadata().addToAnnotations("skiff.dev/service-proxy", "nftables").endMetadata().build();
    assertThat(SchedulerEngine.schedulingRelevantChange(after, other)).as("other annotations").isFalse();
  }
}
