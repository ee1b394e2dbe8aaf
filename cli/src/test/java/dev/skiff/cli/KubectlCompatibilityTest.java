package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Real kubectl (1.27, 1.32 via the dispatcher, 1.33) against one Skiff server running as a separate JVM. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class KubectlCompatibilityTest {
  static SkiffProcess server;
  static Path home;

  @BeforeAll
  static void startServer() throws Exception {
    server = SkiffProcess.start();
    home = Files.createTempDirectory("kubectl-home-");
  }

  @AfterAll
  static void stopServer() throws Exception {
    if (server != null) server.close();
  }

  static List<String> binaries() { return Kubectl.ALL; }

  /**
   * kubectl 1.27 reads the protobuf GET /openapi/v2 for apply, create -f and explain; it has its own tests below
   * (applyWithKubectl127, createWithKubectl127, explainWithKubectl127), so these run on the /openapi/v3 binaries.
   */
  static List<String> openApiV3Binaries() { return List.of(Kubectl.DISPATCHER, Kubectl.V1_33); }

  /** Setup steps (namespaces, fixtures) go through the 1.32 dispatcher so they work for every binary under test. */
  static Kubectl admin() { return kubectl(Kubectl.DISPATCHER); }

  static Kubectl kubectl(String binary) { return new Kubectl(binary, server.kubeconfig(), home); }

  static String version(String binary) {
    return binary.equals(Kubectl.DISPATCHER) ? "v132" : binary.endsWith("1.27") ? "v127" : "v133";
  }

  /** Creates (with apply -f, never create namespace: that is protobuf) a namespace unique to binary and test. */
  static String namespace(Kubectl k, String test) {
    String ns = test + "-" + version(k.binary());
    var r = admin().apply("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: " + ns + "\n");
    assertThat(r.exitCode()).as(r.toString()).isZero();
    assertThat(r.stdout()).as(r.toString()).containsAnyOf("namespace/" + ns + " created", "namespace/" + ns + " unchanged");
    return ns;
  }

  static String deployment(String image) {
    return """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: web
          labels:
            app: web
        spec:
          replicas: 1
          selector:
            matchLabels:
              app: web
          template:
            metadata:
              labels:
                app: web
            spec:
              containers:
              - name: web
                image: %s
        """.formatted(image);
  }

  static String configMap(String name, String... extraMetadataLines) {
    return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n"
        + String.join("", Arrays.stream(extraMetadataLines).map(l -> "  " + l + "\n").toList())
        + "data:\n  k: v0\n";
  }

  static Kubectl.Result ok(Kubectl.Result r) {
    assertThat(r.exitCode()).as(r.toString()).isZero();
    return r;
  }

  static String jsonpath(Kubectl k, String ns, String resource, String path) {
    return ok(k.run("-n", ns, "get", resource, "-o", "jsonpath=" + path)).stdout().trim();
  }

  static void eventually(long millis, String what, BooleanSupplier cond) throws InterruptedException {
    long deadline = System.currentTimeMillis() + millis;
    while (System.currentTimeMillis() < deadline) {
      if (cond.getAsBoolean()) return;
      Thread.sleep(100);
    }
    assertThat(cond.getAsBoolean()).as(what).isTrue();
  }

  static List<String> headerColumns(String table) {
    return Arrays.asList(table.lines().findFirst().orElse("").trim().split("\\s+"));
  }

  static List<String> firstColumn(String table) {
    return table.lines().skip(1).map(l -> l.trim().split("\\s+")[0]).toList();
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("openApiV3Binaries")
  void applyCreatesLeavesUnchangedAndConfigures(String binary) {
    Kubectl k = kubectl(binary);
    String ns = namespace(k, "apply");
    assertThat(ok(k.apply(deployment("nginx:1.25"), "-n", ns)).stdout()).contains("deployment.apps/web created");
    assertThat(ok(k.apply(deployment("nginx:1.25"), "-n", ns)).stdout()).contains("deployment.apps/web unchanged");
    assertThat(jsonpath(k, ns, "deploy/web", "{.metadata.generation}")).isEqualTo("1");
    assertThat(ok(k.apply(deployment("nginx:1.27"), "-n", ns)).stdout()).contains("deployment.apps/web configured");
    assertThat(jsonpath(k, ns, "deploy/web", "{.spec.template.spec.containers[0].image}")).isEqualTo("nginx:1.27");
    assertThat(jsonpath(k, ns, "deploy/web", "{.metadata.generation}")).isEqualTo("2");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("openApiV3Binaries")
  void createTwiceReportsAlreadyExists(String binary) {
    Kubectl k = kubectl(binary);
    String ns = namespace(k, "create");
    var first = ok(k.runWithStdin(configMap("c1"), "-n", ns, "create", "-f", "-"));
    assertThat(first.stdout()).contains("configmap/c1 created");
    var second = k.runWithStdin(configMap("c1"), "-n", ns, "create", "-f", "-");
    assertThat(second.exitCode()).as(second.toString()).isNotZero();
    assertThat(second.stderr()).contains("Error from server (AlreadyExists): error when creating \"STDIN\": configmaps \"c1\" already exists");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("binaries")
  void getOutputFormatsAndSelectors(String binary) throws Exception {
    Kubectl k = kubectl(binary);
    String ns = namespace(k, "get");
    ok(admin().apply(deployment("nginx:1.25"), "-n", ns));

    String table = ok(k.run("-n", ns, "get", "deploy")).stdout();
    assertThat(headerColumns(table)).containsExactly("NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE");
    assertThat(firstColumn(table)).containsExactly("web");

    String wide = ok(k.run("-n", ns, "get", "deploy", "-o", "wide")).stdout();
    assertThat(headerColumns(wide)).containsExactly("NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE", "CONTAINERS", "IMAGES", "SELECTOR");
    assertThat(wide).contains("nginx:1.25").contains("app=web");

    JsonNode yaml = new YAMLMapper().readTree(ok(k.run("-n", ns, "get", "deploy", "web", "-o", "yaml")).stdout());
    assertThat(yaml.path("metadata").path("name").asText()).isEqualTo("web");
    assertThat(yaml.path("kind").asText()).isEqualTo("Deployment");
    JsonNode json = new ObjectMapper().readTree(ok(k.run("-n", ns, "get", "deploy", "-o", "json")).stdout());
    assertThat(json.path("kind").asText()).isEqualTo("List");
    assertThat(json.path("items").get(0).path("metadata").path("name").asText()).isEqualTo("web");

    String all = ok(k.run("get", "deploy", "-A")).stdout();
    assertThat(headerColumns(all)).startsWith("NAMESPACE", "NAME");
    assertThat(all.lines()).anySatisfy(l -> assertThat(l.trim().split("\\s+")).startsWith(ns, "web"));

    for (String name : List.of("c2", "c3", "c1")) {
      ok(admin().runWithStdin(configMap(name), "-n", ns, "create", "-f", "-"));
    }
    ok(k.run("-n", ns, "label", "cm", "c2", "app=web"));
    assertThat(firstColumn(ok(k.run("-n", ns, "get", "cm", "-l", "app=web")).stdout())).containsExactly("c2");
    assertThat(firstColumn(ok(k.run("-n", ns, "get", "deploy", "-l", "app=web")).stdout())).containsExactly("web");
    assertThat(ok(k.run("-n", ns, "get", "deploy", "-l", "app=nope")).stderr()).contains("No resources found in " + ns + " namespace.");
    assertThat(firstColumn(ok(k.run("-n", ns, "get", "cm", "--field-selector", "metadata.name=c1")).stdout())).containsExactly("c1");

    String labels = ok(k.run("-n", ns, "get", "cm", "c2", "--show-labels")).stdout();
    assertThat(headerColumns(labels)).endsWith("LABELS");
    assertThat(labels).contains("app=web");

    String sorted = ok(k.run("-n", ns, "get", "cm", "--sort-by=.metadata.name", "--field-selector", "metadata.name!=kube-root-ca.crt")).stdout();
    assertThat(firstColumn(sorted)).containsExactly("c1", "c2", "c3");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("binaries")
  void watchSeesNewConfigMap(String binary) throws Exception {
    Kubectl k = kubectl(binary);
    String ns = namespace(k, "watch");
    ok(admin().runWithStdin(configMap("before"), "-n", ns, "create", "-f", "-"));
    try (var watch = k.background("-n", ns, "get", "cm", "-w")) {
      eventually(10_000, "initial list in watch output", () -> watch.stdout().contains("before"));
      ok(admin().runWithStdin(configMap("arrived"), "-n", ns, "create", "-f", "-"));
      eventually(10_000, "watch output shows the new configmap; stdout=" + watch.stdout() + " stderr=" + watch.stderr(),
          () -> watch.stdout().contains("arrived"));
      assertThat(watch.process().isAlive()).as("watch keeps running; stderr=" + watch.stderr()).isTrue();
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("binaries")
  void describeDeployment(String binary) {
    Kubectl k = kubectl(binary);
    String ns = namespace(k, "describe");
    ok(admin().apply(deployment("nginx:1.25"), "-n", ns));
    String out = ok(k.run("-n", ns, "describe", "deploy", "web")).stdout();
    assertThat(out).containsPattern("(?m)^Name:\\s+web$").contains("Replicas:").contains("nginx:1.25");
    assertThat(out).containsPattern("(?m)^Namespace:\\s+" + ns + "$");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("binaries")
  void patchLabelAnnotateScale(String binary) {
    Kubectl k = kubectl(binary);
    String ns = namespace(k, "patch");
    ok(admin().apply(deployment("nginx:1.25"), "-n", ns));

    assertThat(ok(k.run("-n", ns, "patch", "deploy", "web", "-p", "{\"spec\":{\"replicas\":3}}")).stdout())
        .contains("deployment.apps/web patched");
    assertThat(jsonpath(k, ns, "deploy/web", "{.spec.replicas}")).isEqualTo("3");
    ok(k.run("-n", ns, "patch", "deploy", "web", "--type=merge", "-p", "{\"spec\":{\"replicas\":2}}"));
    assertThat(jsonpath(k, ns, "deploy/web", "{.spec.replicas}")).isEqualTo("2");
    ok(k.run("-n", ns, "patch", "deploy", "web", "--type=json", "-p", "[{\"op\":\"replace\",\"path\":\"/spec/replicas\",\"value\":4}]"));
    assertThat(jsonpath(k, ns, "deploy/web", "{.spec.replicas}")).isEqualTo("4");
    // A patch that changes nothing is reported as such.
    assertThat(ok(k.run("-n", ns, "patch", "deploy", "web", "--type=merge", "-p", "{\"spec\":{\"replicas\":4}}")).stdout())
        .contains("deployment.apps/web patched (no change)");

    assertThat(ok(k.run("-n", ns, "label", "deploy", "web", "tier=frontend")).stdout()).contains("deployment.apps/web labeled");
    assertThat(jsonpath(k, ns, "deploy/web", "{.metadata.labels.tier}")).isEqualTo("frontend");
    assertThat(ok(k.run("-n", ns, "annotate", "deploy", "web", "note=hello")).stdout())
        // kubectl 1.27 itself prints "annotate" (client-side message), later versions "annotated".
        .contains("deployment.apps/web annotate");
    assertThat(jsonpath(k, ns, "deploy/web", "{.metadata.annotations.note}")).isEqualTo("hello");
    ok(k.run("-n", ns, "label", "deploy", "web", "tier-"));
    assertThat(jsonpath(k, ns, "deploy/web", "{.metadata.labels}")).doesNotContain("tier");

    assertThat(ok(k.run("-n", ns, "scale", "deploy", "web", "--replicas=5")).stdout()).contains("deployment.apps/web scaled");
    assertThat(jsonpath(k, ns, "deploy/web", "{.spec.replicas}")).isEqualTo("5");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("binaries")
  void deleteAndDeleteWaitingForFinalizer(String binary) throws Exception {
    Kubectl k = kubectl(binary);
    String ns = namespace(k, "delete");
    ok(admin().runWithStdin(configMap("c1"), "-n", ns, "create", "-f", "-"));
    assertThat(ok(k.run("-n", ns, "delete", "cm", "c1")).stdout()).contains("configmap \"c1\" deleted");
    var gone = k.run("-n", ns, "get", "cm", "c1");
    assertThat(gone.exitCode()).isNotZero();
    assertThat(gone.stderr()).contains("Error from server (NotFound): configmaps \"c1\" not found");

    ok(admin().runWithStdin(configMap("held", "finalizers: [example.com/hold]"), "-n", ns, "create", "-f", "-"));
    try (var delete = k.background("-n", ns, "delete", "cm", "held", "--wait=true", "--timeout=30s")) {
      Thread.sleep(2000);
      assertThat(delete.process().isAlive()).as("delete waits for the finalizer; " + delete.stdout() + delete.stderr()).isTrue();
      assertThat(jsonpath(k, ns, "cm/held", "{.metadata.deletionTimestamp}")).isNotEmpty();
      assertThat(jsonpath(k, ns, "cm/held", "{.metadata.finalizers}")).contains("example.com/hold");
      ok(k.run("-n", ns, "patch", "cm", "held", "--type=merge", "-p", "{\"metadata\":{\"finalizers\":null}}"));
      assertThat(delete.process().waitFor(10, TimeUnit.SECONDS)).as("delete finished; " + delete.stderr()).isTrue();
      assertThat(delete.process().exitValue()).as(delete.stderr()).isZero();
      assertThat(delete.stdout()).contains("configmap \"held\" deleted");
    }
    assertThat(k.run("-n", ns, "get", "cm", "held").stderr()).contains("not found");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("openApiV3Binaries")
  void explain(String binary) {
    Kubectl k = kubectl(binary);
    String explain = ok(k.run("explain", "deployment.spec.replicas")).stdout();
    assertThat(explain).contains("replicas").contains("<integer>").contains("apps");
  }

  @Test
  void applyWithKubectl127() {
    Kubectl k = kubectl(Kubectl.V1_27);
    String ns = namespace(k, "apply");
    assertThat(ok(k.apply(deployment("nginx:1.25"), "-n", ns)).stdout()).contains("deployment.apps/web created");
  }

  @Test
  void createWithKubectl127() {
    Kubectl k = kubectl(Kubectl.V1_27);
    String ns = namespace(k, "create");
    assertThat(ok(k.runWithStdin(configMap("c1"), "-n", ns, "create", "-f", "-")).stdout()).contains("configmap/c1 created");
  }

  @Test
  void explainWithKubectl127() {
    Kubectl k = kubectl(Kubectl.V1_27);
    assertThat(ok(k.run("explain", "deployment.spec.replicas")).stdout()).contains("replicas").contains("<integer>");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("binaries")
  void apiResources(String binary) {
    Kubectl k = kubectl(binary);

    String resources = ok(k.run("api-resources")).stdout();
    assertThat(headerColumns(resources)).containsExactly("NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND");
    assertThat(resources.lines()).anySatisfy(l ->
        assertThat(l.trim().split("\\s+")).containsExactly("deployments", "deploy", "apps/v1", "true", "Deployment"));
    assertThat(resources.lines()).anySatisfy(l ->
        assertThat(l.trim().split("\\s+")).containsExactly("configmaps", "cm", "v1", "true", "ConfigMap"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("binaries")
  void waitForDeleteAndJsonpath(String binary) throws Exception {
    Kubectl k = kubectl(binary);
    String ns = namespace(k, "wait");
    ok(admin().runWithStdin(configMap("x"), "-n", ns, "create", "-f", "-"));
    ok(admin().runWithStdin(configMap("w"), "-n", ns, "create", "-f", "-"));

    Thread deleter = Thread.ofVirtual().start(() -> {
      sleep(1000);
      ok(k.run("-n", ns, "delete", "cm", "x"));
    });
    var waitDelete = k.run("-n", ns, "wait", "--for=delete", "cm/x", "--timeout=20s");
    deleter.join();
    assertThat(waitDelete.exitCode()).as(waitDelete.toString()).isZero();
    assertThat(waitDelete.stdout()).contains("configmap/x condition met");

    Thread patcher = Thread.ofVirtual().start(() -> {
      sleep(1000);
      ok(k.run("-n", ns, "patch", "cm", "w", "--type=merge", "-p", "{\"data\":{\"k\":\"v\"}}"));
    });
    var waitJsonpath = k.run("-n", ns, "wait", "--for=jsonpath={.data.k}=v", "cm/w", "--timeout=20s");
    patcher.join();
    assertThat(waitJsonpath.exitCode()).as(waitJsonpath.toString()).isZero();
    assertThat(waitJsonpath.stdout()).contains("configmap/w condition met");
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("binaries")
  void waitForCondition(String binary) throws Exception {
    // No controller sets conditions yet, so the test plays the controller through the status
    // subresource; kubectl must see the condition AND observedGeneration >= generation.
    Kubectl k = kubectl(binary);
    String ns = namespace(k, "cond");
    ok(admin().apply(deployment("nginx:1.25"), "-n", ns));
    Thread controller = Thread.ofVirtual().start(() -> {
      sleep(1000);
      ok(admin().run("-n", ns, "patch", "deployment", "web", "--subresource=status", "--type=merge", "-p",
          "{\"status\":{\"observedGeneration\":1,\"conditions\":[{\"type\":\"Available\",\"status\":\"True\","
              + "\"reason\":\"MinimumReplicasAvailable\",\"message\":\"ok\"}]}}"));
    });
    var wait = k.run("-n", ns, "wait", "--for=condition=Available", "deployment/web", "--timeout=20s");
    controller.join();
    assertThat(wait.exitCode()).as(wait.toString()).isZero();
    assertThat(wait.stdout()).contains("deployment.apps/web condition met");
    assertThat(ok(k.run("-n", ns, "get", "deployment", "web", "-o", "jsonpath={.spec.replicas}")).stdout())
        .as("the status write left the spec alone").isEqualTo("1");
  }

  static void sleep(long ms) {
    try { Thread.sleep(ms); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
  }
}
