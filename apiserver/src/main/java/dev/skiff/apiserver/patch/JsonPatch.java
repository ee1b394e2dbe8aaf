package dev.skiff.apiserver.patch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.regex.Pattern;

/**
 * RFC 6902 JSON patch ({@code application/json-patch+json}) with the semantics of the library
 * kube-apiserver uses, {@code gopkg.in/evanphx/json-patch.v4} (v4.12.0, {@code patch.go}).
 *
 * <p>Where v4 deviates from the RFC we follow v4, because that is what a Kubernetes client observes:
 * <ul>
 *   <li>{@code replace} of a missing <em>object member</em> succeeds and adds it (v4's
 *       {@code partialDoc.get} never reports a missing key; evanphx/json-patch#119, #204). A missing
 *       array index or a missing parent fails.</li>
 *   <li>{@code test} against a missing member succeeds iff the expected value is {@code null}.</li>
 *   <li>Negative array indices count from the end ({@code SupportNegativeIndices = true}).</li>
 *   <li>{@code copy} from a missing object member copies {@code null}.</li>
 *   <li>The root pointer {@code ""} is not addressable ({@code findObject} needs at least one
 *       {@code /}); paths are split on {@code /} and the first segment is ignored, as v4 does.</li>
 * </ul>
 * Error messages are v4's ({@code pkg/errors} wrapping, hence the {@code ": missing value"} suffixes).
 * The API server does not send them to clients (it answers 422 with a generic message, see
 * {@link PatchException}); they are for logs and tests.
 */
public final class JsonPatch {

    /** kube-apiserver's limit ({@code handlers/patch.go maxJSONPatchOperations}). */
    public static final int MAX_OPERATIONS = 10_000;

    private static final JsonNodeFactory F = JsonNodeFactory.instance;
    private static final Pattern GO_INT = Pattern.compile("[+-]?[0-9]+");
    private static final String MISSING = "missing value";

    private JsonPatch() {}

    /**
     * Decodes a patch body. Anything but a JSON array of objects is 400 BadRequest, as
     * {@code jsonpatch.DecodePatch} failures are.
     */
    public static ArrayNode parse(byte[] body) {
        return checkShape(Go.parse(body));
    }

    /** Decodes and applies; see {@link #apply(JsonNode, JsonNode)}. */
    public static JsonNode apply(JsonNode document, byte[] patch) {
        return apply(document, parse(patch));
    }

    /**
     * Applies the operations in order to a copy of {@code document}.
     *
     * @throws PatchException BAD_REQUEST if the patch is not an array of objects,
     *     REQUEST_ENTITY_TOO_LARGE beyond {@link #MAX_OPERATIONS}, INVALID if an operation does not apply
     */
    public static JsonNode apply(JsonNode document, JsonNode patch) {
        ArrayNode ops = checkShape(patch);
        if (ops.size() > MAX_OPERATIONS) {
            throw new PatchException(PatchException.Kind.REQUEST_ENTITY_TOO_LARGE,
                    "The allowed maximum operations in a JSON patch is " + MAX_OPERATIONS + ", got " + ops.size());
        }
        if (document == null || !(document.isObject() || document.isArray())) {
            throw new IllegalArgumentException("document must be a JSON object or array");
        }
        JsonNode doc = document.deepCopy();
        for (JsonNode op : ops) {
            String kind = textField(op, "op");
            switch (kind == null ? "unknown" : kind) {
                case "add" -> add(doc, op);
                case "remove" -> remove(doc, op);
                case "replace" -> replace(doc, op);
                case "move" -> move(doc, op);
                case "test" -> test(doc, op);
                case "copy" -> copy(doc, op);
                default -> throw PatchException.invalid("Unexpected kind: " + (kind == null ? "unknown" : kind));
            }
        }
        return doc;
    }

    private static ArrayNode checkShape(JsonNode patch) {
        if (patch == null || patch.isNull()) {
            // json.Unmarshal of null into a slice yields an empty patch.
            return F.arrayNode();
        }
        if (!patch.isArray()) {
            throw PatchException.badRequest("json: cannot unmarshal " + jsonKind(patch)
                    + " into Go value of type jsonpatch.Patch");
        }
        for (JsonNode op : patch) {
            if (!op.isObject() && !op.isNull()) {
                throw PatchException.badRequest("json: cannot unmarshal " + jsonKind(op)
                        + " into Go value of type jsonpatch.Operation");
            }
        }
        return (ArrayNode) patch;
    }

    private static String jsonKind(JsonNode n) {
        if (n.isObject()) {
            return "object";
        }
        if (n.isArray()) {
            return "array";
        }
        if (n.isNumber()) {
            return "number";
        }
        if (n.isBoolean()) {
            return "bool";
        }
        return "string";
    }

    // ---- operation fields -------------------------------------------------------------------

    /** Operation.Kind/Path/From: the string value, or null if absent, null or not a string. */
    private static String textField(JsonNode op, String name) {
        JsonNode v = op.get(name);
        return v != null && v.isTextual() ? v.textValue() : null;
    }

