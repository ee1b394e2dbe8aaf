package dev.skiff.kubelet;

import static dev.skiff.kubelet.AgentFixture.phase;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.apiserver.pki.ClusterPki;
import dev.skiff.apiserver.pki.IssuedCertificate;
import dev.skiff.apiserver.pki.Pem;
import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The agent with serving credentials: its log and streaming servers speak mutual TLS on the
 * node's address, the API server reaches them with its kubelet client certificate (logs, exec
 * over WebSocket and SPDY), and nobody else gets an answer - not a client without a certificate,
 * not another node's certificate from the same CA.
 */
class AgentTlsTest {
  static AgentFixture f;
  static String nodeIp;
  static ClusterPki pki;

  @BeforeAll
  static void start() throws Exception {
    nodeIp = NodeStatusReporter.hostIp();
    f = new AgentFixture((TestServer s) -> {
      try {
        pki = s.server().pki();
        Path dir = Files.createTempDirectory("kubelet-tls");
        IssuedCertificate serving = pki.issueServingCertificate("system:node:node-a", List.of("system:nodes"),
            List.of(nodeIp), false, Duration.ofDays(1));
        Files.writeString(dir.resolve("kubelet.crt"), serving.certificatePem());
        Files.writeString(dir.resolve("kubelet.key"), serving.privateKeyPem());
        Files.writeString(dir.resolve("ca.crt"), Pem.encodeCertificates(List.of(pki.caCertificate())));
        return Map.of("node-ip", nodeIp, "tls-cert-file", dir.resolve("kubelet.crt").toString(),
            "tls-private-key-file", dir.resolve("kubelet.key").toString(), "client-ca-file", dir.resolve("ca.crt").toString());
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
    });
    f.apply("""
        apiVersion: v1
        kind: Pod
        metadata: {name: tls}
        spec:
          nodeName: node-a
          terminationGracePeriodSeconds: 2
          containers:
          - name: main
            image: busybox
            command: [sh, -c, 'echo hello over mutual TLS; sleep 3600']
        """);
    f.await("tls", p -> "Running".equals(phase(p)));
  }

  @AfterAll
  static void stop() throws Exception {
    f.close();
  }

  @Test
  void theApiServerReachesTheAgentOverMutualTls() throws Exception {
    var node = f.client.nodes().withName("node-a").get();
    assertThat(node.getMetadata().getAnnotations()).containsEntry(NodeAgent.KUBELET_SERVING_ANNOTATION, "https");
    assertThat(AgentFixture.until(Duration.ofSeconds(20), () -> {
      try {
        return f.server.kubectl().run("logs", "tls").out().contains("hello over mutual TLS");
      } catch (Exception e) {
        return false;
      }
    })).as(f.server.kubectl().run("logs", "tls").toString()).isTrue();
    for (String binary : List.of(Kubectl.DEFAULT, Kubectl.V1_27)) { // WebSocket and SPDY
      Kubectl.Result r = f.server.kubectl(binary).runWithInput("abc\n", "exec", "-i", "tls", "--", "sh", "-c",
          "tr a-z A-Z; exit 4");
      assertThat(r.out()).as(binary + r.err()).isEqualTo("ABC\n");
      assertThat(r.code()).isEqualTo(4);
    }
  }

  @Test
  void nobodyElseGetsAnAnswer() throws Exception {
    int port = f.client.nodes().withName("node-a").get().getStatus().getDaemonEndpoints().getKubeletEndpoint().getPort();
    URI logs = URI.create("https://" + nodeIp + ":" + port + "/containerLogs/default/tls/main");
    // no client certificate
    assertThatThrownBy(() -> client(null).send(HttpRequest.newBuilder(logs).build(), HttpResponse.BodyHandlers.ofString()))
        .isInstanceOf(IOException.class);
    // another node's certificate, from the same CA
    IssuedCertificate other = pki.issueClientCertificate("system:node:other", List.of("system:nodes"), Duration.ofDays(1));
    assertThatThrownBy(() -> client(other).send(HttpRequest.newBuilder(logs).build(), HttpResponse.BodyHandlers.ofString()))
        .isInstanceOf(IOException.class);
    // the API server's kubelet client name gets the log
    IssuedCertificate apiServer = pki.issueClientCertificate(ServingTls.API_SERVER_CLIENT, List.of("system:masters"),
        Duration.ofDays(1));
    HttpResponse<String> ok = client(apiServer).send(HttpRequest.newBuilder(logs).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(ok.body()).contains("hello over mutual TLS");
    if (!nodeIp.equals("127.0.0.1")) { // bound to the node's address, not the wildcard
      try (Socket s = new Socket()) {
        assertThatThrownBy(() -> s.connect(new InetSocketAddress("127.0.0.1", port), 2000)).isInstanceOf(IOException.class);
      }
    }
  }

  private static HttpClient client(IssuedCertificate cert) throws Exception {
    KeyManagerFactory kmf = null;
    if (cert != null) {
      KeyStore keys = KeyStore.getInstance("PKCS12");
      keys.load(null, null);
      keys.setKeyEntry("c", cert.privateKey(), "p".toCharArray(), new java.security.cert.Certificate[] {cert.certificate()});
      kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(keys, "p".toCharArray());
    }
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", pki.caCertificate());
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    return HttpClient.newBuilder().sslContext(ctx).connectTimeout(Duration.ofSeconds(5)).build();
  }
}
