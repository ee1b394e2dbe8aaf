package dev.skiff.serving.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.apps.Deployment;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The autoscaler's activation warm-up against a real API server: the first revision Deployment
 * seen at zero gets the activation's writes as dry runs, which must change nothing.
 */
class ActivationWarmUpTest {
  static ServingFixture fx;

  @BeforeAll
  static void start() throws Exception {
    fx = new ServingFixture();
  }

  @AfterAll
  static void stop() throws Exception {
    fx.close();
  }

  @Test
  void dryRunsTheActivationWritesOnceAndChangesNothing() throws Exception {
    Deployment created = fx.deployment("warm-00001", 0);
    assertThat(ServingFixture.until(Duration.ofSeconds(20), () -> fx.gateway.autoscaler().activationWarmedUp()))
        .as("warm-up done").isTrue();
    Deployment now = fx.client.apps().deployments().inNamespace("default").withName("warm-00001-deployment").get();
    assertThat(now.getSpec().getReplicas()).isZero();
    assertThat(now.getMetadata().getResourceVersion()).isEqualTo(created.getMetadata().getResourceVersion());
    assertThat(fx.client.pods().inNamespace("default").list().getItems()).isEmpty();
  }
}
