package dev.skiff.apiserver.schema;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.skiff.apiserver.schema.SchemaValidator.Problem;
import dev.skiff.apiserver.schema.SchemaValidator.ProblemType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.InputStream;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

class SchemaValidatorTest {
    private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    private final ApiSchemas schemas = ApiSchemas.withBuiltins();

    private static JsonNode fixture(String name) throws Exception {
        try (InputStream in = SchemaValidatorTest.class.getResourceAsStream("fixtures/" + name)) {
            return YAML.readTree(in);
        }
    }

    private List<Problem> validate(JsonNode obj) {
        String[] apiVersion = obj.path("apiVersion").asText().split("/");
        String group = apiVersion.length == 2 ? apiVersion[0] : "";
        String version = apiVersion[apiVersion.length - 1];
        return SchemaValidator.validate(obj, schemas.kind(group, version, obj.path("kind").asText()).orElseThrow());
    }

    @ParameterizedTest
    @CsvSource({"deployment.yaml", "pod.yaml", "service.yaml", "configmap.yaml", "job.yaml", "cronjob.yaml"})
    void acceptsRealisticObjects(String fixture) throws Exception {
        assertThat(validate(fixture(fixture))).isEmpty();
    }

    @Test
    void reportsUnknownFieldsWithStrictDecodingWording() throws Exception {
        ObjectNode d = (ObjectNode) fixture("deployment.yaml");
        ((ObjectNode) d.get("spec")).put("foo", 1);
        ((ObjectNode) d.at("/spec/template/spec/containers/0")).put("foo", "x");
        ((ObjectNode) d.get("metadata")).put("bar", true);
        List<Problem> problems = validate(d);
        assertThat(problems).extracting(Problem::path)
                // document order, as the decoder meets them (spec.foo was appended after spec.template)
                .containsExactly("metadata.bar", "spec.template.spec.containers[0].foo", "spec.foo");
        assertThat(problems).allMatch(p -> p.type() == ProblemType.UNKNOWN_FIELD);
        assertThat(SchemaValidator.badRequestMessage(problems, "Deployment", "v1", true)).contains(
                "strict decoding error: unknown field \"metadata.bar\", "
                        + "unknown field \"spec.template.spec.containers[0].foo\", unknown field \"spec.foo\"");
        assertThat(SchemaValidator.badRequestMessage(problems, "Deployment", "v1", false)).isEmpty();
        assertThat(SchemaValidator.unknownFieldMessages(problems)).first().isEqualTo("unknown field \"metadata.bar\"");
    }

    @Test
    void reportsTypeErrorsWithGoWording() throws Exception {
        ObjectNode d = (ObjectNode) fixture("deployment.yaml");
        ((ObjectNode) d.get("spec")).put("replicas", "x");
        List<Problem> problems = validate(d);
        assertThat(problems).singleElement().satisfies(p -> {
            assertThat(p.type()).isEqualTo(ProblemType.WRONG_TYPE);
            assertThat(p.path()).isEqualTo("spec.replicas");
            assertThat(p.message()).isEqualTo(
                    "json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32");
        });
        assertThat(SchemaValidator.badRequestMessage(problems, "Deployment", "v1", false)).contains(
                "Deployment in version \"v1\" cannot be handled as a Deployment: json: cannot unmarshal string into "
                        + "Go struct field DeploymentSpec.spec.replicas of type int32");
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "/spec/template/spec/containers/0/ports/0|{\"containerPort\":\"80\"}|json: cannot unmarshal string into Go struct field ContainerPort.spec.template.spec.containers.ports.containerPort of type int32",
            "/spec|{\"paused\":\"yes\"}|json: cannot unmarshal string into Go struct field DeploymentSpec.spec.paused of type bool",
            "/spec|{\"replicas\":1.5}|json: cannot unmarshal number 1.5 into Go struct field DeploymentSpec.spec.replicas of type int32",
            "/spec|{\"replicas\":3000000000}|json: cannot unmarshal number 3000000000 into Go struct field DeploymentSpec.spec.replicas of type int32",
            "/spec|{\"template\":\"x\"}|json: cannot unmarshal string into Go struct field DeploymentSpec.spec.template of type v1.PodTemplateSpec",
            "/spec/template/spec|{\"containers\":{}}|json: cannot unmarshal object into Go struct field PodSpec.spec.template.spec.containers of type []v1.Container",
            "/metadata|{\"labels\":{\"a\":1}}|json: cannot unmarshal number into Go struct field ObjectMeta.metadata.labels of type string",
            "/spec/template/spec/containers/0|{\"image\":5}|json: cannot unmarshal number into Go struct field Container.spec.template.spec.containers.image of type string",
            "/spec/template/spec/containers/0/resources/limits|{\"cpu\":\"lots\"}|quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            "/spec/strategy/rollingUpdate|{\"maxSurge\":true}|json: cannot unmarshal bool into Go struct field RollingUpdateDeployment.spec.strategy.rollingUpdate.maxSurge of type int32",
    })
    void typeErrors(String pointer, String patch, String message) throws Exception {
        ObjectNode d = (ObjectNode) fixture("deployment.yaml");
        ((ObjectNode) d.at(pointer)).setAll((ObjectNode) YAML.readTree(patch));
        assertThat(validate(d)).extracting(Problem::message).containsExactly(message);
    }

    @Test
    void acceptsIntOrStringQuantityMapsAndNulls() throws Exception {
        JsonNode svc = YAML.readTree("""
                apiVersion: v1
                kind: Service
                metadata: {name: s, labels: {a: b}, annotations: {x/y: "z"}}
                spec:
                  ports:
                  - {port: 80, targetPort: 80}
                  - {port: 81, targetPort: http}
                  selector: null
                """);
        assertThat(validate(svc)).isEmpty();
        JsonNode pod = YAML.readTree("""
                apiVersion: v1
                kind: Pod
                metadata: {name: p}
                spec:
                  containers:
                  - name: c
                    image: i
                    resources: {requests: {cpu: "100m", memory: 1Gi}, limits: {cpu: 1, memory: 1.5e9}}
                """);
        assertThat(validate(pod)).isEmpty();
    }

    @Test
    void preserveUnknownFieldsAndRawExtensions() throws Exception {
        JsonNode rev = YAML.readTree("""
                apiVersion: apps/v1
                kind: ControllerRevision
                metadata: {name: r}
                revision: 1
                data: {spec: {anything: [1, 2, {goes: true}]}}
                """);
        assertThat(validate(rev)).isEmpty();
        ObjectNode crd = (ObjectNode) ApiSchemas.MAPPER.readTree("""
                {"type":"object","properties":{"spec":{"type":"object","x-kubernetes-preserve-unknown-fields":true,
                  "properties":{"size":{"type":"integer"}}}},
                 "x-kubernetes-group-version-kind":[{"group":"example.com","version":"v1","kind":"Widget"}]}""");
        schemas.register("com.example.v1.Widget", crd);
        JsonNode widget = YAML.readTree("""
                apiVersion: example.com/v1
                kind: Widget
                spec: {size: 3, extra: {deep: 1}}
                bogus: 1
                """);
        assertThat(validate(widget)).extracting(Problem::message).containsExactly("unknown field \"bogus\"");
    }

    @Test
    void unknownFieldsAreDeduplicatedAndCapped() throws Exception {
        ObjectNode cm = (ObjectNode) fixture("configmap.yaml");
        for (int i = 0; i < 150; i++) {
            cm.put("extra" + i, i);
        }
        assertThat(validate(cm)).hasSize(100);
    }
}
