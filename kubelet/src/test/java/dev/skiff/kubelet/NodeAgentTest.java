package dev.skiff.kubelet;

import static dev.skiff.kubelet.AgentFixture.phase;
import static dev.skiff.kubelet.AgentFixture.pod;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeCondition;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The node agent against a real API server, driven by the real kubectl. */
class NodeAgentTest {
  static AgentFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new AgentFixture();
  }

  @AfterAll
  static void stop() throws Exception {
    f.close();
  }

  @Test
  void registersItsNodeWithCapacityConditionsAndALease() throws Exception {
    Node node = f.client.nodes().withName(AgentFixture.NODE).get();
    assertThat(node.getMetadata().getLabels()).containsEntry("skiff.dev/runtime", "process")
        .containsEntry("kubernetes.io/hostname", AgentFixture.NODE);
    assertThat(node.getStatus().getCapacity()).containsKeys("cpu", "memory", "ephemeral-storage");
    assertThat(node.getStatus().getCapacity().get("pods").toString()).isEqualTo("110");
    assertThat(node.getStatus().getNodeInfo().getKubeletVersion()).isEqualTo("v1.32.4-skiff");
    assertThat(node.getStatus().getNodeInfo().getContainerRuntimeVersion()).isEqualTo("skiff-process://0.1");
    assertThat(node.getStatus().getConditions()).extracting(NodeCondition::getType)
        .containsExactlyInAnyOrder("Ready", "MemoryPressure", "DiskPressure", "PIDPressure");
    assertThat(node.getStatus().getConditions()).filteredOn(c -> c.getType().equals("Ready"))
        .extracting(NodeCondition::getStatus).containsExactly("True");
    assertThat(node.getStatus().getAddresses()).anyMatch(a -> a.getType().equals("InternalIP"));
    assertThat(node.getStatus().getDaemonEndpoints().getKubeletEndpoint().getPort()).isEqualTo(f.agent.port());
    assertThat(AgentFixture.until(java.time.Duration.ofSeconds(10),
        () -> f.client.leases().inNamespace("kube-node-lease").withName(AgentFixture.NODE).get() != null)).isTrue();
    Lease lease = f.client.leases().inNamespace("kube-node-lease").withName(AgentFixture.NODE).get();
    assertThat(lease.getSpec().getHolderIdentity()).isEqualTo(AgentFixture.NODE);
    assertThat(lease.getSpec().getLeaseDurationSeconds()).isEqualTo(40);
    assertThat(lease.getSpec().getRenewTime()).isNotNull();
    String out = f.server.kubectl().run("get", "nodes").ok().out();
    assertThat(out).contains(AgentFixture.NODE).contains("Ready").contains("v1.32.4-skiff");
  }

  @Test
  void podRunsThroughPendingRunningSucceededAndLogsHello() throws Exception {
    List<String> phases = new CopyOnWriteArrayList<>();
    try (Watch w = f.client.pods().inNamespace("default").withName("hello").watch(new Watcher<>() {
      @Override
      public void eventReceived(Action action, Pod pod) {
        String p = phase(pod);
        if (p != null && (phases.isEmpty() || !phases.get(phases.size() - 1).equals(p))) {
          phases.add(p);
        }
      }

      @Override
      public void onClose(WatcherException cause) {}
    })) {
      f.apply(pod("hello", "Never", "echo hello; sleep 1"));
      Pod done = f.await("hello", p -> "Succeeded".equals(phase(p)));
      assertThat(phases).containsSubsequence("Pending", "Running", "Succeeded");
      var cs = done.getStatus().getContainerStatuses().get(0);
      assertThat(cs.getState().getTerminated().getExitCode()).isZero();
      assertThat(cs.getState().getTerminated().getReason()).isEqualTo("Completed");
      assertThat(cs.getState().getTerminated().getStartedAt()).isNotNull();
      assertThat(cs.getState().getTerminated().getFinishedAt()).isNotNull();
      assertThat(cs.getContainerID()).startsWith("skiff-process://");
      assertThat(done.getStatus().getPodIP()).isEqualTo(done.getStatus().getHostIP()).isNotNull();
      assertThat(done.getStatus().getConditions()).extracting(c -> c.getType() + "=" + c.getStatus())
          .contains("PodScheduled=True", "Initialized=True", "ContainersReady=False", "Ready=False");
    }
    String table = f.server.kubectl().run("get", "pod", "hello").ok().out();
    assertThat(table).containsPattern("hello\\s+0/1\\s+Completed\\s+0");
    assertThat(f.server.kubectl().run("logs", "hello").ok().out()).isEqualTo("hello\n");
  }
}
