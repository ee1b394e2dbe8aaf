package dev.skiff.apiserver.schema;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;

import java.util.HashMap;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Encodes a Swagger 2.0 JSON tree as gnostic's {@code openapi.v2.Document} protobuf, the format of
 * {@code /openapi/v2} that client-go's {@code discovery_client.go OpenAPISchema()} {@code proto.Unmarshal}s.
 * Field numbers are those of gnostic's {@code openapiv2/OpenAPIv2.proto}.
 *
 * <p>Upstream (kube-openapi {@code handler.go ToProtoBinary}) parses the JSON with gnostic's compiler, which keeps
 * every {@code x-} key as a {@code NamedAny} whose {@code Any.yaml} holds the YAML text of the value
 * ({@code openapiv2/OpenAPIv2.go NewAny}); kubectl reads it back with {@code yaml.Unmarshal}
 * ({@code kube-openapi pkg/util/proto/document.go VendorExtensionToMap}). Keys that gnostic would reject are skipped
 * here instead. Only the parts of the Swagger model that Kubernetes publishes are covered (no form/header
 * parameters with item schemas beyond primitives, no response headers or examples, no XML).
 */
final class GnosticEncoder {
    private static final YAMLMapper YAML = new YAMLMapper(YAMLFactory.builder()
            .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
            .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES)
            .build());

    /** The same extension values (GVKs, "merge", "atomic") recur thousands of times. */
    private final Map<JsonNode, String> yamlCache = new HashMap<>();

    static byte[] encode(JsonNode swagger) {
        ProtoWriter w = new ProtoWriter();
        new GnosticEncoder().document(w, swagger);
        return w.toByteArray();
    }

    /*
     * Each method below writes the fields of one message type into the writer it is given; the caller has opened
     * the enclosing message (ProtoWriter.message) or is at the top level.
     */

    private void document(ProtoWriter w, JsonNode d) {
        w.string(1, text(d, "swagger"));
        if (d.has("info")) {
            JsonNode info = d.get("info");
            w.message(2, i -> {
                i.string(1, text(info, "title")).string(2, text(info, "version")).string(3, text(info, "description"));
                vendorExtensions(i, 7, info);
            });
        }
        w.string(3, text(d, "host")).string(4, text(d, "basePath"));
        strings(w, 5, d.get("schemes"));
        strings(w, 6, d.get("consumes"));
        strings(w, 7, d.get("produces"));
        if (d.has("paths")) {
            JsonNode paths = d.get("paths");
            w.message(8, p -> {
                vendorExtensions(p, 1, paths);
                for (Map.Entry<String, JsonNode> e : paths.properties()) {
                    if (!e.getKey().startsWith("x-")) {
                        p.message(2, named(e.getKey(), v -> pathItem(v, e.getValue())));
                    }
                }
            });
        }
        if (d.has("definitions")) {
            w.message(9, defs -> {
                for (Map.Entry<String, JsonNode> e : d.get("definitions").properties()) {
                    defs.message(1, named(e.getKey(), v -> schema(v, e.getValue())));
                }
            });
        }
        if (d.has("security")) {
            for (JsonNode req : d.get("security")) {
                w.message(12, r -> securityRequirement(r, req));
            }
        }
        if (d.has("securityDefinitions")) {
            w.message(13, sd -> {
                for (Map.Entry<String, JsonNode> e : d.get("securityDefinitions").properties()) {
                    if ("apiKey".equals(text(e.getValue(), "type"))) {
                        sd.message(1, named(e.getKey(), v -> apiKeySecurity(v, e.getValue())));
                    }
                }
            });
        }
        vendorExtensions(w, 16, d);
    }

    private void pathItem(ProtoWriter w, JsonNode item) {
        w.string(1, text(item, "$ref"));
        String[] methods = {"get", "put", "post", "delete", "options", "head", "patch"};
        for (int i = 0; i < methods.length; i++) {
            JsonNode op = item.get(methods[i]);
            if (op != null) {
                w.message(2 + i, o -> operation(o, op));
            }
        }
        parameters(w, 9, item.get("parameters"));
        vendorExtensions(w, 10, item);
    }

    private void operation(ProtoWriter w, JsonNode op) {
        strings(w, 1, op.get("tags"));
        w.string(2, text(op, "summary")).string(3, text(op, "description"));
        externalDocs(w, 4, op.get("externalDocs"));
        w.string(5, text(op, "operationId"));
        strings(w, 6, op.get("produces"));
        strings(w, 7, op.get("consumes"));
        parameters(w, 8, op.get("parameters"));
        if (op.has("responses")) {
            JsonNode responses = op.get("responses");
            w.message(9, r -> {
                for (Map.Entry<String, JsonNode> e : responses.properties()) {
                    if (!e.getKey().startsWith("x-")) {
                        r.message(1, named(e.getKey(), v -> responseValue(v, e.getValue())));
                    }
                }
                vendorExtensions(r, 2, responses);
            });
        }
        strings(w, 10, op.get("schemes"));
        w.bool(11, op.path("deprecated").asBoolean(false));
        if (op.has("security")) {
            for (JsonNode req : op.get("security")) {
                w.message(12, r -> securityRequirement(r, req));
            }
        }
        vendorExtensions(w, 13, op);
    }

    /** Repeated ParametersItem: a Parameter (1) or a JsonReference (2). */
    private void parameters(ProtoWriter w, int field, JsonNode params) {
        if (params == null) {
            return;
        }
        for (JsonNode p : params) {
            w.message(field, item -> {
                if (p.has("$ref")) {
                    item.message(2, ref -> ref.string(1, text(p, "$ref")).string(2, text(p, "description")));
                } else {
                    item.message(1, param -> parameter(param, p));
                }
            });
        }
    }

    private void parameter(ProtoWriter w, JsonNode p) {
        String in = text(p, "in");
        if ("body".equals(in)) {
            w.message(1, b -> {
                b.string(1, text(p, "description")).string(2, text(p, "name")).string(3, in);
                b.bool(4, p.path("required").asBoolean(false));
                if (p.has("schema")) {
                    b.message(5, s -> schema(s, p.get("schema")));
                }
                vendorExtensions(b, 6, p);
            });
            return;
        }
        // NonBodyParameter: header (1), formData (2), query (3), path (4). Query and formData have
        // allow_empty_value at 5, which shifts every later field of header and path sub-schemas down by one.
        int oneof;
        boolean allowEmpty;
        switch (in == null ? "" : in) {
            case "header" -> { oneof = 1; allowEmpty = false; }
            case "formData" -> { oneof = 2; allowEmpty = true; }
            case "path" -> { oneof = 4; allowEmpty = false; }
            default -> { oneof = 3; allowEmpty = true; }
        }
        int s = allowEmpty ? 1 : 0;
        w.message(2, nb -> nb.message(oneof, sub -> {
            sub.bool(1, p.path("required").asBoolean(false)).string(2, in).string(3, text(p, "description"))
                    .string(4, text(p, "name"));
            if (allowEmpty) {
                sub.bool(5, p.path("allowEmptyValue").asBoolean(false));
            }
            sub.string(5 + s, text(p, "type")).string(6 + s, text(p, "format"));
            if (p.has("items")) {
                sub.message(7 + s, i -> primitivesItems(i, p.get("items")));
            }
            sub.string(8 + s, text(p, "collectionFormat"));
            any(sub, 9 + s, p.get("default"));
            validations(sub, 10 + s, p);
            vendorExtensions(sub, 21 + s, p);
        }));
    }

    /**
     * The run of validation fields shared by parameter sub-schemas, Header and PrimitivesItems, starting at maximum:
     * maximum, exclusive_maximum, minimum, exclusive_minimum, max_length, min_length, pattern, max_items, min_items,
     * unique_items, enum (repeated Any), multiple_of.
     */
    private void validations(ProtoWriter w, int first, JsonNode n) {
        w.dbl(first, n.path("maximum").asDouble(0)).bool(first + 1, n.path("exclusiveMaximum").asBoolean(false));
        w.dbl(first + 2, n.path("minimum").asDouble(0)).bool(first + 3, n.path("exclusiveMinimum").asBoolean(false));
        w.int64(first + 4, n.path("maxLength").asLong(0)).int64(first + 5, n.path("minLength").asLong(0));
        w.string(first + 6, text(n, "pattern"));
        w.int64(first + 7, n.path("maxItems").asLong(0)).int64(first + 8, n.path("minItems").asLong(0));
        w.bool(first + 9, n.path("uniqueItems").asBoolean(false));
        if (n.path("enum").isArray()) {
            for (JsonNode v : n.get("enum")) {
                anyAlways(w, first + 10, v);
            }
        }
        w.dbl(first + 11, n.path("multipleOf").asDouble(0));
    }

    private void primitivesItems(ProtoWriter w, JsonNode n) {
        w.string(1, text(n, "type")).string(2, text(n, "format"));
        if (n.has("items")) {
            w.message(3, i -> primitivesItems(i, n.get("items")));
        }
        w.string(4, text(n, "collectionFormat"));
        any(w, 5, n.get("default"));
        validations(w, 6, n);
        vendorExtensions(w, 18, n);
    }

    private void responseValue(ProtoWriter w, JsonNode r) {
        if (r.has("$ref")) {
            w.message(2, ref -> ref.string(1, text(r, "$ref")).string(2, text(r, "description")));
            return;
        }
        w.message(1, resp -> {
            resp.string(1, text(r, "description"));
            if (r.has("schema")) {
                resp.message(2, item -> item.message(1, s -> schema(s, r.get("schema")))); // SchemaItem.schema
            }
            vendorExtensions(resp, 5, r);
        });
    }

    /** gnostic's Schema message; see the class comment for what is left out. */
    private void schema(ProtoWriter w, JsonNode s) {
        w.string(1, text(s, "$ref")).string(2, text(s, "format")).string(3, text(s, "title"))
                .string(4, text(s, "description"));
        any(w, 5, s.get("default"));
        w.dbl(6, s.path("multipleOf").asDouble(0));
        w.dbl(7, s.path("maximum").asDouble(0)).bool(8, s.path("exclusiveMaximum").asBoolean(false));
        w.dbl(9, s.path("minimum").asDouble(0)).bool(10, s.path("exclusiveMinimum").asBoolean(false));
        w.int64(11, s.path("maxLength").asLong(0)).int64(12, s.path("minLength").asLong(0));
        w.string(13, text(s, "pattern"));
        w.int64(14, s.path("maxItems").asLong(0)).int64(15, s.path("minItems").asLong(0));
        w.bool(16, s.path("uniqueItems").asBoolean(false));
        w.int64(17, s.path("maxProperties").asLong(0)).int64(18, s.path("minProperties").asLong(0));
        strings(w, 19, s.get("required"));
        if (s.path("enum").isArray()) {
            for (JsonNode v : s.get("enum")) {
                anyAlways(w, 20, v);
            }
        }
        JsonNode additional = s.get("additionalProperties");
        if (additional != null) {
            if (additional.isBoolean()) {
                w.message(21, a -> a.boolAlways(2, additional.booleanValue()));
            } else if (additional.isObject()) {
                w.message(21, a -> a.message(1, sub -> schema(sub, additional)));
            }
        }
        JsonNode type = s.get("type");
        if (type != null && type.isTextual()) {
            w.message(22, t -> t.element(1, type.textValue()));
        } else if (type != null && type.isArray()) {
            w.message(22, t -> strings(t, 1, type));
        }
        JsonNode items = s.get("items");
        if (items != null && items.isObject()) {
            w.message(23, it -> it.message(1, sub -> schema(sub, items)));
        } else if (items != null && items.isArray()) {
            w.message(23, it -> items.forEach(i -> it.message(1, sub -> schema(sub, i))));
        }
        if (s.path("allOf").isArray()) {
            for (JsonNode a : s.get("allOf")) {
                w.message(24, sub -> schema(sub, a));
            }
        }
        if (s.path("properties").isObject()) {
            w.message(25, props -> {
                for (Map.Entry<String, JsonNode> e : s.get("properties").properties()) {
                    props.message(1, named(e.getKey(), sub -> schema(sub, e.getValue())));
                }
            });
        }
        w.string(26, text(s, "discriminator")).bool(27, s.path("readOnly").asBoolean(false));
        externalDocs(w, 29, s.get("externalDocs"));
        any(w, 30, s.get("example"));
        vendorExtensions(w, 31, s);
    }

    private void externalDocs(ProtoWriter w, int field, JsonNode docs) {
        if (docs != null && docs.isObject()) {
            w.message(field, d -> {
                d.string(1, text(docs, "description")).string(2, text(docs, "url"));
                vendorExtensions(d, 3, docs);
            });
        }
    }

    private static void securityRequirement(ProtoWriter w, JsonNode req) {
        for (Map.Entry<String, JsonNode> e : req.properties()) {
            w.message(1, named(e.getKey(), array -> strings(array, 1, e.getValue()))); // NamedStringArray
        }
    }

    /** SecurityDefinitionsItem.api_key_security, the only kind Kubernetes publishes (BearerToken). */
    private void apiKeySecurity(ProtoWriter w, JsonNode d) {
        w.message(2, k -> {
            k.string(1, text(d, "type")).string(2, text(d, "name")).string(3, text(d, "in"))
                    .string(4, text(d, "description"));
            vendorExtensions(k, 5, d);
        });
    }

    /** Every {@code x-} key of {@code n} as a repeated NamedAny. */
    private void vendorExtensions(ProtoWriter w, int field, JsonNode n) {
        for (Map.Entry<String, JsonNode> e : n.properties()) {
            if (e.getKey().startsWith("x-")) {
                String yaml = yaml(e.getValue());
                w.message(field, named -> named.string(1, e.getKey()).message(2, a -> a.string(2, yaml)));
            }
        }
    }

    /** An optional Any (e.g. default): written only when the JSON has the key. */
    private void any(ProtoWriter w, int field, JsonNode value) {
        if (value != null && !value.isMissingNode()) {
            anyAlways(w, field, value);
        }
    }

    private void anyAlways(ProtoWriter w, int field, JsonNode value) {
        String yaml = yaml(value);
        w.message(field, a -> a.string(2, yaml));
    }

    /** The YAML text gnostic would store for this value, e.g. "group: apps\nkind: Deployment\nversion: v1\n". */
    private String yaml(JsonNode value) {
        return yamlCache.computeIfAbsent(value, v -> {
            try {
                return YAML.writeValueAsString(v);
            } catch (JsonProcessingException e) {
                throw new IllegalStateException(e);
            }
        });
    }

    /** The body of a Named* message: name (1) and value (2). */
    private static Consumer<ProtoWriter> named(String name, Consumer<ProtoWriter> value) {
        return w -> w.string(1, name).message(2, value);
    }

    private static void strings(ProtoWriter w, int field, JsonNode array) {
        if (array != null && array.isArray()) {
            for (JsonNode v : array) {
                if (v.isTextual()) {
                    w.element(field, v.textValue());
                }
            }
        }
    }

    private static String text(JsonNode n, String key) {
        JsonNode v = n.get(key);
        return v != null && v.isTextual() ? v.textValue() : null;
    }
}
