package dev.skiff.runtime;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.http.HttpClient;
import io.fabric8.kubernetes.client.vertx.VertxHttpClientFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;

/** Builds fabric8 clients for Skiff's components. */
public final class Clients {
  private Clients() {
  }

  /**
   * A client for the current context of the kubeconfig at {@code kubeconfig} (client certificate
   * or token auth, cluster CA from the file). Components' request rate is not throttled on the
   * client side: QPS limits belong in the work queues' rate limiters.
   */
  public static KubernetesClient forKubeconfig(Path kubeconfig) {
    return forKubeconfig(kubeconfig, null);
  }

  /**
   * As {@link #forKubeconfig(Path)} with a chosen HTTP transport; null means vert.x (fabric8's
   * default, HTTP/1.1), chosen explicitly so that another transport on the class path does not
   * silently replace it. The JDK transport ({@code kubernetes-httpclient-jdk}) speaks HTTP/2.
   */
  public static KubernetesClient forKubeconfig(Path kubeconfig, HttpClient.Factory transport) {
    String content;
    try {
      content = Files.readString(kubeconfig);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read kubeconfig " + kubeconfig, e);
    }
    Config config = Config.fromKubeconfig(content);
    String algo = keyAlgorithm(config);
    if (algo != null) {
      config.setClientKeyAlgo(algo);
    }
    config.setRequestTimeout(30_000);
    // fabric8 allows 5 requests in flight per host by default; a node agent writing the status
    // of 100 starting pods, or a controller creating pods in batches, queues behind that (vert.x
    // speaks HTTP/1.1, one request per connection).
    config.setMaxConcurrentRequests(256);
    config.setMaxConcurrentRequestsPerHost(128);
    // fabric8 opens watches as WebSocket upgrades first (Skiff serves both, as kube-apiserver does);
    // the in-JVM transport serves plain HTTP only, so its watches are streamed HTTP responses.
    if (transport instanceof InProcessHttpClientFactory) {
      config.setOnlyHttpWatches(true);
    }
    return new KubernetesClientBuilder().withConfig(config)
        .withHttpClientFactory(transport != null ? transport : new VertxHttpClientFactory())
        .build();
  }

  /**
   * A client whose requests go straight to {@code api}, an API server in this JVM, authenticated
   * as the kubeconfig's user (its client certificate or token), with WebSockets over loopback
   * through vert.x (loaded only if one is opened). See {@link InProcessHttpClientFactory}.
   */
  public static KubernetesClient inProcess(Path kubeconfig, InProcessApi api) {
    // A lambda, not VertxHttpClientFactory::new: vert.x and Netty stay unloaded until needed.
    return forKubeconfig(kubeconfig, new InProcessHttpClientFactory(api, () -> new VertxHttpClientFactory()));
  }

  /**
   * fabric8 reads a PKCS#8 client key ("BEGIN PRIVATE KEY") with the algorithm in
   * {@code clientKeyAlgo}, defaulting to RSA, instead of the one the key names; Skiff's keys are
   * EC P-256, so tell it (client-go and kubectl infer it).
   */
  static String keyAlgorithm(Config config) {
    String pem;
    try {
      if (config.getClientKeyData() != null) {
        pem = new String(Base64.getDecoder().decode(config.getClientKeyData().trim()), StandardCharsets.US_ASCII);
      } else if (config.getClientKeyFile() != null) {
        pem = Files.readString(Path.of(config.getClientKeyFile()));
      } else {
        return null;
      }
    } catch (IOException | IllegalArgumentException e) {
      return null;
    }
    if (!pem.contains("-----BEGIN PRIVATE KEY-----")) {
      return pem.contains("EC PRIVATE KEY") ? "EC" : null;
    }
    String body = pem.substring(pem.indexOf("-----BEGIN PRIVATE KEY-----") + 27, pem.indexOf("-----END PRIVATE KEY-----"));
    byte[] der = Base64.getMimeDecoder().decode(body);
    for (String algo : new String[] {"EC", "RSA", "Ed25519"}) {
      try {
        KeyFactory.getInstance(algo).generatePrivate(new PKCS8EncodedKeySpec(der));
        return algo;
      } catch (GeneralSecurityException e) {
        // try the next one
      }
    }
    return null;
  }
}
