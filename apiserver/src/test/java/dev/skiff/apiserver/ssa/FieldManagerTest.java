package dev.skiff.apiserver.ssa;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.registry.BuiltInResources;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.WriteOptions;
import dev.skiff.apiserver.schema.ApiSchemas;
import java.time.Instant;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** The merge/ownership engine against the built-in schemas (and without one). */
class FieldManagerTest {
  private static final ApiSchemas SCHEMAS = ApiSchemas.withBuiltins();
  private static final FieldManager FM = new FieldManager(SCHEMAS);
  private static final ResourceDescriptor DEPLOY = BuiltInResources.all().stream()
      .filter(d -> d.kind.equals("Deployment")).findFirst().orElseThrow();
  private static final ResourceDescriptor WIDGET = ResourceDescriptor.builder("example.com", "v1", "Widget", "widgets").build();
  private static final Shape DEPLOY_SHAPE = Shape.of(SCHEMAS.kind("apps", "v1", "Deployment").orElseThrow());
  private static final Instant T1 = Instant.parse("2026-01-01T00:00:00Z");
  private static final Instant T2 = Instant.parse("2026-01-02T00:00:00Z");

  static ObjectNode yaml(String y) {
    try {
      return (ObjectNode) Json.yaml().readTree(y);
    } catch (Exception e) {
      throw new IllegalArgumentException(e);
    }
  }

  static String replaceOnce(String s, String what, String with) {
    assertThat(s).contains(what);
    return s.replace(what, with);
  }

  static JsonNode json(String j) {
    return Json.parse(j.getBytes());
  }

  // ------------------------------------------------------------------ FieldSet

  static Stream<String> fieldsV1RoundTrips() {
    return Stream.of(
        "{}",
        "{\"f:spec\":{\"f:replicas\":{}}}",
        "{\"f:metadata\":{\"f:labels\":{\".\":{},\"f:app\":{}}}}",
        "{\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"web\\\"}\":{\".\":{},\"f:image\":{},\"f:name\":{}}}}}",
        "{\"f:metadata\":{\"f:finalizers\":{\".\":{},\"v:\\\"a\\\"\":{}}}}",
        "{\"f:data\":{\".\":{},\"f:x\":{}},\"f:spec\":{\"f:args\":{}}}");
  }

  @ParameterizedTest
  @MethodSource("fieldsV1RoundTrips")
  void fieldsV1RoundTrips(String fields) {
    assertThat(FieldSet.fromFieldsV1(json(fields)).toFieldsV1()).isEqualTo(json(fields));
  }

  @Test
  void setAlgebraAndPaths() {
    FieldSet a = new FieldSet().insert("f:spec", "f:replicas").insert("f:spec", "f:paused")
        .insert("f:spec", "f:template", "f:spec", "f:containers", "k:{\"name\":\"web\"}", "f:image");
    FieldSet b = new FieldSet().insert("f:spec", "f:replicas").insert("f:metadata", "f:labels", "f:x");
    assertThat(a.intersection(b).paths()).containsExactly(".spec.replicas");
    assertThat(a.copy().removeAll(b).paths()).containsExactly(".spec.paused",
        ".spec.template.spec.containers[name=\"web\"].image");
    assertThat(a.copy().addAll(b).paths()).hasSize(4);
    assertThat(new FieldSet().insert("f:ports", "k:{\"containerPort\":80,\"protocol\":\"TCP\"}").paths())
        .containsExactly(".ports[containerPort=80,protocol=\"TCP\"]");
    assertThat(new FieldSet().insert("f:finalizers", "v:\"a\"").paths()).containsExactly(".finalizers[=\"a\"]");
    assertThatThrownBy(() -> FieldSet.fromFieldsV1(json("{\"x\":{}}"))).isInstanceOf(IllegalArgumentException.class);
  }

  // ------------------------------------------------------------------ field sets of values

