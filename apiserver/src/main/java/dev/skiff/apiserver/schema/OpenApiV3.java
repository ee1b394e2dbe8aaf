package dev.skiff.apiserver.schema;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * Builds the {@code /openapi/v3} index and one OpenAPI 3.0 document per served group-version.
 *
 * <p>What kubectl relies on (shared/reference/kubectl-compat.md §1.4): every PATCH operation carries
 * {@code x-kubernetes-group-version-kind} and a {@code fieldValidation} query parameter (so {@code apply} and
 * {@code create -f} leave validation to the server, {@code cli-runtime pkg/resource/query_param_verifier_v3.go}), its
 * requestBody lists the four patch media types (client-side apply picks SMP from that,
 * {@code kubectl pkg/cmd/apply/patcher.go}), and {@code components.schemas} holds the kinds with their GVK and
 * descriptions plus everything they reference ({@code kubectl explain}).
 *
 * <p>Documents are serialised once per content change: {@link #snapshot} memoises on the resource list and
 * {@link ApiSchemas#generation()}. The hash in each {@code serverRelativeURL} is the upper-case hex SHA-512 of the
 * document bytes, as kube-openapi's {@code handler3} computes its ETag.
 */
public final class OpenApiV3 {
    private static final List<String> PATCH_TYPES = List.of("application/apply-patch+yaml", "application/json-patch+json",
            "application/merge-patch+json", "application/strategic-merge-patch+json");
    private static final List<String> RESPONSE_TYPES = List.of("application/json", "application/yaml",
            "application/vnd.kubernetes.protobuf");
    private static final String META = "io.k8s.apimachinery.pkg.apis.meta.v1.";

    private final ApiSchemas schemas;
    private final String kubernetesVersion;
    private Snapshot last; // guarded by this

    /** @param kubernetesVersion the {@code info.version} of documents, e.g. "v1.32.4" */
    public OpenApiV3(ApiSchemas schemas, String kubernetesVersion) {
        this.schemas = schemas;
        this.kubernetesVersion = kubernetesVersion;
    }

    /** The index and documents for these resources; the same instance while neither they nor the schemas change. */
    public synchronized Snapshot snapshot(List<ServedResource> resources) {
        long generation = schemas.generation();
        if (last != null && last.generation == generation && last.resources.equals(resources)) {
            return last;
        }
        last = build(List.copyOf(resources), generation);
        return last;
    }

    /** Immutable serialised documents. Byte arrays are shared: do not modify them. */
    public static final class Snapshot {
        private final List<ServedResource> resources;
        private final long generation;
        private final Map<String, byte[]> documents;
        private final Map<String, String> hashes;
        private final byte[] index;

        private Snapshot(List<ServedResource> resources, long generation, Map<String, byte[]> documents,
                         Map<String, String> hashes, byte[] index) {
            this.resources = resources;
            this.generation = generation;
            this.documents = documents;
            this.hashes = hashes;
            this.index = index;
        }

        /** {@code {"paths":{"api/v1":{"serverRelativeURL":"/openapi/v3/api/v1?hash=..."},...}}} */
        public byte[] index() {
            return index;
        }

        /** The document for "api/v1" or "apis/apps/v1". */
        public Optional<byte[]> document(String groupVersionPath) {
            return Optional.ofNullable(documents.get(groupVersionPath));
        }

        /** The hash in the index for that document (also usable as its ETag). */
        public Optional<String> hash(String groupVersionPath) {
            return Optional.ofNullable(hashes.get(groupVersionPath));
        }

        /** The group-version paths, sorted. */
        public Set<String> groupVersionPaths() {
            return documents.keySet();
        }
    }

    private Snapshot build(List<ServedResource> resources, long generation) {
        Map<String, List<ServedResource>> byGv = new TreeMap<>();
        for (ServedResource r : resources) {
            byGv.computeIfAbsent(r.groupVersionPath(), k -> new ArrayList<>()).add(r);
        }
        Map<String, byte[]> docs = new TreeMap<>();
        Map<String, String> hashes = new TreeMap<>();
        ObjectNode index = ApiSchemas.MAPPER.createObjectNode();
        ObjectNode paths = index.putObject("paths");
        for (Map.Entry<String, List<ServedResource>> e : byGv.entrySet()) {
            byte[] doc = serialize(document(e.getKey(), e.getValue()));
            String hash = sha512(doc);
            docs.put(e.getKey(), doc);
            hashes.put(e.getKey(), hash);
            paths.putObject(e.getKey()).put("serverRelativeURL", "/openapi/v3/" + e.getKey() + "?hash=" + hash);
        }
        return new Snapshot(resources, generation, Collections.unmodifiableMap(docs), Collections.unmodifiableMap(hashes),
                serialize(index));
    }

    /** The document of one group-version; {@link OpenApiV2} converts these trees. */
    ObjectNode document(String gvPath, List<ServedResource> resources) {
        ObjectNode doc = ApiSchemas.MAPPER.createObjectNode();
        doc.put("openapi", "3.0.0");
        doc.putObject("info").put("title", "Kubernetes").put("version", kubernetesVersion);
        ObjectNode paths = doc.putObject("paths");
        Set<String> roots = new LinkedHashSet<>(List.of(META + "Status", META + "DeleteOptions", META + "Patch"));
        Map<String, ObjectNode> inlineKinds = new LinkedHashMap<>();
        for (ServedResource r : resources) {
            new ResourcePaths(r, gvPath, roots, inlineKinds).addTo(paths);
        }
        ObjectNode components = doc.putObject("components").putObject("schemas");
        for (String name : schemas.closure(roots)) {
            components.set(name, schemas.raw(name));
        }
        inlineKinds.forEach(components::set);
        return doc;
    }

    /** The paths and operations of one resource. */
    private final class ResourcePaths {
        private final ServedResource r;
        private final String base;
        private final String tag;
        private final String opSuffix;
        private final Set<String> roots;
        private final Map<String, ObjectNode> inlineKinds;

        ResourcePaths(ServedResource r, String gvPath, Set<String> roots, Map<String, ObjectNode> inlineKinds) {
            this.r = r;
            this.base = "/" + gvPath + (r.namespaced() ? "/namespaces/{namespace}/" : "/") + r.plural();
            String groupCamel = r.group().isEmpty() ? "Core" : camel(r.group().replace(".k8s.io", ""));
            String versionCamel = Character.toUpperCase(r.version().charAt(0)) + r.version().substring(1);
            this.tag = Character.toLowerCase(groupCamel.charAt(0)) + groupCamel.substring(1) + "_" + r.version();
            this.opSuffix = groupCamel + versionCamel + (r.namespaced() ? "Namespaced" : "") + r.kind();
            this.roots = roots;
            this.inlineKinds = inlineKinds;
        }

        void addTo(ObjectNode paths) {
            String kindRef = schemaRef(r.group(), r.version(), r.kind());
            String listRef = schemaRef(r.group(), r.version(), r.kind() + "List");
            ObjectNode gvk = gvk(r.group(), r.version(), r.kind());

            ObjectNode collection = ApiSchemas.MAPPER.createObjectNode();
            if (has("list")) {
                ObjectNode op = op(collection, "get", "list or watch objects of kind " + r.kind(), "list" + opSuffix, "list", gvk);
                query(op, "allowWatchBookmarks", "boolean", "continue", "string", "fieldSelector", "string",
                        "labelSelector", "string", "limit", "integer", "resourceVersion", "string",
                        "resourceVersionMatch", "string", "sendInitialEvents", "boolean", "timeoutSeconds", "integer",
                        "watch", "boolean");
                respond(op, "200", listRef);
            }
            if (has("create")) {
                ObjectNode op = op(collection, "post", "create " + article(r.kind()), "create" + opSuffix, "post", gvk);
                query(op, "dryRun", "string", "fieldManager", "string", "fieldValidation", "string");
                body(op, List.of("application/json", "application/yaml", "application/vnd.kubernetes.protobuf"), kindRef);
                respond(op, "200", kindRef);
                respond(op, "201", kindRef);
                respond(op, "202", kindRef);
            }
            if (has("deletecollection")) {
                ObjectNode op = op(collection, "delete", "delete collection of " + r.kind(), "deleteCollection" + opSuffix, "deletecollection", gvk);
                query(op, "continue", "string", "dryRun", "string", "fieldSelector", "string", "gracePeriodSeconds", "integer",
                        "ignoreStoreReadErrorWithClusterBreakingPotential", "boolean", "labelSelector", "string",
                        "limit", "integer", "orphanDependents", "boolean", "propagationPolicy", "string",
                        "resourceVersion", "string", "resourceVersionMatch", "string", "sendInitialEvents", "boolean",
                        "timeoutSeconds", "integer");
                body(op, List.of("application/json", "application/yaml"), ref(META + "DeleteOptions"));
                respond(op, "200", ref(META + "Status"));
            }
            finish(paths, base, collection, false);

            ObjectNode item = ApiSchemas.MAPPER.createObjectNode();
            if (has("get")) {
                respond(op(item, "get", "read the specified " + r.kind(), "read" + opSuffix, "get", gvk), "200", kindRef);
            }
            if (has("update")) {
                replaceOp(item, "replace the specified " + r.kind(), "replace" + opSuffix, gvk, kindRef);
            }
            if (has("patch")) {
                patchOp(item, "partially update the specified " + r.kind(), "patch" + opSuffix, gvk, kindRef);
            }
            if (has("delete")) {
                ObjectNode op = op(item, "delete", "delete " + article(r.kind()), "delete" + opSuffix, "delete", gvk);
                query(op, "dryRun", "string", "gracePeriodSeconds", "integer",
                        "ignoreStoreReadErrorWithClusterBreakingPotential", "boolean", "orphanDependents", "boolean",
                        "propagationPolicy", "string");
                body(op, List.of("application/json", "application/yaml"), ref(META + "DeleteOptions"));
                respond(op, "200", kindRef);
                respond(op, "202", kindRef);
            }
            finish(paths, base + "/{name}", item, true);

            for (String sub : r.subresources()) {
                subresource(paths, sub, gvk, kindRef);
            }
        }

        private void subresource(ObjectNode paths, String sub, ObjectNode gvk, String kindRef) {
            String suffix = opSuffix + camel(sub);
            ObjectNode item = ApiSchemas.MAPPER.createObjectNode();
            switch (sub) {
                case "status", "ephemeralcontainers", "resize" -> {
                    String what = sub + " of the specified " + r.kind();
                    respond(op(item, "get", "read " + what, "read" + suffix, "get", gvk), "200", kindRef);
                    replaceOp(item, "replace " + what, "replace" + suffix, gvk, kindRef);
                    patchOp(item, "partially update " + what, "patch" + suffix, gvk, kindRef);
                }
                case "scale" -> {
                    ObjectNode scaleGvk = gvk("autoscaling", "v1", "Scale");
                    String scaleRef = schemaRef("autoscaling", "v1", "Scale");
                    String what = "scale of the specified " + r.kind();
                    respond(op(item, "get", "read " + what, "read" + suffix, "get", scaleGvk), "200", scaleRef);
                    replaceOp(item, "replace " + what, "replace" + suffix, scaleGvk, scaleRef);
                    patchOp(item, "partially update " + what, "patch" + suffix, scaleGvk, scaleRef);
                }
                case "eviction", "binding", "token" -> {
                    ObjectNode subGvk = switch (sub) {
                        case "eviction" -> gvk("policy", "v1", "Eviction");
                        case "binding" -> gvk("", "v1", "Binding");
                        default -> gvk("authentication.k8s.io", "v1", "TokenRequest");
                    };
                    String subRef = schemaRef(subGvk.get("group").asText(), "v1", subGvk.get("kind").asText());
                    ObjectNode op = op(item, "post", "create " + sub + " of " + article(r.kind()), "create" + suffix, "post", subGvk);
                    query(op, "dryRun", "string", "fieldManager", "string", "fieldValidation", "string");
                    body(op, List.of("application/json", "application/yaml", "application/vnd.kubernetes.protobuf"), subRef);
                    respond(op, "200", subRef);
                    respond(op, "201", subRef);
                    respond(op, "202", subRef);
                }
                case "log" -> {
                    ObjectNode op = op(item, "get", "read log of the specified " + r.kind(), "read" + suffix, "get", gvk);
                    query(op, "container", "string", "follow", "boolean", "limitBytes", "integer", "previous", "boolean",
                            "sinceSeconds", "integer", "tailLines", "integer", "timestamps", "boolean");
                    op.putObject("responses").putObject("200").put("description", "OK").putObject("content")
                            .putObject("text/plain").putObject("schema").put("type", "string");
                }
                default -> {
                    return; // exec, attach, portforward, proxy: streaming, not described
                }
            }
            finish(paths, base + "/{name}/" + sub, item, true);
        }

        private void replaceOp(ObjectNode item, String description, String opId, ObjectNode gvk, String ref) {
            ObjectNode op = op(item, "put", description, opId, "put", gvk);
            query(op, "dryRun", "string", "fieldManager", "string", "fieldValidation", "string");
            body(op, List.of("application/json", "application/yaml", "application/vnd.kubernetes.protobuf"), ref);
            respond(op, "200", ref);
            respond(op, "201", ref);
        }

        private void patchOp(ObjectNode item, String description, String opId, ObjectNode gvk, String ref) {
            ObjectNode op = op(item, "patch", description, opId, "patch", gvk);
            query(op, "dryRun", "string", "fieldManager", "string", "fieldValidation", "string", "force", "boolean");
            // Custom resources take no strategic merge patch (apiextensions-apiserver's builder lists
            // three types), which is how kubectl apply knows to send a merge patch.
            body(op, schemas.isRegisteredKind(r.group(), r.version(), r.kind()) ? PATCH_TYPES.subList(0, 3) : PATCH_TYPES,
                    ref(META + "Patch"));
            respond(op, "200", ref);
            respond(op, "201", ref);
        }

        private ObjectNode op(ObjectNode pathItem, String method, String description, String opId, String action, ObjectNode gvk) {
            ObjectNode op = pathItem.putObject(method);
            op.putArray("tags").add(tag);
            op.put("description", description);
            op.put("operationId", opId);
            op.putArray("parameters");
            op.put("x-kubernetes-action", action);
            op.set("x-kubernetes-group-version-kind", gvk.deepCopy());
            return op;
        }

        /** Common path parameters go on the path item, as upstream does; operation-specific ones stay on the operation. */
        private void finish(ObjectNode paths, String path, ObjectNode item, boolean named) {
            if (item.isEmpty()) {
                return;
            }
            ArrayNode params = item.putArray("parameters");
            if (named) {
                params.add(param("name", "path", "name of the " + r.kind(), "string", true));
            }
            if (r.namespaced()) {
                params.add(param("namespace", "path", "object name and auth scope, such as for teams and projects", "string", true));
            }
            params.add(param("pretty", "query", "If 'true', then the output is pretty printed.", "string", false));
            paths.set(path, item);
        }

        private boolean has(String verb) {
            return r.verbs().contains(verb);
        }

        private String schemaRef(String group, String version, String kind) {
            Optional<String> name = schemas.definitionName(group, version, kind);
            if (name.isPresent()) {
                roots.add(name.get());
                return ref(name.get());
            }
            // A kind without a registered schema (e.g. a CRD before its schema is known) still gets a named,
            // GVK-tagged placeholder so that explain and the patch verifier find it.
            String synthetic = (group.isEmpty() ? "core" : group) + "." + version + "." + kind;
            ObjectNode s = ApiSchemas.MAPPER.createObjectNode();
            s.put("type", "object");
            s.put("x-kubernetes-preserve-unknown-fields", true);
            s.putArray("x-kubernetes-group-version-kind").add(gvk(group, version, kind));
            inlineKinds.put(synthetic, s);
            return ref(synthetic);
        }
    }

    private static ObjectNode gvk(String group, String version, String kind) {
        ObjectNode n = ApiSchemas.MAPPER.createObjectNode();
        n.put("group", group).put("kind", kind).put("version", version);
        return n;
    }

    private static String ref(String definition) {
        return ApiSchemas.REF_PREFIX + definition;
    }

    private static void query(ObjectNode op, String... nameTypePairs) {
        ArrayNode params = (ArrayNode) op.get("parameters");
        for (int i = 0; i < nameTypePairs.length; i += 2) {
            params.add(param(nameTypePairs[i], "query", QueryDocs.of(nameTypePairs[i]), nameTypePairs[i + 1], false));
        }
    }

    private static ObjectNode param(String name, String in, String description, String type, boolean required) {
        ObjectNode p = ApiSchemas.MAPPER.createObjectNode();
        p.put("name", name).put("in", in).put("description", description);
        if (required) {
            p.put("required", true);
        }
        p.putObject("schema").put("type", type).put("uniqueItems", true);
        return p;
    }

    private static void body(ObjectNode op, List<String> mediaTypes, String ref) {
        ObjectNode content = op.putObject("requestBody").putObject("content");
        for (String t : mediaTypes) {
            content.putObject(t).putObject("schema").put("$ref", ref);
        }
        ((ObjectNode) op.get("requestBody")).put("required", true);
    }

    private static void respond(ObjectNode op, String code, String ref) {
        ObjectNode responses = op.has("responses") ? (ObjectNode) op.get("responses") : op.putObject("responses");
        ObjectNode content = responses.putObject(code).put("description", code.equals("200") ? "OK"
                : code.equals("201") ? "Created" : "Accepted").putObject("content");
        for (String t : RESPONSE_TYPES) {
            content.putObject(t).putObject("schema").put("$ref", ref);
        }
        if (!responses.has("401")) {
            responses.putObject("401").put("description", "Unauthorized");
        }
    }

    private static String camel(String dotted) {
        StringBuilder b = new StringBuilder();
        for (String part : dotted.split("[.\\-]")) {
            if (!part.isEmpty()) {
                b.append(Character.toUpperCase(part.charAt(0))).append(part.substring(1));
            }
        }
        return b.toString();
    }

    private static String article(String kind) {
        return ("AEIOU".indexOf(kind.charAt(0)) >= 0 ? "an " : "a ") + kind;
    }

    private static byte[] serialize(ObjectNode n) {
        try {
            return ApiSchemas.MAPPER.writeValueAsBytes(n);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    static String sha512(byte[] data) {
        try {
            return HexFormat.of().withUpperCase().formatHex(MessageDigest.getInstance("SHA-512").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Short descriptions of query parameters (abridged from upstream's). */
    private static final class QueryDocs {
        private static final Map<String, String> DOCS = Map.ofEntries(
                Map.entry("dryRun", "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed"),
                Map.entry("fieldManager", "fieldManager is a name associated with the actor or entity that is making these changes."),
                Map.entry("fieldValidation", "fieldValidation instructs the server on how to handle objects in the request (POST/PUT/PATCH) containing unknown or duplicate fields. Valid values are: - Ignore: This will ignore any unknown fields that are silently dropped from the object, and will ignore all but the last duplicate field that the decoder encounters. - Warn: This will send a warning via the standard warning response header for each unknown field that is dropped from the object, and for each duplicate field that is encountered. - Strict: This will fail the request with a BadRequest error if any unknown fields would be dropped from the object, or if any duplicate fields are present. The error returned from the server will contain all unknown and duplicate fields encountered."),
                Map.entry("force", "Force is going to \"force\" Apply requests. It means user will re-acquire conflicting fields owned by other people. Force flag must be unset for non-apply patch requests."),
                Map.entry("labelSelector", "A selector to restrict the list of returned objects by their labels. Defaults to everything."),
                Map.entry("fieldSelector", "A selector to restrict the list of returned objects by their fields. Defaults to everything."),
                Map.entry("limit", "limit is a maximum number of responses to return for a list call."),
                Map.entry("continue", "The continue option should be set when retrieving more results from the server."),
                Map.entry("resourceVersion", "resourceVersion sets a constraint on what resource versions a request may be served from."),
                Map.entry("resourceVersionMatch", "resourceVersionMatch determines how resourceVersion is applied to list calls."),
                Map.entry("watch", "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications."),
                Map.entry("allowWatchBookmarks", "allowWatchBookmarks requests watch events with type \"BOOKMARK\"."),
                Map.entry("sendInitialEvents", "`sendInitialEvents=true` may be set together with `watch=true`."),
                Map.entry("timeoutSeconds", "Timeout for the list/watch call."),
                Map.entry("gracePeriodSeconds", "The duration in seconds before the object should be deleted."),
                Map.entry("orphanDependents", "Deprecated: please use the PropagationPolicy, this field will be deprecated in 1.7."),
                Map.entry("propagationPolicy", "Whether and how garbage collection will be performed: 'Orphan', 'Background' or 'Foreground'."));

        static String of(String name) {
            return DOCS.getOrDefault(name, name);
        }
    }
}
