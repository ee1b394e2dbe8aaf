package dev.skiff.apiserver.ssa;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code kubectl apply --server-side} end to end, with the kubectl versions we support. */
class ServerSideApplyKubectlTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static TestServer server;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  private static String deployment(String ns, String name, String image, Integer replicas, boolean tierLabel) {
    return """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: %s
          namespace: %s
          labels:
            app: %s
        %s
        spec:
        %s
          selector:
            matchLabels:
              app: %s
          template:
            metadata:
              labels:
                app: %s
            spec:
              containers:
              - name: web
                image: %s
                ports:
                - containerPort: 80
                env:
                - name: MODE
                  value: prod
        """.formatted(name, ns, name, tierLabel ? "    tier: frontend" : "", replicas == null ? "" : "  replicas: " + replicas,
        name, name, image);
  }

  private static void createNamespace(String ns) throws Exception {
    var r = server.request("POST", "/api/v1/namespaces", "application/json",
        "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"" + ns + "\"}}");
    assertThat(r.statusCode()).isEqualTo(201);
  }

  private static Path write(String name, String content) throws Exception {
    Path p = server.home().resolve(name);
    Files.writeString(p, content);
    return p;
  }

  /**
   * kubectl 1.27 validates manifests against protobuf /openapi/v2, which this branch does not
   * serve (branch openapiv2 adds it); validation is not what these tests are about.
   */
  private static Kubectl.Result apply(Kubectl k, String binary, String... args) throws Exception {
    List<String> all = new ArrayList<>(List.of("apply"));
    all.addAll(List.of(args));
    if (binary.equals(Kubectl.V1_27)) {
      all.add("--validate=false");
    }
    return k.run(all.toArray(String[]::new));
  }

  private static JsonNode get(Kubectl k, String ns, String name) throws Exception {
    return JSON.readTree(k.run("get", "deploy", name, "-n", ns, "-o", "json", "--show-managed-fields").ok().out());
  }

  private static JsonNode entry(JsonNode obj, String manager) {
    for (JsonNode e : obj.path("metadata").path("managedFields")) {
      if (e.path("manager").asText().equals(manager)) {
        return e;
      }
    }
    return null;
  }

  @ParameterizedTest
  @ValueSource(strings = {Kubectl.DEFAULT, Kubectl.V1_27, Kubectl.V1_33})
  void serverSideApplyOwnsConflictsForcesAndPrunes(String binary) throws Exception {
    Kubectl k = server.kubectl(binary);
    String ns = "ssa-x" + binary.replaceAll("[^0-9]", "");
    createNamespace(ns);
    Path v1 = write(ns + "-v1.yaml", deployment(ns, "web", "nginx:1.25", 2, true));
    assertThat(apply(k, binary, "--server-side", "-f", v1.toString()).ok().out()).contains("deployment.apps/web serverside-applied");
    JsonNode obj = get(k, ns, "web");
    assertThat(obj.at("/spec/replicas").asInt()).isEqualTo(2);
    JsonNode mine = entry(obj, "kubectl");
    assertThat(mine.path("operation").asText()).isEqualTo("Apply");
    assertThat(mine.path("apiVersion").asText()).isEqualTo("apps/v1");
    assertThat(mine.path("time").asText()).isNotEmpty();
    assertThat(mine.at("/fieldsV1/f:spec/f:replicas").isObject()).isTrue();
    assertThat(mine.at("/fieldsV1/f:spec/f:selector").isEmpty()).isTrue(); // atomic struct
    JsonNode container = mine.at("/fieldsV1/f:spec/f:template/f:spec/f:containers").get("k:{\"name\":\"web\"}");
    assertThat(container.has(".")).isTrue();
    assertThat(container.has("f:image")).isTrue();
    assertThat(container.path("f:ports").has("k:{\"containerPort\":80,\"protocol\":\"TCP\"}")).isTrue();
    assertThat(container.path("f:env").has("k:{\"name\":\"MODE\"}")).isTrue();
    assertThat(mine.at("/fieldsV1/f:metadata/f:labels").has("f:tier")).isTrue();

    // Changing and re-applying.
    Path v2 = write(ns + "-v2.yaml", deployment(ns, "web", "nginx:1.26", 2, true));
    assertThat(apply(k, binary, "--server-side", "-f", v2.toString()).ok().out()).contains("deployment.apps/web serverside-applied");
    obj = get(k, ns, "web");
    assertThat(obj.at("/spec/template/spec/containers/0/image").asText()).isEqualTo("nginx:1.26");
    assertThat(obj.at("/metadata/generation").asInt()).isEqualTo(2);

    // Another manager wanting a different replicas conflicts.
    Path other = write(ns + "-other.yaml", """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          namespace: %s
        spec:
          replicas: 5
        """.formatted(ns));
    Kubectl.Result r = apply(k, binary, "--server-side", "--field-manager=other", "-f", other.toString());
    assertThat(r.code()).isNotZero();
    assertThat(r.err()).contains("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas")
        .contains("--force-conflicts");
    assertThat(get(k, ns, "web").at("/spec/replicas").asInt()).isEqualTo(2);

    // Forcing takes ownership.
    assertThat(apply(k, binary, "--server-side", "--field-manager=other", "--force-conflicts", "-f", other.toString()).ok().out())
        .contains("deployment.apps/web serverside-applied");
    obj = get(k, ns, "web");
    assertThat(obj.at("/spec/replicas").asInt()).isEqualTo(5);
    assertThat(entry(obj, "other").at("/fieldsV1/f:spec/f:replicas").isObject()).isTrue();
    assertThat(entry(obj, "kubectl").at("/fieldsV1/f:spec").has("f:replicas")).isFalse();

    // Dropping fields from the manifest removes them when nobody else owns them.
    Path v3 = write(ns + "-v3.yaml", deployment(ns, "web", "nginx:1.26", null, false));
    apply(k, binary, "--server-side", "-f", v3.toString()).ok();
    obj = get(k, ns, "web");
    assertThat(obj.at("/metadata/labels").has("tier")).isFalse();
    assertThat(obj.at("/metadata/labels/app").asText()).isEqualTo("web");
    assertThat(obj.at("/spec/replicas").asInt()).isEqualTo(5); // still owned by "other"

    String yaml = k.run("get", "deploy", "web", "-n", ns, "-o", "yaml", "--show-managed-fields").ok().out();
    assertThat(yaml).contains("managedFields:", "manager: other", "operation: Apply", "fieldsType: FieldsV1",
        "f:replicas: {}", "k:{\"name\":\"web\"}:", "f:image: {}");
  }

  @ParameterizedTest
  @ValueSource(strings = {Kubectl.DEFAULT, Kubectl.V1_27, Kubectl.V1_33})
  void clientSideApplyMigratesToServerSide(String binary) throws Exception {
    Kubectl k = server.kubectl(binary);
    String ns = "csa-x" + binary.replaceAll("[^0-9]", "");
    createNamespace(ns);
    Path f = write(ns + ".yaml", deployment(ns, "app", "nginx:1.25", 3, true));
    assertThat(apply(k, binary, "-f", f.toString()).ok().out()).contains("deployment.apps/app created");
    JsonNode before = get(k, ns, "app");
    assertThat(entry(before, "kubectl-client-side-apply").path("operation").asText()).isEqualTo("Update");

    assertThat(apply(k, binary, "--server-side", "-f", f.toString()).ok().out()).contains("deployment.apps/app serverside-applied");
    JsonNode after = get(k, ns, "app");
    assertThat(entry(after, "kubectl-client-side-apply")).isNull();
    JsonNode mine = entry(after, "kubectl");
    assertThat(mine.path("operation").asText()).isEqualTo("Apply");
    assertThat(mine.at("/fieldsV1/f:spec/f:replicas").isObject()).isTrue();
    // The annotation moved to kubectl (1.27) or to kubectl-last-applied, which newer kubectl
    // applies it with; either way no Update manager owns it any more.
    JsonNode lastApplied = entry(after, "kubectl-last-applied");
    JsonNode owner = lastApplied != null ? lastApplied : mine;
    assertThat(owner.path("operation").asText()).isEqualTo("Apply");
    assertThat(owner.at("/fieldsV1/f:metadata/f:annotations").has("f:kubectl.kubernetes.io/last-applied-configuration")).isTrue();
    assertThat(after.at("/metadata/annotations").has("kubectl.kubernetes.io/last-applied-configuration")).isTrue();

    // Now a server-side change by the same manager works without conflicts.
    Path g = write(ns + "-2.yaml", deployment(ns, "app", "nginx:1.25", 4, true));
    apply(k, binary, "--server-side", "-f", g.toString()).ok();
    assertThat(get(k, ns, "app").at("/spec/replicas").asInt()).isEqualTo(4);
  }
}
