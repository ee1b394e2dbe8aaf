package dev.skiff.apiserver.pki;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClusterPkiTest {
  @TempDir Path dir;

  @Test
  void firstStartCreatesKubeadmLayoutWithPrivateKeys() throws Exception {
    long t0 = System.nanoTime();
    ClusterPki pki = ClusterPki.loadOrCreate(dir, List.of());
    long t1 = System.nanoTime();
    System.out.printf("first start (in test JVM): %.1f ms%n", (t1 - t0) / 1e6);

    assertThat(pki.generated()).containsExactly("ca", "apiserver", "admin");
    for (String n : List.of("ca", "apiserver", "admin")) {
      assertThat(dir.resolve("pki/" + n + ".crt")).isRegularFile();
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("pki/" + n + ".key"))))
          .isEqualTo("rw-------");
      assertThat(Files.readString(dir.resolve("pki/" + n + ".key"))).startsWith("-----BEGIN PRIVATE KEY-----");
    }
    try (var files = Files.list(dir.resolve("pki"))) {
      assertThat(files.map(p -> p.getFileName().toString()))
          .containsExactlyInAnyOrder("ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "admin.crt", "admin.key");
    }
    X509Certificate ca = pki.caCertificate();
    assertThat(ca.getBasicConstraints()).isGreaterThanOrEqualTo(0);
    assertThat(ca.getPublicKey().getAlgorithm()).isEqualTo("EC");
    assertThat(ca.getNotAfter().toInstant()).isAfter(Instant.now().plus(Duration.ofDays(3600)));
    assertThat(pki.serverCertificateChain()).hasSize(2).last().isEqualTo(ca);
    pki.serverCertificateChain().get(0).verify(ca.getPublicKey());
  }

  @Test
  void restartReusesTheSameMaterial() throws Exception {
    ClusterPki first = ClusterPki.loadOrCreate(dir, List.of());
    byte[] caBytes = Files.readAllBytes(dir.resolve("pki/ca.crt"));
    long t0 = System.nanoTime();
    ClusterPki second = ClusterPki.loadOrCreate(dir, List.of());
    long t1 = System.nanoTime();
    System.out.printf("restart (in test JVM): %.1f ms%n", (t1 - t0) / 1e6);

    assertThat(second.generated()).isEmpty();
    assertThat(Files.readAllBytes(dir.resolve("pki/ca.crt"))).isEqualTo(caBytes);
    assertThat(second.caCertificate().getEncoded()).isEqualTo(first.caCertificate().getEncoded());
    assertThat(second.serverCertificateChain()).isEqualTo(first.serverCertificateChain());
    assertThat(second.adminCertificate()).isEqualTo(first.adminCertificate());
    assertThat(second.adminKey().getEncoded()).isEqualTo(first.adminKey().getEncoded());
  }

  @Test
  void servingCertificateCoversLoopbackHostNameAndExtraSans() throws Exception {
    ClusterPki pki = ClusterPki.loadOrCreate(dir, List.of("skiff.example.com", "10.11.12.13", "[fd00::42]"));
    SubjectAltNames sans = SubjectAltNames.of(pki.serverCertificateChain().get(0));
    assertThat(sans.dnsNames()).contains("localhost", "skiff.example.com");
    String host = SubjectAltNames.hostName();
    if (host != null && !host.isEmpty()) assertThat(sans.dnsNames()).contains(host.toLowerCase());
    assertThat(sans.ipAddresses()).contains(InetAddress.getByName("127.0.0.1"), InetAddress.getByName("::1"),
        InetAddress.getByName("10.11.12.13"), InetAddress.getByName("fd00::42"));
    assertThat(pki.serverCertificateChain().get(0).getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.1");
  }

  @Test
  void adminCertificateIsSystemMasters() throws Exception {
    ClusterPki pki = ClusterPki.loadOrCreate(dir, List.of());
    X509Certificate admin = pki.adminCertificate();
    assertThat(admin.getSubjectX500Principal().getName()).isEqualTo("CN=skiff-admin,O=system:masters");
    assertThat(admin.getExtendedKeyUsage()).containsExactly("1.3.6.1.5.5.7.3.2");
    assertThat(admin.getBasicConstraints()).isEqualTo(-1);
    admin.verify(pki.caCertificate().getPublicKey());
    // openssl agrees it chains to the CA.
    assertThat(run("openssl", "verify", "-CAfile", dir.resolve("pki/ca.crt").toString(),
        dir.resolve("pki/admin.crt").toString(), dir.resolve("pki/apiserver.crt").toString()))
        .contains("admin.crt: OK", "apiserver.crt: OK");
  }

  @Test
  void servingCertificateIsReissuedWhenTheHostGainsAName() throws Exception {
    SubjectAltNames base = SubjectAltNames.parse(List.of("localhost", "127.0.0.1"));
    ClusterPki first = ClusterPki.loadOrCreate(dir, base, Clock.systemUTC());
    ClusterPki same = ClusterPki.loadOrCreate(dir, base, Clock.systemUTC());
    assertThat(same.generated()).isEmpty();

    SubjectAltNames moved = SubjectAltNames.parse(List.of("localhost", "127.0.0.1", "192.0.2.77"));
    ClusterPki second = ClusterPki.loadOrCreate(dir, moved, Clock.systemUTC());
    assertThat(second.generated()).containsExactly("apiserver");
    assertThat(second.caCertificate()).isEqualTo(first.caCertificate());
    assertThat(second.adminCertificate()).isEqualTo(first.adminCertificate());
    assertThat(SubjectAltNames.of(second.serverCertificateChain().get(0)).covers(moved)).isTrue();
  }

  @Test
  void leavesAreRenewedNearExpiryButTheCaIsKept() throws Exception {
    ClusterPki first = ClusterPki.loadOrCreate(dir, List.of());
    Clock later = Clock.fixed(Instant.now().plus(Duration.ofDays(340)), ZoneOffset.UTC);
    ClusterPki renewed = ClusterPki.loadOrCreate(dir, SubjectAltNames.forHost(List.of()), later);
    assertThat(renewed.generated()).containsExactly("apiserver", "admin");
    assertThat(renewed.caCertificate()).isEqualTo(first.caCertificate());
    assertThat(renewed.adminCertificate().getNotAfter().toInstant()).isAfter(later.instant().plus(Duration.ofDays(300)));
  }

  @Test
  void mismatchedOrForeignLeavesAreReissued() throws Exception {
    ClusterPki.loadOrCreate(dir, List.of());
    // A key that does not belong to the certificate (e.g. crash between the two writes).
    Files.copy(dir.resolve("pki/admin.key"), dir.resolve("pki/apiserver.key"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    assertThat(ClusterPki.loadOrCreate(dir, List.of()).generated()).containsExactly("apiserver");
    // A new CA invalidates every leaf.
    Files.delete(dir.resolve("pki/ca.crt"));
    Files.delete(dir.resolve("pki/ca.key"));
    assertThat(ClusterPki.loadOrCreate(dir, List.of()).generated()).containsExactly("ca", "apiserver", "admin");
  }

  @Test
  void aCaCertificateWithoutItsKeyIsNeverReplaced() throws Exception {
    ClusterPki.loadOrCreate(dir, List.of());
    Files.delete(dir.resolve("pki/ca.key"));
    assertThatThrownBy(() -> ClusterPki.loadOrCreate(dir, List.of()))
        .isInstanceOf(GeneralSecurityException.class).hasMessageContaining("ca.key");
  }

  @Test
  void legacySec1KeysWrittenByOtherToolsAreRead() throws Exception {
    ClusterPki first = ClusterPki.loadOrCreate(dir, List.of());
    Path key = dir.resolve("pki/ca.key");
    run("openssl", "ec", "-in", key.toString(), "-out", key.toString()); // PKCS#8 -> "EC PRIVATE KEY"
    assertThat(Files.readString(key)).startsWith("-----BEGIN EC PRIVATE KEY-----");
    ClusterPki second = ClusterPki.loadOrCreate(dir, List.of());
    assertThat(second.generated()).isEmpty();
    IssuedCertificate issued = second.issueClientCertificate("x", List.of(), Duration.ofHours(1));
    issued.certificate().verify(first.caCertificate().getPublicKey());
  }

  @Test
  void issuesFurtherClientCertificates() throws Exception {
    ClusterPki pki = ClusterPki.loadOrCreate(dir, List.of());
    IssuedCertificate node = pki.issueClientCertificate("system:node:worker-1",
        List.of("system:nodes", "team-a"), Duration.ofDays(7));
    X509Certificate c = node.certificate();
    c.verify(pki.caCertificate().getPublicKey());
    assertThat(c.getSubjectX500Principal().getName()).isEqualTo("CN=system:node:worker-1,O=team-a,O=system:nodes");
    assertThat(c.getNotAfter().toInstant()).isBetween(Instant.now().plus(Duration.ofDays(6)), Instant.now().plus(Duration.ofDays(8)));
    assertThat(node.privateKeyPem()).startsWith("-----BEGIN PRIVATE KEY-----");
    assertThat(Pem.parseCertificates(node.certificatePem().getBytes())).containsExactly(c);
    // Validity is capped at the CA's own expiry.
    IssuedCertificate forever = pki.issueClientCertificate("u", List.of(), Duration.ofDays(100_000));
    assertThat(forever.certificate().getNotAfter()).isEqualTo(pki.caCertificate().getNotAfter());
  }

  @Test
  void derEncodingMatchesTheJdkForLongFieldsAndLateDates() throws Exception {
    // Names > 127 bytes need long-form lengths; 2050+ needs GeneralizedTime.
    ClusterPki pki = ClusterPki.loadOrCreate(dir, List.of());
    String longCn = "u".repeat(300);
    X509Certificate c = pki.issueClientCertificate(longCn, List.of("g".repeat(200)), Duration.ofDays(1)).certificate();
    assertThat(c.getSubjectX500Principal().getName()).isEqualTo("CN=" + longCn + ",O=" + "g".repeat(200));
    var kp = CertificateIssuer.newKeyPair();
    X509Certificate late = CertificateIssuer.selfSignedCa(kp, "late", Instant.parse("2049-12-31T23:00:00Z"),
        Instant.parse("2051-06-01T00:00:00Z"));
    assertThat(late.getNotAfter().toInstant()).isEqualTo(Instant.parse("2051-06-01T00:00:00Z"));
    assertThat(late.getNotBefore().toInstant()).isEqualTo(Instant.parse("2049-12-31T23:00:00Z"));
    late.verify(kp.getPublic());
  }

  static String run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("%s: %s", String.join(" ", cmd), out).isZero();
    return out;
  }
}
