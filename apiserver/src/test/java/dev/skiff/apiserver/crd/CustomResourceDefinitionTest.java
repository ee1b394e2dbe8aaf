package dev.skiff.apiserver.crd;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** CustomResourceDefinitions end to end with the real kubectl: one server, tests in order. */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class CustomResourceDefinitionTest {
  static final String CRD = """
      apiVersion: apiextensions.k8s.io/v1
      kind: CustomResourceDefinition
      metadata:
        name: widgets.example.com
      spec:
        group: example.com
        scope: Namespaced
        names:
          plural: widgets
          singular: widget
          kind: Widget
          shortNames: [wd]
          categories: [all]
        versions:
        - name: v1beta1
          served: true
          storage: false
          schema:
            openAPIV3Schema:
              type: object
              properties:
                spec:
                  type: object
                  properties:
                    size: {type: string}
                    replicas: {type: integer}
        - name: v1
          served: true
          storage: true
          subresources:
            status: {}
            scale:
              specReplicasPath: .spec.replicas
              statusReplicasPath: .status.replicas
              labelSelectorPath: .status.selector
          additionalPrinterColumns:
          - name: Size
            type: string
            jsonPath: .spec.size
          - name: Ready
            type: integer
            jsonPath: .status.replicas
          - name: Age
            type: date
            jsonPath: .metadata.creationTimestamp
          schema:
            openAPIV3Schema:
              type: object
              description: A Widget is a test object.
              properties:
                spec:
                  type: object
                  required: [size]
                  properties:
                    size:
                      type: string
                      description: The size of the widget, S or M.
                      enum: [S, M]
                    replicas:
                      type: integer
                      minimum: 0
                      maximum: 10
                      default: 1
                    color:
                      type: string
                      default: blue
                      pattern: '^[a-z]+$'
                    name:
                      type: string
                      maxLength: 5
                    port:
                      x-kubernetes-int-or-string: true
                    tags:
                      type: array
                      maxItems: 2
                      items: {type: string}
                    extra:
                      type: object
                      x-kubernetes-preserve-unknown-fields: true
                    template:
                      type: object
                      x-kubernetes-embedded-resource: true
                      x-kubernetes-preserve-unknown-fields: true
                status:
                  type: object
                  properties:
                    replicas: {type: integer}
                    selector: {type: string}
      """;

  static TestServer server;
  static Kubectl k;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
    k = server.kubectl();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  @Test
  @Order(1)
  void invalidCrdsAreRejectedWithFieldCauses() throws Exception {
    String bad = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: things.example.com
        spec:
          group: example
          scope: Everywhere
          names: {plural: stuff, kind: Thing}
          versions:
          - name: v1
            served: true
            storage: false
            schema:
              openAPIV3Schema: {type: object}
        """;
    Kubectl.Result r = k.runWithInput(bad, "apply", "-f", "-");
    assertThat(r.code()).isNotZero();
    assertThat(r.err()).contains("The CustomResourceDefinition \"things.example.com\" is invalid")
        .contains("metadata.name: Invalid value: \"things.example.com\": must be spec.names.plural+\".\"+spec.group")
        .contains("spec.group: Invalid value: \"example\": should be a domain with at least one dot")
        .contains("spec.scope: Unsupported value: \"Everywhere\": supported values: \"Cluster\", \"Namespaced\"")
        .contains("must have exactly one version marked as storage version");
  }

  @Test
  @Order(2)
  void crdBecomesEstablishedAndServed() throws Exception {
    long t0 = System.nanoTime();
    k.runWithInput(CRD, "apply", "-f", "-").ok();
    k.run("wait", "--for", "condition=established", "--timeout=10s", "crd/widgets.example.com").ok();
    assertThat((System.nanoTime() - t0) / 1_000_000).isLessThan(5000);
    String crd = k.run("get", "crd", "widgets.example.com", "-o", "json").ok().out();
    assertThat(crd).contains("\"NamesAccepted\"").contains("\"NoConflicts\"").contains("\"InitialNamesAccepted\"")
        .contains("\"storedVersions\": [\n            \"v1\"\n        ]")
        .contains(CustomResources.CLEANUP_FINALIZER);
    assertThat(k.run("api-resources", "--api-group=example.com").ok().out())
        .contains("widgets").contains("wd").contains("example.com/v1").contains("true").contains("Widget");
    assertThat(k.run("get", "crds").ok().out()).contains("widgets.example.com");
    assertThat(k.run("api-resources", "--api-group=apiextensions.k8s.io").ok().out())
        .containsPattern("customresourcedefinitions\\s+crd,crds\\s+apiextensions.k8s.io/v1\\s+false\\s+CustomResourceDefinition");
  }

  @Test
  @Order(3)
  void objectsInBothVersionsShowThePrinterColumns() throws Exception {
    k.runWithInput("""
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: w1}
        spec: {size: S, replicas: 2}
        ---
        apiVersion: example.com/v1beta1
        kind: Widget
        metadata: {name: w2}
        spec: {size: M}
        """, "apply", "-f", "-").ok();
    String out = k.run("get", "widgets").ok().out();
    assertThat(out.lines().findFirst().orElse("")).matches("NAME\\s+SIZE\\s+READY\\s+AGE");
    assertThat(out).containsPattern("w1\\s+S\\s+\\S*\\s+\\d+s").containsPattern("w2\\s+M\\s+");
    assertThat(k.run("get", "wd", "w1").ok().out()).contains("w1");
    assertThat(k.run("describe", "widget", "w1").ok().out()).contains("Kind:         Widget").containsPattern("Size:\\s+S");
    assertThat(k.run("get", "widgets.v1beta1.example.com", "w1", "-o", "jsonpath={.apiVersion}").ok().out())
        .isEqualTo("example.com/v1beta1");
    assertThat(k.run("get", "widget", "w2", "-o", "jsonpath={.apiVersion}").ok().out()).isEqualTo("example.com/v1");
    assertThat(k.run("get", "widgets.v1beta1.example.com", "-o", "jsonpath={.items[*].apiVersion}").ok().out())
        .isEqualTo("example.com/v1beta1 example.com/v1beta1");
    assertThat(k.run("get", "all").ok().out()).contains("widget.example.com/w1").contains("widget.example.com/w2");
  }

  @Test
  @Order(4)
  void defaultsAreApplied() throws Exception {
    String json = k.run("get", "widget", "w1", "-o", "jsonpath={.spec.color} {.spec.replicas} {.metadata.generation}").ok().out();
    assertThat(json).isEqualTo("blue 2 1");
    // Defaults come from the schema of the version written (w2 was written as v1beta1, which has none).
    assertThat(k.run("get", "widget", "w2", "-o", "jsonpath={.spec.replicas}").ok().out()).isEmpty();
  }

  @Test
  @Order(4)
  void reapplyPatchesCustomResourcesWithMergePatches() throws Exception {
    k.runWithInput("""
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: w2, labels: {tier: a}}
        spec: {size: S}
        """, "apply", "-f", "-").ok();
    assertThat(k.run("get", "widget", "w2", "-o", "jsonpath={.spec.size} {.metadata.labels.tier} {.metadata.generation}").ok().out())
        .isEqualTo("S a 2");
    assertThat(k.run("get", "widgets", "-l", "tier=a", "-o", "name").ok().out().trim()).isEqualTo("widget.example.com/w2");
    String ssa = """
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: w5}
        spec: {size: M}
        """;
    k.runWithInput(ssa, "apply", "--server-side", "-f", "-").ok();
    k.runWithInput(ssa.replace("size: M", "size: S"), "apply", "--server-side", "-f", "-").ok();
    assertThat(k.run("get", "widget", "w5", "-o", "jsonpath={.spec.size} {.spec.replicas}").ok().out()).isEqualTo("S 1");
    k.run("delete", "widget", "w5").ok();
  }

  @Test
  @Order(5)
  void explainShowsTheSchema() throws Exception {
    String out = k.run("explain", "widget.spec.size").ok().out();
    assertThat(out).contains("KIND:       Widget").contains("size").contains("The size of the widget, S or M.");
  }

  @Test
  @Order(6)
  void schemaViolationsAre422NamingTheField() throws Exception {
    Kubectl.Result r = k.runWithInput("""
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: bad}
        spec: {size: XL, replicas: "three", color: Red, name: toolong, tags: [a, b, c]}
        """, "apply", "-f", "-");
    assertThat(r.code()).isNotZero();
    assertThat(r.err()).contains("The Widget \"bad\" is invalid")
        .contains("spec.size: Unsupported value: \"XL\": supported values: \"S\", \"M\"")
        .contains("spec.replicas: Invalid value: \"string\": spec.replicas in body must be of type integer: \"string\"")
        .contains("spec.color: Invalid value: \"Red\": spec.color in body should match '^[a-z]+$'")
        .contains("spec.name: Too long: may not be more than 5 bytes")
        .contains("spec.tags: Too many: 3: must have at most 2 items");
    r = k.runWithInput("""
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: bad}
        spec: {replicas: 11}
        """, "create", "-f", "-");
    assertThat(r.err()).contains("spec.size: Required value")
        .contains("spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10");
    HttpResponse<String> resp = server.request("POST", "/apis/example.com/v1/namespaces/default/widgets", "application/json",
        "{\"apiVersion\":\"example.com/v1\",\"kind\":\"Widget\",\"metadata\":{\"name\":\"bad\"},\"spec\":{\"size\":\"XL\"}}");
    assertThat(resp.statusCode()).isEqualTo(422);
    assertThat(resp.body()).contains("\"field\":\"spec.size\"").contains("FieldValueNotSupported")
        .contains("Widget.example.com \\\"bad\\\" is invalid: spec.size: Unsupported value: \\\"XL\\\"");
  }

  @Test
  @Order(7)
  void unknownFieldsArePrunedOrRejectedWhenStrict() throws Exception {
    Kubectl.Result r = k.runWithInput("""
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: w3}
        spec: {size: S, foo: bar}
        """, "apply", "-f", "-");
    assertThat(r.code()).isNotZero();
    assertThat(r.err()).contains("strict decoding error: unknown field \"spec.foo\"");
    k.runWithInput("""
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: w3}
        spec:
          size: S
          foo: bar
          port: http
          extra: {anything: [1, 2]}
          template: {apiVersion: v1, kind: Pod, metadata: {name: p}, spec: {x: 1}}
        """, "apply", "--validate=false", "-f", "-").ok();
    String obj = k.run("get", "widget", "w3", "-o", "json").ok().out();
    assertThat(obj).doesNotContain("\"foo\"").contains("\"anything\"").contains("\"port\": \"http\"").contains("\"kind\": \"Pod\"");
    r = k.runWithInput("""
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: w4}
        spec: {size: S, port: true, template: {metadata: {name: p}}}
        """, "apply", "-f", "-");
    assertThat(r.err()).contains("spec.port: Invalid value: \"boolean\"")
        .contains("spec.template.kind: Required value").contains("spec.template.apiVersion: Required value");
  }

  @Test
  @Order(8)
  void scaleAndStatusSubresources() throws Exception {
    k.run("scale", "widget", "w1", "--replicas=3").ok();
    assertThat(k.run("get", "widget", "w1", "-o", "jsonpath={.spec.replicas} {.metadata.generation}").ok().out())
        .isEqualTo("3 2");
    // Status writes through the main resource are ignored; through /status only status changes.
    k.run("patch", "widget", "w1", "--type=merge", "-p", "{\"status\":{\"replicas\":3}}").ok();
    assertThat(k.run("get", "widget", "w1", "-o", "jsonpath={.status.replicas}").ok().out()).isEmpty();
    k.run("patch", "widget", "w1", "--subresource=status", "--type=merge",
        "-p", "{\"status\":{\"replicas\":3,\"selector\":\"app=w\"},\"spec\":{\"size\":\"M\"}}").ok();
    assertThat(k.run("get", "widget", "w1", "-o", "jsonpath={.status.replicas} {.spec.size} {.metadata.generation}").ok().out())
        .isEqualTo("3 S 2");
    HttpResponse<String> scale = server.request("GET", "/apis/example.com/v1/namespaces/default/widgets/w1/scale", null, null);
    assertThat(scale.body()).contains("\"replicas\":3").contains("\"selector\":\"app=w\"").contains("\"kind\":\"Scale\"");
    assertThat(k.run("get", "widgets").ok().out()).containsPattern("w1\\s+S\\s+3\\s+");
    HttpResponse<String> smp = server.request("PATCH", "/apis/example.com/v1/namespaces/default/widgets/w1",
        "application/strategic-merge-patch+json", "{\"spec\":{\"size\":\"M\"}}");
    assertThat(smp.statusCode()).isEqualTo(415);
  }

  @Test
  @Order(9)
  void openApiAndDiscoveryListTheResource() throws Exception {
    HttpResponse<String> index = server.request("GET", "/openapi/v3", null, null);
    assertThat(index.body()).contains("apis/example.com/v1\"").contains("apis/example.com/v1beta1\"");
    HttpResponse<String> doc = server.request("GET", "/openapi/v3/apis/example.com/v1", null, null);
    assertThat(doc.body()).contains("\"com.example.v1.Widget\"").contains("The size of the widget");
  }

  @Test
  @Order(9)
  void crdUpdatesKeepScopeAndStoredVersions() throws Exception {
    // A re-applied CRD (client-side apply: a strategic merge patch of the CRD) changes columns and
    // validation at once.
    k.runWithInput(CRD.replace("name: Ready", "name: Current").replace("enum: [S, M]", "enum: [S, M, L]"),
        "apply", "-f", "-").ok();
    Thread.sleep(300);
    assertThat(k.run("get", "widgets").ok().out().lines().findFirst().orElse("")).matches("NAME\\s+SIZE\\s+CURRENT\\s+AGE");
    k.run("patch", "widget", "w2", "--type=merge", "-p", "{\"spec\":{\"size\":\"L\"}}").ok();
    Kubectl.Result r = k.run("patch", "crd", "widgets.example.com", "--type=merge", "-p", "{\"spec\":{\"scope\":\"Cluster\"}}");
    assertThat(r.err()).contains("spec.scope: Invalid value: \"Cluster\": field is immutable");
    r = k.run("patch", "crd", "widgets.example.com", "--type=json", "-p",
        "[{\"op\":\"remove\",\"path\":\"/spec/versions/1\"},{\"op\":\"replace\",\"path\":\"/spec/versions/0/storage\",\"value\":true}]");
    assertThat(r.err()).contains("status.storedVersions[0]: Invalid value: \"v1\": must appear in spec.versions");
  }

  @Test
  @Order(10)
  void deletingTheCrdRemovesObjectsAndTheResource() throws Exception {
    Process watch = k.start("get", "widgets", "-w", "--request-timeout=0");
    Thread.sleep(500);
    long t0 = System.nanoTime();
    k.run("delete", "crd", "widgets.example.com", "--timeout=20s").ok();
    // Open watches end with the resource (the server closes them).
    assertThat(watch.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
    assertThat((System.nanoTime() - t0) / 1_000_000).isLessThan(5000);
    assertThat(k.run("api-resources").ok().out()).doesNotContain("widgets");
    Kubectl.Result r = k.run("get", "widgets");
    assertThat(r.code()).isNotZero();
    assertThat(r.err()).contains("the server doesn't have a resource type \"widgets\"");
    assertThat(server.request("GET", "/openapi/v3", null, null).body()).doesNotContain("example.com");
    // Recreated, it starts empty.
    k.runWithInput(CRD, "apply", "-f", "-").ok();
    k.run("wait", "--for", "condition=established", "--timeout=10s", "crd/widgets.example.com").ok();
    assertThat(k.run("get", "widgets", "-A").ok().err()).contains("No resources found");
    k.run("delete", "crd", "widgets.example.com").ok();
  }

  @ParameterizedTest
  @ValueSource(strings = {Kubectl.V1_27, Kubectl.V1_33})
  @Order(11)
  void otherKubectlVersions(String binary) throws Exception {
    Kubectl kc = server.kubectl(binary);
    kc.run("delete", "crd", "gadgets.example.com", "--ignore-not-found");
    String crd = CRD.replace("widgets", "gadgets").replace("widget", "gadget").replace("Widget", "Gadget")
        .replace("[wd]", "[gd]");
    // create, not apply, and no client-side schema lookup for 1.27: kubectl 1.27's apply and
    // --validate need /openapi/v2, which is not served yet (the server still validates).
    String validate = binary.equals(Kubectl.V1_27) ? "--validate=false" : "--validate=strict";
    kc.runWithInput(crd, "create", validate, "-f", "-").ok();
    kc.run("wait", "--for", "condition=established", "--timeout=10s", "crd/gadgets.example.com").ok();
    kc.runWithInput("""
        apiVersion: example.com/v1
        kind: Gadget
        metadata: {name: g1}
        spec: {size: S}
        """, "create", validate, "-f", "-").ok();
    assertThat(kc.run("get", "gd").ok().out()).containsPattern("g1\\s+S\\s+");
    if (!binary.equals(Kubectl.V1_27)) { // 1.27's explain reads /openapi/v2
      assertThat(kc.run("explain", "gadget.spec.size").ok().out()).contains("The size of the gadget, S or M.");
    }
    Kubectl.Result bad = kc.runWithInput("""
        apiVersion: example.com/v1
        kind: Gadget
        metadata: {name: g2}
        spec: {size: XL}
        """, "create", validate, "-f", "-");
    assertThat(bad.err()).contains("spec.size: Unsupported value: \"XL\"");
    kc.run("scale", "gadget", "g1", "--replicas=4").ok();
    assertThat(kc.run("get", "gadget", "g1", "-o", "jsonpath={.spec.replicas}").ok().out()).isEqualTo("4");
    kc.run("delete", "crd", "gadgets.example.com").ok();
    assertThat(kc.run("api-resources").ok().out()).doesNotContain("gadgets");
    assertThat(kc.run("get", "gadgets").err()).contains("the server doesn't have a resource type \"gadgets\"");
  }

  @Test
  @Order(12)
  void clusterScopedWithoutSubresourcesOrColumns() throws Exception {
    k.runWithInput("""
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: regions.geo.example.org}
        spec:
          group: geo.example.org
          scope: Cluster
          names: {plural: regions, singular: area, kind: Region}
          versions:
          - name: v1alpha1
            served: true
            storage: true
            schema:
              openAPIV3Schema:
                type: object
                x-kubernetes-preserve-unknown-fields: true
        """, "apply", "-f", "-").ok();
    k.run("wait", "--for=condition=Established", "--timeout=10s", "crd/regions.geo.example.org").ok();
    k.runWithInput("""
        apiVersion: geo.example.org/v1alpha1
        kind: Region
        metadata: {name: eu}
        spec: {anything: [1, {b: true}]}
        status: {phase: Up}
        """, "apply", "-f", "-").ok();
    String out = k.run("get", "area").ok().out();
    assertThat(out.lines().findFirst().orElse("")).matches("NAME\\s+AGE");
    assertThat(out).contains("eu");
    // Without a status subresource, status is written with the object and bumps the generation.
    k.run("patch", "regions", "eu", "--type=merge", "-p", "{\"status\":{\"phase\":\"Down\"}}").ok();
    assertThat(k.run("get", "area", "eu", "-o", "jsonpath={.status.phase} {.metadata.generation} {.spec.anything[1].b}").ok().out())
        .isEqualTo("Down 2 true");
    HttpResponse<String> r = server.request("GET", "/apis/geo.example.org/v1alpha1/regions/eu/status", null, null);
    assertThat(r.statusCode()).isEqualTo(404);
    k.run("delete", "crd", "regions.geo.example.org").ok();
  }
}
