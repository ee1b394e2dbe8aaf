package dev.skiff.serving;

import static dev.skiff.serving.ServingControllersTest.await;
import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import dev.skiff.serving.v1.KService;
import dev.skiff.serving.v1.Revision;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentStatusBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The GC wired into the Configuration controller: config-gc read from the cluster, stale revisions deleted. */
class RevisionGcControllerTest {
  static TestServer server;
  static Kubectl kubectl;
  static KubernetesClient client;
  static AutoCloseable serving;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
    kubectl = server.kubectl();
    client = Clients.forKubeconfig(server.kubeconfig());
    // Keep no non-active revision at all (time checks off, max 0).
    client.configMaps().inNamespace("knative-serving").resource(new ConfigMapBuilder().withNewMetadata().withName("config-gc")
        .withNamespace("knative-serving").endMetadata().withData(Map.of("retain-since-create-time", "disabled",
            "retain-since-last-active-time", "disabled", "min-non-active-revisions", "0", "max-non-active-revisions", "0"))
        .build()).create();
    serving = new ServingControllers().start(new ComponentContext(Clients.forKubeconfig(server.kubeconfig()),
        Files.createTempDirectory("gc-test"), "node-1", Map.of("serving.retryPeriodMillis", "200")));
  }

  @AfterAll
  static void stop() throws Exception {
    serving.close();
    client.close();
    server.close();
  }

  static void markReady(String rev) throws InterruptedException {
    Deployment d = await("deployment", () -> client.apps().deployments().inNamespace("default").withName(rev + "-deployment").get());
    d.setStatus(new DeploymentStatusBuilder().withObservedGeneration(d.getMetadata().getGeneration())
        .withReplicas(1).withReadyReplicas(1).withAvailableReplicas(1).withUpdatedReplicas(1).build());
    client.apps().deployments().inNamespace("default").resource(d).updateStatus();
  }

  @Test
  void reserveRevisionsBeyondTheLimitAreDeleted() throws Exception {
    String yaml = """
        apiVersion: serving.knative.dev/v1
        kind: Service
        metadata: {name: gc}
        spec:
          template:
            spec:
              containers:
              - image: example/app
                command: ["sleep", "3600"]
                env: [{name: V, value: "%s"}]
        """;
    kubectl.runWithInput(yaml.formatted("1"), "apply", "-f", "-").ok();
    markReady("gc-00001");
    await("traffic on 00001", () -> {
      KService s = client.resources(KService.class).inNamespace("default").withName("gc").get();
      return s.getStatus() != null && s.getStatus().isTrue("Ready");
    });
    kubectl.runWithInput(yaml.formatted("2"), "apply", "-f", "-").ok();
    markReady("gc-00002");
    // 00001 leaves the route (reserve), is then non-active and beyond max 0: collected.
    await("00001 deleted", () -> client.resources(Revision.class).inNamespace("default").withName("gc-00001").get() == null);
    assertThat(client.resources(Revision.class).inNamespace("default").withName("gc-00002").get()).isNotNull();
    await("event", () -> client.v1().events().inNamespace("default").list().getItems().stream()
        .anyMatch(e -> "Deleted".equals(e.getReason()) && e.getMessage().contains("gc-00001")));
  }
}
