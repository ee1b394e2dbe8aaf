package dev.skiff.network;

import static dev.skiff.network.NetFixture.await;
import static dev.skiff.network.NetFixture.port;
import static dev.skiff.network.NetFixture.service;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.skiff.apiserver.testing.TestServer;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/**
 * The wiring of both components as {@code skiff server} runs them (as root): the cluster DNS
 * publishes itself behind the kube-dns ClusterIP and the proxy forwards that IP's port 53, UDP and
 * TCP, to it. A random DNS ClusterIP keeps parallel test runs on this host apart.
 */
class DnsThroughProxyTest {
  @Test
  void clusterDnsAnswersOnTheKubeDnsClusterIp() throws Exception {
    assumeTrue(ClusterIpInterface.supported(), "needs root");
    String dnsIp = NetFixture.randomClusterIp();
    Map<String, String> opts = Map.of("cluster-dns", dnsIp, "dns.port", "0", "node-ip", "127.0.0.1",
        "dns.upstream", "127.0.0.1:9");
    try (TestServer server = TestServer.start();
        KubernetesClient client = Clients.forKubeconfig(server.kubeconfig())) {
      var dir = Files.createTempDirectory("skiff-net");
      ServiceProxy.Running proxy = new ServiceProxy().start(new ComponentContext(client, dir, "node-a", opts));
      ClusterDns.Running dns = new ClusterDns().start(new ComponentContext(client, dir, "node-a", opts));
      try {
        String webIp = NetFixture.randomClusterIp();
        client.services().resource(service("web", webIp, "ClusterIP", List.of(port("http", 80, "TCP", null)))).create();
        for (boolean tcp : new boolean[] {false, true}) {
          SimpleResolver r = new SimpleResolver(new InetSocketAddress(dnsIp, 53));
          r.setTCP(tcp);
          r.setTimeout(Duration.ofSeconds(1));
          await("web via " + dnsIp + (tcp ? " tcp" : " udp"), () -> {
            try {
              Message m = r.send(Message.newQuery(Record.newRecord(Name.fromString("web.default.svc.cluster.local."), Type.A, DClass.IN)));
              return m.getSection(Section.ANSWER).stream().anyMatch(a -> a.rdataToString().equals(webIp));
            } catch (Exception e) {
              return false;
            }
          });
        }
      } finally {
        dns.close();
        proxy.close();
      }
      assertThat(client.resources(io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice.class)
          .inNamespace("kube-system").withName("kube-dns-node-a").get()).as("slice withdrawn on stop").isNull();
    }
  }
}
