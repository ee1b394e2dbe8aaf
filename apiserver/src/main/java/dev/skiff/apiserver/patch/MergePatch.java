package dev.skiff.apiserver.patch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * RFC 7386 JSON merge patch ({@code application/merge-patch+json}), as implemented by
 * {@code jsonpatch.MergePatch} in evanphx/json-patch v4 ({@code merge.go}), which kube-apiserver
 * calls for merge patches ({@code handlers/patch.go applyJSPatch}) and for every patch to a custom
 * resource sent by kubectl.
 *
 * <p>Semantics: an object patch merges member by member, {@code null} deletes a member, any other
 * value replaces (recursively merging objects into objects). A non-object patch replaces the whole
 * document. Points where v4 is more specific than the RFC, and which we follow:
 * <ul>
 *   <li>A {@code null} or scalar top-level patch is rejected with {@code Invalid JSON Patch}
 *       (400 BadRequest); an array patch becomes the document.</li>
 *   <li>Values copied in from the patch have {@code null} members pruned recursively, including in
 *       objects nested in arrays; {@code null} array elements are kept.</li>
 *   <li>When the document holds an object and the patch a non-object, the patch value is taken
 *       verbatim (no pruning).</li>
 * </ul>
 */
public final class MergePatch {

    private MergePatch() {}

    /** Decodes and applies; an undecodable body is 400 {@code Invalid JSON Patch}. */
    public static JsonNode apply(JsonNode document, byte[] patch) {
        JsonNode p;
        try {
            p = Go.parse(patch);
        } catch (PatchException e) {
            throw PatchException.badRequest("Invalid JSON Patch");
        }
        return apply(document, p);
    }

    /** Applies {@code patch} to a copy of {@code document}; neither argument is modified. */
    public static JsonNode apply(JsonNode document, JsonNode patch) {
        if (patch == null || patch.isNull() || !(patch.isObject() || patch.isArray())) {
            throw PatchException.badRequest("Invalid JSON Patch");
        }
        if (patch.isArray()) {
            ArrayNode out = patch.deepCopy();
            pruneArrayNulls(out);
            return out;
        }
        ObjectNode p = patch.deepCopy();
        if (document == null || !document.isObject()) {
            if (document == null || document.isNull()) {
                // ErrBadJSONDoc: returned unwrapped by kube-apiserver, hence 500.
                throw PatchException.internal("Invalid JSON Document");
            }
            pruneObjectNulls(p);
            return p;
        }
        ObjectNode doc = document.deepCopy();
        mergeDocs(doc, p);
        return doc;
    }

    private static void mergeDocs(ObjectNode doc, ObjectNode patch) {
        for (Map.Entry<String, JsonNode> e : new ArrayList<>(patch.properties())) {
            String k = e.getKey();
            JsonNode v = e.getValue();
            if (v.isNull()) {
                doc.remove(k);
                continue;
            }
            JsonNode cur = doc.get(k);
            if (cur == null || cur.isNull()) {
                pruneNulls(v);
                doc.set(k, v);
            } else {
                doc.set(k, merge(cur, v));
            }
        }
    }

    private static JsonNode merge(JsonNode cur, JsonNode patch) {
        if (!cur.isObject()) {
            pruneNulls(patch);
            return patch;
        }
        if (!patch.isObject()) {
            return patch;
        }
        mergeDocs((ObjectNode) cur, (ObjectNode) patch);
        return cur;
    }

    private static void pruneNulls(JsonNode n) {
        if (n.isObject()) {
            pruneObjectNulls((ObjectNode) n);
        } else if (n.isArray()) {
            pruneArrayNulls((ArrayNode) n);
        }
    }

    private static void pruneObjectNulls(ObjectNode o) {
        List<String> nulls = new ArrayList<>();
        for (Map.Entry<String, JsonNode> e : o.properties()) {
            if (e.getValue().isNull()) {
                nulls.add(e.getKey());
            } else {
                pruneNulls(e.getValue());
            }
        }
        o.remove(nulls);
    }

    private static void pruneArrayNulls(ArrayNode a) {
        for (JsonNode v : a) {
            if (!v.isNull()) {
                pruneNulls(v);
            }
        }
    }
}
