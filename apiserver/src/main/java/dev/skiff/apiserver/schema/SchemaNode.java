package dev.skiff.apiserver.schema;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * One position in a schema: a definition root, or a property / items / additionalProperties schema reached by
 * navigation. A node keeps the schema <em>as written at that position</em>, because the patch extensions
 * ({@code x-kubernetes-patch-merge-key}, {@code x-kubernetes-list-type}, ...) sit on the property, not on the
 * definition it references; {@code $ref} and single-element {@code allOf} (how upstream attaches a description
 * to a reference) are followed only when reading the type or navigating further.
 *
 * <p>This is also the adapter for strategic merge patch and server-side apply: {@link #patchStrategy()},
 * {@link #patchMergeKey()}, {@link #listType()}, {@link #listMapKeys()} plus navigation are all they need.
 */
public final class SchemaNode {
    private static final int MAX_REF_DEPTH = 32;

    private final ApiSchemas schemas;
    private final String definition; // name of the definition this node is the root of, else null
    private final JsonNode node;

    SchemaNode(ApiSchemas schemas, String definition, JsonNode node) {
        this.schemas = schemas;
        this.definition = definition;
        this.node = node;
    }

    /** A node for a schema found inside this one (same registry, for $ref resolution). */
    SchemaNode child(JsonNode schema) {
        return new SchemaNode(schemas, null, schema);
    }

    /** The definition name when this node is a definition root or a plain reference to one; else empty. */
    public Optional<String> definitionName() {
        if (definition != null) {
            return Optional.of(definition);
        }
        String ref = refOf(node);
        return Optional.ofNullable(ref);
    }

    /** The schema JSON at this position (shared: do not modify). */
    public JsonNode json() {
        return node;
    }

    /** The schema after following {@code $ref}/{@code allOf} (shared: do not modify). */
    public JsonNode resolvedJson() {
        JsonNode n = node;
        for (int i = 0; i < MAX_REF_DEPTH; i++) {
            String ref = refOf(n);
            if (ref == null) {
                return n;
            }
            JsonNode target = schemas.raw(ref);
            if (target == null) {
                return n;
            }
            n = target;
        }
        return n;
    }

    /** The definition name the schema resolves to (for error messages: {@code DeploymentSpec}), or empty. */
    public Optional<String> resolvedDefinitionName() {
        String name = definition;
        JsonNode n = node;
        for (int i = 0; i < MAX_REF_DEPTH; i++) {
            String ref = refOf(n);
            if (ref == null || schemas.raw(ref) == null) {
                break;
            }
            name = ref;
            n = schemas.raw(ref);
        }
        return Optional.ofNullable(name);
    }

    /** "object", "array", "string", "integer", "number", "boolean", or empty when the schema does not say. */
    public Optional<String> type() {
        JsonNode t = resolvedJson().get("type");
        return t != null && t.isTextual() ? Optional.of(t.textValue()) : Optional.empty();
    }

    /** e.g. "int32", "int64", "date-time", "byte", "int-or-string", "quantity". */
    public Optional<String> format() {
        return text(resolvedJson(), "format");
    }

    /** The description at this position, falling back to the referenced definition's. */
    public Optional<String> description() {
        Optional<String> own = text(node, "description");
        return own.isPresent() ? own : text(resolvedJson(), "description");
    }

    /** The schema of a property, if declared. */
    public Optional<SchemaNode> field(String name) {
        JsonNode p = resolvedJson().path("properties").get(name);
        return p == null || !p.isObject() ? Optional.empty() : Optional.of(new SchemaNode(schemas, null, p));
    }

    /** Declared property names, in schema order. */
    public Set<String> fieldNames() {
        Set<String> out = new LinkedHashSet<>();
        resolvedJson().path("properties").properties().forEach(e -> out.add(e.getKey()));
        return out;
    }

    /** Required property names. */
    public List<String> required() {
        List<String> out = new ArrayList<>();
        resolvedJson().path("required").forEach(n -> out.add(n.asText()));
        return Collections.unmodifiableList(out);
    }

    /** The schema of array elements. */
    public Optional<SchemaNode> items() {
        JsonNode i = resolvedJson().get("items");
        return i == null || !i.isObject() ? Optional.empty() : Optional.of(new SchemaNode(schemas, null, i));
    }

    /** The schema of map values ({@code additionalProperties} as an object; {@code true} gives an empty schema). */
    public Optional<SchemaNode> additionalProperties() {
        JsonNode a = resolvedJson().get("additionalProperties");
        if (a == null || a.isBoolean() && !a.booleanValue()) {
            return Optional.empty();
        }
        return Optional.of(new SchemaNode(schemas, null, a.isObject() ? a : ApiSchemas.MAPPER.createObjectNode()));
    }

    /**
     * Navigates a dotted path from here: {@code "spec.template.spec.containers[].ports"}; {@code []} steps into
     * array items, {@code {}} into map values.
     */
    public Optional<SchemaNode> find(String path) {
        Optional<SchemaNode> cur = Optional.of(this);
        for (String seg : path.split("\\.")) {
            String name = seg;
            List<String> suffixes = new ArrayList<>();
            while (name.endsWith("[]") || name.endsWith("{}")) {
                suffixes.addFirst(name.substring(name.length() - 2));
                name = name.substring(0, name.length() - 2);
            }
            if (!name.isEmpty()) {
                String n = name;
                cur = cur.flatMap(s -> s.field(n));
            }
            for (String s : suffixes) {
                cur = s.equals("[]") ? cur.flatMap(SchemaNode::items) : cur.flatMap(SchemaNode::additionalProperties);
            }
        }
        return cur;
    }

    /** {@code x-kubernetes-patch-strategy}, e.g. "merge", "retainKeys", "merge,retainKeys". */
    public Optional<String> patchStrategy() {
        return text(node, "x-kubernetes-patch-strategy");
    }

    /** Whether the comma-separated patch strategy contains {@code strategy} ("merge", "retainKeys", "replace"). */
    public boolean hasPatchStrategy(String strategy) {
        return patchStrategy().map(s -> List.of(s.split(",")).contains(strategy)).orElse(false);
    }

    /** {@code x-kubernetes-patch-merge-key}, e.g. "name" for {@code PodSpec.containers}. */
    public Optional<String> patchMergeKey() {
        return text(node, "x-kubernetes-patch-merge-key");
    }

    /**
     * {@code x-kubernetes-list-type}: "atomic", "set" or "map". Empty when unspecified, which server-side apply
     * treats as atomic.
     */
    public Optional<String> listType() {
        Optional<String> own = text(node, "x-kubernetes-list-type");
        return own.isPresent() ? own : text(resolvedJson(), "x-kubernetes-list-type");
    }

    /** {@code x-kubernetes-list-map-keys} of a map-type list, e.g. [containerPort, protocol]. */
    public List<String> listMapKeys() {
        JsonNode keys = node.get("x-kubernetes-list-map-keys");
        if (keys == null) {
            keys = resolvedJson().path("x-kubernetes-list-map-keys");
        }
        List<String> out = new ArrayList<>();
        keys.forEach(k -> out.add(k.asText()));
        return Collections.unmodifiableList(out);
    }

    /** {@code x-kubernetes-preserve-unknown-fields: true}, here or on the referenced definition. */
    public boolean preservesUnknownFields() {
        return node.path("x-kubernetes-preserve-unknown-fields").asBoolean(false)
                || resolvedJson().path("x-kubernetes-preserve-unknown-fields").asBoolean(false);
    }

    /** {@code x-kubernetes-int-or-string: true} (IntOrString; Quantity is marked the same way). */
    public boolean isIntOrString() {
        return resolvedJson().path("x-kubernetes-int-or-string").asBoolean(false);
    }

    @Override
    public String toString() {
        return "SchemaNode[" + definitionName().orElse("<inline>") + "]";
    }

    static String refOf(JsonNode n) {
        JsonNode ref = n.get("$ref");
        if (ref == null) {
            JsonNode allOf = n.get("allOf");
            if (allOf != null && allOf.isArray() && allOf.size() == 1) {
                ref = allOf.get(0).get("$ref");
            }
        }
        if (ref == null || !ref.isTextual() || !ref.textValue().startsWith(ApiSchemas.REF_PREFIX)) {
            return null;
        }
        return ref.textValue().substring(ApiSchemas.REF_PREFIX.length());
    }

    private static Optional<String> text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v != null && v.isTextual() ? Optional.of(v.textValue()) : Optional.empty();
    }
}
