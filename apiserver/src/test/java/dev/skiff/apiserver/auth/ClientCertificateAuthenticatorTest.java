package dev.skiff.apiserver.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.apiserver.pki.ClusterPki;
import dev.skiff.apiserver.pki.IssuedCertificate;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ClientCertificateAuthenticatorTest {
  @TempDir Path dir;
  ClusterPki pki;
  ClientCertificateAuthenticator authn;

  @BeforeEach
  void setUp() throws Exception {
    pki = ClusterPki.loadOrCreate(dir, List.of());
    authn = new ClientCertificateAuthenticator(pki.caCertificate());
  }

  @Test
  void commonNameIsTheUserAndOrganizationsAreGroups() throws Exception {
    UserInfo admin = authn.authenticate(new X509Certificate[] {pki.adminCertificate()}, null);
    assertThat(admin.name()).isEqualTo("skiff-admin");
    assertThat(admin.groups()).containsExactly("system:masters", "system:authenticated");
    assertThat(admin.uid()).isEmpty();

    IssuedCertificate bob = pki.issueClientCertificate("bob", List.of("dev", "ops"), Duration.ofHours(1));
    UserInfo u = authn.authenticate(new X509Certificate[] {bob.certificate(), pki.caCertificate()}, "Bearer ignored");
    assertThat(u.name()).isEqualTo("bob");
    assertThat(u.groups()).containsExactly("dev", "ops", "system:authenticated");
    // Cached result is the same.
    assertThat(authn.authenticate(new X509Certificate[] {bob.certificate()}, null)).isEqualTo(u);
  }

  @Test
  void noCertificateMeansNoOpinion() throws Exception {
    assertThat(authn.authenticate(null, null)).isNull();
    assertThat(authn.authenticate(new X509Certificate[0], "Bearer x")).isNull();
  }

  @Test
  void certificatesFromAnotherCaAreRejected() throws Exception {
    ClusterPki other = ClusterPki.loadOrCreate(dir.resolve("other"), List.of());
    assertThatThrownBy(() -> authn.authenticate(new X509Certificate[] {other.adminCertificate()}, null))
        .isInstanceOf(AuthenticationException.class).hasMessageContaining("unknown authority");
    // Appending our CA to a foreign chain does not help.
    assertThatThrownBy(() -> authn.authenticate(
        new X509Certificate[] {other.adminCertificate(), other.caCertificate(), pki.caCertificate()}, null))
        .isInstanceOf(AuthenticationException.class);
  }

  @Test
  void serverAndCaCertificatesAreNotClientIdentities() throws Exception {
    assertThatThrownBy(() -> authn.authenticate(new X509Certificate[] {pki.serverCertificateChain().get(0)}, null))
        .isInstanceOf(AuthenticationException.class).hasMessageContaining("key usage");
    assertThatThrownBy(() -> authn.authenticate(new X509Certificate[] {pki.caCertificate()}, null))
        .isInstanceOf(AuthenticationException.class).hasMessageContaining("CA certificate");
  }

  @Test
  void expiredCertificatesAreRejectedEvenIfCached() throws Exception {
    IssuedCertificate shortLived = pki.issueClientCertificate("temp", List.of(), Duration.ofMinutes(10));
    X509Certificate[] chain = {shortLived.certificate()};
    assertThat(authn.authenticate(chain, null).name()).isEqualTo("temp");
    var later = new ClientCertificateAuthenticator(pki.caCertificate(),
        Clock.fixed(Instant.now().plus(Duration.ofHours(1)), ZoneOffset.UTC));
    assertThatThrownBy(() -> later.authenticate(chain, null))
        .isInstanceOf(AuthenticationException.class).hasMessageContaining("expired");
  }
}
