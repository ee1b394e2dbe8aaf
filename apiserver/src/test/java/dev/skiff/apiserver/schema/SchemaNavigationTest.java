package dev.skiff.apiserver.schema;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class SchemaNavigationTest {
    private final ApiSchemas schemas = ApiSchemas.withBuiltins();

    @Test
    void loadsQuicklyOnce() {
        long first = ApiSchemas.preload(); // 0 when another test class already triggered the load
        assertThat(ApiSchemas.preload()).isZero();
        long t0 = System.nanoTime();
        int count = ApiSchemas.parseBuiltinsForMeasurement();
        long nanos = System.nanoTime() - t0;
        System.out.printf("built-in schema load: first %.1f ms, re-parse of %d definitions %.1f ms%n", first / 1e6, count, nanos / 1e6);
        // Generous bound for a shared 2-core CI machine; a cold JVM measures 45-75 ms (see the report).
        assertThat(nanos).isLessThan(1_000_000_000L);
        assertThat(schemas.definitionNames()).hasSizeGreaterThan(500);
    }

    @Test
    void deploymentContainersMergeByName() {
        SchemaNode deployment = schemas.kind("apps", "v1", "Deployment").orElseThrow();
        assertThat(deployment.definitionName()).contains("io.k8s.api.apps.v1.Deployment");
        SchemaNode containers = deployment.field("spec").flatMap(s -> s.field("template")).flatMap(t -> t.field("spec"))
                .flatMap(s -> s.field("containers")).orElseThrow();
        assertThat(containers.type()).contains("array");
        assertThat(containers.patchMergeKey()).contains("name");
        assertThat(containers.patchStrategy()).contains("merge");
        assertThat(containers.listType()).contains("map");
        assertThat(containers.listMapKeys()).containsExactly("name");
        SchemaNode item = containers.items().orElseThrow();
        assertThat(item.resolvedDefinitionName()).contains("io.k8s.api.core.v1.Container");
        assertThat(item.find("ports").orElseThrow().listMapKeys()).containsExactly("containerPort", "protocol");
        assertThat(deployment.find("spec.template.spec.containers[].env").orElseThrow().patchMergeKey()).contains("name");
        assertThat(deployment.find("spec.template.spec.volumes").orElseThrow().hasPatchStrategy("retainKeys")).isTrue();
        assertThat(deployment.find("spec.strategy").orElseThrow().patchStrategy()).contains("retainKeys");
        assertThat(deployment.find("metadata.ownerReferences").orElseThrow().patchMergeKey()).contains("uid");
        assertThat(deployment.find("status.conditions").orElseThrow().patchMergeKey()).contains("type");
    }

    @Test
    void typesFormatsAndMaps() {
        SchemaNode deployment = schemas.kind("apps", "v1", "Deployment").orElseThrow();
        SchemaNode replicas = deployment.find("spec.replicas").orElseThrow();
        assertThat(replicas.type()).contains("integer");
        assertThat(replicas.format()).contains("int32");
        assertThat(replicas.description()).hasValueSatisfying(d -> assertThat(d).contains("Number of desired pods"));
        SchemaNode labels = deployment.find("metadata.labels").orElseThrow();
        assertThat(labels.additionalProperties().flatMap(SchemaNode::type)).contains("string");
        SchemaNode cpu = schemas.kind("", "v1", "Pod").orElseThrow().find("spec.containers[].resources.limits{}").orElseThrow();
        assertThat(cpu.resolvedDefinitionName()).contains("io.k8s.apimachinery.pkg.api.resource.Quantity");
        SchemaNode targetPort = schemas.kind("", "v1", "Service").orElseThrow().find("spec.ports[].targetPort").orElseThrow();
        assertThat(targetPort.isIntOrString()).isTrue();
        assertThat(targetPort.format()).contains("int-or-string");
        assertThat(schemas.kind("", "v1", "Pod").orElseThrow().find("metadata.creationTimestamp").orElseThrow().format())
                .contains("date-time");
    }

    @Test
    void upstreamNamesAcrossGroups() {
        assertThat(schemas.definitionName("", "v1", "Event")).contains("io.k8s.api.core.v1.Event");
        assertThat(schemas.definitionName("events.k8s.io", "v1", "Event")).contains("io.k8s.api.events.v1.Event");
        assertThat(schemas.definitionName("autoscaling", "v1", "Scale")).contains("io.k8s.api.autoscaling.v1.Scale");
        assertThat(schemas.definitionName("policy", "v1", "Eviction")).contains("io.k8s.api.policy.v1.Eviction");
        assertThat(schemas.definitionName("coordination.k8s.io", "v1", "Lease")).contains("io.k8s.api.coordination.v1.Lease");
        assertThat(schemas.definitionName("discovery.k8s.io", "v1", "EndpointSlice")).contains("io.k8s.api.discovery.v1.EndpointSlice");
        assertThat(schemas.definitionName("storage.k8s.io", "v1", "StorageClass")).contains("io.k8s.api.storage.v1.StorageClass");
        assertThat(schemas.definitionName("rbac.authorization.k8s.io", "v1", "ClusterRole")).contains("io.k8s.api.rbac.v1.ClusterRole");
        assertThat(schemas.definitionName("scheduling.k8s.io", "v1", "PriorityClass")).contains("io.k8s.api.scheduling.v1.PriorityClass");
        assertThat(schemas.definitionName("apiextensions.k8s.io", "v1", "CustomResourceDefinition"))
                .contains("io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition");
        assertThat(schemas.definitionName("authentication.k8s.io", "v1", "TokenReview")).contains("io.k8s.api.authentication.v1.TokenReview");
        assertThat(schemas.definitionName("authorization.k8s.io", "v1", "SubjectAccessReview")).contains("io.k8s.api.authorization.v1.SubjectAccessReview");
        assertThat(schemas.definitionName("networking.k8s.io", "v1", "Ingress")).contains("io.k8s.api.networking.v1.Ingress");
        assertThat(schemas.definitionName("batch", "v1", "CronJob")).contains("io.k8s.api.batch.v1.CronJob");
        assertThat(schemas.definitionName("", "v1", "Status")).contains("io.k8s.apimachinery.pkg.apis.meta.v1.Status");
        assertThat(schemas.definition("io.k8s.api.core.v1.TopologySelectorTerm")).isPresent();
        assertThat(schemas.definition("io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector")).isPresent();
        assertThat(schemas.definition("io.k8s.apimachinery.pkg.runtime.RawExtension")).isPresent();
        assertThat(schemas.closure(java.util.Set.of("io.k8s.api.apps.v1.Deployment")))
                .contains("io.k8s.api.core.v1.PodSpec", "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
                        "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta");
    }

    @Test
    void registersDefinitionsAtRunTime() throws Exception {
        ObjectNode crd = (ObjectNode) ApiSchemas.MAPPER.readTree("""
                {"type":"object","properties":{"spec":{"type":"object","properties":{"size":{"type":"integer"}}},
                 "metadata":{"$ref":"#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"}},
                 "x-kubernetes-group-version-kind":[{"group":"example.com","version":"v1","kind":"Widget"}]}""");
        long before = schemas.generation();
        schemas.register("com.example.v1.Widget", crd);
        assertThat(schemas.generation()).isGreaterThan(before);
        SchemaNode widget = schemas.kind("example.com", "v1", "Widget").orElseThrow();
        assertThat(widget.find("spec.size").flatMap(SchemaNode::type)).contains("integer");
        assertThat(widget.find("metadata.labels")).isPresent();
        assertThat(ApiSchemas.withBuiltins().kind("example.com", "v1", "Widget")).isEmpty();
        assertThat(schemas.unregister("com.example.v1.Widget")).isTrue();
        assertThat(schemas.kind("example.com", "v1", "Widget")).isEmpty();
    }
}
