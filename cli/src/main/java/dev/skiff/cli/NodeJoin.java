package dev.skiff.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.skiff.apiserver.nodes.NodeCredentials;
import dev.skiff.apiserver.nodes.NodeJoinToken;
import dev.skiff.apiserver.pki.Kubeconfig;
import dev.skiff.apiserver.pki.Pem;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * The joining side of {@link NodeCredentials}: checks that the server presents the CA the token
 * names, then trades the token's secret for a node client certificate and writes the node's
 * kubeconfig. Credentials already in the data directory for the same server are reused, so an
 * agent restart does not need the server to issue new ones.
 */
final class NodeJoin {
  static final String KUBECONFIG = "agent/kubeconfig.yaml";
  /** Beside the kubeconfig: the agent's serving certificate, its key and the CA its clients chain to. */
  static final String SERVING_CERT = "kubelet-serving.crt";
  static final String SERVING_KEY = "kubelet-serving.key";
  static final String CLIENT_CA = "kubelet-client-ca.crt";
  private static final Pattern TOKEN = Pattern.compile("K10([0-9a-f]{64})::node:([0-9A-Za-z]+)");

  /** A join that cannot proceed; the message is one line for the user. */
  static final class JoinException extends Exception {
    JoinException(String message) {
      super(message);
    }
  }

  private NodeJoin() {}

  /** Returns the node kubeconfig under {@code dataDir}, joining first when there is none yet. */
  static Path join(URI server, String token, String nodeName, Path dataDir) throws JoinException, IOException {
    return join(server, token, nodeName, dataDir, new java.util.HashMap<>());
  }

  /**
   * As {@link #join(URI, String, String, Path)}, also getting the agent's serving certificate
   * for its addresses ({@link NodeServing#localAddresses}) and setting the agent's TLS options
   * in {@code options} to the files written under {@code agent/}.
   */
  static Path join(URI server, String token, String nodeName, Path dataDir, java.util.Map<String, String> options)
      throws JoinException, IOException {
    Matcher m = TOKEN.matcher(token == null ? "" : token.trim());
    if (!m.matches()) {
      throw new JoinException("--token is not a node token (expected K10<ca-hash>::node:<secret>, as in the server's "
          + NodeJoinToken.FILE + ")");
    }
    if (!"https".equals(server.getScheme()) || server.getHost() == null) {
      throw new JoinException("--server must be an https:// URL, got " + server);
    }
    Path file = dataDir.resolve(KUBECONFIG);
    Path agentDir = file.getParent();
    boolean serving = Files.isRegularFile(agentDir.resolve(SERVING_CERT)) && Files.isRegularFile(agentDir.resolve(SERVING_KEY))
        && Files.isRegularFile(agentDir.resolve(CLIENT_CA));
    if (Files.isRegularFile(file) && serving) {
      try {
        Kubeconfig existing = Kubeconfig.read(file);
        X509Certificate cert = existing.clientCertificateChain().get(0);
        if (existing.server().equals(server.toString())
            && existing.certificateAuthorities().stream().anyMatch(ca -> NodeJoinToken.caHash(ca).equals(m.group(1)))
            && cert.getSubjectX500Principal().getName().contains("CN=system:node:" + nodeName)
            && cert.getNotAfter().getTime() > System.currentTimeMillis() + Duration.ofDays(1).toMillis()) {
          options.putIfAbsent(NodeServing.CERT, agentDir.resolve(SERVING_CERT).toString());
          options.putIfAbsent(NodeServing.KEY, agentDir.resolve(SERVING_KEY).toString());
          options.putIfAbsent(NodeServing.CLIENT_CA, agentDir.resolve(CLIENT_CA).toString());
          return file;
        }
      } catch (GeneralSecurityException | RuntimeException e) {
        // Unreadable or foreign: join again.
      }
    }
    X509Certificate ca = verifiedCa(server, m.group(1));
    JsonNode status = requestCredentials(server, ca, m.group(2), nodeName, NodeServing.localAddresses(options));
    try {
      List<X509Certificate> chain = Pem.parseCertificates(status.path("certificate").asText().getBytes(StandardCharsets.US_ASCII));
      var key = Pem.parsePrivateKey(status.path("key").asText().getBytes(StandardCharsets.US_ASCII));
      Kubeconfig.withClientCertificate("skiff", server.toString(), List.of(ca), "system:node:" + nodeName, chain, key).write(file);
      if (!status.path("servingCertificate").asText().isEmpty()) {
        NodeServing.write(agentDir, SERVING_CERT, status.path("servingCertificate").asText(), SERVING_KEY,
            status.path("servingKey").asText(), CLIENT_CA, Pem.encodeCertificates(List.of(ca)), options);
      }
    } catch (GeneralSecurityException e) {
      throw new JoinException("the server's node credentials do not parse: " + e.getMessage());
    }
    return file;
  }

