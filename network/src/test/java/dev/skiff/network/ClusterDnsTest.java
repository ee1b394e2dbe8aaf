package dev.skiff.network;

import static dev.skiff.network.NetFixture.await;
import static dev.skiff.network.NetFixture.endpoint;
import static dev.skiff.network.NetFixture.port;
import static dev.skiff.network.NetFixture.ready;
import static dev.skiff.network.NetFixture.service;
import static dev.skiff.network.NetFixture.slice;
import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.TestServer;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.CNAMERecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SRVRecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.SimpleResolver;
import org.xbill.DNS.Type;

/** The cluster DNS server against a real API server and a fake upstream resolver on loopback. */
class ClusterDnsTest {
  static TestServer server;
  static KubernetesClient client;
  static DatagramSocket upstream;
  static ClusterDns.Running dns;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
    client = Clients.forKubeconfig(server.kubeconfig());
    upstream = fakeUpstream();
    Service web = service("web", "10.43.200.7", "ClusterIP", List.of(port("http", 80, "TCP", null), port("metrics", 81, "TCP", null)));
    client.services().resource(web).create();
    client.services().resource(service("db", "None", "ClusterIP", List.of(port("pg", 5432, "TCP", null)))).create();
    Endpoint db0 = ready("10.42.0.11");
    db0.setHostname("db-0");
    client.resource(slice("db-abc", "db", "pg", "TCP", 5432,
        List.of(db0, ready("10.42.0.12"), endpoint("10.42.0.13", false, false, false)))).create();
    Service ext = service("ext", null, "ExternalName", List.of());
    ext.getSpec().setExternalName("example.com");
    client.services().resource(ext).create();
    Service alias = service("alias", null, "ExternalName", List.of());
    alias.getSpec().setExternalName("web.default.svc.cluster.local");
    client.services().resource(alias).create();
    dns = new ClusterDns().start(new ComponentContext(client, Files.createTempDirectory("skiff-dns"), "node-a", Map.of(
        "dns.port", "0", "node-ip", "127.0.0.1", "dns.upstream", "127.0.0.1:" + upstream.getLocalPort(),
        "dns.upstream-timeout-ms", "300")));
    await("caches", () -> {
      try {
        return query("db.default.svc.cluster.local.", Type.A, false).getSection(Section.ANSWER).size() == 2;
      } catch (Exception e) {
        return false;
      }
    });
  }

  @AfterAll
  static void stop() throws Exception {
    dns.close();
    upstream.close();
    upstreamTcp.close();
    client.close();
    server.close();
  }

  static java.net.ServerSocket upstreamTcp;

  /** The fake upstream's answer (null: never answer). */
  static byte[] upstreamAnswer(byte[] q) throws Exception {
    Message m = new Message(q);
    Name n = m.getQuestion().getName();
    if (n.toString().equals("slow.example.")) {
      return null;
    }
    Message r = ClusterZone.reply(m);
    if (n.toString().equals("example.com.") && m.getQuestion().getType() == Type.A) {
      r.addRecord(new ARecord(n, DClass.IN, 60, InetAddress.getByName("93.184.216.34")), Section.ANSWER);
    } else if (!n.toString().equals("example.com.")) {
      r.getHeader().setRcode(Rcode.NXDOMAIN);
    }
    return r.toWire();
  }

  /**
   * Answers example.com A 93.184.216.34 and NXDOMAIN for other names, over UDP and TCP on one
   * loopback port; never answers slow.example (to test timeouts).
   */
  static DatagramSocket fakeUpstream() throws Exception {
    DatagramSocket s = new DatagramSocket(new InetSocketAddress("127.0.0.1", 0));
    upstreamTcp = new java.net.ServerSocket();
    upstreamTcp.bind(new InetSocketAddress("127.0.0.1", s.getLocalPort()));
    Thread.ofVirtual().start(() -> {
      byte[] buf = new byte[4096];
      DatagramPacket p = new DatagramPacket(buf, buf.length);
      try {
        while (true) {
          p.setLength(buf.length);
          s.receive(p);
          byte[] out = upstreamAnswer(java.util.Arrays.copyOf(buf, p.getLength()));
          if (out != null) {
            s.send(new DatagramPacket(out, out.length, p.getSocketAddress()));
          }
        }
      } catch (Exception e) {
        // closed
      }
    });
    Thread.ofVirtual().start(() -> {
      try {
        while (true) {
          java.net.Socket c = upstreamTcp.accept();
          Thread.ofVirtual().start(() -> {
            try (c) {
              var in = new java.io.DataInputStream(c.getInputStream());
              var out = new java.io.DataOutputStream(c.getOutputStream());
              while (true) {
                byte[] q = in.readNBytes(in.readUnsignedShort());
                byte[] a = upstreamAnswer(q);
                if (a != null) {
                  out.writeShort(a.length);
                  out.write(a);
                  out.flush();
                }
              }
            } catch (Exception e) {
              // client done
            }
          });
        }
      } catch (IOException e) {
        // closed
      }
    });
    return s;
  }

  static Message query(String name, int type, boolean tcp) throws Exception {
    SimpleResolver r = new SimpleResolver(dns.address());
    r.setTCP(tcp);
    r.setTimeout(Duration.ofSeconds(5));
    return r.send(Message.newQuery(Record.newRecord(Name.fromString(name), type, DClass.IN)));
  }

  static List<String> answers(Message m) {
    return m.getSection(Section.ANSWER).stream().map(Record::rdataToString).sorted().collect(Collectors.toList());
  }

  @Test
  void serviceNameResolvesToTheClusterIpOverUdpAndTcp() throws Exception {
    for (boolean tcp : new boolean[] {false, true}) {
      Message m = query("web.default.svc.cluster.local.", Type.A, tcp);
      assertThat(m.getRcode()).isEqualTo(Rcode.NOERROR);
      assertThat(answers(m)).containsExactly("10.43.200.7");
    }
    assertThat(answers(query("WEB.Default.svc.cluster.local.", Type.A, false))).as("case-insensitive").containsExactly("10.43.200.7");
  }

  @Test
  void aaaaOfAnIpv4NameIsEmptyNotAnError() throws Exception {
    Message m = query("web.default.svc.cluster.local.", Type.AAAA, false);
    assertThat(m.getRcode()).isEqualTo(Rcode.NOERROR);
    assertThat(m.getSection(Section.ANSWER)).isEmpty();
    assertThat(m.getSection(Section.AUTHORITY)).hasSize(1);
  }

  @Test
  void srvForNamedPorts() throws Exception {
    Message m = query("_http._tcp.web.default.svc.cluster.local.", Type.SRV, false);
    assertThat(m.getSection(Section.ANSWER)).singleElement().satisfies(r -> {
      SRVRecord srv = (SRVRecord) r;
      assertThat(srv.getPort()).isEqualTo(80);
      assertThat(srv.getTarget().toString()).isEqualTo("web.default.svc.cluster.local.");
    });
    assertThat(query("_nope._tcp.web.default.svc.cluster.local.", Type.SRV, false).getRcode()).isEqualTo(Rcode.NXDOMAIN);
    Message headless = query("_pg._tcp.db.default.svc.cluster.local.", Type.SRV, false);
    assertThat(headless.getSection(Section.ANSWER)).extracting(r -> ((SRVRecord) r).getTarget().toString())
        .containsExactlyInAnyOrder("db-0.db.default.svc.cluster.local.", "10-42-0-12.db.default.svc.cluster.local.");
    assertThat(headless.getSection(Section.ADDITIONAL)).hasSize(2);
  }

  @Test
  void headlessServiceAnswersEveryReadyEndpointAndTheirHostnames() throws Exception {
    assertThat(answers(query("db.default.svc.cluster.local.", Type.A, false))).containsExactly("10.42.0.11", "10.42.0.12");
    assertThat(answers(query("db-0.db.default.svc.cluster.local.", Type.A, false))).containsExactly("10.42.0.11");
    assertThat(query("db-9.db.default.svc.cluster.local.", Type.A, false).getRcode()).isEqualTo(Rcode.NXDOMAIN);
  }

  @Test
  void headlessAnswersFollowEndpointReadiness() throws Exception {
    client.services().resource(service("hl2", "None", "ClusterIP", List.of(port("p", 9, "TCP", null)))).create();
    client.resource(slice("hl2-x", "hl2", "p", "TCP", 9, List.of(ready("10.42.1.1")))).create();
    await("hl2 published", () -> answersOf("hl2.default.svc.cluster.local.").equals(List.of("10.42.1.1")));
    client.resource(slice("hl2-x", "hl2", "p", "TCP", 9, List.of(endpoint("10.42.1.1", false, false, false),
        ready("10.42.1.2")))).update();
    await("hl2 updated", () -> answersOf("hl2.default.svc.cluster.local.").equals(List.of("10.42.1.2")));
  }

  static List<String> answersOf(String name) {
    try {
      return answers(query(name, Type.A, false));
    } catch (Exception e) {
      return List.of();
    }
  }

  @Test
  void podNamesResolveToTheirDashedAddress() throws Exception {
    assertThat(answers(query("10-42-0-5.default.pod.cluster.local.", Type.A, false))).containsExactly("10.42.0.5");
    assertThat(query("10-42-0-999.default.pod.cluster.local.", Type.A, false).getRcode()).isEqualTo(Rcode.NXDOMAIN);
  }

  @Test
  void externalNameIsACnameChasedUpstream() throws Exception {
    Message m = query("ext.default.svc.cluster.local.", Type.A, false);
    assertThat(m.getRcode()).isEqualTo(Rcode.NOERROR);
    List<Record> ans = m.getSection(Section.ANSWER);
    assertThat(ans.get(0)).isInstanceOf(CNAMERecord.class);
    assertThat(((CNAMERecord) ans.get(0)).getTarget().toString()).isEqualTo("example.com.");
    assertThat(ans).hasSize(2);
    assertThat(ans.get(1).rdataToString()).isEqualTo("93.184.216.34");
  }

  @Test
  void anExternalNameInsideTheClusterIsAnsweredHere() throws Exception {
    List<Record> ans = query("alias.default.svc.cluster.local.", Type.A, false).getSection(Section.ANSWER);
    assertThat(ans).hasSize(2);
    assertThat(((CNAMERecord) ans.get(0)).getTarget().toString()).isEqualTo("web.default.svc.cluster.local.");
    assertThat(ans.get(1).rdataToString()).isEqualTo("10.43.200.7");
  }

  @Test
  void unknownClusterNamesAreNxdomain() throws Exception {
    for (String n : List.of("nope.default.svc.cluster.local.", "web.nowhere.svc.cluster.local.", "x.y.z.cluster.local.")) {
      Message m = query(n, Type.A, false);
      assertThat(m.getRcode()).as(n).isEqualTo(Rcode.NXDOMAIN);
      assertThat(m.getSection(Section.AUTHORITY)).as(n).hasSize(1);
    }
  }

  @Test
  void otherNamesAreForwardedUpstream() throws Exception {
    for (boolean tcp : new boolean[] {false, true}) {
      assertThat(answers(query("example.com.", Type.A, tcp))).as("tcp=%s", tcp).containsExactly("93.184.216.34");
    }
    assertThat(query("missing.example.", Type.A, false).getRcode()).isEqualTo(Rcode.NXDOMAIN);
  }

  @Test
  void anUpstreamTimeoutIsServfailNotAHang() throws Exception {
    long t0 = System.nanoTime();
    assertThat(query("slow.example.", Type.A, false).getRcode()).isEqualTo(Rcode.SERVFAIL);
    assertThat(Duration.ofNanos(System.nanoTime() - t0)).isLessThan(Duration.ofSeconds(4));
  }

  @Test
  void kubeDnsServiceAndThisServersSliceArePublished() throws Exception {
    await("kube-dns slice", () -> client.resources(EndpointSlice.class).inNamespace("kube-system")
        .withName("kube-dns-node-a").get() != null);
    Service svc = client.services().inNamespace("kube-system").withName("kube-dns").get();
    assertThat(svc.getSpec().getClusterIP()).isEqualTo("10.43.0.10");
    assertThat(svc.getSpec().getSelector()).isNullOrEmpty();
    assertThat(svc.getSpec().getPorts()).extracting(p -> p.getName() + "/" + p.getPort() + "/" + p.getProtocol())
        .containsExactlyInAnyOrder("dns/53/UDP", "dns-tcp/53/TCP");
    EndpointSlice s = client.resources(EndpointSlice.class).inNamespace("kube-system").withName("kube-dns-node-a").get();
    assertThat(s.getMetadata().getLabels()).containsEntry("kubernetes.io/service-name", "kube-dns")
        .containsEntry("endpointslice.kubernetes.io/managed-by", ClusterDns.MANAGED_BY);
    assertThat(Slices.upstreams(List.of(s), "dns", "UDP")).containsExactly(dns.address());
    assertThat(Slices.upstreams(List.of(s), "dns-tcp", "TCP")).containsExactly(dns.address());
    // And the name of the DNS Service itself resolves.
    assertThat(answers(query("kube-dns.kube-system.svc.cluster.local.", Type.A, false))).containsExactly("10.43.0.10");
  }
}
