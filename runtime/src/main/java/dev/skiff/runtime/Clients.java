package dev.skiff.runtime;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

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
    String content;
    try {
      content = Files.readString(kubeconfig);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read kubeconfig " + kubeconfig, e);
    }
    Config config = Config.fromKubeconfig(content);
    config.setRequestTimeout(30_000);
    return new KubernetesClientBuilder().withConfig(config).build();
  }
}