  static Stream<Arguments> fieldSets() {
    return Stream.of(
        Arguments.of("scalars and maps", """
            metadata: {name: web, labels: {app: web}}
            spec: {replicas: 2}
            """, "{\"f:metadata\":{\"f:labels\":{\"f:app\":{}}},\"f:spec\":{\"f:replicas\":{}}}"),
        Arguments.of("LabelSelector is an atomic struct", """
            spec: {selector: {matchLabels: {app: web}}}
            """, "{\"f:spec\":{\"f:selector\":{}}}"),
        Arguments.of("containers keyed by name, ports by containerPort+protocol (TCP when absent), env by name", """
            spec:
              template:
                spec:
                  containers:
                  - name: web
                    image: nginx
                    args: [a, b]
                    ports: [{containerPort: 80}, {containerPort: 53, protocol: UDP}]
                    env: [{name: A, value: x}]
            """, "{\"f:spec\":{\"f:template\":{\"f:spec\":{\"f:containers\":{\"k:{\\\"name\\\":\\\"web\\\"}\":{\".\":{},"
            + "\"f:args\":{},\"f:env\":{\"k:{\\\"name\\\":\\\"A\\\"}\":{\".\":{},\"f:name\":{},\"f:value\":{}}},"
            + "\"f:image\":{},\"f:name\":{},\"f:ports\":{\"k:{\\\"containerPort\\\":53,\\\"protocol\\\":\\\"UDP\\\"}\":{\".\":{},"
            + "\"f:containerPort\":{},\"f:protocol\":{}},\"k:{\\\"containerPort\\\":80,\\\"protocol\\\":\\\"TCP\\\"}\":{\".\":{},"
            + "\"f:containerPort\":{}}}}}}}}}"),
        Arguments.of("finalizers are a set; server-set metadata and apiVersion/kind are not owned", """
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: web, namespace: d, uid: u, resourceVersion: "3", finalizers: [x]}
            """, "{\"f:metadata\":{\"f:finalizers\":{\"v:\\\"x\\\"\":{}}}}"),
        Arguments.of("empty maps and nulls are leaves", """
            spec: {template: {spec: {securityContext: {}}}, paused: null}
            """, "{\"f:spec\":{\"f:paused\":{},\"f:template\":{\"f:spec\":{\"f:securityContext\":{}}}}}"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("fieldSets")
  void fieldSetOfAValue(String name, String value, String expected) {
    assertThat(StructuredMerge.toSet(yaml(value), DEPLOY_SHAPE).toFieldsV1()).isEqualTo(json(expected));
  }

  @Test
  void untypedObjectsAreGranularAndListsAtomic() {
    FieldSet s = StructuredMerge.toSet(yaml("spec: {a: {b: 1}, items: [{name: x}]}"), Shape.UNTYPED);
    assertThat(s.toFieldsV1()).isEqualTo(json("{\"f:spec\":{\".\":{},\"f:a\":{\".\":{},\"f:b\":{}},\"f:items\":{}}}"));
  }

  // ------------------------------------------------------------------ merge

  static Stream<Arguments> merges() {
    return Stream.of(
        Arguments.of("scalar replaced, maps merged", "spec: {replicas: 1, paused: true}\nmetadata: {labels: {a: '1'}}",
            "spec: {replicas: 3}\nmetadata: {labels: {b: '2'}}",
            "spec: {replicas: 3, paused: true}\nmetadata: {labels: {a: '1', b: '2'}}"),
        Arguments.of("containers merged by key, new ones appended", """
            spec: {template: {spec: {containers: [{name: a, image: x, imagePullPolicy: Always}, {name: b, image: y}]}}}
            """, """
            spec: {template: {spec: {containers: [{name: c, image: z}, {name: a, image: x2}]}}}
            """, """
            spec: {template: {spec: {containers: [{name: a, image: x2, imagePullPolicy: Always}, {name: b, image: y}, {name: c, image: z}]}}}
            """),
        Arguments.of("atomic list replaced", "spec: {template: {spec: {containers: [{name: a, args: [x, y]}]}}}",
            "spec: {template: {spec: {containers: [{name: a, args: [z]}]}}}",
            "spec: {template: {spec: {containers: [{name: a, args: [z]}]}}}"),
        Arguments.of("atomic struct replaced", "spec: {selector: {matchLabels: {a: '1'}}}",
            "spec: {selector: {matchLabels: {b: '2'}}}", "spec: {selector: {matchLabels: {b: '2'}}}"),
        Arguments.of("set list unioned", "metadata: {finalizers: [a, b]}", "metadata: {finalizers: [c, a]}",
            "metadata: {finalizers: [a, b, c]}"),
        Arguments.of("port without protocol matches the TCP port", """
            spec: {template: {spec: {containers: [{name: a, ports: [{containerPort: 80, protocol: TCP, name: http}]}]}}}
            """, "spec: {template: {spec: {containers: [{name: a, ports: [{containerPort: 80, hostPort: 8080}]}]}}}", """
            spec: {template: {spec: {containers: [{name: a, ports: [{containerPort: 80, protocol: TCP, name: http, hostPort: 8080}]}]}}}
            """));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("merges")
  void merge(String name, String live, String applied, String expected) {
    ObjectNode l = yaml(live);
    StructuredMerge.mergeObject(l, yaml(applied), DEPLOY_SHAPE);
    assertThat(l).isEqualTo(yaml(expected));
  }

  // ------------------------------------------------------------------ apply

  private static final String BASE = """
      apiVersion: apps/v1
      kind: Deployment
      metadata: {name: web, namespace: default, labels: {app: web, tier: fe}}
      spec:
        replicas: 2
        selector: {matchLabels: {app: web}}
        template:
          metadata: {labels: {app: web}}
          spec:
            containers:
            - {name: web, image: nginx, env: [{name: A, value: '1'}]}
      """;

  private static JsonNode entry(ObjectNode obj, String manager, String operation) {
    for (JsonNode e : obj.path("metadata").path("managedFields")) {
      if (e.path("manager").asText().equals(manager) && e.path("operation").asText().equals(operation)) {
        return e;
      }
    }
    return null;
  }

  @Test
  void applyCreatesOwnsAndReapplyChangesNothingElse() {
    ObjectNode created = FM.apply(DEPLOY, null, yaml(BASE), "kubectl", false, null, T1);
    JsonNode e = entry(created, "kubectl", "Apply");
    assertThat(e.path("apiVersion").asText()).isEqualTo("apps/v1");
    assertThat(e.path("time").asText()).isEqualTo("2026-01-01T00:00:00Z");
    assertThat(e.path("fieldsType").asText()).isEqualTo("FieldsV1");
    assertThat(e.path("fieldsV1")).isEqualTo(StructuredMerge.toSet(yaml(BASE), DEPLOY_SHAPE).toFieldsV1());
    assertThat(created.at("/spec/replicas").asInt()).isEqualTo(2);

    // The same configuration again: no change, the entry keeps its time.
    ObjectNode again = FM.apply(DEPLOY, created.deepCopy(), yaml(BASE), "kubectl", false, null, T2);
    assertThat(again).isEqualTo(created);
  }

  @Test
  void conflictsWithAnotherManagerUnlessForced() {
    ObjectNode live = FM.apply(DEPLOY, null, yaml(BASE), "kubectl", false, null, T1);
    ObjectNode other = yaml("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 5}");
    assertThatThrownBy(() -> FM.apply(DEPLOY, live.deepCopy(), other, "other", false, null, T2))
        .isInstanceOfSatisfying(ApiException.class, ex -> {
          assertThat(ex.code()).isEqualTo(409);
          assertThat(ex.reason()).isEqualTo("Conflict");
          assertThat(ex.getMessage()).isEqualTo("Apply failed with 1 conflict: conflict with \"kubectl\": .spec.replicas");
          JsonNode cause = ex.status().at("/details/causes/0");
          assertThat(cause.path("reason").asText()).isEqualTo("FieldManagerConflict");
          assertThat(cause.path("message").asText()).isEqualTo("conflict with \"kubectl\"");
          assertThat(cause.path("field").asText()).isEqualTo(".spec.replicas");
        });

    // The same value is no conflict: both own it.
    ObjectNode same = yaml("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 2}");
    ObjectNode shared = FM.apply(DEPLOY, live.deepCopy(), same, "other", false, null, T2);
    assertThat(entry(shared, "kubectl", "Apply").at("/fieldsV1/f:spec/f:replicas").isObject()).isTrue();
    assertThat(entry(shared, "other", "Apply").at("/fieldsV1/f:spec/f:replicas").isObject()).isTrue();

    ObjectNode forced = FM.apply(DEPLOY, live.deepCopy(), other, "other", true, null, T2);
    assertThat(forced.at("/spec/replicas").asInt()).isEqualTo(5);
    assertThat(entry(forced, "kubectl", "Apply").at("/fieldsV1/f:spec").has("f:replicas")).isFalse();
    assertThat(entry(forced, "kubectl", "Apply").path("time").asText()).isEqualTo("2026-01-01T00:00:00Z");
    assertThat(entry(forced, "other", "Apply").path("time").asText()).isEqualTo("2026-01-02T00:00:00Z");
  }

  @Test
  void conflictWithAnUpdateManagerNamesItsApiVersion() {
    ObjectNode live = yaml(BASE);
    FM.recordCreate(DEPLOY, live, new WriteOptions("kubectl-client-side-apply", false, null, "Update"), T1);
    ObjectNode mine = yaml("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 4, paused: true}");
    assertThatThrownBy(() -> FM.apply(DEPLOY, live.deepCopy(), mine, "kubectl", false, null, T2))
        .hasMessage("Apply failed with 1 conflict: conflict with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas");
    ObjectNode two = yaml("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, labels: {tier: be}}\nspec: {replicas: 4}");
    assertThatThrownBy(() -> FM.apply(DEPLOY, live.deepCopy(), two, "kubectl", false, null, T2))
        .hasMessage("Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using apps/v1:\n"
            + "- .metadata.labels.tier\n- .spec.replicas");
  }

  @Test
  void fieldsNoLongerAppliedAreRemovedUnlessSomeoneElseOwnsThem() {
    ObjectNode live = FM.apply(DEPLOY, null, yaml(BASE), "kubectl", false, null, T1);
    // Another manager shares the env var and owns a label of its own.
    live = FM.apply(DEPLOY, live, yaml("""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, labels: {team: x}}
        spec: {template: {spec: {containers: [{name: web, env: [{name: A, value: '1'}]}]}}}
        """), "other", false, null, T1);
    ObjectNode next = FM.apply(DEPLOY, live.deepCopy(), yaml("""
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web, labels: {app: web}}
        spec:
          selector: {matchLabels: {app: web}}
          template:
            metadata: {labels: {app: web}}
            spec:
              containers:
              - {name: web, image: nginx}
        """), "kubectl", false, null, T2);
    assertThat(next.at("/metadata/labels")).isEqualTo(json("{\"app\":\"web\",\"team\":\"x\"}"));
    assertThat(next.at("/spec").has("replicas")).isFalse();
    assertThat(next.at("/spec/template/spec/containers/0/env/0/name").asText()).isEqualTo("A");

    // Dropping a whole container removes it.
    ObjectNode two = yaml(BASE.replace("- {name: web, image: nginx, env: [{name: A, value: '1'}]}",
        "- {name: web, image: nginx}\n      - {name: side, image: busybox}"));
    ObjectNode withSide = FM.apply(DEPLOY, null, two, "kubectl", false, null, T1);
    ObjectNode without = FM.apply(DEPLOY, withSide.deepCopy(), yaml(BASE), "kubectl", false, null, T2);
    assertThat(without.at("/spec/template/spec/containers")).hasSize(1);
  }

  @Test
  void mainResourceApplyDoesNotOwnStatus() {
    ObjectNode withStatus = yaml(BASE + "status: {replicas: 3}\n");
    ObjectNode out = FM.apply(DEPLOY, null, withStatus, "kubectl", false, null, T1);
    assertThat(entry(out, "kubectl", "Apply").path("fieldsV1").has("f:status")).isFalse();
    ObjectNode st = FM.apply(DEPLOY, out.deepCopy(), yaml("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nstatus: {replicas: 1}"),
        "ctl", false, "status", T2);
    JsonNode e = entry(st, "ctl", "Apply");
    assertThat(e.path("subresource").asText()).isEqualTo("status");
    assertThat(e.path("fieldsV1")).isEqualTo(json("{\"f:status\":{\"f:replicas\":{}}}"));
  }

  @Test
  void applyRejectsManagedFieldsInTheConfiguration() {
    assertThatThrownBy(() -> FM.apply(DEPLOY, null, yaml(BASE.replace("namespace: default,", "managedFields: [{}],")),
        "kubectl", false, null, T1)).hasMessage("metadata.managedFields must be nil");
  }

  @Test
  void kindsWithoutSchemaMergeObjectsAndReplaceLists() {
    ObjectNode w1 = yaml("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {size: 1, tags: [a, b], opts: {x: 1}}");
    ObjectNode w2 = yaml("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {opts: {y: 2}}");
    ObjectNode live = FM.apply(WIDGET, FM.apply(WIDGET, null, w1, "a", false, null, T1), w2, "b", false, null, T1);
    assertThat(live.at("/spec/opts")).isEqualTo(json("{\"x\":1,\"y\":2}"));
    ObjectNode w3 = yaml("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {tags: [c]}");
    assertThatThrownBy(() -> FM.apply(WIDGET, live.deepCopy(), w3, "b", false, null, T2))
        .hasMessage("Apply failed with 1 conflict: conflict with \"a\": .spec.tags");
  }

  // ------------------------------------------------------------------ updates

  @Test
  void updatesOwnWhatTheyChangeAndTakeItFromOthers() {
    ObjectNode live = FM.apply(DEPLOY, null, yaml(BASE), "kubectl", false, null, T1);
    ObjectNode next = live.deepCopy();
    ((ObjectNode) next.get("spec")).put("replicas", 7);
    ((ObjectNode) next.at("/metadata/labels")).remove("tier");
    ((ObjectNode) next.at("/metadata")).putObject("annotations").put("note", "x");
    FM.recordUpdate(DEPLOY, next, live, new WriteOptions("scaler", false, null, "Update"), T2);
    JsonNode e = entry(next, "scaler", "Update");
    assertThat(e.path("fieldsV1")).isEqualTo(
        json("{\"f:metadata\":{\"f:annotations\":{\".\":{},\"f:note\":{}}},\"f:spec\":{\"f:replicas\":{}}}"));
    assertThat(e.path("time").asText()).isEqualTo("2026-01-02T00:00:00Z");
    JsonNode applier = entry(next, "kubectl", "Apply");
    assertThat(applier.at("/fieldsV1/f:spec").has("f:replicas")).isFalse();
    assertThat(applier.at("/fieldsV1/f:metadata/f:labels").has("f:tier")).isFalse();
    assertThat(applier.path("time").asText()).isEqualTo("2026-01-01T00:00:00Z");
    // Apply entries sort first.
    assertThat(next.at("/metadata/managedFields/0/operation").asText()).isEqualTo("Apply");
  }

  @Test
  void noChangeKeepsManagedFieldsAsTheyAre() {
    ObjectNode live = yaml(BASE);
    FM.recordCreate(DEPLOY, live, new WriteOptions("a", false, null, "Update"), T1);
    ObjectNode next = live.deepCopy();
    FM.recordUpdate(DEPLOY, next, live, new WriteOptions("b", false, null, "Update"), T2);
    assertThat(next).isEqualTo(live);
  }

  @Test
  void managedFieldsInTheRequestReplaceOrReset() {
    ObjectNode live = yaml(BASE);
    FM.recordCreate(DEPLOY, live, new WriteOptions("a", false, null, "Update"), T1);
    // [{}] clears them; an update changing nothing then leaves none.
    ObjectNode reset = live.deepCopy();
    ((ObjectNode) reset.get("metadata")).putArray("managedFields").addObject();
    FM.recordUpdate(DEPLOY, reset, live, new WriteOptions("b", false, null, "Update"), T2);
    assertThat(reset.at("/metadata").has("managedFields")).isFalse();
    // Explicit entries replace the stored ones (kubectl's client-side to server-side migration).
    ObjectNode replaced = live.deepCopy();
    ((ObjectNode) replaced.get("metadata")).set("managedFields", json("""
        [{"manager":"kubectl","operation":"Apply","apiVersion":"apps/v1","time":"2026-01-01T00:00:00Z",
          "fieldsType":"FieldsV1","fieldsV1":{"f:spec":{"f:replicas":{}}}}]"""));
    FM.recordUpdate(DEPLOY, replaced, live, new WriteOptions("b", false, null, "Update"), T2);
    assertThat(replaced.at("/metadata/managedFields")).hasSize(1);
    assertThat(replaced.at("/metadata/managedFields/0/manager").asText()).isEqualTo("kubectl");
    // Missing or undecodable: the stored ones stay.
    ObjectNode missing = live.deepCopy();
    ((ObjectNode) missing.get("metadata")).remove("managedFields");
    FM.recordUpdate(DEPLOY, missing, live, new WriteOptions("b", false, null, "Update"), T2);
    assertThat(missing.at("/metadata/managedFields")).isEqualTo(live.at("/metadata/managedFields"));
  }

  @Test
  void statusWritesRecordTheSubresource() {
    ObjectNode live = yaml(BASE);
    FM.recordCreate(DEPLOY, live, new WriteOptions("a", false, null, "Update"), T1);
    ObjectNode next = live.deepCopy();
    next.putObject("status").put("replicas", 2);
    ((ObjectNode) next.get("metadata")).putArray("managedFields").addObject(); // ignored for subresources
    FM.recordUpdate(DEPLOY, next, live, new WriteOptions("ctl", false, "status", "Update"), T2);
    JsonNode e = entry(next, "ctl", "Update");
    assertThat(e.path("subresource").asText()).isEqualTo("status");
    // DeploymentStatus is a struct: like upstream (where it exists as a Go zero value) not a member itself.
    assertThat(e.path("fieldsV1")).isEqualTo(json("{\"f:status\":{\"f:replicas\":{}}}"));
    assertThat(entry(next, "a", "Update")).isNotNull();
  }

  @Test
  void createOwnsEverythingSet() {
    ObjectNode obj = yaml(BASE);
    FM.recordCreate(DEPLOY, obj, new WriteOptions("kubectl-create", false, null, "Update"), T1);
    JsonNode e = entry(obj, "kubectl-create", "Update");
    assertThat(e.at("/fieldsV1/f:metadata/f:labels/.").isObject()).isTrue();
    assertThat(e.at("/fieldsV1/f:spec/f:replicas").isObject()).isTrue();
    assertThat(e.at("/fieldsV1/f:spec/f:template/f:spec/f:containers").has("k:{\"name\":\"web\"}")).isTrue();
  }

  @Test
  void firstApplyToAnUntrackedObjectConflictsWithWhatWasThere() {
    ObjectNode live = yaml(BASE);
    ObjectNode mine = yaml("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec: {replicas: 9}");
    assertThatThrownBy(() -> FM.apply(DEPLOY, live.deepCopy(), mine, "kubectl", false, null, T1))
        .hasMessage("Apply failed with 1 conflict: conflict with \"before-first-apply\" using apps/v1: .spec.replicas");
    ObjectNode forced = FM.apply(DEPLOY, live.deepCopy(), mine, "kubectl", true, null, T1);
    assertThat(entry(forced, "before-first-apply", "Update").at("/fieldsV1/f:spec").has("f:replicas")).isFalse();
  }

  @Test
  void updateManagersAreCappedAtTen() {
    ObjectNode live = yaml(BASE);
    FM.recordCreate(DEPLOY, live, new WriteOptions("m0", false, null, "Update"), T1);
    for (int i = 1; i <= 12; i++) {
      ObjectNode next = live.deepCopy();
      ((ObjectNode) next.at("/metadata/labels")).put("k" + i, "v");
      FM.recordUpdate(DEPLOY, next, live, new WriteOptions("m" + i, false, null, "Update"), T1.plusSeconds(i));
      live = next;
    }
    JsonNode mf = live.at("/metadata/managedFields");
    assertThat(mf).hasSize(10);
    JsonNode ancient = entry(live, "ancient-changes", "Update");
    assertThat(ancient.at("/fieldsV1/f:spec").has("f:replicas")).isTrue();
    assertThat(entry(live, "m12", "Update")).isNotNull();
  }

  @Test
  void anItemSomeoneElseStillOwnsPartOfKeepsItsKey() {
    ObjectNode live = FM.apply(DEPLOY, null, yaml(BASE), "kubectl", false, null, T1);
    ObjectNode next = live.deepCopy();
    ((ObjectNode) next.at("/spec/template/spec/containers/0")).put("workingDir", "/srv");
    FM.recordUpdate(DEPLOY, next, live, new WriteOptions("editor", false, null, "Update"), T2);
    // The applier stops applying the container; the editor's field keeps it, with its name.
    ObjectNode out = FM.apply(DEPLOY, next.deepCopy(), yaml(replaceOnce(BASE, "containers:\n      - {name: web, image: nginx, env: [{name: A, value: '1'}]}", "containers: []")), "kubectl", false, null, T2);
    assertThat(out.at("/spec/template/spec/containers/0")).isEqualTo(json("{\"name\":\"web\",\"workingDir\":\"/srv\"}"));
  }
}
