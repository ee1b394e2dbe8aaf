package dev.skiff.apiserver.pki;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.Base64;
import java.util.List;
import java.util.Objects;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * A single-context kubeconfig: one cluster (server URL + CA), one user (client certificate and key,
 * or bearer token) and one context naming both, which is the current context.
 *
 * <p>Writing produces the YAML text directly rather than through Jackson/SnakeYAML: the server
 * writes its admin kubeconfig on every start and YAML class loading would cost more than the
 * whole PKI reload. Every string is emitted double-quoted (JSON escaping is valid YAML), so names
 * and URLs need no further care. Reading goes through Jackson and understands both the inline
 * {@code *-data} fields and file references (relative to the kubeconfig's directory).
 */
public final class Kubeconfig {
  private final String clusterName;
  private final String server;
  private final List<X509Certificate> certificateAuthorities;
  private final String userName;
  private final List<X509Certificate> clientCertificateChain;
  private final PrivateKey clientKey;
  private final String token;

  private Kubeconfig(String clusterName, String server, List<X509Certificate> cas, String userName,
      List<X509Certificate> chain, PrivateKey key, String token) {
    this.clusterName = Objects.requireNonNull(clusterName, "clusterName");
    this.server = Objects.requireNonNull(server, "server");
    this.certificateAuthorities = List.copyOf(cas);
    this.userName = Objects.requireNonNull(userName, "userName");
    this.clientCertificateChain = List.copyOf(chain);
    this.clientKey = key;
    this.token = token;
    if (!clientCertificateChain.isEmpty() && key == null) {
      throw new IllegalArgumentException("client certificate without client key");
    }
  }

  /** Cluster and context are both named {@code clusterName}. */
  public static Kubeconfig withClientCertificate(String clusterName, String server,
      List<X509Certificate> cas, String userName, List<X509Certificate> clientChain, PrivateKey clientKey) {
    if (clientChain.isEmpty()) throw new IllegalArgumentException("empty client certificate chain");
    return new Kubeconfig(clusterName, server, cas, userName, clientChain,
        Objects.requireNonNull(clientKey, "clientKey"), null);
  }

  public static Kubeconfig withToken(String clusterName, String server, List<X509Certificate> cas,
      String userName, String token) {
    return new Kubeconfig(clusterName, server, cas, userName, List.of(), null,
        Objects.requireNonNull(token, "token"));
  }

  public String clusterName() {
    return clusterName;
  }

  /** The context has the cluster's name, as kubeadm and kind do. */
  public String contextName() {
    return clusterName;
  }

  public String server() {
    return server;
  }

  /** Empty means "trust the system's default CAs". */
  public List<X509Certificate> certificateAuthorities() {
    return certificateAuthorities;
  }

  public String userName() {
    return userName;
  }

  /** Empty when the user authenticates with a token. */
  public List<X509Certificate> clientCertificateChain() {
    return clientCertificateChain;
  }

  /** Null when the user authenticates with a token. */
  public PrivateKey clientKey() {
    return clientKey;
  }

  /** Null when the user authenticates with a client certificate. */
  public String token() {
    return token;
  }

  public String toYaml() {
    StringBuilder y = new StringBuilder(4096);
    y.append("apiVersion: v1\nkind: Config\nclusters:\n");
    y.append("- name: ").append(q(clusterName)).append('\n');
    y.append("  cluster:\n");
    if (!certificateAuthorities.isEmpty()) {
      y.append("    certificate-authority-data: ").append(b64(Pem.encodeCertificates(certificateAuthorities))).append('\n');
    }
    y.append("    server: ").append(q(server)).append('\n');
    y.append("contexts:\n");
    y.append("- name: ").append(q(clusterName)).append('\n');
    y.append("  context:\n");
    y.append("    cluster: ").append(q(clusterName)).append('\n');
    y.append("    user: ").append(q(userName)).append('\n');
    y.append("current-context: ").append(q(clusterName)).append('\n');
    y.append("preferences: {}\n");
    y.append("users:\n");
    y.append("- name: ").append(q(userName)).append('\n');
    y.append("  user:\n");
    if (!clientCertificateChain.isEmpty()) {
      y.append("    client-certificate-data: ").append(b64(Pem.encodeCertificates(clientCertificateChain))).append('\n');
      y.append("    client-key-data: ").append(b64(Pem.encodePrivateKey(clientKey))).append('\n');
    }
    if (token != null) y.append("    token: ").append(q(token)).append('\n');
    return y.toString();
  }

  /**
   * Writes the kubeconfig atomically with mode 0600 (it carries credentials).
   *
   * @return false if the file already had this exact content
   */
  public boolean write(Path file) throws IOException {
    return SecureFiles.write(file, toYaml().getBytes(StandardCharsets.UTF_8), true);
  }

  public static Kubeconfig read(Path file) throws IOException, GeneralSecurityException {
    Path base = file.toAbsolutePath().getParent();
    return parse(Files.readString(file), base);
  }

  /**
   * Parses kubeconfig YAML, resolving its current context (or its only context when none is set).
   * Relative file references are resolved against {@code baseDir}.
   */
  public static Kubeconfig parse(String yaml, Path baseDir) throws IOException, GeneralSecurityException {
    JsonNode root = new ObjectMapper(new YAMLFactory()).readTree(yaml);
    if (root == null || !root.isObject()) throw new IOException("kubeconfig is not a YAML mapping");
    String current = root.path("current-context").asText("");
    JsonNode contexts = root.path("contexts");
    if (current.isEmpty()) {
      if (contexts.size() != 1) throw new IOException("kubeconfig has no current-context");
      current = contexts.get(0).path("name").asText();
    }
    JsonNode ctx = named(contexts, current, "context").path("context");
    String clusterName = ctx.path("cluster").asText();
    String userName = ctx.path("user").asText();
    JsonNode cluster = named(root.path("clusters"), clusterName, "cluster").path("cluster");
    JsonNode user = named(root.path("users"), userName, "user").path("user");

    String server = cluster.path("server").asText("");
    if (server.isEmpty()) throw new IOException("cluster " + clusterName + " has no server");
    byte[] caPem = bytes(cluster, "certificate-authority", baseDir);
    List<X509Certificate> cas = caPem == null ? List.of() : Pem.parseCertificates(caPem);

    byte[] certPem = bytes(user, "client-certificate", baseDir);
    byte[] keyPem = bytes(user, "client-key", baseDir);
    String token = user.hasNonNull("token") ? user.get("token").asText() : null;
    if (token == null && user.hasNonNull("tokenFile")) {
      token = Files.readString(resolve(baseDir, user.get("tokenFile").asText())).strip();
    }
    if (certPem != null && keyPem != null) {
      return new Kubeconfig(clusterName, server, cas, userName, Pem.parseCertificates(certPem),
          Pem.parsePrivateKey(keyPem), token);
    }
    return new Kubeconfig(clusterName, server, cas, userName, List.of(), null, token);
  }

  /**
   * A client SSLContext: trusts the kubeconfig's CAs (or the system defaults when there are none)
   * and presents the client certificate if there is one.
   */
  public SSLContext sslContext() throws GeneralSecurityException {
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    if (certificateAuthorities.isEmpty()) {
      tmf.init((KeyStore) null);
    } else {
      KeyStore trust = emptyKeyStore();
      for (int i = 0; i < certificateAuthorities.size(); i++) {
        trust.setCertificateEntry("ca-" + i, certificateAuthorities.get(i));
      }
      tmf.init(trust);
    }
    KeyManagerFactory kmf = null;
    if (clientKey != null) {
      char[] pw = "kubeconfig".toCharArray(); // in-memory only
      KeyStore ks = emptyKeyStore();
      ks.setKeyEntry("client", clientKey, pw, clientCertificateChain.toArray(X509Certificate[]::new));
      kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(ks, pw);
    }
    SSLContext ctx = SSLContext.getInstance("TLS");
    ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    return ctx;
  }

  // ---------------------------------------------------------------------------------------------

  private static JsonNode named(JsonNode list, String name, String what) throws IOException {
    for (JsonNode n : list) {
      if (name.equals(n.path("name").asText(null))) return n;
    }
    throw new IOException("kubeconfig has no " + what + " named '" + name + "'");
  }

  /** The {@code FIELD-data} value (base64) or the content of the file named by {@code FIELD}. */
  private static byte[] bytes(JsonNode node, String field, Path baseDir) throws IOException {
    JsonNode data = node.get(field + "-data");
    if (data != null && !data.isNull() && !data.asText().isEmpty()) {
      return Base64.getMimeDecoder().decode(data.asText());
    }
    JsonNode file = node.get(field);
    if (file != null && !file.isNull() && !file.asText().isEmpty()) {
      return Files.readAllBytes(resolve(baseDir, file.asText()));
    }
    return null;
  }

  private static Path resolve(Path baseDir, String file) {
    Path p = Path.of(file);
    return p.isAbsolute() || baseDir == null ? p : baseDir.resolve(p);
  }

  private static String b64(String pem) {
    return Base64.getEncoder().encodeToString(pem.getBytes(StandardCharsets.US_ASCII));
  }

  /** YAML double-quoted scalar using JSON escapes. */
  private static String q(String s) {
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\t' -> b.append("\\t");
        case '\r' -> b.append("\\r");
        default -> {
          if (c < 0x20 || c == 0x7f) b.append(String.format("\\u%04x", (int) c));
          else b.append(c);
        }
      }
    }
    return b.append('"').toString();
  }

  private static KeyStore emptyKeyStore() throws GeneralSecurityException {
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try {
      ks.load(null, null);
    } catch (IOException e) {
      throw new GeneralSecurityException(e);
    }
    return ks;
  }
}
