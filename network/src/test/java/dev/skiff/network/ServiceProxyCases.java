package dev.skiff.network;

import static dev.skiff.network.NetFixture.await;
import static dev.skiff.network.NetFixture.endpoint;
import static dev.skiff.network.NetFixture.get;
import static dev.skiff.network.NetFixture.port;
import static dev.skiff.network.NetFixture.ready;
import static dev.skiff.network.NetFixture.service;
import static dev.skiff.network.NetFixture.slice;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.skiff.apiserver.testing.TestServer;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.SessionAffinityConfigBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/**
 * The service proxy's cases against a real API server, with hand-made Services and
 * EndpointSlices; each subclass starts the proxy with its options in its own {@code @BeforeAll}.
 */
abstract class ServiceProxyCases {
  static TestServer server;
  static KubernetesClient client;
  static ServiceProxy.Running proxy;

  static void start(Map<String, String> options) throws Exception {
    server = TestServer.start();
    client = Clients.forKubeconfig(server.kubeconfig());
    proxy = new ServiceProxy().start(new ComponentContext(client, Files.createTempDirectory("skiff-net"), "node-a", options));
  }

  @AfterAll
  static void stop() throws Exception {
    String link = proxy.linkName();
    String table = proxy.nftTable();
    proxy.close();
    if (link != null) {
      assertThat(ClusterIpInterface.exists(link)).as("link %s deleted on stop", link).isFalse();
    }
    if (table != null) {
      assertThat(NftablesProxier.exists(table)).as("table %s deleted on stop", table).isFalse();
    }
    client.close();
    server.close();
  }

  /** A Service (ClusterIP, plus a NodePort) over hand-made slices; returns where to connect. */
  record Svc(String name, String clusterIp, int port, int nodePort) {
    InetSocketAddress target() {
      return proxy.clusterIpsReachable() ? new InetSocketAddress(clusterIp, port) : new InetSocketAddress("127.0.0.1", nodePort);
    }
  }

  static Svc create(String name, String protocol, int port, List<Endpoint> eps) throws Exception {
    return create(name, protocol, port, eps, false);
  }

  static Svc create(String name, String protocol, int port, List<Endpoint> eps, boolean clientIp) throws Exception {
    String ip = NetFixture.randomClusterIp();
    int nodePort = NetFixture.randomNodePort();
    // A random Service port: another process on this host with a wildcard listener on a common
    // port (a gateway on 0.0.0.0:80, say) makes binding clusterIP:80 fail with EADDRINUSE.
    int svcPort = 10000 + java.util.concurrent.ThreadLocalRandom.current().nextInt(10000);
    Service s = service(name, ip, "NodePort", List.of(port("http", svcPort, protocol, nodePort)));
    if (clientIp) {
      s.getSpec().setSessionAffinity("ClientIP");
      s.getSpec().setSessionAffinityConfig(new SessionAffinityConfigBuilder().withNewClientIP().withTimeoutSeconds(60)
          .endClientIP().build());
    }
    client.services().resource(s).create();
    EndpointSlice sl = client.resource(slice(name + "-1", name, "http", protocol, port, eps)).create();
    Svc svc = new Svc(name, ip, svcPort, nodePort);
    awaitUpstreams(svc, protocol, Slices.upstreams(List.of(sl), "http", protocol).size());
    await("listener of " + name, () -> proxy.boundAddress(new ServiceProxy.ListenerKey("0.0.0.0", nodePort, protocol)) != null);
    await("kernel rules of " + name, proxy::kernelSynced);
    return svc;
  }

  static void awaitUpstreams(Svc svc, String protocol, int n) throws InterruptedException {
    await(n + " upstreams of " + svc.name, () -> proxy.upstreams("default/" + svc.name, "http", protocol).size() == n);
    // The kernel path applies a reconcile asynchronously (batched syncs).
    await("kernel rules of " + svc.name, proxy::kernelSynced);
  }

