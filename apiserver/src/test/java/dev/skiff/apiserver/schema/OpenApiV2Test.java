package dev.skiff.apiserver.schema;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

class OpenApiV2Test {
  private static final List<String> ALL = List.of("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection");
  private static final List<ServedResource> RESOURCES = List.of(
      new ServedResource("", "v1", "Pod", "pods", true, List.of("status", "log", "eviction", "binding", "exec"), ALL),
      new ServedResource("", "v1", "Namespace", "namespaces", false, List.of("status"), ALL),
      new ServedResource("", "v1", "ConfigMap", "configmaps", true, List.of(), ALL),
      new ServedResource("apps", "v1", "Deployment", "deployments", true, List.of("status", "scale"), ALL),
      new ServedResource("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", false,
          List.of("status"), ALL),
      new ServedResource("example.com", "v1", "Widget", "widgets", true, List.of(), List.of("get", "list", "patch")));
  private static final String DEPLOYMENT_ITEM = "/apis/apps/v1/namespaces/{namespace}/deployments/{name}";

  private final ApiSchemas schemas = ApiSchemas.withBuiltins();
  private final OpenApiV2 openApi = new OpenApiV2(schemas, "v1.32.4");

  @Test
  void protobufDocumentHasPatchOperationsKubectlRecognises() {
    ApiSchemas.preload();
    long t0 = System.nanoTime();
    OpenApiV2.Snapshot snap = openApi.snapshot(RESOURCES);
    long t1 = System.nanoTime();
    byte[] proto = snap.protobuf();
    long t2 = System.nanoTime();
    byte[] json = snap.json();
    System.out.printf("openapi v2: tree %.1f ms, protobuf %.1f ms (%d bytes), json %d bytes%n",
        (t1 - t0) / 1e6, (t2 - t1) / 1e6, proto.length, json.length);

    Msg doc = Msg.parse(proto);
    assertThat(doc.string(1)).isEqualTo("2.0");
    assertThat(doc.msg(2).string(1)).isEqualTo("Kubernetes");
    assertThat(doc.msg(2).string(2)).isEqualTo("v1.32.4");

    Map<String, Msg> paths = named(doc.msg(8).all(2));
    assertThat(paths).containsKeys(DEPLOYMENT_ITEM, "/apis/apps/v1/namespaces/{namespace}/deployments",
        "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
        "/api/v1/namespaces/{name}", "/apis/example.com/v1/namespaces/{namespace}/widgets/{name}");
    Msg item = paths.get(DEPLOYMENT_ITEM);
    assertThat(item.has(2)).as("get").isTrue();
    assertThat(item.has(3)).as("put").isTrue();
    assertThat(item.has(5)).as("delete").isTrue();
    Msg patch = item.msg(8);
    Map<String, String> ext = extensions(patch.all(13));
    assertThat(ext).containsEntry("x-kubernetes-group-version-kind", "group: apps\nkind: Deployment\nversion: v1\n")
        .containsEntry("x-kubernetes-action", "patch\n");
    assertThat(patch.strings(7)).containsExactlyInAnyOrder("application/apply-patch+yaml",
        "application/json-patch+json", "application/merge-patch+json", "application/strategic-merge-patch+json");

    List<String> query = new ArrayList<>();
    Msg body = null;
    for (Msg p : patch.all(8)) {
      Msg parameter = p.msg(1);
      if (parameter.has(1)) {
        body = parameter.msg(1);
      } else {
        Msg q = parameter.msg(2).msg(3); // NonBodyParameter.query_parameter_sub_schema
        assertThat(q.string(2)).isEqualTo("query");
        query.add(q.string(4) + ":" + q.string(6));
      }
    }
    assertThat(query).contains("fieldValidation:string", "fieldManager:string", "dryRun:string", "force:boolean");
    assertThat(body).isNotNull();
    assertThat(body.string(2)).isEqualTo("body");
    assertThat(body.string(3)).isEqualTo("body");
    assertThat(body.msg(5).string(1)).isEqualTo("#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Patch");
    Map<String, Msg> responses = named(patch.msg(9).all(1));
    assertThat(responses.get("200").msg(1).msg(2).msg(1).string(1)).isEqualTo("#/definitions/io.k8s.api.apps.v1.Deployment");

    // Path-item parameters: name and namespace are path parameters (oneof 4, no allow_empty_value field).
    List<String> pathParams = new ArrayList<>();
    for (Msg p : item.all(9)) {
      Msg nb = p.msg(1).msg(2);
      if (nb.has(4)) {
        pathParams.add(nb.msg(4).string(4) + ":" + nb.msg(4).string(5) + ":" + nb.msg(4).bool(1));
      }
    }
    assertThat(pathParams).containsExactly("name:string:true", "namespace:string:true");

    // A cluster-scoped kind's PATCH and the scale subresource's GVK.
    assertThat(extensions(paths.get("/api/v1/namespaces/{name}").msg(8).all(13)))
        .containsEntry("x-kubernetes-group-version-kind", "group: \"\"\nkind: Namespace\nversion: v1\n");
    assertThat(extensions(paths.get(DEPLOYMENT_ITEM + "/scale").msg(8).all(13)))
        .containsEntry("x-kubernetes-group-version-kind", "group: autoscaling\nkind: Scale\nversion: v1\n");

    assertThat(doc.msg(13).all(1)).hasSize(1); // securityDefinitions: BearerToken
    assertThat(openApi.snapshot(List.copyOf(RESOURCES))).isSameAs(snap);
    assertThat(snap.protobuf()).isSameAs(proto);
  }

