package dev.skiff.apiserver.schema;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Builds {@code /openapi/v2}: one Swagger 2.0 document for every served resource, as JSON and as gnostic protobuf.
 *
 * <p>kubectl up to 1.31 still uses it: 1.27 for {@code explain}, for client-side apply's patch metadata, and for the
 * {@code fieldValidation} check of {@code apply}/{@code create -f} ({@code cli-runtime pkg/resource/query_param_verifier.go}
 * looks for the kind's PATCH operation with {@code x-kubernetes-group-version-kind} and a {@code fieldValidation} query
 * parameter). Rather than describe the API twice, the document is converted from the {@link OpenApiV3} group-version
 * documents, so both always list the same paths and schemas.
 *
 * <p>The conversion follows what kube-openapi's v2 builder publishes for the same types: {@code $ref}s point into
 * {@code #/definitions/}, a v3 {@code allOf: [{$ref}]} wrapper (used there only to attach a description or default to
 * a reference) becomes a plain {@code $ref} with those siblings, request bodies become a {@code body} parameter plus
 * {@code consumes}, response contents become {@code schema} plus {@code produces}. Constructs v2 cannot express
 * ({@code anyOf}, {@code oneOf}, {@code not}, {@code nullable}) are dropped, and schemas are kept within what kubectl's
 * v2 model parser accepts ({@code kube-openapi pkg/util/proto/document.go}: a {@code $ref} has no type or properties,
 * an array has exactly one item schema, a type is one of the six JSON types); any violation there would make every
 * kind unusable for kubectl, not just the offending one.
 *
 * <p>Memoised like {@link OpenApiV3#snapshot}; the encodings are produced lazily, on first request of each.
 */
public final class OpenApiV2 {
    private static final String V3_REF = ApiSchemas.REF_PREFIX;
    private static final String V2_REF = "#/definitions/";
    private static final Set<String> METHODS = Set.of("get", "put", "post", "delete", "options", "head", "patch");
    /** Keys of a v3 parameter schema that a v2 non-body parameter carries inline. */
    private static final Set<String> PARAMETER_SCHEMA_KEYS = Set.of("type", "format", "items", "default", "enum",
            "uniqueItems", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength",
            "pattern", "maxItems", "minItems", "multipleOf");
    private static final Set<String> JSON_TYPES = Set.of("object", "array", "string", "integer", "number", "boolean");

    private final ApiSchemas schemas;
    private final String kubernetesVersion;
    private final OpenApiV3 v3;
    private Snapshot last; // guarded by this

    /** @param kubernetesVersion the {@code info.version}, e.g. "v1.32.4" */
    public OpenApiV2(ApiSchemas schemas, String kubernetesVersion) {
        this.schemas = schemas;
        this.kubernetesVersion = kubernetesVersion;
        this.v3 = new OpenApiV3(schemas, kubernetesVersion);
    }

    /** The document for these resources; the same instance while neither they nor the schemas change. */
    public synchronized Snapshot snapshot(List<ServedResource> resources) {
        long generation = schemas.generation();
        if (last != null && last.generation == generation && last.resources.equals(resources)) {
            return last;
        }
        List<ServedResource> copy = List.copyOf(resources);
        last = new Snapshot(copy, generation, build(copy));
        return last;
    }

    /** One document in both encodings, each produced on first use. Byte arrays are shared: do not modify them. */
    public static final class Snapshot {
        private final List<ServedResource> resources;
        private final long generation;
        private ObjectNode swagger; // guarded by this; null once both encodings exist
        private byte[] json; // guarded by this
        private byte[] protobuf; // guarded by this

        private Snapshot(List<ServedResource> resources, long generation, ObjectNode swagger) {
            this.resources = resources;
            this.generation = generation;
            this.swagger = swagger;
        }

        /** Swagger 2.0 JSON. */
        public synchronized byte[] json() {
            if (json == null) {
                try {
                    json = ApiSchemas.MAPPER.writeValueAsBytes(swagger);
                } catch (JsonProcessingException e) {
                    throw new IllegalStateException(e);
                }
                releaseTree();
            }
            return json;
        }

        /** gnostic {@code openapi.v2.Document} protobuf. */
        public synchronized byte[] protobuf() {
            if (protobuf == null) {
                protobuf = GnosticEncoder.encode(swagger);
                releaseTree();
            }
            return protobuf;
        }

        /** The tree (several times the size of the encodings) is only needed until both exist. */
        private void releaseTree() {
            if (json != null && protobuf != null) {
                swagger = null;
            }
        }
    }

    private ObjectNode build(List<ServedResource> resources) {
        Map<String, List<ServedResource>> byGv = new TreeMap<>();
        for (ServedResource r : resources) {
            byGv.computeIfAbsent(r.groupVersionPath(), k -> new ArrayList<>()).add(r);
        }
        Map<String, JsonNode> paths = new TreeMap<>();
        Map<String, JsonNode> definitions = new TreeMap<>();
        for (Map.Entry<String, List<ServedResource>> e : byGv.entrySet()) {
            ObjectNode doc = v3.document(e.getKey(), e.getValue());
            doc.path("paths").properties().forEach(p -> paths.put(p.getKey(), pathItem(p.getValue())));
            // Group-version documents share definitions (ObjectMeta, Status, ...): convert each once.
            for (Map.Entry<String, JsonNode> d : doc.path("components").path("schemas").properties()) {
                definitions.computeIfAbsent(d.getKey(), k -> schema(d.getValue()));
            }
        }
        ObjectNode swagger = ApiSchemas.MAPPER.createObjectNode();
        swagger.put("swagger", "2.0");
        swagger.putObject("info").put("title", "Kubernetes").put("version", kubernetesVersion);
        swagger.putObject("paths").setAll(paths);
        swagger.putObject("definitions").setAll(definitions);
        swagger.putObject("securityDefinitions").putObject("BearerToken").put("description", "Bearer Token authentication")
                .put("in", "header").put("name", "authorization").put("type", "apiKey");
        swagger.putArray("security").addObject().putArray("BearerToken");
        return swagger;
    }

    private ObjectNode pathItem(JsonNode item) {
        ObjectNode out = ApiSchemas.MAPPER.createObjectNode();
        for (Map.Entry<String, JsonNode> e : item.properties()) {
            String key = e.getKey();
            if (METHODS.contains(key)) {
                out.set(key, operation(e.getValue()));
            } else if (key.equals("parameters")) {
                ArrayNode params = out.putArray("parameters");
                e.getValue().forEach(p -> params.add(parameter(p)));
            } else if (key.startsWith("x-")) {
                out.set(key, e.getValue().deepCopy());
            }
        }
        return out;
    }

    private ObjectNode operation(JsonNode op) {
        ObjectNode out = ApiSchemas.MAPPER.createObjectNode();
        for (String key : List.of("tags", "summary", "description", "operationId", "deprecated", "externalDocs")) {
            if (op.has(key)) {
                out.set(key, op.get(key).deepCopy());
            }
        }
        ArrayNode params = out.putArray("parameters");
        JsonNode body = op.get("requestBody");
        Set<String> consumes = new LinkedHashSet<>();
        if (body != null) {
            JsonNode schema = null;
            for (Map.Entry<String, JsonNode> c : body.path("content").properties()) {
                consumes.add(c.getKey());
                schema = schema != null ? schema : c.getValue().get("schema");
            }
            ObjectNode p = params.addObject().put("name", "body").put("in", "body");
            if (body.path("required").asBoolean(false)) {
                p.put("required", true);
            }
            p.set("schema", schema != null ? schema(schema) : ApiSchemas.MAPPER.createObjectNode().put("type", "object"));
        }
        op.path("parameters").forEach(p -> params.add(parameter(p)));
        if (!consumes.isEmpty()) {
            consumes.forEach(out.putArray("consumes")::add);
        }
        Set<String> produces = new LinkedHashSet<>();
        ObjectNode responses = out.putObject("responses");
        for (Map.Entry<String, JsonNode> r : op.path("responses").properties()) {
            ObjectNode resp = responses.putObject(r.getKey());
            resp.put("description", r.getValue().path("description").asText(""));
            JsonNode schema = null;
            for (Map.Entry<String, JsonNode> c : r.getValue().path("content").properties()) {
                produces.add(c.getKey());
                schema = schema != null ? schema : c.getValue().get("schema");
            }
            if (schema != null) {
                resp.set("schema", schema(schema));
            }
        }
        if (!produces.isEmpty()) {
            produces.forEach(out.putArray("produces")::add);
        }
        out.putArray("schemes").add("https");
        op.properties().forEach(e -> {
            if (e.getKey().startsWith("x-")) {
                out.set(e.getKey(), e.getValue().deepCopy());
            }
        });
        return out;
    }

    /** A v3 parameter ({@code schema: {type: ...}}) as a v2 non-body parameter (the schema keys inline). */
    private static ObjectNode parameter(JsonNode p) {
        ObjectNode out = ApiSchemas.MAPPER.createObjectNode();
        if (p.has("$ref")) {
            return out.put("$ref", p.get("$ref").asText().replace("#/components/parameters/", "#/parameters/"));
        }
        for (Map.Entry<String, JsonNode> e : p.properties()) {
            String key = e.getKey();
            if (key.equals("schema")) {
                for (Map.Entry<String, JsonNode> s : e.getValue().properties()) {
                    if (PARAMETER_SCHEMA_KEYS.contains(s.getKey())) {
                        out.set(s.getKey(), s.getValue().deepCopy());
                    }
                }
            } else if (Set.of("name", "in", "description", "required", "allowEmptyValue").contains(key)
                    || key.startsWith("x-")) {
                out.set(key, e.getValue().deepCopy());
            }
        }
        return out;
    }

    /** A v3 schema as the v2 schema kube-openapi would publish; see the class comment. Never modifies its input. */
    static ObjectNode schema(JsonNode s) {
        ObjectNode out = ApiSchemas.MAPPER.createObjectNode();
        if (!s.isObject()) {
            return out;
        }
        String ref = s.path("$ref").isTextual() ? s.get("$ref").textValue() : null;
        JsonNode allOf = s.get("allOf");
        boolean refWrapper = ref == null && allOf != null && allOf.isArray() && allOf.size() == 1
                && allOf.get(0).path("$ref").isTextual();
        if (refWrapper) {
            ref = allOf.get(0).get("$ref").textValue();
        }
        for (Map.Entry<String, JsonNode> e : s.properties()) {
            JsonNode v = e.getValue();
            switch (e.getKey()) {
                case "$ref", "anyOf", "oneOf", "not", "nullable" -> { }
                case "allOf" -> {
                    if (!refWrapper && v.isArray()) {
                        ArrayNode all = out.putArray("allOf");
                        v.forEach(a -> all.add(schema(a)));
                    }
                }
                case "properties" -> {
                    if (v.isObject()) {
                        ObjectNode props = out.putObject("properties");
                        v.properties().forEach(p -> props.set(p.getKey(), schema(p.getValue())));
                    }
                }
                case "items" -> {
                    if (v.isObject()) {
                        out.set("items", schema(v));
                    } else if (v.isArray() && v.size() == 1) {
                        out.set("items", schema(v.get(0)));
                    }
                }
                case "additionalProperties" -> out.set("additionalProperties", v.isObject() ? schema(v) : v.deepCopy());
                default -> out.set(e.getKey(), v.deepCopy());
            }
        }
        if (ref != null) {
            // kubectl's v2 parser rejects a $ref with a type or properties; the reference says it all.
            out.put("$ref", ref.startsWith(V3_REF) ? V2_REF + ref.substring(V3_REF.length()) : ref);
            out.remove(List.of("type", "properties", "items", "additionalProperties"));
            return out;
        }
        normalizeType(out, s.path("nullable").asBoolean(false));
        return out;
    }

    /**
     * Leaves at most one JSON type that kubectl's v2 parser accepts with the rest of the schema. Following the
     * apiextensions v2 conversion ({@code apiextensions-apiserver pkg/controller/openapi/v2/conversion.go}), nullable
     * values become untyped, and untyped values must not carry properties or items.
     */
    private static void normalizeType(ObjectNode out, boolean nullable) {
        JsonNode type = out.get("type");
        String single = null;
        if (type != null && type.isTextual()) {
            single = type.textValue();
        } else if (type != null && type.isArray()) {
            List<String> types = new ArrayList<>();
            type.forEach(t -> {
                if (t.isTextual() && !t.textValue().equals("null")) {
                    types.add(t.textValue());
                }
            });
            single = types.size() == 1 ? types.get(0) : null;
        }
        if (nullable || single == null || !JSON_TYPES.contains(single) || (single.equals("array") && !out.has("items"))) {
            out.remove("type");
            if (nullable || single != null) {
                out.remove(List.of("properties", "items"));
            }
        } else {
            out.put("type", single);
        }
    }
}
