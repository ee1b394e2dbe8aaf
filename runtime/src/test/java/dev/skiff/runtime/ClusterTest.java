package dev.skiff.runtime;

import dev.skiff.apiserver.testing.TestServer;
import io.fabric8.kubernetes.client.KubernetesClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** A test class with one real in-process API server and a fabric8 client to it, shared by its tests. */
abstract class ClusterTest {
  static TestServer server;
  static KubernetesClient client;

  @BeforeAll
  static void startCluster() throws Exception {
    server = TestServer.start();
    client = Clients.forKubeconfig(server.kubeconfig());
  }

  @AfterAll
  static void stopCluster() throws Exception {
    client.close();
    server.close();
  }
}