  @Test
  void definitionsCarryTypesRefsAndExtensions() {
    Msg doc = Msg.parse(openApi.snapshot(RESOURCES).protobuf());
    Map<String, Msg> defs = named(doc.msg(9).all(1));
    assertThat(defs).containsKeys("io.k8s.api.apps.v1.Deployment", "io.k8s.api.core.v1.PodSpec",
        "io.k8s.apimachinery.pkg.apis.meta.v1.Status", "io.k8s.apimachinery.pkg.apis.meta.v1.Patch", "example.com.v1.Widget");

    Msg deployment = defs.get("io.k8s.api.apps.v1.Deployment");
    assertThat(deployment.msg(22).strings(1)).containsExactly("object");
    assertThat(extensions(deployment.all(31)))
        .containsEntry("x-kubernetes-group-version-kind", "- group: apps\n  kind: Deployment\n  version: v1\n");
    Map<String, Msg> props = named(deployment.msg(25).all(1));
    assertThat(props.get("spec").string(1)).isEqualTo("#/definitions/io.k8s.api.apps.v1.DeploymentSpec");
    assertThat(props.get("spec").has(22)).isFalse();

    Msg replicas = named(defs.get("io.k8s.api.apps.v1.DeploymentSpec").msg(25).all(1)).get("replicas");
    assertThat(replicas.msg(22).strings(1)).containsExactly("integer");
    assertThat(replicas.string(2)).isEqualTo("int32");
    assertThat(replicas.string(4)).startsWith("Number of desired pods.");
    assertThat(defs.get("io.k8s.api.apps.v1.DeploymentSpec").strings(19)).contains("selector", "template");

    Msg containers = named(defs.get("io.k8s.api.core.v1.PodSpec").msg(25).all(1)).get("containers");
    assertThat(containers.msg(22).strings(1)).containsExactly("array");
    assertThat(containers.msg(23).all(1)).hasSize(1);
    assertThat(containers.msg(23).msg(1).string(1)).isEqualTo("#/definitions/io.k8s.api.core.v1.Container");
    assertThat(extensions(containers.all(31))).containsEntry("x-kubernetes-patch-merge-key", "name\n")
        .containsEntry("x-kubernetes-patch-strategy", "merge\n")
        .containsEntry("x-kubernetes-list-type", "map\n")
        .containsEntry("x-kubernetes-list-map-keys", "- name\n");

    // A map: additionalProperties as a schema.
    Msg labels = named(defs.get("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta").msg(25).all(1)).get("labels");
    assertThat(labels.msg(21).msg(1).msg(22).strings(1)).containsExactly("string");

    Msg intOrString = defs.get("io.k8s.apimachinery.pkg.util.intstr.IntOrString");
    assertThat(intOrString.string(2)).isEqualTo("int-or-string");
    assertThat(extensions(intOrString.all(31))).containsEntry("x-kubernetes-int-or-string", "true\n");
    assertThat(extensions(defs.get("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON").all(31)))
        .containsEntry("x-kubernetes-preserve-unknown-fields", "true\n");
  }

