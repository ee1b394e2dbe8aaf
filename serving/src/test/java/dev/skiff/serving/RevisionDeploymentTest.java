package dev.skiff.serving;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.serving.v1.Revision;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.HTTPGetAction;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.utils.Serialization;
import org.junit.jupiter.api.Test;

/** The Deployment the Revision controller generates: the drain hook and the readiness probing. */
class RevisionDeploymentTest {
  static Revision revision(String probe) {
    return Serialization.unmarshal("""
        apiVersion: serving.knative.dev/v1
        kind: Revision
        metadata:
          name: hello-00001
          namespace: default
          uid: 0b5e6c1e-0000-4000-8000-000000000001
          labels: {serving.knative.dev/configuration: hello, serving.knative.dev/service: hello}
        spec:
          timeoutSeconds: 120
          containers:
          - image: example/hello
            command: [sh, -c, "exec python3 -m http.server $PORT"]
        %s
        """.formatted(probe), Revision.class);
  }

  @Test
  void userContainerWaitsForTheGatewaysDrainBeforeSigtermWithinTimeoutSeconds() {
    Deployment d = RevisionReconciler.desiredDeployment(revision(""), null, 8081);
    var pod = d.getSpec().getTemplate().getSpec();
    assertThat(pod.getTerminationGracePeriodSeconds()).isEqualTo(120L);
    Container c = pod.getContainers().get(0);
    HTTPGetAction hook = c.getLifecycle().getPreStop().getHttpGet();
    assertThat(hook.getHost()).isEqualTo("127.0.0.1");
    assertThat(hook.getPort().getIntVal()).isEqualTo(8081);
    assertThat(hook.getPath()).isEqualTo("/wait-for-drain");
    assertThat(hook.getHttpHeaders()).singleElement().satisfies(h -> {
      assertThat(h.getName()).isEqualTo("K-Skiff-Drain");
      assertThat(h.getValue()).isEqualTo("default/hello-00001");
    });
    // Without a known gateway port there is nothing to drain through: no hook.
    Container bare = RevisionReconciler.desiredDeployment(revision(""), null, 0).getSpec().getTemplate().getSpec()
        .getContainers().get(0);
    assertThat(bare.getLifecycle()).isNull();
  }

  @Test
  void readinessWithoutAPeriodIsProbedEvery50msUntilReadyAndAUserPeriodIsKept() {
    Deployment d = RevisionReconciler.desiredDeployment(revision(""), null, 0);
    assertThat(d.getSpec().getTemplate().getMetadata().getAnnotations())
        .containsEntry("skiff.dev/initial-readiness-probe-interval-ms", "50");
    assertThat(d.getSpec().getTemplate().getSpec().getContainers().get(0).getReadinessProbe().getPeriodSeconds()).isEqualTo(1);

    Deployment own = RevisionReconciler.desiredDeployment(revision("""
            readinessProbe: {tcpSocket: {}, periodSeconds: 5}
        """.stripTrailing()), null, 0);
    assertThat(own.getSpec().getTemplate().getMetadata().getAnnotations())
        .doesNotContainKey("skiff.dev/initial-readiness-probe-interval-ms");
    assertThat(own.getSpec().getTemplate().getSpec().getContainers().get(0).getReadinessProbe().getPeriodSeconds()).isEqualTo(5);
  }
}
