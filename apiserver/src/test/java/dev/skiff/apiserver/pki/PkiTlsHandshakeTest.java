package dev.skiff.apiserver.pki;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.apiserver.auth.AuthenticationException;
import dev.skiff.apiserver.auth.ClientCertificateAuthenticator;
import dev.skiff.apiserver.auth.UserInfo;
import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real handshakes with the generated material: JDK client and server, Jetty, curl and kubectl. */
class PkiTlsHandshakeTest {
  @TempDir Path dir;
  ClusterPki pki;

  @BeforeEach
  void setUp() throws Exception {
    pki = ClusterPki.loadOrCreate(dir, List.of());
  }

  /** Accepts one connection, completes the handshake and reports the client's subject (or "none"). */
  private CompletableFuture<String> serveOnce(SSLServerSocket server) {
    return CompletableFuture.supplyAsync(() -> {
      try (SSLSocket s = (SSLSocket) server.accept()) {
        s.startHandshake();
        String subject;
        try {
          subject = s.getSession().getPeerPrincipal().getName();
        } catch (SSLPeerUnverifiedException e) {
          subject = "none";
        }
        s.getOutputStream().write(1);
        s.getOutputStream().flush();
        return subject;
      } catch (IOException e) {
        return "error: " + e;
      }
    });
  }

  private SSLServerSocket serverSocket() throws Exception {
    SSLServerSocket server = (SSLServerSocket) pki.serverSslContext().getServerSocketFactory()
        .createServerSocket(0, 1, InetAddress.getByName("127.0.0.1"));
    server.setWantClientAuth(true);
    server.setSoTimeout(10_000);
    return server;
  }

  private static SSLSocket connect(Kubeconfig k, int port) throws Exception {
    SSLSocket c = (SSLSocket) k.sslContext().getSocketFactory().createSocket("127.0.0.1", port);
    // Verify the serving certificate for the address we dialled, as kubectl does.
    SSLParameters p = c.getSSLParameters();
    p.setEndpointIdentificationAlgorithm("HTTPS");
    c.setSSLParameters(p);
    c.setSoTimeout(10_000);
    return c;
  }

  @Test
  void serverSeesTheAdminIdentityFromTheKubeconfig() throws Exception {
    Kubeconfig k = Kubeconfig.read(pki.writeAdminKubeconfig(6443));
    try (SSLServerSocket server = serverSocket()) {
      CompletableFuture<String> seen = serveOnce(server);
      try (SSLSocket c = connect(k, server.getLocalPort())) {
        c.startHandshake();
        assertThat(c.getInputStream().read()).isEqualTo(1);
        assertThat(c.getSession().getPeerCertificates()[0]).isEqualTo(pki.serverCertificateChain().get(0));
      }
      assertThat(seen.get(10, TimeUnit.SECONDS)).isEqualTo("CN=skiff-admin,O=system:masters");
    }
  }

  @Test
  void clientCertificatesAreWantedNotNeeded() throws Exception {
    Kubeconfig tokenOnly = Kubeconfig.withToken("skiff", "https://127.0.0.1:1", List.of(pki.caCertificate()), "bob", "t");
    try (SSLServerSocket server = serverSocket()) {
      CompletableFuture<String> seen = serveOnce(server);
      try (SSLSocket c = connect(tokenOnly, server.getLocalPort())) {
        c.startHandshake();
        assertThat(c.getInputStream().read()).isEqualTo(1);
      }
      assertThat(seen.get(10, TimeUnit.SECONDS)).isEqualTo("none");
    }
  }

  @Test
  void aClientCertificateFromAnotherCaFailsTheHandshake() throws Exception {
    ClusterPki other = ClusterPki.loadOrCreate(dir.resolve("other"), List.of());
    IssuedCertificate foreign = other.issueClientCertificate("mallory", List.of("system:masters"), Duration.ofHours(1));
    Kubeconfig k = Kubeconfig.withClientCertificate("skiff", "https://127.0.0.1:1", List.of(pki.caCertificate()),
        "mallory", List.of(foreign.certificate()), foreign.privateKey());
    try (SSLServerSocket server = serverSocket()) {
      CompletableFuture<String> seen = serveOnce(server);
      assertThatThrownBy(() -> {
        try (SSLSocket c = connect(k, server.getLocalPort())) {
          c.startHandshake();
          c.getInputStream().read(); // TLS 1.3: the server's verdict arrives after the client's Finished
        }
      }).isInstanceOf(IOException.class);
      assertThat(seen.get(10, TimeUnit.SECONDS)).startsWith("error:");
    }
  }