  static void updateEndpoints(String name, String protocol, int port, List<Endpoint> eps) {
    client.resource(slice(name + "-1", name, "http", protocol, port, eps)).update();
  }

  static Map<String, Integer> spread(InetSocketAddress to, int requests) throws IOException {
    Map<String, Integer> hits = new HashMap<>();
    for (int i = 0; i < requests; i++) {
      hits.merge(get(to), 1, Integer::sum);
    }
    return hits;
  }

  @Test
  void roundRobinOverThreeBackends() throws Exception {
    try (NetFixture.Backends b = new NetFixture.Backends("127.0.0.2", "127.0.0.3", "127.0.0.4")) {
      Svc svc = create("rr", "TCP", b.port, List.of(ready("127.0.0.2"), ready("127.0.0.3"), ready("127.0.0.4")));
      assertThat(spread(svc.target(), 9)).isEqualTo(Map.of("127.0.0.2", 3, "127.0.0.3", 3, "127.0.0.4", 3));
    }
  }

  @Test
  void clientIpAffinityKeepsOneBackend() throws Exception {
    try (NetFixture.Backends b = new NetFixture.Backends("127.0.0.2", "127.0.0.3", "127.0.0.4")) {
      Svc svc = create("sticky", "TCP", b.port, List.of(ready("127.0.0.2"), ready("127.0.0.3"), ready("127.0.0.4")), true);
      assertThat(spread(svc.target(), 10)).hasSize(1).containsValue(10);
    }
  }

  @Test
  void unreadyEndpointGetsNoConnectionsUntilReady() throws Exception {
    try (NetFixture.Backends b = new NetFixture.Backends("127.0.0.2", "127.0.0.3", "127.0.0.4")) {
      List<Endpoint> eps = new ArrayList<>(List.of(ready("127.0.0.2"), ready("127.0.0.3"),
          endpoint("127.0.0.4", false, false, false)));
      Svc svc = create("unready", "TCP", b.port, eps);
      assertThat(spread(svc.target(), 12)).containsOnlyKeys("127.0.0.2", "127.0.0.3");

      eps.set(2, ready("127.0.0.4"));
      updateEndpoints("unready", "TCP", b.port, eps);
      awaitUpstreams(svc, "TCP", 3);
      assertThat(spread(svc.target(), 12)).containsOnlyKeys("127.0.0.2", "127.0.0.3", "127.0.0.4");
    }
  }

  @Test
  void servingTerminatingEndpointsServeWhenNoneIsReady() throws Exception {
    try (NetFixture.Backends b = new NetFixture.Backends("127.0.0.2", "127.0.0.3")) {
      Svc svc = create("terminating", "TCP", b.port, List.of(endpoint("127.0.0.2", false, true, true),
          endpoint("127.0.0.3", false, false, true)));
      awaitUpstreams(svc, "TCP", 1);
      assertThat(spread(svc.target(), 4)).containsOnlyKeys("127.0.0.2");
    }
  }

  @Test
  void connectFailureRetriesTheNextEndpoint() throws Exception {
    // A DNAT rule cannot retry another endpoint (neither can kube-proxy's iptables or nftables
    // modes); the user-space engines can, and their subclasses run this.
    assumeTrue(proxy.nftTable() == null, "user-space path only");
    try (NetFixture.Backends b = new NetFixture.Backends("127.0.0.2")) {
      // Nothing listens on 127.0.0.9 at that port: connects are refused.
      Svc svc = create("retry", "TCP", b.port, List.of(ready("127.0.0.9"), ready("127.0.0.2")));
      assertThat(spread(svc.target(), 6)).isEqualTo(Map.of("127.0.0.2", 6));
    }
  }