  @Test
  void jsonIsSwagger20WithResolvableDefinitionRefs() throws Exception {
    JsonNode doc = ApiSchemas.MAPPER.readTree(openApi.snapshot(RESOURCES).json());
    assertThat(doc.get("swagger").asText()).isEqualTo("2.0");
    String text = doc.toString();
    assertThat(text).doesNotContain("#/components/").doesNotContain("requestBody").doesNotContain("\"content\"");
    Matcher refs = Pattern.compile("\"\\$ref\":\"#/definitions/([^\"]+)\"").matcher(text);
    Set<String> targets = new TreeSet<>();
    while (refs.find()) {
      targets.add(refs.group(1));
    }
    assertThat(targets).isNotEmpty();
    targets.forEach(t -> assertThat(doc.get("definitions").has(t)).as(t).isTrue());
    doc.get("definitions").properties().forEach(d -> checkParsableByKubectl(d.getKey(), d.getValue()));

    // The v3 allOf wrapper around a described $ref becomes a plain $ref with the description beside it.
    JsonNode maxSurge = doc.at("/definitions/io.k8s.api.apps.v1.RollingUpdateDeployment/properties/maxSurge");
    assertThat(maxSurge.get("$ref").asText()).isEqualTo("#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString");
    assertThat(maxSurge.get("description").asText()).startsWith("IntOrString is a type");
    assertThat(maxSurge.has("allOf")).isFalse();
    JsonNode fieldValidation = null;
    for (JsonNode p : doc.at("/paths/" + DEPLOYMENT_ITEM.replace("/", "~1") + "/patch/parameters")) {
      if (p.path("name").asText().equals("fieldValidation")) {
        fieldValidation = p;
      }
    }
    assertThat(fieldValidation).isNotNull();
    assertThat(fieldValidation.get("in").asText()).isEqualTo("query");
    assertThat(fieldValidation.get("type").asText()).isEqualTo("string");
    assertThat(fieldValidation.has("schema")).isFalse();
  }

  @Test
  void schemaConversionFollowsKubeOpenApiV2() throws Exception {
    ObjectNode wrapped = (ObjectNode) ApiSchemas.MAPPER.readTree("""
        {"description":"d","default":{},"allOf":[{"$ref":"#/components/schemas/a.B"}]}""");
    assertThat(OpenApiV2.schema(wrapped).toString())
        .isEqualTo("{\"description\":\"d\",\"default\":{},\"$ref\":\"#/definitions/a.B\"}");
    assertThat(wrapped.has("allOf")).as("input untouched").isTrue();

    assertThat(OpenApiV2.schema(ApiSchemas.MAPPER.readTree("""
        {"type":"object","nullable":true,"properties":{"a":{"type":"string"}}}""")).toString())
        .isEqualTo("{}");
    assertThat(OpenApiV2.schema(ApiSchemas.MAPPER.readTree("""
        {"type":"array","description":"no items"}""")).toString()).isEqualTo("{\"description\":\"no items\"}");
    assertThat(OpenApiV2.schema(ApiSchemas.MAPPER.readTree("""
        {"x-kubernetes-int-or-string":true,"anyOf":[{"type":"integer"},{"type":"string"}]}""")).toString())
        .isEqualTo("{\"x-kubernetes-int-or-string\":true}");
    assertThat(OpenApiV2.schema(ApiSchemas.MAPPER.readTree("""
        {"type":"object","additionalProperties":false,"properties":{"n":{"type":["integer","null"]}}}""")).toString())
        .isEqualTo("{\"type\":\"object\",\"additionalProperties\":false,\"properties\":{\"n\":{\"type\":\"integer\"}}}");
  }

  @Test
  void registeringASchemaRebuilds() throws Exception {
    OpenApiV2.Snapshot before = openApi.snapshot(RESOURCES);
    ObjectNode widget = ApiSchemas.MAPPER.createObjectNode();
    widget.put("type", "object").putObject("properties").putObject("spec").put("type", "object")
        .put("x-kubernetes-preserve-unknown-fields", true);
    widget.putArray("x-kubernetes-group-version-kind").addObject().put("group", "example.com").put("kind", "Widget")
        .put("version", "v1");
    // Structural-schema constructs of custom resources that v2 cannot express, nested where kubectl's parser looks.
    ObjectNode spec = (ObjectNode) widget.at("/properties/spec");
    spec.putObject("properties").set("size", ApiSchemas.MAPPER.createObjectNode()
        .put("x-kubernetes-int-or-string", true).set("anyOf", ApiSchemas.MAPPER.createArrayNode()
            .add(ApiSchemas.MAPPER.createObjectNode().put("type", "integer"))
            .add(ApiSchemas.MAPPER.createObjectNode().put("type", "string"))));
    ((ObjectNode) spec.get("properties")).putObject("maybe").put("type", "object").put("nullable", true)
        .putObject("properties").putObject("a").put("type", "string");
    ((ObjectNode) spec.get("properties")).putObject("anything").put("type", "array");
    schemas.register("com.example.v1.Widget", widget);
    OpenApiV2.Snapshot after = openApi.snapshot(RESOURCES);
    assertThat(after).isNotSameAs(before);
    Map<String, Msg> defs = named(Msg.parse(after.protobuf()).msg(9).all(1));
    assertThat(defs).containsKey("com.example.v1.Widget").doesNotContainKey("example.com.v1.Widget");
    JsonNode json = ApiSchemas.MAPPER.readTree(after.json());
    JsonNode v2 = json.at("/definitions/com.example.v1.Widget");
    checkParsableByKubectl("Widget", v2);
    assertThat(v2.at("/properties/spec/properties/size").toString()).isEqualTo("{\"x-kubernetes-int-or-string\":true}");
    assertThat(v2.at("/properties/spec/properties/maybe").toString()).isEqualTo("{}");
    assertThat(v2.at("/properties/spec/properties/anything").toString()).isEqualTo("{}");
    assertThat(after.json()).isSameAs(after.json());
  }

