package dev.skiff.apiserver.pki;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KubeconfigTest {
  @TempDir Path dir;
  ClusterPki pki;

  @BeforeEach
  void setUp() throws Exception {
    pki = ClusterPki.loadOrCreate(dir, List.of());
  }

  @Test
  void adminKubeconfigHasTheExpectedFields() throws Exception {
    Path file = pki.writeAdminKubeconfig(6443);
    assertThat(file).isEqualTo(dir.resolve("kubeconfig.yaml"));
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(file))).isEqualTo("rw-------");

    JsonNode y = new ObjectMapper(new YAMLFactory()).readTree(file.toFile());
    assertThat(y.path("apiVersion").asText()).isEqualTo("v1");
    assertThat(y.path("kind").asText()).isEqualTo("Config");
    assertThat(y.path("current-context").asText()).isEqualTo("skiff");
    JsonNode cluster = y.path("clusters").get(0);
    assertThat(cluster.path("name").asText()).isEqualTo("skiff");
    assertThat(cluster.path("cluster").path("server").asText()).isEqualTo("https://127.0.0.1:6443");
    assertThat(decode(cluster.path("cluster").path("certificate-authority-data")))
        .isEqualTo(Files.readString(dir.resolve("pki/ca.crt")));
    JsonNode ctx = y.path("contexts").get(0);
    assertThat(ctx.path("name").asText()).isEqualTo("skiff");
    assertThat(ctx.path("context").path("cluster").asText()).isEqualTo("skiff");
    assertThat(ctx.path("context").path("user").asText()).isEqualTo("skiff-admin");
    JsonNode user = y.path("users").get(0);
    assertThat(user.path("name").asText()).isEqualTo("skiff-admin");
    assertThat(decode(user.path("user").path("client-certificate-data")))
        .isEqualTo(Files.readString(dir.resolve("pki/admin.crt")));
    assertThat(decode(user.path("user").path("client-key-data")))
        .isEqualTo(Files.readString(dir.resolve("pki/admin.key")));
  }

  @Test
  void rewritingAnUnchangedKubeconfigDoesNotTouchTheFile() throws Exception {
    Kubeconfig k = pki.adminKubeconfig("https://127.0.0.1:6443");
    Path file = dir.resolve("k.yaml");
    assertThat(k.write(file)).isTrue();
    assertThat(k.write(file)).isFalse();
    assertThat(pki.adminKubeconfig("https://127.0.0.1:7443").write(file)).isTrue();
  }

  @Test
  void readRoundTripsCertificatesKeysAndTokens() throws Exception {
    Path file = pki.writeAdminKubeconfig(6443);
    Kubeconfig k = Kubeconfig.read(file);
    assertThat(k.server()).isEqualTo("https://127.0.0.1:6443");
    assertThat(k.clusterName()).isEqualTo("skiff");
    assertThat(k.userName()).isEqualTo("skiff-admin");
    assertThat(k.certificateAuthorities()).containsExactly(pki.caCertificate());
    assertThat(k.clientCertificateChain()).containsExactly(pki.adminCertificate());
    assertThat(k.clientKey().getEncoded()).isEqualTo(pki.adminKey().getEncoded());
    assertThat(k.token()).isNull();

    Path tf = dir.resolve("token.yaml");
    Kubeconfig.withToken("c\"x", "https://[::1]:1", List.of(pki.caCertificate()), "bob: the \\ builder", "s3cr3t").write(tf);
    Kubeconfig t = Kubeconfig.read(tf);
    assertThat(t.clusterName()).isEqualTo("c\"x");
    assertThat(t.userName()).isEqualTo("bob: the \\ builder");
    assertThat(t.token()).isEqualTo("s3cr3t");
    assertThat(t.clientKey()).isNull();
  }

  @Test
  void readResolvesFileReferencesLikeKubeadmConfigs() throws Exception {
    String yaml = """
        apiVersion: v1
        kind: Config
        clusters:
        - name: c
          cluster: {server: https://127.0.0.1:6443, certificate-authority: pki/ca.crt}
        users:
        - name: u
          user: {client-certificate: pki/admin.crt, client-key: pki/admin.key}
        contexts:
        - name: ctx
          context: {cluster: c, user: u}
        """;
    Kubeconfig k = Kubeconfig.parse(yaml, dir);
    assertThat(k.clusterName()).isEqualTo("c");
    assertThat(k.clientCertificateChain()).containsExactly(pki.adminCertificate());
    assertThat(k.certificateAuthorities()).containsExactly(pki.caCertificate());
  }

  @Test
  void kubectlReadsTheKubeconfig() throws Exception {
    Path file = pki.writeAdminKubeconfig(6443);
    String kubectl = "/usr/bin/kubectl";
    assertThat(ClusterPkiTest.run(kubectl, "config", "view", "--kubeconfig", file.toString(), "--raw",
        "-o", "jsonpath={.users[0].name}")).isEqualTo("skiff-admin");
    assertThat(ClusterPkiTest.run(kubectl, "config", "view", "--kubeconfig", file.toString(), "--raw",
        "-o", "jsonpath={.clusters[0].cluster.server} {.current-context} {.contexts[0].context.user}"))
        .isEqualTo("https://127.0.0.1:6443 skiff skiff-admin");
    // --minify --flatten makes kubectl resolve the current context and decode nothing it cannot.
    assertThat(ClusterPkiTest.run(kubectl, "config", "view", "--kubeconfig", file.toString(), "--raw",
        "--minify", "-o", "jsonpath={.users[0].user.client-key-data}"))
        .isEqualTo(Base64.getEncoder().encodeToString(Files.readAllBytes(dir.resolve("pki/admin.key"))));
  }

  private static String decode(JsonNode n) {
    return new String(Base64.getDecoder().decode(n.asText()), StandardCharsets.US_ASCII);
  }
}
