package dev.skiff.apiserver.schema;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class OpenApiV3Test {
    private static final List<String> ALL = List.of("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection");
    private static final List<ServedResource> RESOURCES = List.of(
            new ServedResource("", "v1", "Pod", "pods", true, List.of("status", "log", "eviction", "binding", "exec"), ALL),
            new ServedResource("", "v1", "Namespace", "namespaces", false, List.of("status"), ALL),
            new ServedResource("", "v1", "ConfigMap", "configmaps", true, List.of(), ALL),
            new ServedResource("", "v1", "Service", "services", true, List.of("status"), ALL),
            new ServedResource("apps", "v1", "Deployment", "deployments", true, List.of("status", "scale"), ALL),
            new ServedResource("apps", "v1", "ReplicaSet", "replicasets", true, List.of("status", "scale"), ALL),
            new ServedResource("batch", "v1", "Job", "jobs", true, List.of("status"), ALL),
            new ServedResource("coordination.k8s.io", "v1", "Lease", "leases", true, List.of(), ALL),
            new ServedResource("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", false, List.of(), ALL),
            new ServedResource("example.com", "v1", "Widget", "widgets", true, List.of(), ALL));

    private final OpenApiV3 openApi = new OpenApiV3(ApiSchemas.withBuiltins(), "v1.32.4");

    @Test
    void indexListsEveryGroupVersion() throws Exception {
        long t0 = System.nanoTime();
        OpenApiV3.Snapshot snap = openApi.snapshot(RESOURCES);
        System.out.printf("openapi v3 build: %.1f ms%n", (System.nanoTime() - t0) / 1e6);
        JsonNode index = ApiSchemas.MAPPER.readTree(snap.index());
        List<String> keys = new ArrayList<>();
        index.get("paths").properties().forEach(e -> keys.add(e.getKey()));
        assertThat(keys).containsExactly("api/v1", "apis/apps/v1", "apis/batch/v1", "apis/coordination.k8s.io/v1",
                "apis/example.com/v1", "apis/rbac.authorization.k8s.io/v1");
        String url = index.at("/paths/apis~1apps~1v1/serverRelativeURL").asText();
        assertThat(url).startsWith("/openapi/v3/apis/apps/v1?hash=").matches(".*hash=[0-9A-F]{128}");
        assertThat(url).endsWith(snap.hash("apis/apps/v1").orElseThrow());
        assertThat(OpenApiV3.sha512(snap.document("apis/apps/v1").orElseThrow())).isEqualTo(snap.hash("apis/apps/v1").orElseThrow());
        assertThat(openApi.snapshot(List.copyOf(RESOURCES))).isSameAs(snap);
    }

    @Test
    void appsDocumentHasPatchOperationAndSchemas() throws Exception {
        JsonNode doc = ApiSchemas.MAPPER.readTree(openApi.snapshot(RESOURCES).document("apis/apps/v1").orElseThrow());
        assertThat(doc.get("openapi").asText()).isEqualTo("3.0.0");
        JsonNode patch = doc.at("/paths/~1apis~1apps~1v1~1namespaces~1{namespace}~1deployments~1{name}/patch");
        assertThat(patch.isObject()).isTrue();
        assertThat(patch.get("x-kubernetes-group-version-kind").toString())
                .isEqualTo("{\"group\":\"apps\",\"kind\":\"Deployment\",\"version\":\"v1\"}");
        List<String> params = new ArrayList<>();
        patch.get("parameters").forEach(p -> params.add(p.get("in").asText() + ":" + p.get("name").asText()));
        assertThat(params).contains("query:fieldValidation", "query:fieldManager", "query:force", "query:dryRun");
        List<String> media = new ArrayList<>();
        patch.at("/requestBody/content").properties().forEach(e -> media.add(e.getKey()));
        assertThat(media).containsExactlyInAnyOrder("application/json-patch+json", "application/merge-patch+json",
                "application/strategic-merge-patch+json", "application/apply-patch+yaml");
        assertThat(patch.at("/responses/200/content/application~1json/schema/$ref").asText())
                .isEqualTo("#/components/schemas/io.k8s.api.apps.v1.Deployment");
        JsonNode scalePatch = doc.at("/paths/~1apis~1apps~1v1~1namespaces~1{namespace}~1deployments~1{name}~1scale/patch");
        assertThat(scalePatch.at("/x-kubernetes-group-version-kind/kind").asText()).isEqualTo("Scale");

        JsonNode components = doc.at("/components/schemas");
        JsonNode spec = components.get("io.k8s.api.apps.v1.DeploymentSpec");
        assertThat(spec.get("description").asText()).contains("DeploymentSpec is the specification");
        assertThat(spec.at("/properties/replicas/description").asText()).contains("Number of desired pods");
        assertThat(components.at("/io.k8s.api.apps.v1.Deployment/x-kubernetes-group-version-kind/0/kind").asText()).isEqualTo("Deployment");
        for (String name : List.of("io.k8s.api.core.v1.PodSpec", "io.k8s.api.core.v1.Container", "io.k8s.api.autoscaling.v1.Scale",
                "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
                "io.k8s.apimachinery.pkg.util.intstr.IntOrString", "io.k8s.apimachinery.pkg.api.resource.Quantity")) {
            assertThat(components.has(name)).as(name).isTrue();
        }
        // every $ref in the document resolves inside it
        List<String> dangling = new ArrayList<>();
        collectRefs(doc, components, dangling);
        assertThat(dangling).isEmpty();
    }

    @Test
    void everyResourceHasAPatchWithFieldValidation() throws Exception {
        OpenApiV3.Snapshot snap = openApi.snapshot(RESOURCES);
        for (ServedResource r : RESOURCES) {
            JsonNode doc = ApiSchemas.MAPPER.readTree(snap.document(r.groupVersionPath()).orElseThrow());
            boolean found = false;
            for (var e : doc.get("paths").properties()) {
                JsonNode patch = e.getValue().get("patch");
                if (patch != null && patch.at("/x-kubernetes-group-version-kind/kind").asText().equals(r.kind())) {
                    found = true;
                    assertThat(patch.get("parameters").toString()).contains("\"fieldValidation\"");
                }
            }
            assertThat(found).as(r.kind()).isTrue();
        }
        JsonNode widgetDoc = ApiSchemas.MAPPER.readTree(snap.document("apis/example.com/v1").orElseThrow());
        assertThat(widgetDoc.at("/components/schemas/example.com.v1.Widget/x-kubernetes-group-version-kind/0/kind").asText())
                .isEqualTo("Widget");
    }

    @Test
    void hashChangesWhenContentChanges() throws Exception {
        ApiSchemas schemas = ApiSchemas.withBuiltins();
        OpenApiV3 api = new OpenApiV3(schemas, "v1.32.4");
        OpenApiV3.Snapshot first = api.snapshot(RESOURCES);
        schemas.register("com.example.v1.Widget", (com.fasterxml.jackson.databind.node.ObjectNode) ApiSchemas.MAPPER.readTree(
                "{\"type\":\"object\",\"x-kubernetes-group-version-kind\":[{\"group\":\"example.com\",\"version\":\"v1\",\"kind\":\"Widget\"}]}"));
        OpenApiV3.Snapshot second = api.snapshot(RESOURCES);
        assertThat(second).isNotSameAs(first);
        assertThat(second.hash("apis/example.com/v1")).isNotEqualTo(first.hash("apis/example.com/v1"));
        assertThat(second.hash("apis/apps/v1")).isEqualTo(first.hash("apis/apps/v1"));
        OpenApiV3.Snapshot third = api.snapshot(RESOURCES.subList(0, 5));
        assertThat(third.groupVersionPaths()).containsExactly("api/v1", "apis/apps/v1");
    }

    private static void collectRefs(JsonNode node, JsonNode components, List<String> dangling) {
        if (node.isObject()) {
            for (var e : node.properties()) {
                if (e.getKey().equals("$ref") && e.getValue().isTextual()) {
                    String name = e.getValue().asText().substring("#/components/schemas/".length());
                    if (!components.has(name)) {
                        dangling.add(name);
                    }
                } else {
                    collectRefs(e.getValue(), components, dangling);
                }
            }
        } else if (node.isArray()) {
            node.forEach(n -> collectRefs(n, components, dangling));
        }
    }
}