    /** Error text of Operation.Path()/From() when the field cannot be decoded. */
    private static String fieldError(JsonNode op, String name) {
        JsonNode v = op.get(name);
        if (v == null || v.isNull()) {
            return name.equals("path") ? "operation missing path field: " + MISSING
                    : "operation, missing from field: " + MISSING;
        }
        return "json: cannot unmarshal " + jsonKind(v) + " into Go value of type string";
    }

    /** Operation.value(): absent and null both decode to a nil node. */
    private static JsonNode value(JsonNode op) {
        JsonNode v = op.get("value");
        return v == null ? NullNode.getInstance() : v.deepCopy();
    }

    // ---- operations (evanphx/json-patch v4 patch.go) -----------------------------------------

    private static void add(JsonNode doc, JsonNode op) {
        String path = textField(op, "path");
        if (path == null) {
            throw PatchException.invalid("add operation failed to decode path: " + MISSING);
        }
        Container con = findObject(doc, path);
        if (con == null) {
            throw PatchException.invalid("add operation does not apply: doc is missing path: \"" + path + "\": " + MISSING);
        }
        String err = con.add(value(op));
        if (err != null) {
            throw PatchException.invalid("error in add for path: '" + path + "': " + err);
        }
    }

    private static void remove(JsonNode doc, JsonNode op) {
        String path = textField(op, "path");
        if (path == null) {
            throw PatchException.invalid("remove operation failed to decode path: " + MISSING);
        }
        Container con = findObject(doc, path);
        if (con == null) {
            throw PatchException.invalid("remove operation does not apply: doc is missing path: \"" + path + "\": " + MISSING);
        }
        String err = con.remove();
        if (err != null) {
            throw PatchException.invalid("error in remove for path: '" + path + "': " + err);
        }
    }

    private static void replace(JsonNode doc, JsonNode op) {
        String path = textField(op, "path");
        if (path == null) {
            throw PatchException.invalid("replace operation failed to decode path: " + fieldError(op, "path"));
        }
        Container con = findObject(doc, path);
        if (con == null) {
            throw PatchException.invalid("replace operation does not apply: doc is missing path: " + path + ": " + MISSING);
        }
        Got got = con.get();
        if (got.error != null) {
            throw PatchException.invalid("replace operation does not apply: doc is missing key: " + path + ": " + MISSING);
        }
        con.set(value(op));
    }

    private static void move(JsonNode doc, JsonNode op) {
        String from = textField(op, "from");
        if (from == null) {
            throw PatchException.invalid("move operation failed to decode from: " + fieldError(op, "from"));
        }
        Container con = findObject(doc, from);
        if (con == null) {
            throw PatchException.invalid("move operation does not apply: doc is missing from path: " + from + ": " + MISSING);
        }
        Got got = con.get();
        if (got.error != null) {
            throw PatchException.invalid("error in move for path: '" + con.key + "': " + got.error);
        }
        String err = con.remove();
        if (err != null) {
            throw PatchException.invalid("error in move for path: '" + con.key + "': " + err);
        }
        String path = textField(op, "path");
        if (path == null) {
            throw PatchException.invalid("move operation failed to decode path: " + fieldError(op, "path"));
        }
        con = findObject(doc, path);
        if (con == null) {
            throw PatchException.invalid("move operation does not apply: doc is missing destination path: " + path + ": " + MISSING);
        }
        err = con.add(got.value);
        if (err != null) {
            throw PatchException.invalid("error in move for path: '" + path + "': " + err);
        }
    }

    private static void test(JsonNode doc, JsonNode op) {
        String path = textField(op, "path");
        if (path == null) {
            throw PatchException.invalid("test operation failed to decode path: " + fieldError(op, "path"));
        }
        Container con = findObject(doc, path);
        if (con == null) {
            throw PatchException.invalid("test operation does not apply: is missing path: " + path + ": " + MISSING);
        }
        Got got = con.get();
        if (got.error != null) {
            throw PatchException.invalid("error in test for path: '" + path + "': " + got.error);
        }
        JsonNode expected = value(op);
        boolean ok;
        if (got.value.isNull()) {
            ok = expected.isNull();
        } else if (expected.isNull()) {
            ok = false;
        } else {
            ok = equal(got.value, expected);
        }
        if (!ok) {
            throw PatchException.invalid("testing value " + path + " failed: test failed");
        }
    }

    private static void copy(JsonNode doc, JsonNode op) {
        String from = textField(op, "from");
        if (from == null) {
            throw PatchException.invalid("copy operation failed to decode from: " + fieldError(op, "from"));
        }
        Container con = findObject(doc, from);
        if (con == null) {
            throw PatchException.invalid("copy operation does not apply: doc is missing from path: " + from + ": " + MISSING);
        }
        Got got = con.get();
        if (got.error != null) {
            throw PatchException.invalid("error in copy for from: '" + from + "': " + got.error);
        }
        String path = textField(op, "path");
        if (path == null) {
            throw PatchException.invalid("copy operation failed to decode path: " + MISSING);
        }
        con = findObject(doc, path);
        if (con == null) {
            throw PatchException.invalid("copy operation does not apply: doc is missing destination path: " + path + ": " + MISSING);
        }
        String err = con.add(got.value.deepCopy());
        if (err != null) {
            throw PatchException.invalid("error while adding value during copy: " + err);
        }
    }