  // ---- Jetty, as the API server will use it ------------------------------------------------------

  /** Jetty server answering "user group1,group2" via the client-certificate authenticator. */
  private Server jetty() throws Exception {
    ClientCertificateAuthenticator authn = new ClientCertificateAuthenticator(pki.caCertificate());
    Server server = new Server();
    HttpConfiguration http = new HttpConfiguration();
    http.addCustomizer(new SecureRequestCustomizer());
    ServerConnector connector = new ServerConnector(server, pki.sslContextFactory(), new HttpConnectionFactory(http));
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    server.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) {
        var ssl = (EndPoint.SslSessionData) request.getAttribute(EndPoint.SslSessionData.ATTRIBUTE);
        X509Certificate[] chain = ssl == null ? null : ssl.peerCertificates();
        String body;
        try {
          UserInfo u = authn.authenticate(chain, request.getHeaders().get("Authorization"));
          body = u == null ? "anonymous" : u.name() + " " + String.join(",", u.groups());
          response.setStatus(u == null ? 401 : 200);
        } catch (AuthenticationException e) {
          body = e.getMessage();
          response.setStatus(401);
        }
        response.getHeaders().put("Content-Type", "text/plain");
        response.write(true, ByteBuffer.wrap(body.getBytes(StandardCharsets.UTF_8)), callback);
        return true;
      }
    });
    server.start();
    return server;
  }

  private static int port(Server s) {
    return ((ServerConnector) s.getConnectors()[0]).getLocalPort();
  }

  @Test
  void curlAcceptsTheStandardPemFiles() throws Exception {
    Server server = jetty();
    try {
      Path pkiDir = dir.resolve("pki");
      String url = "https://127.0.0.1:" + port(server) + "/";
      assertThat(ClusterPkiTest.run("curl", "-sS", "--max-time", "20", "--cacert", pkiDir.resolve("ca.crt").toString(),
          "--cert", pkiDir.resolve("admin.crt").toString(), "--key", pkiDir.resolve("admin.key").toString(), url))
          .isEqualTo("skiff-admin system:masters,system:authenticated");
      // Without a client certificate the handshake still succeeds; the request is anonymous.
      assertThat(ClusterPkiTest.run("curl", "-sS", "--max-time", "20", "--cacert", pkiDir.resolve("ca.crt").toString(), url))
          .isEqualTo("anonymous");
      // A second user issued by the CA, written as plain PEM files.
      IssuedCertificate bob = pki.issueClientCertificate("bob", List.of("dev", "ops"), Duration.ofHours(1));
      Files.writeString(dir.resolve("bob.crt"), bob.certificatePem());
      Files.writeString(dir.resolve("bob.key"), bob.privateKeyPem());
      assertThat(ClusterPkiTest.run("curl", "-sS", "--max-time", "20", "--cacert", pkiDir.resolve("ca.crt").toString(),
          "--cert", dir.resolve("bob.crt").toString(), "--key", dir.resolve("bob.key").toString(), url))
          .isEqualTo("bob dev,ops,system:authenticated");
    } finally {
      server.stop();
    }
  }

  @Test
  void kubectlConnectsWithTheGeneratedKubeconfig() throws Exception {
    Server server = jetty();
    try {
      Path kubeconfig = pki.writeAdminKubeconfig(port(server));
      assertThat(ClusterPkiTest.run("/usr/bin/kubectl", "--kubeconfig", kubeconfig.toString(),
          "--request-timeout=20s", "get", "--raw", "/whoami"))
          .isEqualTo("skiff-admin system:masters,system:authenticated");
    } finally {
      server.stop();
    }
  }
}
