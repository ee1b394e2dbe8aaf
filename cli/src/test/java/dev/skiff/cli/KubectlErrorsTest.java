package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.skiff.apiserver.pki.Kubeconfig;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Bad input through real kubectl (1.32): right Status, readable message, and the store is left unchanged. */
@Timeout(value = 2, unit = TimeUnit.MINUTES)
class KubectlErrorsTest {
  static SkiffProcess server;
  static Kubectl k;
  static Path home;

  @BeforeAll
  static void startServer() throws Exception {
    server = SkiffProcess.start();
    home = Files.createTempDirectory("kubectl-home-");
    k = new Kubectl(Kubectl.DISPATCHER, server.kubeconfig(), home);
  }

  @AfterAll
  static void stopServer() throws Exception {
    if (server != null) server.close();
  }

  static Kubectl.Result fails(Kubectl.Result r) {
    assertThat(r.exitCode()).as(r.toString()).isNotZero();
    return r;
  }

  static Kubectl.Result ok(Kubectl.Result r) {
    assertThat(r.exitCode()).as(r.toString()).isZero();
    return r;
  }

  static void assertAbsent(String resource, String name) {
    var r = fails(k.run("-n", "default", "get", resource, name));
    assertThat(r.stderr()).contains("(NotFound)").contains("\"" + name + "\" not found");
  }

  static String deployment(String name, String extraSpec) {
    return """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: %s
        spec:
        %s
          selector: {matchLabels: {a: b}}
          template: {metadata: {labels: {a: b}}, spec: {containers: [{name: c, image: i}]}}
        """.formatted(name, extraSpec);
  }

  @Test
  void malformedJson() {
    var r = fails(k.runWithStdin("{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"mj\"", "apply", "-f", "-"));
    assertThat(r.stderr()).contains("error").contains("STDIN");
    assertAbsent("cm", "mj");
  }

  @Test
  void malformedYaml() {
    var r = fails(k.runWithStdin("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: my\n  labels: [bad\n", "apply", "-f", "-"));
    assertThat(r.stderr()).contains("error converting YAML to JSON");
    assertAbsent("cm", "my");
  }

  @Test
  void unknownFieldUnderStrictValidation() {
    var r = fails(k.runWithStdin(deployment("unknownfield", "  foo: 1"), "apply", "-f", "-"));
    assertThat(r.stderr()).contains("Error from server (BadRequest)").contains("strict decoding error: unknown field \"spec.foo\"");
    assertAbsent("deploy", "unknownfield");
  }

  @Test
  void wrongType() {
    var r = fails(k.runWithStdin(deployment("wrongtype", "  replicas: \"x\""), "apply", "-f", "-"));
    assertThat(r.stderr()).contains("Error from server (BadRequest)").contains("cannot unmarshal string")
        .contains("spec.replicas");
    assertAbsent("deploy", "wrongtype");
  }

  @Test
  void invalidName() {
    var r = fails(k.runWithStdin("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n", "apply", "-f", "-"));
    assertThat(r.stderr()).contains("The ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\"");
    var list = ok(k.run("-n", "default", "get", "cm", "-o", "name"));
    assertThat(list.stdout()).doesNotContainIgnoringCase("bad_name");
  }

  @Test
  void missingNamespace() {
    var r = fails(k.runWithStdin("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: orphan\n", "-n", "nosuch", "apply", "-f", "-"));
    assertThat(r.stderr()).contains("Error from server (NotFound)").contains("namespaces \"nosuch\" not found");
    var all = ok(k.run("get", "cm", "-A", "-o", "name"));
    assertThat(all.stdout()).doesNotContain("configmap/orphan");
  }

  @Test
  void unknownResource() {
    var r = fails(k.run("get", "nosuchthings"));
    assertThat(r.stderr()).contains("the server doesn't have a resource type \"nosuchthings\"");
  }

  @Test
  void staleResourceVersionOnReplace() {
    ok(k.runWithStdin("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: stale\ndata:\n  k: v1\n", "-n", "default", "create", "-f", "-"));
    String old = ok(k.run("-n", "default", "get", "cm", "stale", "-o", "yaml")).stdout();
    assertThat(old).contains("resourceVersion:");
    ok(k.run("-n", "default", "patch", "cm", "stale", "--type=merge", "-p", "{\"data\":{\"k\":\"v2\"}}"));
    var r = fails(k.runWithStdin(old.replace("k: v1", "k: v3"), "replace", "-f", "-"));
    assertThat(r.stderr()).contains("Error from server (Conflict)")
        .contains("the object has been modified; please apply your changes to the latest version and try again");
    assertThat(ok(k.run("-n", "default", "get", "cm", "stale", "-o", "jsonpath={.data.k}")).stdout()).isEqualTo("v2");
  }

  @Test
  void oversizedBody() throws Exception {
    Path big = home.resolve("big.yaml");
    Files.writeString(big, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  k: " + "a".repeat(3 * 1024 * 1024 + 100_000) + "\n");
    var r = fails(k.run("-n", "default", "create", "-f", big.toString()));
    assertThat(r.stderr()).contains("Error from server (RequestEntityTooLarge): error when creating \"" + big + "\": "
        + "Request entity too large: limit is 3145728");
    assertAbsent("cm", "big");
  }

  @Test
  void patchWithUnsupportedMediaType() throws Exception {
    ok(k.runWithStdin("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: mt\ndata:\n  k: v1\n", "-n", "default", "create", "-f", "-"));
    HttpClient http = HttpClient.newBuilder().sslContext(Kubeconfig.read(server.kubeconfig()).sslContext())
        .connectTimeout(Duration.ofSeconds(10)).build();
    HttpRequest req = HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + server.port() + "/api/v1/namespaces/default/configmaps/mt"))
        .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"data\":{\"k\":\"v2\"}}"))
        .header("Content-Type", "text/plain")
        .header("Accept", "application/json")
        .timeout(Duration.ofSeconds(10))
        .build();
    HttpResponse<String> resp = http.send(req, HttpResponse.BodyHandlers.ofString());
    assertThat(resp.statusCode()).as(resp.body()).isEqualTo(415);
    JsonNode status = new ObjectMapper().readTree(resp.body());
    assertThat(status.path("kind").asText()).isEqualTo("Status");
    assertThat(status.path("status").asText()).isEqualTo("Failure");
    assertThat(status.path("reason").asText()).isEqualTo("UnsupportedMediaType");
    assertThat(status.path("code").asInt()).isEqualTo(415);
    assertThat(status.path("message").asText()).isEqualTo("the body of the request was in an unknown format - accepted media types include: "
        + "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json");
    assertThat(ok(k.run("-n", "default", "get", "cm", "mt", "-o", "jsonpath={.data.k}")).stdout()).isEqualTo("v1");
  }
}
