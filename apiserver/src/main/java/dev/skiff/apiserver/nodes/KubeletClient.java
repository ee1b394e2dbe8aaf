package dev.skiff.apiserver.nodes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.pki.ClusterPki;
import dev.skiff.apiserver.pki.IssuedCertificate;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.time.Duration;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

/**
 * How the API server reaches node agents (kube-apiserver's --kubelet-client-certificate and
 * --kubelet-certificate-authority): over HTTPS with a client certificate for
 * {@value #CLIENT_CN} (group system:masters), issued by the cluster CA at start, verifying the
 * agent's serving certificate against the cluster CA and the address dialed. An agent that serves
 * TLS says so on its Node (annotation {@value #SERVING_ANNOTATION}{@code =https}) and is dialed at
 * its InternalIP (else its Hostname address); an agent without serving credentials (tests,
 * `--set` nothing) serves plain HTTP on its loopback and is dialed at 127.0.0.1. The agent
 * accepts only this client's name. Thread-safe.
 */
public final class KubeletClient {
  /** The client certificate's CN; the agent's TLS server accepts this name only. */
  public static final String CLIENT_CN = "kube-apiserver-kubelet-client";
  public static final String SERVING_ANNOTATION = "skiff.dev/kubelet-serving";
  private static final Duration VALIDITY = Duration.ofDays(365);

  private final SSLContext ssl;
  private final HttpClient http;

  public KubeletClient(ClusterPki pki) throws GeneralSecurityException, IOException {
    IssuedCertificate cert = pki.issueClientCertificate(CLIENT_CN, List.of(ClusterPki.ADMIN_GROUP), VALIDITY);
    char[] pass = "kubelet-client".toCharArray();
    KeyStore keys = KeyStore.getInstance("PKCS12");
    keys.load(null, null);
    keys.setKeyEntry("client", cert.privateKey(), pass, new java.security.cert.Certificate[] {cert.certificate(), cert.ca()});
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(keys, pass);
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("ca", pki.caCertificate());
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    ssl = SSLContext.getInstance("TLS");
    ssl.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
    // Its own executor: the JDK client otherwise completes some stages on the common pool, which
    // blocking code elsewhere in the JVM can starve (seen: a 10 s stall of a WebSocket handshake).
    http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).sslContext(ssl)
        .executor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor())
        .followRedirects(HttpClient.Redirect.NEVER).connectTimeout(Duration.ofSeconds(5)).build();
  }

  /** HTTP/1.1, no redirects, this client's certificate for https/wss. */
  public HttpClient http() {
    return http;
  }

  /** {@code http(s)://<address>:<kubelet port>} of a node's agent; 400 when it has no endpoint. */
  public String baseUrl(ObjectNode node) {
    String name = node.path("metadata").path("name").asText();
    int port = node.path("status").path("daemonEndpoints").path("kubeletEndpoint").path("Port").asInt(0);
    if (port <= 0) {
      throw ApiException.badRequest("node " + name + " has no kubelet endpoint");
    }
    if (!"https".equals(node.path("metadata").path("annotations").path(SERVING_ANNOTATION).asText())) {
      return "http://127.0.0.1:" + port;
    }
    String address = null;
    for (String type : List.of("InternalIP", "ExternalIP", "Hostname")) { // --kubelet-preferred-address-types
      for (JsonNode a : node.path("status").path("addresses")) {
        if (address == null && type.equals(a.path("type").asText()) && !a.path("address").asText().isEmpty()) {
          address = a.path("address").asText();
        }
      }
    }
    if (address == null) {
      throw ApiException.badRequest("node " + name + " has no address");
    }
    return "https://" + (address.indexOf(':') >= 0 ? "[" + address + "]" : address) + ":" + port;
  }

  /**
   * A connected socket to {@code location} (http/ws: plain; https/wss: TLS with this client's
   * certificate, the server's checked against the CA and the host), for a raw upgrade.
   */
  public Socket connect(URI location) throws IOException {
    boolean tls = location.getScheme().equals("https") || location.getScheme().equals("wss");
    Socket s = tls ? ssl.getSocketFactory().createSocket() : new Socket();
    try {
      s.connect(new InetSocketAddress(location.getHost(), location.getPort()), 5000);
      if (s instanceof SSLSocket t) {
        SSLParameters params = t.getSSLParameters();
        params.setEndpointIdentificationAlgorithm("HTTPS");
        params.setApplicationProtocols(new String[] {"http/1.1"});
        t.setSSLParameters(params);
        t.startHandshake();
      }
      return s;
    } catch (IOException e) {
      s.close();
      throw e;
    }
  }
}
