package dev.skiff.controllers;

import dev.skiff.runtime.LeaderElected;
import dev.skiff.apiserver.testing.TestServer;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.time.Duration;
import java.util.Map;
import java.util.function.BooleanSupplier;

/** Test helpers: a server, a client, a running controller manager, polling. */
final class Harness {
  private Harness() {
  }

  /** Short leases so tests do not wait 15 s for leadership. */
  static final Map<String, String> FAST_LEASE = Map.of(
      "leaseDurationSeconds", "3", "renewDeadlineSeconds", "2", "retryPeriodMillis", "300");

  static LeaderElected startManager(TestServer server, KubernetesClient client) throws Exception {
    return startManager(server, client, Map.of());
  }

  /** With extra options, e.g. {@code disable}. */
  static LeaderElected startManager(TestServer server, KubernetesClient client, Map<String, String> extra)
      throws Exception {
    Map<String, String> opts = new java.util.HashMap<>(FAST_LEASE);
    opts.putAll(extra);
    return new ControllerManager().start(
        new ComponentContext(client, Files.createTempDirectory("cm"), "test", opts));
  }

  static KubernetesClient client(TestServer server) {
    return Clients.forKubeconfig(server.kubeconfig());
  }

  static boolean until(Duration timeout, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      try {
        if (condition.getAsBoolean()) {
          return true;
        }
      } catch (RuntimeException e) {
        // transient: retry
      }
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(20);
    }
  }
}