  /** The CA certificate of the server's TLS chain whose SHA-256 is {@code hash}. */
  private static X509Certificate verifiedCa(URI server, String hash) throws JoinException, IOException {
    X509Certificate[][] seen = {null};
    // Trust nothing yet: record the chain, then decide by the hash the token carries.
    X509TrustManager recorder = new X509TrustManager() {
      @Override
      public void checkClientTrusted(X509Certificate[] chain, String authType) {
        throw new UnsupportedOperationException();
      }

      @Override
      public void checkServerTrusted(X509Certificate[] chain, String authType) {
        seen[0] = chain;
      }

      @Override
      public X509Certificate[] getAcceptedIssuers() {
        return new X509Certificate[0];
      }
    };
    try {
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, new TrustManager[] {recorder}, null);
      int port = server.getPort() < 0 ? 443 : server.getPort();
      try (SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket()) {
        s.connect(new java.net.InetSocketAddress(server.getHost(), port), 10_000);
        s.setSoTimeout(10_000);
        s.startHandshake();
      }
    } catch (GeneralSecurityException e) {
      throw new JoinException("cannot talk TLS to " + server + ": " + e.getMessage());
    } catch (IOException e) {
      throw new JoinException("cannot reach " + server + ": " + e.getMessage());
    }
    if (seen[0] != null) {
      for (X509Certificate c : seen[0]) {
        if (NodeJoinToken.caHash(c).equals(hash)) {
          return c;
        }
      }
    }
    throw new JoinException("the server at " + server + " does not present the CA named by the token (CA hash mismatch)");
  }

  private static JsonNode requestCredentials(URI server, X509Certificate ca, String secret, String nodeName,
      List<String> servingAddresses) throws JoinException, IOException {
    ObjectMapper json = new ObjectMapper();
    var spec = json.createObjectNode().put("nodeName", nodeName);
    servingAddresses.forEach(spec.putArray("servingAddresses")::add);
    String body = json.createObjectNode()
        .put("apiVersion", NodeCredentials.GROUP + "/v1").put("kind", "NodeCredentialRequest")
        .set("spec", spec).toString();
    try {
      KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
      trust.load(null, null);
      trust.setCertificateEntry("ca", ca);
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(null, tmf.getTrustManagers(), null);
      HttpClient http = HttpClient.newBuilder().sslContext(ctx).connectTimeout(Duration.ofSeconds(10)).build();
      HttpRequest req = HttpRequest.newBuilder(server.resolve("/apis/" + NodeCredentials.GROUP + "/v1/" + NodeCredentials.RESOURCE))
          .timeout(Duration.ofSeconds(30))
          .header("Authorization", "Bearer " + secret)
          .header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(body)).build();
      HttpResponse<String> resp = http.send(req, HttpResponse.BodyHandlers.ofString());
      JsonNode out = json.readTree(resp.body().isEmpty() ? "{}" : resp.body());
      if (resp.statusCode() != 201) {
        String why = out.path("message").asText(resp.body());
        throw new JoinException(resp.statusCode() == 401
            ? "the server rejected the token (401 Unauthorized): is it the server's current " + NodeJoinToken.FILE + "?"
            : "the server refused node credentials (" + resp.statusCode() + "): " + why);
      }
      return out.path("status");
    } catch (GeneralSecurityException e) {
      throw new JoinException("cannot set up TLS: " + e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }
}
