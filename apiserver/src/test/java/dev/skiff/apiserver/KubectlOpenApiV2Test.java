package dev.skiff.apiserver;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * kubectl 1.27 to 1.31 read the protobuf /openapi/v2 for apply/create -f (the fieldValidation check) and explain;
 * 1.32 and 1.33 use /openapi/v3 and must keep working beside it.
 */
class KubectlOpenApiV2Test {
  private static final String BIN = "/usr/lib/google-cloud-sdk/bin/kubectl.";
  static TestServer server;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
    // The document is built on the first request; report what that costs with the real served set.
    String proto = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
    long t0 = System.nanoTime();
    int protoSize = get("/openapi/v2", proto).body().length;
    long t1 = System.nanoTime();
    get("/openapi/v2", proto);
    long t2 = System.nanoTime();
    int jsonSize = get("/openapi/v2", "application/json").body().length;
    long t3 = System.nanoTime();
    System.out.printf("GET /openapi/v2: first (build + protobuf) %.0f ms, cached %.1f ms, %d bytes protobuf; "
        + "JSON first %.0f ms, %d bytes%n", (t1 - t0) / 1e6, (t2 - t1) / 1e6, protoSize, (t3 - t2) / 1e6, jsonSize);
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  /** One HOME per binary: discovery and OpenAPI caches differ between kubectl versions. */
  static Kubectl kubectl(String version) throws Exception {
    return new Kubectl(BIN + version, server.kubeconfig(), Files.createDirectories(server.home().resolve(version)));
  }

  static String namespace(Kubectl k, String name) throws Exception {
    k.runWithInput("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + name + "\n", "apply", "-f", "-").ok();
    return name;
  }

  static String deployment(String name, String extraSpec) {
    return """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: %s
        spec:
          replicas: 2
        %s  selector:
            matchLabels:
              app: web
          template:
            metadata:
              labels:
                app: web
            spec:
              containers:
              - name: web
                image: nginx:1.25
                ports:
                - containerPort: 80
        """.formatted(name, extraSpec);
  }

  @Test
  void applyWithKubectl127UsesServerSideStrictValidation() throws Exception {
    Kubectl k = kubectl("1.27");
    String ns = namespace(k, "apply127");
    var created = k.runWithInput(deployment("web", ""), "-n", ns, "apply", "-f", "-");
    assertThat(created.code()).as(created.toString()).isZero();
    assertThat(created.out()).contains("deployment.apps/web created");
    assertThat(created.err()).doesNotContain("Warning");

    var again = k.runWithInput(deployment("web", ""), "-n", ns, "apply", "-f", "-").ok();
    assertThat(again.out()).contains("deployment.apps/web unchanged");

    // A client-side apply patch: the containers list merges by name (x-kubernetes-patch-merge-key).
    var changed = k.runWithInput(deployment("web", "").replace("nginx:1.25", "nginx:1.26"), "-n", ns, "apply", "-f", "-").ok();
    assertThat(changed.out()).contains("deployment.apps/web configured");
    var images = k.run("-n", ns, "get", "deployment", "web", "-o", "jsonpath={.spec.template.spec.containers[*].image}").ok();
    assertThat(images.out()).isEqualTo("nginx:1.26");

    // Client-side validation would say 'ValidationError(Deployment.spec): unknown field "foo"'; the strict decoding
    // error comes from the server, so kubectl found fieldValidation in /openapi/v2 and sent fieldValidation=Strict.
    var strict = k.runWithInput(deployment("strict", "  foo: bar\n"), "-n", ns, "apply", "-f", "-");
    assertThat(strict.code()).isNotZero();
    assertThat(strict.err()).contains("strict decoding error").contains("unknown field \"spec.foo\"");
  }

  @Test
  void createWithKubectl127() throws Exception {
    Kubectl k = kubectl("1.27");
    String ns = namespace(k, "create127");
    var r = k.runWithInput("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c1\ndata:\n  a: b\n",
        "-n", ns, "create", "-f", "-").ok();
    assertThat(r.out()).contains("configmap/c1 created");
  }

  @Test
  void explainWithKubectl127() throws Exception {
    Kubectl k = kubectl("1.27");
    var replicas = k.run("explain", "deployment.spec.replicas").ok();
    assertThat(replicas.out()).containsPattern("FIELD: +replicas <integer>")
        .contains("Number of desired pods.");
    var ports = k.run("explain", "pod.spec.containers.ports").ok();
    assertThat(ports.out()).containsPattern("FIELD: +ports <\\[\\]ContainerPort>")
        .contains("containerPort").contains("<integer> -required-");
  }

  /**
   * 1.27's explain renders from /openapi/v3 but loads /openapi/v2 first; with {@code --output plaintext-openapiv2} it
   * walks the v2 models, which only works when kubectl's v2 parser accepts every definition.
   */
  @Test
  void explainWithKubectl127FromOpenApiV2Models() throws Exception {
    String replicas = runV2Explain("deployment.spec.replicas");
    assertThat(replicas).containsPattern("FIELD: +replicas <integer>").contains("Number of desired pods.");
    String ports = runV2Explain("pod.spec.containers.ports");
    assertThat(ports).containsPattern("RESOURCE: +ports <\\[\\]Object>").contains("containerPort\t<integer> -required-");
    String strategy = runV2Explain("deployment.spec.strategy.rollingUpdate.maxSurge");
    assertThat(strategy).contains("maxSurge <string>");
  }

  private static String runV2Explain(String path) throws Exception {
    ProcessBuilder pb = new ProcessBuilder(BIN + "1.27", "--kubeconfig", server.kubeconfig().toString(), "explain", path,
        "--output", "plaintext-openapiv2");
    pb.environment().put("HOME", Files.createDirectories(server.home().resolve("1.27-v2")).toString());
    pb.environment().remove("KUBECONFIG");
    pb.redirectErrorStream(true);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor()).as(out).isZero();
    return out;
  }

