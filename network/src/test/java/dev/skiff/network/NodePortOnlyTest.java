package dev.skiff.network;

import static dev.skiff.network.NetFixture.await;
import static dev.skiff.network.NetFixture.port;
import static dev.skiff.network.NetFixture.ready;
import static dev.skiff.network.NetFixture.service;
import static dev.skiff.network.NetFixture.slice;
import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.TestServer;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Without root (forced here with proxy.cluster-ips=false): NodePorts only, and the Node says so. */
class NodePortOnlyTest {
  @Test
  void servesNodePortsAndRecordsTheLimitationOnTheNode() throws Exception {
    try (TestServer server = TestServer.start();
        KubernetesClient client = Clients.forKubeconfig(server.kubeconfig());
        NetFixture.Backends b = new NetFixture.Backends("127.0.0.2")) {
      client.nodes().resource(new NodeBuilder().withNewMetadata().withName("node-a").endMetadata().build()).create();
      ServiceProxy.Running proxy = new ServiceProxy().start(new ComponentContext(client,
          Files.createTempDirectory("skiff-net"), "node-a", Map.of("proxy.cluster-ips", "false")));
      try {
        assertThat(proxy.clusterIpsReachable()).isFalse();
        assertThat(proxy.linkName()).isNull();
        String ip = NetFixture.randomClusterIp();
        int nodePort = NetFixture.randomNodePort();
        client.services().resource(service("np", ip, "NodePort", List.of(port("http", 80, "TCP", nodePort)))).create();
        client.resource(slice("np-1", "np", "http", "TCP", b.port, List.of(ready("127.0.0.2")))).create();
        await("nodePort listener", () -> proxy.boundAddress(new ServiceProxy.ListenerKey("0.0.0.0", nodePort, "TCP")) != null
            && proxy.upstreams("default/np", "http", "TCP").size() == 1);
        assertThat(NetFixture.get(new InetSocketAddress(NetFixture.nodeIp(), nodePort))).isEqualTo("127.0.0.2");
        assertThat(proxy.boundAddress(new ServiceProxy.ListenerKey(ip, 80, "TCP"))).isNull();

        await("node annotation", () -> {
          Node n = client.nodes().withName("node-a").get();
          return n.getMetadata().getAnnotations() != null
              && ServiceProxy.NODEPORT_ONLY.equals(n.getMetadata().getAnnotations().get(ServiceProxy.NODE_ANNOTATION));
        });
        // kubectl describe node shows it.
        assertThat(server.kubectl().run("describe", "node", "node-a").ok().out())
            .contains("skiff.dev/service-proxy: nodeport-only (not root: ClusterIPs unreachable)");
      } finally {
        proxy.close();
      }
    }
  }
}