    /**
     * lazyNode.equal: structural equality where scalars compare by their JSON text (Go compares the
     * compacted raw bytes, so {@code 1} and {@code 1.0} differ).
     */
    private static boolean equal(JsonNode a, JsonNode b) {
        if (a.isObject() || b.isObject()) {
            if (!a.isObject() || !b.isObject() || a.size() != b.size()) {
                return false;
            }
            for (var e : a.properties()) {
                JsonNode other = b.get(e.getKey());
                if (other == null || !equal(e.getValue(), other)) {
                    return false;
                }
            }
            return true;
        }
        if (a.isArray() || b.isArray()) {
            if (!a.isArray() || !b.isArray() || a.size() != b.size()) {
                return false;
            }
            for (int i = 0; i < a.size(); i++) {
                if (!equal(a.get(i), b.get(i))) {
                    return false;
                }
            }
            return true;
        }
        return a.toString().equals(b.toString());
    }

    // ---- pointer resolution ------------------------------------------------------------------

    /** RFC 6901 unescaping in one pass, like v4's strings.NewReplacer("~1", "/", "~0", "~"). */
    static String decodeKey(String s) {
        if (s.indexOf('~') < 0) {
            return s;
        }
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '~' && i + 1 < s.length() && (s.charAt(i + 1) == '0' || s.charAt(i + 1) == '1')) {
                sb.append(s.charAt(i + 1) == '0' ? '~' : '/');
                i++;
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    /** findObject: the container holding the last path segment, or null when a parent is missing. */
    private static Container findObject(JsonNode doc, String path) {
        String[] split = path.split("/", -1);
        if (split.length < 2) {
            return null;
        }
        JsonNode cur = doc;
        for (int i = 1; i < split.length - 1; i++) {
            Got next = new Container(cur, decodeKey(split[i])).get();
            if (next.error != null || next.value.isNull()) {
                return null;
            }
            if (!next.value.isObject() && !next.value.isArray()) {
                return null;
            }
            cur = next.value;
        }
        return new Container(cur, decodeKey(split[split.length - 1]));
    }

    private record Got(JsonNode value, String error) {}

    /** v4's container interface (partialDoc / partialArray) bound to one key. */
    private record Container(JsonNode node, String key) {

        Got get() {
            if (node.isObject()) {
                JsonNode v = node.get(key);
                return new Got(v == null ? NullNode.getInstance() : v, null);
            }
            Index idx = index(key);
            if (idx.error != null) {
                return new Got(null, idx.error);
            }
            long i = idx.value;
            int len = node.size();
            if (i < 0) {
                if (i < -len) {
                    return new Got(null, invalidIndex(i));
                }
                i += len;
            }
            if (i >= len) {
                return new Got(null, invalidIndex(i));
            }
            return new Got(node.get((int) i), null);
        }

        void set(JsonNode v) {
            if (node.isObject()) {
                ((ObjectNode) node).set(key, v);
                return;
            }
            long i = index(key).value;
            if (i < 0) {
                i += node.size();
            }
            ((ArrayNode) node).set((int) i, v);
        }

        String add(JsonNode v) {
            if (node.isObject()) {
                ((ObjectNode) node).set(key, v);
                return null;
            }
            ArrayNode arr = (ArrayNode) node;
            if (key.equals("-")) {
                arr.add(v);
                return null;
            }
            Index idx = index(key);
            if (idx.error != null) {
                return "value was not a proper array index: '" + key + "': " + idx.error;
            }
            long i = idx.value;
            int sz = arr.size() + 1;
            if (i >= sz || i < -sz) {
                return invalidIndex(i);
            }
            if (i < 0) {
                i += sz;
            }
            arr.insert((int) i, v);
            return null;
        }

        String remove() {
            if (node.isObject()) {
                if (!node.has(key)) {
                    return "Unable to remove nonexistent key: " + key + ": " + MISSING;
                }
                ((ObjectNode) node).remove(key);
                return null;
            }
            Index idx = index(key);
            if (idx.error != null) {
                return idx.error;
            }
            long i = idx.value;
            int len = node.size();
            if (i >= len || i < -len) {
                return invalidIndex(i);
            }
            if (i < 0) {
                i += len;
            }
            ((ArrayNode) node).remove((int) i);
            return null;
        }

        private static String invalidIndex(long i) {
            return "Unable to access invalid index: " + i + ": invalid index referenced";
        }
    }

    private record Index(long value, String error) {}

    /** strconv.Atoi, with its error texts. */
    private static Index index(String key) {
        if (!GO_INT.matcher(key).matches()) {
            return new Index(0, "strconv.Atoi: parsing \"" + key + "\": invalid syntax");
        }
        try {
            return new Index(Long.parseLong(key), null);
        } catch (NumberFormatException e) {
            return new Index(0, "strconv.Atoi: parsing \"" + key + "\": value out of range");
        }
    }
}
