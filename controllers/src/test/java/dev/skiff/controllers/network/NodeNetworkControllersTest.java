package dev.skiff.controllers.network;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.TestServer;
import dev.skiff.controllers.ControllerManager;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import io.fabric8.kubernetes.api.model.LoadBalancerIngress;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.nio.file.Files;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The service load balancer (node addresses in LoadBalancer status) and node IPAM (podCIDR per node). */
class NodeNetworkControllersTest {
  static final Map<String, String> OPTIONS = Map.of("leaseDurationSeconds", "3", "renewDeadlineSeconds", "2",
      "retryPeriodMillis", "300", "cluster-cidr", "10.42.0.0/16");
  static TestServer server;
  static KubernetesClient client;

  @BeforeAll
  static void up() throws Exception {
    server = TestServer.start();
    client = Clients.forKubeconfig(server.kubeconfig());
  }

  @AfterAll
  static void down() throws Exception {
    client.close();
    server.close();
  }

  static AutoCloseable manager() throws Exception {
    return new ControllerManager().start(new ComponentContext(client, Files.createTempDirectory("cm"), "test", OPTIONS));
  }

  static boolean until(BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (System.nanoTime() < deadline) {
      try {
        if (condition.getAsBoolean()) {
          return true;
        }
      } catch (RuntimeException e) {
        // transient
      }
      Thread.sleep(20);
    }
    return false;
  }

  static void node(String name, boolean ready, String internal, String external) {
    var status = new io.fabric8.kubernetes.api.model.NodeStatusBuilder()
        .addNewCondition().withType("Ready").withStatus(ready ? "True" : "False").endCondition()
        .addNewAddress().withType("InternalIP").withAddress(internal).endAddress()
        .addNewAddress().withType("Hostname").withAddress(name).endAddress();
    if (external != null) {
      status.addNewAddress().withType("ExternalIP").withAddress(external).endAddress();
    }
    client.nodes().resource(new NodeBuilder().withNewMetadata().withName(name).endMetadata()
        .withStatus(status.build()).build()).create();
  }

  static List<String> ingress(String svc) {
    Service s = client.services().inNamespace("default").withName(svc).get();
    if (s.getStatus() == null || s.getStatus().getLoadBalancer() == null || s.getStatus().getLoadBalancer().getIngress() == null) {
      return List.of();
    }
    return s.getStatus().getLoadBalancer().getIngress().stream().map(LoadBalancerIngress::getIp).toList();
  }

  static String podCidr(String node) {
    Node n = client.nodes().withName(node).get();
    return n == null || n.getSpec() == null ? null : n.getSpec().getPodCIDR();
  }

  @Test
  void loadBalancersGetTheReadyNodesAddresses() throws Exception {
    try (AutoCloseable m = manager()) {
      node("lb-a", true, "192.0.2.1", null);
      node("lb-b", true, "192.0.2.2", "198.51.100.2");
      node("lb-c", false, "192.0.2.3", null);
      client.services().inNamespace("default").resource(new ServiceBuilder().withNewMetadata().withName("front").endMetadata()
          .withNewSpec().withType("LoadBalancer").addToSelector("app", "front").addNewPort().withPort(80).endPort().endSpec()
          .build()).create();
      client.services().inNamespace("default").resource(new ServiceBuilder().withNewMetadata().withName("other").endMetadata()
          .withNewSpec().withType("LoadBalancer").withLoadBalancerClass("example.com/lb").addNewPort().withPort(80).endPort()
          .endSpec().build()).create();
      assertThat(until(() -> ingress("front").equals(List.of("192.0.2.1", "198.51.100.2")))).isTrue();
      Service front = client.services().inNamespace("default").withName("front").get();
      assertThat(front.getStatus().getLoadBalancer().getIngress().get(0).getIpMode()).isEqualTo("VIP");
      // A node turning Ready joins.
      client.nodes().withName("lb-c").subresource("status").patch(PatchContext.of(PatchType.JSON_MERGE),
          "{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}");
      assertThat(until(() -> ingress("front").equals(List.of("192.0.2.1", "192.0.2.3", "198.51.100.2")))).isTrue();
      // No longer a LoadBalancer: the ingress goes.
      client.services().inNamespace("default").withName("front").patch(PatchContext.of(PatchType.JSON_MERGE),
          "{\"spec\":{\"type\":\"ClusterIP\"}}");
      assertThat(until(() -> ingress("front").isEmpty())).isTrue();
      Thread.sleep(200);
      assertThat(ingress("other")).isEmpty();
      for (String n : List.of("lb-a", "lb-b", "lb-c")) {
        client.nodes().withName(n).delete();
      }
    }
  }

  @Test
  void nodesGetDistinctStablePodCidrs() throws Exception {
    Set<String> cidrs = new HashSet<>();
    try (AutoCloseable m = manager()) {
      for (int i = 0; i < 5; i++) {
        node("ipam-" + i, true, "192.0.3." + i, null);
      }
      for (int i = 0; i < 5; i++) {
        String n = "ipam-" + i;
        assertThat(until(() -> podCidr(n) != null)).isTrue();
        assertThat(podCidr(n)).matches("10\\.42\\.\\d+\\.0/24");
        assertThat(client.nodes().withName(n).get().getSpec().getPodCIDRs()).containsExactly(podCidr(n));
        cidrs.add(podCidr(n));
      }
      assertThat(cidrs).hasSize(5);
    }
    // A new manager (as after a restart) keeps every assignment and never hands one out twice.
    String freed = podCidr("ipam-2");
    try (AutoCloseable m = manager()) {
      node("ipam-5", true, "192.0.3.5", null);
      assertThat(until(() -> podCidr("ipam-5") != null)).isTrue();
      assertThat(cidrs.add(podCidr("ipam-5"))).isTrue();
      for (int i = 0; i < 5; i++) {
        assertThat(cidrs).contains(podCidr("ipam-" + i));
      }
      // A deleted node's subnet is free again.
      client.nodes().withName("ipam-2").delete();
      assertThat(until(() -> client.nodes().withName("ipam-2").get() == null)).isTrue();
      Thread.sleep(300);
      node("ipam-6", true, "192.0.3.6", null);
      assertThat(until(() -> podCidr("ipam-6") != null)).isTrue();
      assertThat(podCidr("ipam-6")).isEqualTo(freed);
    }
  }
}
