package dev.skiff.apiserver.knative;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The serving.knative.dev API served from the built-in CRDs: names, columns, defaults, validation, v1alpha1. */
class KnativeApiTest {
  static TestServer server;
  static Kubectl kubectl;

  static final String HELLO_V1 = """
      apiVersion: serving.knative.dev/v1
      kind: Service
      metadata:
        name: %s
      spec:
        template:
          spec:
            containers:
            - image: gcr.io/knative-samples/helloworld-go
              env:
              - name: TARGET
                value: "Go Sample v1"
      """;

  static final String HELLO_V1ALPHA1 = """
      apiVersion: serving.knative.dev/v1alpha1 # Current version of Knative
      kind: Service
      metadata:
        name: helloworld-alpha # The name of the app
        namespace: default # The namespace the app will use
      spec:
        runLatest:
          configuration:
            revisionTemplate:
              spec:
                container:
                  image: gcr.io/knative-samples/helloworld-go # The URL to the image of the app
                  env:
                  - name: TARGET # The environment variable printed out by the sample app
                    value: "Go Sample v1"
      """;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
    kubectl = server.kubectl();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  static JsonNode json(String... args) throws Exception {
    String[] a = new String[args.length + 2];
    System.arraycopy(args, 0, a, 0, args.length);
    a[args.length] = "-o";
    a[args.length + 1] = "json";
    return Json.parse(kubectl.run(a).ok().out().getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void resourcesAreDiscoverableWithKnativeNames() throws Exception {
    String out = kubectl.run("api-resources", "--api-group=serving.knative.dev").ok().out();
    assertThat(out).contains("ksvc").contains("kservice").contains("cfg").contains("rev").contains("rt")
        .contains("configurations").contains("revisions").contains("routes").contains("services");
    assertThat(kubectl.run("get", "crd", "services.serving.knative.dev").ok().out()).contains("services.serving.knative.dev");
    assertThat(kubectl.run("api-versions").ok().out()).contains("serving.knative.dev/v1").contains("serving.knative.dev/v1alpha1");
  }

  @Test
  void serviceGetsKnativeDefaultsAndColumns() throws Exception {
    kubectl.runWithInput(HELLO_V1.formatted("defaults"), "apply", "-f", "-").ok();
    JsonNode svc = json("get", "ksvc", "defaults");
    JsonNode rs = svc.path("spec").path("template").path("spec");
    assertThat(rs.path("timeoutSeconds").asInt()).isEqualTo(300);
    assertThat(rs.path("containerConcurrency").asInt()).isEqualTo(0);
    JsonNode c = rs.path("containers").get(0);
    assertThat(c.path("name").asText()).isEqualTo("user-container");
    assertThat(c.path("readinessProbe").path("tcpSocket").isObject()).isTrue();
    assertThat(c.path("readinessProbe").path("successThreshold").asInt()).isEqualTo(1);
    JsonNode traffic = svc.path("spec").path("traffic");
    assertThat(traffic).hasSize(1);
    assertThat(traffic.get(0).path("latestRevision").asBoolean()).isTrue();
    assertThat(traffic.get(0).path("percent").asInt()).isEqualTo(100);
    assertThat(svc.path("metadata").path("annotations").path("serving.knative.dev/creator").asText()).isNotEmpty();
    assertThat(svc.path("metadata").path("annotations").path("serving.knative.dev/lastModifier").asText()).isNotEmpty();

    String table = kubectl.run("get", "ksvc").ok().out();
    assertThat(table.lines().findFirst().orElseThrow())
        .containsSubsequence("NAME", "URL", "LATESTCREATED", "LATESTREADY", "READY", "REASON");
    assertThat(kubectl.run("get", "rev").ok().out() + kubectl.run("get", "rev").ok().err()).contains("No resources found");
    assertThat(kubectl.run("get", "cfg").ok().err()).contains("No resources found");
  }

  @Test
  void revisionAndRouteColumns() throws Exception {
    kubectl.runWithInput("""
        apiVersion: serving.knative.dev/v1
        kind: Route
        metadata:
          name: cols
        spec:
          traffic:
          - revisionName: cols-00001
            percent: 100
        """, "apply", "-f", "-").ok();
    assertThat(kubectl.run("get", "rt").ok().out().lines().findFirst().orElseThrow())
        .containsSubsequence("NAME", "URL", "READY", "REASON");
    kubectl.runWithInput("""
        apiVersion: serving.knative.dev/v1
        kind: Revision
        metadata:
          name: cols-00001
          labels:
            serving.knative.dev/configuration: cols
            serving.knative.dev/configurationGeneration: "1"
        spec:
          containers:
          - image: example/app
        """, "apply", "-f", "-").ok();
    String rev = kubectl.run("get", "rev", "cols-00001").ok().out();
    assertThat(rev.lines().findFirst().orElseThrow())
        .containsSubsequence("NAME", "CONFIG NAME", "GENERATION", "READY", "REASON", "ACTUAL REPLICAS", "DESIRED REPLICAS");
    assertThat(rev).contains("cols-00001   cols");
    // A Revision's spec is immutable.
    var r = kubectl.run("patch", "rev", "cols-00001", "--type=merge", "-p", "{\"spec\":{\"timeoutSeconds\":10}}");
    assertThat(r.code()).isNotZero();
    assertThat(r.err()).contains("Immutable fields changed (-old +new): spec");
  }

  @Test
  void validationErrorsUseKnativeMessages() throws Exception {
    var r = kubectl.runWithInput("""
        apiVersion: serving.knative.dev/v1
        kind: Service
        metadata:
          name: invalid
        spec:
          template:
            spec:
              containerConcurrency: 1001
              timeoutSeconds: 601
              containers:
              - image: example/app
                env:
                - name: PORT
                  value: "1"
                ports:
                - containerPort: 8012
        """, "apply", "-f", "-");
    assertThat(r.code()).isNotZero();
    assertThat(r.err())
        .contains("admission webhook \"validation.webhook.serving.knative.dev\" denied the request: validation failed:")
        .contains("expected 0 <= 1001 <= 1000: spec.template.spec.containerConcurrency")
        .contains("expected 0 <= 601 <= 600: spec.template.spec.timeoutSeconds")
        .contains("\"PORT\" is a reserved environment variable: spec.template.spec.containers[0].env[0].name")
        .contains("invalid value: 8012 is a reserved port: spec.template.spec.containers[0].ports.containerPort");

    r = kubectl.runWithInput("""
        apiVersion: serving.knative.dev/v1
        kind: Service
        metadata:
          name: twoports
        spec:
          template:
            spec:
              containers:
              - image: example/app
                ports:
                - containerPort: 8080
                - containerPort: 8081
        """, "apply", "-f", "-");
    assertThat(r.err()).contains("more than one container port is set: spec.template.spec.containers[*].ports");

    r = kubectl.runWithInput("""
        apiVersion: serving.knative.dev/v1
        kind: Service
        metadata:
          name: split
        spec:
          template:
            spec:
              containers:
              - image: example/app
          traffic:
          - latestRevision: true
            percent: 50
          - revisionName: split-00001
            percent: 40
        """, "apply", "-f", "-");
    assertThat(r.err()).contains("Traffic targets sum to 90, want 100: spec.traffic");

    r = kubectl.runWithInput("""
        apiVersion: serving.knative.dev/v1
        kind: Service
        metadata:
          name: byo
        spec:
          template:
            metadata:
              name: other-name
            spec:
              containers:
              - image: example/app
        """, "apply", "-f", "-");
    assertThat(r.err()).contains("invalid value: \"other-name\" must have prefix \"byo-\": spec.template.metadata.name");
  }

  @Test
  void templateChangeWithoutNameChangeIsRefused() throws Exception {
    String yaml = """
        apiVersion: serving.knative.dev/v1
        kind: Service
        metadata:
          name: named
        spec:
          template:
            metadata:
              name: named-first
            spec:
              containers:
              - image: example/app:%s
        """;
    kubectl.runWithInput(yaml.formatted("v1"), "apply", "-f", "-").ok();
    var r = kubectl.runWithInput(yaml.formatted("v2"), "apply", "-f", "-");
    assertThat(r.code()).isNotZero();
    assertThat(r.err()).contains("Saw the following changes without a name change (-old +new): spec.template.metadata.name")
        .contains("-: \"example/app:v1\"").contains("+: \"example/app:v2\"");
    kubectl.runWithInput(yaml.formatted("v2").replace("named-first", "named-second"), "apply", "-f", "-").ok();
  }

  @Test
  void v1alpha1RunLatestIsStoredAsV1() throws Exception {
    kubectl.runWithInput(HELLO_V1ALPHA1, "apply", "-f", "-").ok();
    JsonNode v1 = json("get", "services.v1.serving.knative.dev", "helloworld-alpha");
    assertThat(v1.path("apiVersion").asText()).isEqualTo("serving.knative.dev/v1");
    JsonNode c = v1.path("spec").path("template").path("spec").path("containers").get(0);
    assertThat(c.path("image").asText()).isEqualTo("gcr.io/knative-samples/helloworld-go");
    assertThat(c.path("env").get(0).path("value").asText()).isEqualTo("Go Sample v1");
    assertThat(c.path("name").asText()).isEqualTo("user-container");
    assertThat(v1.path("spec").path("traffic").get(0).path("latestRevision").asBoolean()).isTrue();
    assertThat(kubectl.run("get", "ksvc").ok().out()).contains("helloworld-alpha");

    JsonNode alpha = json("get", "services.v1alpha1.serving.knative.dev", "helloworld-alpha");
    assertThat(alpha.path("spec").path("runLatest").path("configuration").path("revisionTemplate").path("spec")
        .path("container").path("image").asText()).isEqualTo("gcr.io/knative-samples/helloworld-go");

    // Re-applying the edited legacy YAML updates the stored v1 object.
    kubectl.runWithInput(HELLO_V1ALPHA1.replace("Go Sample v1", "Go Sample v2"), "apply", "-f", "-").ok();
    v1 = json("get", "services.v1.serving.knative.dev", "helloworld-alpha");
    assertThat(v1.path("spec").path("template").path("spec").path("containers").get(0).path("env").get(0)
        .path("value").asText()).isEqualTo("Go Sample v2");
    assertThat(v1.path("metadata").path("generation").asInt()).isEqualTo(2);
  }

  @Test
  void deletedCrdIsInstalledAgain() throws Exception {
    kubectl.runWithInput("""
        apiVersion: serving.knative.dev/v1
        kind: Configuration
        metadata:
          name: doomed
        spec:
          template:
            spec:
              containers:
              - image: example/app
        """, "apply", "-f", "-").ok();
    kubectl.run("delete", "crd", "configurations.serving.knative.dev", "--wait=true", "--timeout=30s").ok();
    long deadline = System.nanoTime() + 20_000_000_000L;
    Kubectl.Result r;
    do {
      Thread.sleep(100);
      r = kubectl.run("get", "cfg");
    } while (r.code() != 0 && System.nanoTime() < deadline);
    r.ok();
    assertThat(r.out()).doesNotContain("doomed");
  }
}