  /** The rules of kube-openapi pkg/util/proto/document.go ParseSchema that would fail the whole document. */
  private static void checkParsableByKubectl(String path, JsonNode s) {
    if (s.has("$ref")) {
      assertThat(s.has("type") || s.has("properties")).as(path + ": $ref with type/properties").isFalse();
      assertThat(s.get("$ref").asText()).as(path).startsWith("#/definitions/");
      return;
    }
    JsonNode type = s.get("type");
    if (type != null) {
      assertThat(type.isTextual()).as(path + ": one type").isTrue();
      assertThat(type.asText()).as(path).isIn("object", "array", "string", "integer", "number", "boolean");
      if (type.asText().equals("array")) {
        assertThat(s.path("items").isObject()).as(path + ": array items").isTrue();
      }
    }
    s.path("properties").properties().forEach(p -> checkParsableByKubectl(path + "." + p.getKey(), p.getValue()));
    if (s.path("items").isObject()) {
      checkParsableByKubectl(path + "[]", s.get("items"));
    }
    if (s.path("additionalProperties").isObject()) {
      checkParsableByKubectl(path + "{}", s.get("additionalProperties"));
    }
  }

  private static Map<String, Msg> named(List<Msg> entries) {
    Map<String, Msg> out = new LinkedHashMap<>();
    entries.forEach(e -> out.put(e.string(1), e.msg(2)));
    return out;
  }

  /** NamedAny list to name -> Any.yaml. */
  private static Map<String, String> extensions(List<Msg> namedAnys) {
    Map<String, String> out = new LinkedHashMap<>();
    namedAnys.forEach(n -> out.put(n.string(1), n.msg(2).string(2)));
    return out;
  }

  /** A test-only protobuf wire-format reader: field number to raw values (Long for varints/fixed64, byte[] otherwise). */
  record Msg(Map<Integer, List<Object>> fields) {
    static Msg parse(byte[] data) {
      ByteBuffer in = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
      Map<Integer, List<Object>> fields = new LinkedHashMap<>();
      while (in.hasRemaining()) {
        long tag = varint(in);
        int field = (int) (tag >>> 3);
        Object value = switch ((int) (tag & 7)) {
          case 0 -> varint(in);
          case 1 -> in.getLong();
          case 2 -> {
            byte[] b = new byte[(int) varint(in)];
            in.get(b);
            yield b;
          }
          case 5 -> (long) in.getInt();
          default -> throw new IllegalArgumentException("wire type " + (tag & 7));
        };
        fields.computeIfAbsent(field, k -> new ArrayList<>()).add(value);
      }
      return new Msg(fields);
    }

    private static long varint(ByteBuffer in) {
      long v = 0;
      for (int shift = 0; ; shift += 7) {
        byte b = in.get();
        v |= (long) (b & 0x7F) << shift;
        if (b >= 0) {
          return v;
        }
      }
    }

    boolean has(int field) {
      return fields.containsKey(field);
    }

    String string(int field) {
      List<Object> v = fields.get(field);
      return v == null ? "" : new String((byte[]) v.getLast(), StandardCharsets.UTF_8);
    }

    boolean bool(int field) {
      List<Object> v = fields.get(field);
      return v != null && (Long) v.getLast() != 0;
    }

    List<String> strings(int field) {
      List<String> out = new ArrayList<>();
      fields.getOrDefault(field, List.of()).forEach(b -> out.add(new String((byte[]) b, StandardCharsets.UTF_8)));
      return out;
    }

    Msg msg(int field) {
      List<Object> v = fields.get(field);
      assertThat(v).as("field " + field + " of " + fields.keySet()).isNotNull();
      return parse((byte[]) v.getLast());
    }

    List<Msg> all(int field) {
      List<Msg> out = new ArrayList<>();
      fields.getOrDefault(field, List.of()).forEach(b -> out.add(parse((byte[]) b)));
      return out;
    }
  }
}