  @Test
  void removedEndpointDrainsEstablishedConnections() throws Exception {
    try (NetFixture.Backends b = new NetFixture.Backends("127.0.0.2", "127.0.0.3")) {
      Svc svc = create("drain", "TCP", b.port, List.of(ready("127.0.0.2"), ready("127.0.0.3")));
      try (Socket keepAlive = new Socket()) {
        keepAlive.connect(svc.target(), 2000);
        keepAlive.setSoTimeout(5000);
        String first = NetFixture.exchange(keepAlive, false);
        String other = first.equals("127.0.0.2") ? "127.0.0.3" : "127.0.0.2";
        updateEndpoints("drain", "TCP", b.port, List.of(ready(other)));
        awaitUpstreams(svc, "TCP", 1);

        assertThat(NetFixture.exchange(keepAlive, false)).as("established connection keeps its endpoint").isEqualTo(first);
        assertThat(spread(svc.target(), 4)).as("new connections").isEqualTo(Map.of(other, 4));
        assertThat(NetFixture.exchange(keepAlive, false)).isEqualTo(first);
      }
    }
  }

  @Test
  void nodePortAnswersOnTheNodeAddress() throws Exception {
    try (NetFixture.Backends b = new NetFixture.Backends("127.0.0.2")) {
      Svc svc = create("nodeport", "TCP", b.port, List.of(ready("127.0.0.2")));
      assertThat(get(new InetSocketAddress(NetFixture.nodeIp(), svc.nodePort))).isEqualTo("127.0.0.2");
      assertThat(get(new InetSocketAddress("127.0.0.1", svc.nodePort))).isEqualTo("127.0.0.2");
    }
  }

