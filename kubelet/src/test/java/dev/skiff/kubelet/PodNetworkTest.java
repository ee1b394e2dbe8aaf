package dev.skiff.kubelet;

import static dev.skiff.kubelet.AgentFixture.phase;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.skiff.kubelet.sandbox.PodNetwork;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Pod networks (as root): each pod has its own network namespace and an IP on the agent's bridge;
 * two pods listen on 8080 at once, the host and other pods reach them by IP, containers of a pod
 * share localhost, pods reach the node IP; an agent restart re-adopts; nothing is left behind.
 * Servers and clients are perl one-liners (perl is essential on Debian; curl may be absent).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PodNetworkTest {
  static AgentFixture f;
  /** Answers every connection with "HTTP/1.0 200 OK" and the pod's name. */
  static final String SERVER = "$s=IO::Socket::INET->new(LocalPort=>$ENV{PORT},Listen=>64,ReuseAddr=>1) or die \"listen: $!\";"
      + " while($c=$s->accept){ <$c>; print $c \"HTTP/1.0 200 OK\\r\\n\\r\\n$ENV{HOSTNAME}\\n\"; close $c }";
  /** Connects to each host:port argument and prints "<target> <body>", retrying until it answers. */
  static final String CLIENT = "$|=1; for $t (@ARGV) { for (1..100) { $c=IO::Socket::INET->new(PeerAddr=>$t, Timeout=>2);"
      + " last if $c; select(undef,undef,undef,0.1) } die \"connect $t: $!\" unless $c; print $c \"GET / HTTP/1.0\\r\\n\\r\\n\";"
      + " @r=<$c>; print \"$t $r[-1]\" } sleep 3600";

  @BeforeAll
  static void start() throws Exception {
    assumeTrue(PodNetwork.supported(), "pod networks need root, ip, nsenter and unshare");
    f = new AgentFixture();
  }

  @AfterAll
  static void stop() throws Exception {
    if (f != null) {
      f.close();
    }
  }

  static Container perl(String name, String script, String... args) {
    return new ContainerBuilder().withName(name).withImage("perl").withCommand("perl", "-MIO::Socket::INET", "-e", script)
        .withArgs(args).build();
  }

  static Pod pod(String name, String restartPolicy, Container... containers) {
    return new PodBuilder().withNewMetadata().withName(name).endMetadata().withNewSpec().withNodeName(AgentFixture.NODE)
        .withRestartPolicy(restartPolicy).withTerminationGracePeriodSeconds(2L).withContainers(containers).endSpec().build();
  }

  static String fetch(String ip, int port) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(ip, port), 3000);
      s.setSoTimeout(5000);
      OutputStream out = s.getOutputStream();
      out.write("GET / HTTP/1.0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      String body = new String(in.readAllBytes(), StandardCharsets.UTF_8);
      return body.substring(body.indexOf("\r\n\r\n") + 4).trim();
    }
  }

  static String ip(String... args) throws Exception {
    Process p = new ProcessBuilder(List.of("ip", args[0], args.length > 1 ? args[1] : "").stream().filter(s -> !s.isEmpty())
        .toList()).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor(10, TimeUnit.SECONDS);
    return out;
  }

  static String logs(String pod, String container) throws Exception {
    return f.server.kubectl().run("logs", pod, "-c", container).out();
  }

  static Pod running(String name) throws InterruptedException {
    return f.await(name, p -> "Running".equals(phase(p)) && p.getStatus().getContainerStatuses().stream()
        .allMatch(c -> c.getState().getRunning() != null));
  }

  static String nodeIp() {
    return f.client.nodes().withName(AgentFixture.NODE).get().getStatus().getAddresses().stream()
        .filter(a -> a.getType().equals("InternalIP")).findFirst().orElseThrow().getAddress();
  }

  static String uidOf(String name) {
    return f.get(name).getMetadata().getUid();
  }

  @Test
  @Order(1)
  void podsHaveTheirOwnIpsShareLocalhostAndReachEachOtherAndTheNode() throws Exception {
    var node = f.client.nodes().withName(AgentFixture.NODE).get();
    assertThat(node.getMetadata().getAnnotations()).containsEntry("skiff.dev/pod-network", "bridge");
    String subnet = node.getMetadata().getAnnotations().get("skiff.dev/pod-subnet");
    assertThat(subnet).matches("10\\.42\\.\\d+\\.0/24");
    String prefix = subnet.substring(0, subnet.length() - "0/24".length());

    f.client.pods().inNamespace("default").resource(pod("web-a", "Always", perl("srv", SERVER),
        perl("side", CLIENT, "127.0.0.1:8080"))).create();
    f.client.pods().inNamespace("default").resource(pod("web-b", "Always", perl("srv", SERVER))).create();
    Pod a = running("web-a");
    Pod b = running("web-b");
    String ipA = a.getStatus().getPodIP();
    String ipB = b.getStatus().getPodIP();
    assertThat(ipA).startsWith(prefix).isNotEqualTo(ipB);
    assertThat(ipB).startsWith(prefix);
    assertThat(a.getStatus().getPodIPs()).hasSize(1);
    assertThat(a.getStatus().getPodIPs().get(0).getIp()).isEqualTo(ipA);
    assertThat(a.getStatus().getHostIP()).isEqualTo(nodeIp());

    // Both listen on 8080 at the same time, each in its own namespace, reachable from the host.
    assertThat(AgentFixture.until(Duration.ofSeconds(10), () -> answers(ipA, "web-a") && answers(ipB, "web-b"))).isTrue();
    // Containers of one pod share localhost.
    assertThat(AgentFixture.until(Duration.ofSeconds(10), () -> logsQuietly("web-a", "side").contains("127.0.0.1:8080 web-a")))
        .isTrue();

    // Pod to pod by IP, and pod to a server on the node's IP.
    try (ServerSocket host = new ServerSocket(0)) {
      Thread.ofVirtual().start(() -> {
        while (!host.isClosed()) {
          try (Socket c = host.accept()) {
            c.getOutputStream().write("HTTP/1.0 200 OK\r\n\r\nnode\n".getBytes(StandardCharsets.US_ASCII));
          } catch (IOException e) {
            return;
          }
        }
      });
      String target = nodeIp() + ":" + host.getLocalPort();
      f.client.pods().inNamespace("default").resource(pod("client", "Never", perl("c", CLIENT, ipB + ":8080", target)))
          .create();
      assertThat(AgentFixture.until(Duration.ofSeconds(20), () -> logsQuietly("client", "c").contains(target + " node")))
          .as(() -> logsQuietly("client", "c")).isTrue();
      assertThat(logsQuietly("client", "c")).contains(ipB + ":8080 web-b");
    }
    // The host's 8080 is not the pods' 8080.
    assertThat(f.get("client").getStatus().getPodIP()).startsWith(prefix).isNotIn(ipA, ipB);
  }

  @Test
  @Order(2)
  void anAgentRestartReadoptsTheNamespacesAndAddresses() throws Exception {
    String ipA = f.get("web-a").getStatus().getPodIP();
    f.agent.abandon();
    assertThat(fetch(ipA, 8080)).isEqualTo("web-a"); // pods keep serving while no agent runs
    f.startAgent();
    f.client.pods().inNamespace("default").resource(pod("web-c", "Always", perl("srv", SERVER))).create();
    Pod c = running("web-c");
    assertThat(c.getStatus().getPodIP()).isNotIn(ipA, f.get("web-b").getStatus().getPodIP(), f.get("client").getStatus().getPodIP());
    assertThat(AgentFixture.until(Duration.ofSeconds(10), () -> answers(c.getStatus().getPodIP(), "web-c"))).isTrue();
    Pod a = running("web-a");
    assertThat(a.getStatus().getPodIP()).isEqualTo(ipA);
    assertThat(a.getStatus().getContainerStatuses()).allMatch(s -> s.getRestartCount() == 0);
    assertThat(fetch(ipA, 8080)).isEqualTo("web-a");
  }

  @Test
  @Order(3)
  void deletedPodsAndAStoppedAgentLeaveNoNamespacesOrLinks() throws Exception {
    String subnet = f.client.nodes().withName(AgentFixture.NODE).get().getMetadata().getAnnotations().get("skiff.dev/pod-subnet");
    String gw = subnet.replace("0/24", "1/24");
    String bridge = ip("-o", "addr").lines().filter(l -> l.contains(" " + gw + " ")).map(l -> l.split("\\s+")[1])
        .findFirst().orElseThrow();
    List<String> uids = List.of(uidOf("web-a"), uidOf("web-b"), uidOf("web-c"), uidOf("client"));
    assertThat(ip("netns")).contains(uids.get(0));
    f.server.kubectl().run("delete", "pod", "--all", "--wait=false").ok();
    assertThat(AgentFixture.until(Duration.ofSeconds(30), () -> f.client.pods().inNamespace("default").list().getItems().isEmpty()))
        .isTrue();
    assertThat(AgentFixture.until(Duration.ofSeconds(10), () -> {
      try {
        String ns = ip("netns");
        return uids.stream().noneMatch(ns::contains) && !ip("-o", "link").contains("master " + bridge)
            && f.agent.runtime().listPodSandboxes().isEmpty();
      } catch (Exception e) {
        return false;
      }
    })).as(() -> ipQuietly()).isTrue();
    f.agent.close();
    assertThat(ip("-o", "link")).doesNotContain(bridge);
    f.startAgent(); // for the fixture's own close
  }

  /** Two agents on one host (as two test servers or nodes would be): distinct bridges and subnets, pods reach across. */
  @Test
  @Order(4)
  void aSecondAgentOnTheHostGetsItsOwnSubnetAndPodsReachAcrossBridges() throws Exception {
    java.nio.file.Path dataB = java.nio.file.Files.createTempDirectory("skiff-kubelet-b");
    NodeAgent.Running b = new NodeAgent().start(new dev.skiff.runtime.ComponentContext(f.client, dataB, "node-b",
        java.util.Map.of()));
    String[] gatewayB = {"unset"};
    try {
      String subnetA = f.client.nodes().withName(AgentFixture.NODE).get().getMetadata().getAnnotations().get("skiff.dev/pod-subnet");
      String subnetB = f.client.nodes().withName("node-b").get().getMetadata().getAnnotations().get("skiff.dev/pod-subnet");
      assertThat(subnetB).isNotNull().isNotEqualTo(subnetA);
      gatewayB[0] = " " + subnetB.replace("0/24", "1/24") + " ";
      Pod far = pod("far", "Always", perl("srv", SERVER));
      far.getSpec().setNodeName("node-b");
      f.client.pods().inNamespace("default").resource(far).create();
      String farIp = running("far").getStatus().getPodIP();
      assertThat(farIp).startsWith(subnetB.replace("0/24", ""));
      f.client.pods().inNamespace("default").resource(pod("near", "Always", perl("c", CLIENT, farIp + ":8080"))).create();
      assertThat(AgentFixture.until(Duration.ofSeconds(20), () -> logsQuietly("near", "c").contains(farIp + ":8080 far")))
          .as(() -> logsQuietly("near", "c")).isTrue();
      f.server.kubectl().run("delete", "pod", "far", "near", "--wait=false").ok();
      assertThat(AgentFixture.until(Duration.ofSeconds(30), () -> f.client.pods().inNamespace("default").list().getItems().isEmpty()
          && b.runtime().listPodSandboxes().isEmpty())).isTrue();
    } finally {
      b.close();
      try (var rt = new dev.skiff.kubelet.cri.ProcessRuntime(dataB.resolve("kubelet"))) {
        for (var c : rt.listContainers(null)) {
          rt.stopContainer(c.id(), 0);
        }
        for (String sb : rt.listPodSandboxes()) {
          rt.removePodSandbox(sb);
        }
      }
    }
    assertThat(ip("-o", "addr")).as("no bridge of agent b left").doesNotContain(gatewayB[0]);
  }

  static String ipQuietly() {
    try {
      return ip("netns") + ip("-o", "link");
    } catch (Exception e) {
      return e.toString();
    }
  }

  static boolean answers(String ip, String name) {
    try {
      return fetch(ip, 8080).equals(name);
    } catch (IOException e) {
      return false;
    }
  }

  static String logsQuietly(String pod, String c) {
    try {
      return logs(pod, c);
    } catch (Exception e) {
      return "";
    }
  }
}