  @ParameterizedTest
  @ValueSource(strings = {"1.28", "1.29", "1.30", "1.31", "1.32", "1.33"})
  void applyAndExplainWithLaterVersions(String version) throws Exception {
    Kubectl k = kubectl(version);
    String ns = namespace(k, "v" + version.replace(".", ""));
    var created = k.runWithInput(deployment("web", ""), "-n", ns, "apply", "-f", "-").ok();
    assertThat(created.out()).contains("deployment.apps/web created");
    assertThat(created.err()).doesNotContain("Warning");
    var strict = k.runWithInput(deployment("strict", "  foo: bar\n"), "-n", ns, "apply", "-f", "-");
    assertThat(strict.err()).contains("strict decoding error").contains("unknown field \"spec.foo\"");
    var explain = k.run("explain", "deployment.spec.replicas").ok();
    assertThat(explain.out()).containsPattern("FIELD: +replicas <integer>").contains("Number of desired pods.");
  }

  @Test
  void negotiatesJsonAndProtobuf() throws Exception {
    HttpResponse<byte[]> proto = get("/openapi/v2", "application/com.github.proto-openapi.spec.v2@v1.0+protobuf");
    assertThat(proto.statusCode()).isEqualTo(200);
    assertThat(proto.headers().firstValue("Content-Type").orElse(""))
        .startsWith("application/com.github.proto-openapi.spec.v2.v1.0+protobuf");
    assertThat(proto.body()[0]).isEqualTo((byte) 0x0A); // field 1 (swagger), length-delimited
    assertThat(new String(proto.body(), 2, 3)).isEqualTo("2.0");

    HttpResponse<byte[]> legacy = get("/swagger-2.0.0.pb-v1", null);
    assertThat(legacy.statusCode()).isEqualTo(200);
    assertThat(legacy.body()).isEqualTo(proto.body());

    for (String accept : List.of("application/json", "*/*")) {
      HttpResponse<byte[]> json = get("/openapi/v2", accept);
      assertThat(json.statusCode()).isEqualTo(200);
      assertThat(json.headers().firstValue("Content-Type").orElse("")).startsWith("application/json");
      assertThat(new String(json.body())).startsWith("{\"swagger\":\"2.0\"").contains("\"#/definitions/");
    }
    assertThat(get("/openapi/v2", "text/html").statusCode()).isEqualTo(406);
  }

  private static HttpResponse<byte[]> get(String path, String accept) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(server.url() + path));
    if (accept != null) {
      b.header("Accept", accept);
    }
    return server.http().send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
  }
}