  @Test
  void udpIsForwardedBothWays() throws Exception {
    try (DatagramSocket echo = new DatagramSocket(new InetSocketAddress("127.0.0.2", 0))) {
      Thread.ofVirtual().start(() -> {
        byte[] buf = new byte[1500];
        DatagramPacket p = new DatagramPacket(buf, buf.length);
        try {
          while (true) {
            p.setLength(buf.length);
            echo.receive(p);
            byte[] reply = ("echo " + new String(buf, 0, p.getLength(), StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8);
            echo.send(new DatagramPacket(reply, reply.length, p.getSocketAddress()));
          }
        } catch (IOException e) {
          // closed
        }
      });
      Svc svc = create("udp", "UDP", echo.getLocalPort(), List.of(ready("127.0.0.2")));
      try (DatagramSocket c = new DatagramSocket()) {
        c.setSoTimeout(3000);
        for (int i = 0; i < 3; i++) {
          byte[] msg = ("hello " + i).getBytes(StandardCharsets.UTF_8);
          c.send(new DatagramPacket(msg, msg.length, svc.target()));
          byte[] buf = new byte[1500];
          DatagramPacket p = new DatagramPacket(buf, buf.length);
          c.receive(p);
          assertThat(new String(buf, 0, p.getLength(), StandardCharsets.UTF_8)).isEqualTo("echo hello " + i);
          assertThat((InetSocketAddress) p.getSocketAddress()).isEqualTo(svc.target());
        }
      }
    }
  }

  @Test
  void aServiceThatCannotBindDoesNotStopAnother() throws Exception {
    try (NetFixture.Backends b = new NetFixture.Backends("127.0.0.2");
        ServerSocket squatter = new ServerSocket()) {
      int taken = NetFixture.randomNodePort();
      squatter.bind(new InetSocketAddress("0.0.0.0", taken));
      client.services().resource(service("broken", NetFixture.randomClusterIp(), "NodePort",
          List.of(port("http", 80, "TCP", taken)))).create();
      client.resource(slice("broken-1", "broken", "http", "TCP", b.port, List.of(ready("127.0.0.2")))).create();
      Svc ok = create("healthy", "TCP", b.port, List.of(ready("127.0.0.2")));
      assertThat(get(ok.target())).isEqualTo("127.0.0.2");
      await("a ProxyFailed event on the broken Service", () -> client.v1().events().inNamespace("default").list().getItems()
          .stream().anyMatch(e -> "broken".equals(e.getInvolvedObject().getName()) && "ProxyFailed".equals(e.getReason())));
    }
  }

  @Test
  void headlessAndExternalNameServicesAreNotProxied() throws Exception {
    int np = NetFixture.randomNodePort();
    Service ext = service("ext", null, "ExternalName", List.of());
    ext.getSpec().setExternalName("example.com");
    client.services().resource(ext).create();
    client.services().resource(service("headless", "None", "ClusterIP", List.of(port("http", 80, "TCP", null)))).create();
    Svc marker = create("marker", "TCP", 8080, List.of(ready("127.0.0.2")));
    // Reconciles run in order on one worker: once a later Service is proxied, these were seen.
    assertThat(proxy.upstreams("default/headless", "http", "TCP")).isEmpty();
    assertThat(proxy.boundAddress(new ServiceProxy.ListenerKey("None", 80, "TCP"))).isNull();
    assertThat(marker.nodePort).isNotEqualTo(np);
  }

  @Test
  void clusterIpIsReachableFromTheHostAndReleasedWhenTheServiceGoes() throws Exception {
    assumeTrue(proxy.clusterIpsReachable(), "needs root");
    try (NetFixture.Backends b = new NetFixture.Backends("127.0.0.2")) {
      Svc svc = create("vip", "TCP", b.port, List.of(ready("127.0.0.2")));
      if (proxy.nftTable() != null) {
        assertThat(serviceIps()).contains(svc.clusterIp + " . tcp . " + svc.port);
      } else {
        assertThat(ClusterIpInterface.ip("-o", "addr", "show", "dev", proxy.linkName())).contains(svc.clusterIp + "/32");
      }
      assertThat(get(new InetSocketAddress(svc.clusterIp, svc.port))).isEqualTo("127.0.0.2");

      client.services().inNamespace("default").withName("vip").delete();
      await("address released", () -> {
        try {
          return proxy.nftTable() != null ? !serviceIps().contains(svc.clusterIp + " ")
              : !ClusterIpInterface.ip("-o", "addr", "show", "dev", proxy.linkName()).contains(svc.clusterIp + "/");
        } catch (IOException e) {
          return false;
        }
      });
    }
  }

  /** The kernel path's ClusterIP map as nft prints it. */
  static String serviceIps() throws IOException {
    return NftablesProxier.exec(List.of(NftablesProxier.NFT, "list", "map", "ip", proxy.nftTable(), "service-ips"), null);
  }

  @Test
  void clusterIpIsReachableFromAnotherNetworkNamespace() throws Exception {
    assumeTrue(proxy.clusterIpsReachable(), "needs root");
    // A pod-like network namespace: a veth pair, default route via the host end (as the pod
    // bridge's gateway would be). The ClusterIP is a local address of the host, so it answers.
    String tag = Long.toHexString(ProcessHandle.current().pid() & 0xffffff) + "x" + (System.nanoTime() & 0xf);
    String ns = "sknp" + tag;
    String hostEnd = "sknh" + tag;
    String nsEnd = "sknp" + tag;
    java.util.concurrent.ThreadLocalRandom r = java.util.concurrent.ThreadLocalRandom.current();
    String net = "10.254." + r.nextInt(256) + ".";
    int base = r.nextInt(64) * 4;
    try (NetFixture.Backends b = new NetFixture.Backends("127.0.0.2")) {
      Svc svc = create("from-pod", "TCP", b.port, List.of(ready("127.0.0.2")));
      try {
        ClusterIpInterface.ip("netns", "add", ns);
        ClusterIpInterface.ip("link", "add", hostEnd, "type", "veth", "peer", "name", nsEnd);
        ClusterIpInterface.ip("link", "set", nsEnd, "netns", ns);
        ClusterIpInterface.ip("addr", "add", net + (base + 1) + "/30", "dev", hostEnd);
        ClusterIpInterface.ip("link", "set", hostEnd, "up");
        // The backend here is a loopback address: the kernel path DNATs the pod's packet to
        // 127.0.0.2, which Linux routes from another interface only with route_localnet on it
        // (real endpoints are pod or node addresses and need nothing; the namespace's veth, and
        // with it this setting, goes at the end).
        java.nio.file.Files.writeString(java.nio.file.Path.of("/proc/sys/net/ipv4/conf", hostEnd, "route_localnet"), "1");
        ClusterIpInterface.ip("-n", ns, "addr", "add", net + (base + 2) + "/30", "dev", nsEnd);
        ClusterIpInterface.ip("-n", ns, "link", "set", nsEnd, "up");
        ClusterIpInterface.ip("-n", ns, "link", "set", "lo", "up");
        ClusterIpInterface.ip("-n", ns, "route", "add", "default", "via", net + (base + 1));
        Process p = new ProcessBuilder("ip", "netns", "exec", ns, "curl", "-s", "--max-time", "5",
            "http://" + svc.clusterIp + ":" + svc.port + "/").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        assertThat(out).isEqualTo("127.0.0.2");
      } finally {
        try {
          ClusterIpInterface.ip("netns", "del", ns);
        } catch (IOException e) {
          // not created
        }
        try {
          ClusterIpInterface.ip("link", "del", hostEnd); // normally gone with the namespace
        } catch (IOException e) {
          // gone
        }
      }
    }
  }

  @Test
  void loadBalancerIngressOnTheNodeAddressAnswersOnTheServicePort() throws Exception {
    try (NetFixture.Backends b = new NetFixture.Backends("127.0.0.2")) {
      int port = 10000 + java.util.concurrent.ThreadLocalRandom.current().nextInt(10000);
      String nodeIp = NetFixture.nodeIp();
      Service s = service("lb", NetFixture.randomClusterIp(), "LoadBalancer",
          List.of(port("http", port, "TCP", NetFixture.randomNodePort())));
      client.services().resource(s).create();
      client.resource(slice("lb-1", "lb", "http", "TCP", b.port, List.of(ready("127.0.0.2")))).create();
      Service live = client.services().inNamespace("default").withName("lb").get();
      live.setStatus(new io.fabric8.kubernetes.api.model.ServiceStatusBuilder().withNewLoadBalancer()
          .addNewIngress().withIp(nodeIp).endIngress().endLoadBalancer().build());
      client.services().resource(live).updateStatus();
      await("ingress listener", () -> proxy.boundAddress(new ServiceProxy.ListenerKey(nodeIp, port, "TCP")) != null
          && proxy.upstreams("default/lb", "http", "TCP").size() == 1);
      assertThat(get(new InetSocketAddress(nodeIp, port))).isEqualTo("127.0.0.2");
    }
  }

  @Test
  void largeTransfersKeepEveryByteAndHalfCloses() throws Exception {
    // A TCP echo backend that echoes until EOF, then closes: exercises back-pressure (the
    // client writes 8 MiB before reading much) and half-close propagation both ways.
    try (ServerSocket echo = new ServerSocket()) {
      echo.bind(new InetSocketAddress("127.0.0.2", 0));
      Thread.ofVirtual().start(() -> {
        try (Socket s = echo.accept()) {
          s.getInputStream().transferTo(s.getOutputStream());
          s.shutdownOutput();
        } catch (IOException e) {
          // test over
        }
      });
      Svc svc = create("bulk", "TCP", echo.getLocalPort(), List.of(ready("127.0.0.2")));
      byte[] data = new byte[8 << 20];
      new java.util.Random(42).nextBytes(data);
      try (Socket c = new Socket()) {
        c.connect(svc.target(), 2000);
        c.setSoTimeout(20_000);
        Thread writer = Thread.ofVirtual().start(() -> {
          try {
            c.getOutputStream().write(data);
            c.shutdownOutput();
          } catch (IOException e) {
            // the read side fails the test
          }
        });
        byte[] back = c.getInputStream().readAllBytes(); // to EOF: the backend's half-close came through
        writer.join();
        assertThat(back.length).isEqualTo(data.length);
        assertThat(java.util.Arrays.equals(back, data)).isTrue();
      }
    }
  }
}
