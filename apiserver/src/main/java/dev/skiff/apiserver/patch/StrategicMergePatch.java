package dev.skiff.apiserver.patch;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Strategic merge patch ({@code application/strategic-merge-patch+json}), the server side of
 * {@code StrategicMergeMapPatch} in apimachinery {@code pkg/util/strategicpatch/patch.go} (mergeMap
 * with {@code MergeParallelList=true, IgnoreUnmatchedNulls=true}), which kube-apiserver runs for
 * {@code kubectl apply} (client-side), {@code kubectl patch}, {@code set image} and
 * {@code rollout restart}.
 *
 * <p>Rules, in upstream's order for each object:
 * <ol>
 *   <li>{@code $patch: replace} replaces the object with the rest of the patch object;
 *       {@code $patch: delete} makes it {@code {}}; any other {@code $patch} value — including
 *       {@code merge} — is an error ({@code handleDirectiveInMergeMap}).</li>
 *   <li>{@code $retainKeys: [..]} drops keys of the live object not listed; every non-null key of
 *       the patch must be listed ({@code applyRetainKeysDirective}).</li>
 *   <li>{@code $setElementOrder/<list>} merges that list first and orders the result: items named in
 *       the directive in its order, server-only items interleaved by their live order
 *       ({@code mergePatchIntoOriginal}, {@code normalizeElementOrder}, {@code mergeSortedSlice}).</li>
 *   <li>Remaining keys: {@code null} deletes; {@code $deleteFromPrimitiveList/<list>} removes values
 *       from a primitive merge list; objects merge recursively unless the field's strategy is
 *       {@code replace}; lists are replaced unless the field's strategy is {@code merge}. Merge
 *       lists of objects match elements by the merge key (elements carrying {@code $patch: delete}
 *       remove the matching element, an element {@code {"$patch": "replace"}} replaces the list),
 *       merge lists of scalars are unioned. Without {@code $setElementOrder}, patch items are put in
 *       patch order and server-only items are interleaved by live order, so a brand-new item lands
 *       before the remaining server items, as upstream.</li>
 * </ol>
 *
 * <p>One deliberate difference: where upstream copies a patch value verbatim because the live
 * object lacks the field (or has another type), it relies on decoding the result into a Go struct
 * to drop {@code null}s and leftover directive keys. Skiff keeps untyped trees, so we instead merge
 * such values into an empty object/list, which applies the directives and drops the nulls. For every
 * patch kubectl produces the stored result is the same as kube-apiserver's.
 *
 * <p>Error classes follow {@code interpretStrategicMergePatchError}; see {@link PatchException}.
 */
public final class StrategicMergePatch {

    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    static final String DIRECTIVE_MARKER = "$patch";
    static final String DELETE = "delete";
    static final String REPLACE = "replace";
    static final String MERGE = "merge";
    static final String RETAIN_KEYS_STRATEGY = "retainKeys";
    static final String DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList";
    static final String RETAIN_KEYS = "$retainKeys";
    static final String SET_ELEMENT_ORDER = "$setElementOrder";

    private StrategicMergePatch() {}

    /**
     * Decodes and applies. A body that is not a JSON object is 400 BadRequest, as kube-apiserver's
     * {@code json.Unmarshal} into {@code map[string]interface{}} is.
     */
    public static JsonNode apply(JsonNode original, byte[] patch, PatchSchema schema) {
        JsonNode p = Go.parse(patch);
        if (!p.isObject() && !p.isNull()) {
            throw PatchException.badRequest("json: cannot unmarshal " + (p.isArray() ? "array" : p.isTextual() ? "string"
                    : p.isNumber() ? "number" : "bool") + " into Go value of type map[string]interface {}");
        }
        return apply(original, p, schema);
    }

    /**
     * Applies {@code patch} to a copy of {@code original}.
     *
     * @param original the live object (a JSON object); not modified
     * @param patch the patch object; not modified. JSON {@code null} is an empty patch.
     * @param schema patch metadata of the object's type, or null when unknown (maps merge, lists replace)
     */
    public static JsonNode apply(JsonNode original, JsonNode patch, PatchSchema schema) {
        if (original == null || !original.isObject()) {
            throw new IllegalArgumentException("original must be a JSON object");
        }
        if (patch == null || patch.isNull()) {
            return original.deepCopy();
        }
        if (!patch.isObject()) {
            throw PatchException.badRequest("json: cannot unmarshal array into Go value of type map[string]interface {}");
        }
        // Work on copies: the algorithm, like upstream's, mutates both documents in place.
        return mergeMap(original.deepCopy(), (ObjectNode) patch.deepCopy(), schema);
    }

    // ---- schema helpers ----------------------------------------------------------------------

    /** LookupPatchMetadataForStruct/ForSlice: a struct field, or the value type of a map. */
    private static PatchSchema lookup(PatchSchema schema, String key) {
        if (schema == null) {
            return null;
        }
        PatchSchema f = schema.field(key);
        return f != null ? f : schema.items();
    }

    private static PatchSchema items(PatchSchema schema) {
        return schema == null ? null : schema.items();
    }

    private static String mergeKey(PatchSchema schema) {
        String k = schema == null ? null : schema.patchMergeKey();
        return k == null ? "" : k;
    }

    /** extractRetainKeysPatchStrategy: the strategy other than retainKeys ("" if none). */
    private static String strategy(PatchSchema schema) {
        String s = schema == null ? null : schema.patchStrategy();
        if (s == null || s.isEmpty()) {
            return "";
        }
        String[] parts = s.split(",");
        switch (parts.length) {
            case 1:
                return parts[0].equals(RETAIN_KEYS_STRATEGY) ? "" : parts[0];
            case 2:
                if (parts[0].equals(RETAIN_KEYS_STRATEGY)) {
                    return parts[1];
                }
                if (parts[1].equals(RETAIN_KEYS_STRATEGY)) {
                    return parts[0];
                }
                // fall through
            default:
                throw PatchException.internal("unexpected patch strategy: [" + String.join(" ", parts) + "]");
        }
    }

    // ---- maps ---------------------------------------------------------------------------------

    private static ObjectNode mergeMap(ObjectNode original, ObjectNode patch, PatchSchema schema) {
        if (patch.has(DIRECTIVE_MARKER)) {
            return handleDirectiveInMergeMap(patch, schema);
        }
        if (original == null) {
            original = F.objectNode();
        }
        applyRetainKeysDirective(original, patch);
        mergePatchIntoOriginal(original, patch, schema);

        for (Map.Entry<String, JsonNode> e : new ArrayList<>(patch.properties())) {
            String k = e.getKey();
            JsonNode patchV = e.getValue();
            boolean isDeleteList = false;
            if (k.startsWith(DELETE_FROM_PRIMITIVE_LIST)) {
                k = extractKey(k, DELETE_FROM_PRIMITIVE_LIST);
                isDeleteList = true;
            }
            if (patchV.isNull()) {
                original.remove(k);
                continue;
            }
            PatchSchema sub = lookup(schema, k);
            JsonNode origV = original.get(k);
            if (origV == null || Go.typeOf(origV) != Go.typeOf(patchV)) {
                // Upstream: "If it's not in the original document, just take the patch value"
                // (not for a deletion list, which has nothing to delete from).
                if (!isDeleteList) {
                    original.set(k, fresh(patchV, sub));
                }
                continue;
            }
            switch (Go.typeOf(origV)) {
                case MAP -> original.set(k, mergeMapHandler((ObjectNode) origV, (ObjectNode) patchV, sub));
                case SLICE -> original.set(k, mergeSliceHandler((ArrayNode) origV, (ArrayNode) patchV, sub, isDeleteList));
                default -> original.set(k, patchV);
            }
        }
        return original;
    }

    private static ObjectNode handleDirectiveInMergeMap(ObjectNode patch, PatchSchema schema) {
        JsonNode directive = patch.get(DIRECTIVE_MARKER);
        if (directive.isTextual() && directive.textValue().equals(REPLACE)) {
            patch.remove(DIRECTIVE_MARKER);
            return mergeMap(null, patch, schema);
        }
        if (directive.isTextual() && directive.textValue().equals(DELETE)) {
            return F.objectNode();
        }
        throw badPatchType(directive, patch);
    }

    /** mergepatch.ErrBadPatchType. */
    private static PatchException badPatchType(JsonNode directive, JsonNode map) {
        String d = directive.isTextual() ? directive.textValue() : "%!s(" + Go.typeName(directive) + "=" + Go.format(directive) + ")";
        return PatchException.internal("unknown patch type: " + d + " in map: " + Go.format(map));
    }

    private static JsonNode mergeMapHandler(ObjectNode original, ObjectNode patch, PatchSchema sub) {
        if (strategy(sub).equals(REPLACE)) {
            return patch;
        }
        return mergeMap(original, patch, sub);
    }

    private static JsonNode mergeSliceHandler(ArrayNode original, ArrayNode patch, PatchSchema sub, boolean isDeleteList) {
        if (strategy(sub).equals(MERGE)) {
            return mergeSlice(original, patch, items(sub), mergeKey(sub), isDeleteList);
        }
        return patch;
    }

    /** A patch value landing where the live object has nothing (see class comment). */
    private static JsonNode fresh(JsonNode patchV, PatchSchema sub) {
        return switch (Go.typeOf(patchV)) {
            case MAP -> mergeMapHandler(null, (ObjectNode) patchV, sub);
            case SLICE -> mergeSliceHandler(F.arrayNode(), (ArrayNode) patchV, sub, false);
            default -> patchV;
        };
    }

    /** extractKey: "$prefix/field" → "field". */
    private static String extractKey(String s, String prefix) {
        int slash = s.indexOf('/');
        if (slash < 0 || !s.substring(0, slash).equals(prefix)) {
            throw switch (prefix) {
                case DELETE_FROM_PRIMITIVE_LIST -> PatchException.badRequest("invalid patch format of primitive list");
                case SET_ELEMENT_ORDER -> PatchException.badRequest("invalid patch format of setElementOrder list");
                default -> PatchException.internal("fail to find unknown prefix \"" + prefix + "\" in " + s + "\n");
            };
        }
        return s.substring(slash + 1);
    }

    /** applyRetainKeysDirective with MergeParallelList=true. */
    private static void applyRetainKeysDirective(ObjectNode original, ObjectNode patch) {
        JsonNode retain = patch.remove(RETAIN_KEYS);
        if (retain == null) {
            return;
        }
        if (!retain.isArray()) {
            throw PatchException.badRequest("invalid patch format of retainKeys");
        }
        Set<String> keep = new HashSet<>();
        for (JsonNode k : retain) {
            if (k.isTextual()) {
                keep.add(k.textValue());
            }
        }
        for (Map.Entry<String, JsonNode> e : patch.properties()) {
            String k = e.getKey();
            if (e.getValue().isNull() || k.startsWith(DELETE_FROM_PRIMITIVE_LIST) || k.startsWith(SET_ELEMENT_ORDER)) {
                continue;
            }
            if (!keep.contains(k)) {
                throw PatchException.badRequest("invalid patch format of retainKeys");
            }
        }
        List<String> drop = new ArrayList<>();
        original.fieldNames().forEachRemaining(k -> {
            if (!keep.contains(k)) {
                drop.add(k);
            }
        });
        original.remove(drop);
    }

    /** mergePatchIntoOriginal: handles every $setElementOrder/<list> and its list. */
    private static void mergePatchIntoOriginal(ObjectNode original, ObjectNode patch, PatchSchema schema) {
        for (Map.Entry<String, JsonNode> e : new ArrayList<>(patch.properties())) {
            String key = e.getKey();
            if (!key.startsWith(SET_ELEMENT_ORDER)) {
                continue;
            }
            JsonNode setOrder = e.getValue();
            patch.remove(key);
            if (!setOrder.isArray()) {
                throw Go.badArgType("[]interface {}", setOrder);
            }
            String originalKey = extractKey(key, SET_ELEMENT_ORDER);
            JsonNode originalList = original.get(originalKey);
            boolean foundOriginal = originalList != null && !originalList.isNull();
            JsonNode patchList = patch.get(originalKey);
            boolean foundPatch = patchList != null;
            if (foundOriginal && !originalList.isArray()) {
                throw Go.badArgType("[]interface {}", originalList);
            }
            if (foundPatch && !patchList.isArray()) {
                throw Go.badArgType("[]interface {}", patchList);
            }
            PatchSchema sub = lookup(schema, originalKey);
            String mergeKey = mergeKey(sub);
            validatePatchWithSetOrderList(foundPatch ? (ArrayNode) patchList : null, (ArrayNode) setOrder, mergeKey);

            JsonNode merged;
            if (foundOriginal && !foundPatch) {
                merged = originalList;
            } else if (!foundOriginal && foundPatch) {
                merged = fresh(patchList, sub);
            } else if (foundOriginal) {
                merged = mergeSliceHandler((ArrayNode) originalList, (ArrayNode) patchList, sub, false);
            } else {
                continue;
            }

            List<JsonNode> patchItems = new ArrayList<>();
            List<JsonNode> serverOnly = new ArrayList<>();
            if (mergeKey.isEmpty()) {
                partitionPrimitives(Go.list(merged), Go.list(setOrder), patchItems, serverOnly);
            } else {
                partitionMaps(Go.list(merged), Go.list(setOrder), mergeKey, patchItems, serverOnly);
            }
            Go.Type kind = sliceElementType(foundOriginal ? originalList : null, foundPatch ? patchList : null);
            List<JsonNode> serverOrder = foundOriginal ? Go.list(originalList) : List.of();
            original.set(originalKey, toArray(normalizeElementOrder(patchItems, serverOnly, Go.list(setOrder), serverOrder, mergeKey, kind)));
            patch.remove(originalKey);
        }
    }

    /** validatePatchWithSetOrderList: patch items must appear in the directive, in its order. */
    private static void validatePatchWithSetOrderList(ArrayNode patchList, ArrayNode setOrder, String mergeKey) {
        if (setOrder.isEmpty() || patchList == null || patchList.isEmpty()) {
            return;
        }
        List<JsonNode> nonDelete = new ArrayList<>();
        if (!mergeKey.isEmpty()) {
            extractToDeleteItems(Go.list(patchList), nonDelete, new ArrayList<>());
        } else {
            nonDelete.addAll(Go.list(patchList));
        }
        int p = 0;
        int s = 0;
        while (p < nonDelete.size() && s < setOrder.size()) {
            if (containsDirectiveMarker(nonDelete.get(p))) {
                p++;
                continue;
            }
            if (mergeKeyValueEqual(nonDelete.get(p), setOrder.get(s), mergeKey)) {
                p++;
            }
            s++;
        }
        if (p < nonDelete.size() && s >= setOrder.size()) {
            throw PatchException.internal("The order in patch list:\n" + Go.format(patchList) + "\n doesn't match "
                    + SET_ELEMENT_ORDER + " list:\n" + Go.format(setOrder) + "\n");
        }
    }

    private static boolean containsDirectiveMarker(JsonNode item) {
        return item.isObject() && item.has(DIRECTIVE_MARKER);
    }

    private static boolean mergeKeyValueEqual(JsonNode left, JsonNode right, String mergeKey) {
        if (mergeKey.isEmpty()) {
            return Go.equal(left, right);
        }
        if (!left.isObject()) {
            throw Go.badArgType("map[string]interface {}", left);
        }
        if (!right.isObject()) {
            throw Go.badArgType("map[string]interface {}", right);
        }
        if (!left.has(mergeKey)) {
            throw Go.noMergeKey(left, mergeKey);
        }
        if (!right.has(mergeKey)) {
            throw Go.noMergeKey(right, mergeKey);
        }
        return Go.equal(left.get(mergeKey), right.get(mergeKey));
    }

    // ---- lists ---------------------------------------------------------------------------------

    private static ArrayNode mergeSlice(ArrayNode originalNode, ArrayNode patchNode, PatchSchema elemSchema,
                                        String mergeKey, boolean isDeleteList) {
        if (originalNode.isEmpty() && patchNode.isEmpty()) {
            return originalNode;
        }
        Go.Type kind = sliceElementType(originalNode, patchNode);
        List<JsonNode> original = Go.list(originalNode);
        List<JsonNode> patch = Go.list(patchNode);
        List<JsonNode> merged;
        if (kind != Go.Type.MAP) {
            if (isDeleteList) {
                return toArray(deleteFromSlice(original, patch));
            }
            List<JsonNode> both = new ArrayList<>(original);
            both.addAll(patch);
            merged = deduplicateScalars(both);
        } else {
            if (mergeKey.isEmpty()) {
                throw PatchException.internal("cannot merge lists without merge key for type struct");
            }
            List<JsonNode> withoutSpecial = new ArrayList<>();
            if (mergeSliceWithSpecialElements(original, patch, mergeKey, withoutSpecial)) {
                // An element {"$patch": "replace"}: the other patch elements become the list.
                original = new ArrayList<>();
                for (JsonNode v : withoutSpecial) {
                    original.add(mergeMap(null, (ObjectNode) v, elemSchema));
                }
                patch = new ArrayList<>();
            } else {
                patch = withoutSpecial;
            }
            merged = mergeSliceWithoutSpecialElements(new ArrayList<>(original), patch, mergeKey, elemSchema);
        }

        List<JsonNode> patchItems = new ArrayList<>();
        List<JsonNode> serverOnly = new ArrayList<>();
        if (mergeKey.isEmpty()) {
            partitionPrimitives(merged, patch, patchItems, serverOnly);
        } else {
            partitionMaps(merged, patch, mergeKey, patchItems, serverOnly);
        }
        return toArray(normalizeElementOrder(patchItems, serverOnly, patch, original, mergeKey, kind));
    }

    /**
     * mergeSliceWithSpecialElements: applies {@code $patch: delete} elements to {@code original}
     * (in place), collects the other elements, and reports whether a {@code $patch: replace} was seen.
     */
    private static boolean mergeSliceWithSpecialElements(List<JsonNode> original, List<JsonNode> patch, String mergeKey,
                                                         List<JsonNode> withoutSpecial) {
        boolean replace = false;
        for (JsonNode v : patch) {
            JsonNode directive = v.get(DIRECTIVE_MARKER);
            if (directive == null) {
                withoutSpecial.add(v);
                continue;
            }
            String d = directive.isTextual() ? directive.textValue() : null;
            if (DELETE.equals(d)) {
                if (!v.has(mergeKey)) {
                    throw Go.noMergeKey(v, mergeKey);
                }
                deleteMatchingEntries(original, mergeKey, v.get(mergeKey));
            } else if (REPLACE.equals(d)) {
                replace = true; // keep going to prune any other $patch elements
            } else if (MERGE.equals(d)) {
                throw PatchException.internal("merging lists cannot yet be specified in the patch");
            } else {
                throw badPatchType(directive, v);
            }
        }
        return replace;
    }

    private static void deleteMatchingEntries(List<JsonNode> original, String mergeKey, JsonNode mergeValue) {
        int idx;
        while ((idx = findMapInSlice(original, mergeKey, mergeValue)) >= 0) {
            original.remove(idx);
        }
    }

    /** findMapInSliceBasedOnKeyValue: index of the first map whose key equals value, or -1. */
    private static int findMapInSlice(List<JsonNode> list, String key, JsonNode value) {
        for (int i = 0; i < list.size(); i++) {
            JsonNode v = list.get(i);
            if (!v.isObject()) {
                throw PatchException.internal("value for key " + i + " is not a map.");
            }
            JsonNode match = v.get(key);
            if (match != null && Go.equal(match, value)) {
                return i;
            }
        }
        return -1;
    }

    private static List<JsonNode> mergeSliceWithoutSpecialElements(List<JsonNode> original, List<JsonNode> patch,
                                                                   String mergeKey, PatchSchema elemSchema) {
        for (JsonNode v : patch) {
            if (!v.has(mergeKey)) {
                throw Go.noMergeKey(v, mergeKey);
            }
            int idx = findMapInSlice(original, mergeKey, v.get(mergeKey));
            if (idx >= 0) {
                original.set(idx, mergeMap((ObjectNode) original.get(idx), (ObjectNode) v, elemSchema));
            } else {
                original.add(mergeMap(null, (ObjectNode) v, elemSchema));
            }
        }
        return original;
    }

    private static List<JsonNode> deleteFromSlice(List<JsonNode> current, List<JsonNode> toDelete) {
        List<JsonNode> out = new ArrayList<>();
        for (JsonNode v : current) {
            if (!containsEqual(toDelete, v)) {
                out.add(v);
            }
        }
        return out;
    }

    private static boolean containsEqual(List<JsonNode> list, JsonNode v) {
        for (JsonNode x : list) {
            if (Go.equal(x, v)) {
                return true;
            }
        }
        return false;
    }

    /**
     * deduplicateScalars, including its habit of moving the last element into a duplicate's slot;
     * the order is normalised afterwards, but we keep the same intermediate result.
     */
    private static List<JsonNode> deduplicateScalars(List<JsonNode> s) {
        int length = s.size() - 1;
        for (int i = 0; i < length; i++) {
            for (int j = i + 1; j <= length; j++) {
                if (Go.equal(s.get(i), s.get(j))) {
                    s.set(j, s.get(length));
                    s.remove(length);
                    length--;
                    j--;
                }
            }
        }
        return s;
    }

    /** sliceElementType: every element of the given lists must have the same Go type. */
    private static Go.Type sliceElementType(JsonNode... lists) {
        Go.Type prev = null;
        for (JsonNode list : lists) {
            if (list == null) {
                continue;
            }
            for (JsonNode v : list) {
                Go.Type t = Go.typeOf(v);
                if (prev == null) {
                    prev = t;
                    if (prev == Go.Type.SLICE) {
                        // mergepatch.ErrNoListOfLists, classified 422 by kube-apiserver.
                        throw PatchException.invalid("lists of lists are not supported");
                    }
                } else if (prev != t) {
                    List<JsonNode> all = new ArrayList<>();
                    for (JsonNode l : lists) {
                        all.add(l);
                    }
                    throw PatchException.internal("list element types are not identical: " + Go.formatAll(all));
                }
            }
        }
        if (prev == null) {
            throw PatchException.internal("no elements in any of the given slices");
        }
        return prev;
    }

    private static void partitionPrimitives(List<JsonNode> merged, List<JsonNode> partitionBy,
                                            List<JsonNode> patchItems, List<JsonNode> serverOnly) {
        for (JsonNode v : merged) {
            (containsEqual(partitionBy, v) ? patchItems : serverOnly).add(v);
        }
    }

    private static void partitionMaps(List<JsonNode> merged, List<JsonNode> partitionBy, String mergeKey,
                                      List<JsonNode> patchItems, List<JsonNode> serverOnly) {
        for (JsonNode v : merged) {
            if (!v.isObject()) {
                throw Go.badArgType("map[string]interface {}", v);
            }
            if (!v.has(mergeKey)) {
                throw Go.noMergeKey(v, mergeKey);
            }
            (findMapInSlice(partitionBy, mergeKey, v.get(mergeKey)) >= 0 ? patchItems : serverOnly).add(v);
        }
    }

    // ---- ordering -----------------------------------------------------------------------------

    /**
     * normalizeElementOrder: sort patch items by {@code patchOrder}, server-only items by
     * {@code serverOrder}, then interleave them with {@link #mergeSortedSlice}.
     */
    private static List<JsonNode> normalizeElementOrder(List<JsonNode> patch, List<JsonNode> serverOnly,
                                                        List<JsonNode> patchOrder, List<JsonNode> serverOrder,
                                                        String mergeKey, Go.Type kind) {
        List<JsonNode> p = normalizeSliceOrder(patch, patchOrder, mergeKey, kind);
        List<JsonNode> s = normalizeSliceOrder(serverOnly, serverOrder, mergeKey, kind);
        return mergeSortedSlice(s, p, serverOrder, mergeKey, kind);
    }

    private static List<JsonNode> normalizeSliceOrder(List<JsonNode> toSort, List<JsonNode> order, String mergeKey,
                                                      Go.Type kind) {
        List<JsonNode> sorted = new ArrayList<>(toSort);
        List<JsonNode> toDelete = new ArrayList<>();
        if (kind == Go.Type.MAP) {
            validateMergeKeyInLists(mergeKey, toSort, order);
            sorted = new ArrayList<>();
            extractToDeleteItems(toSort, sorted, toDelete);
        }
        // Upstream's comparator answers "true" when either item is missing from `order`.
        Go.stableSort(sorted, (a, b) -> {
            int ia = index(order, a, mergeKey, kind);
            if (ia >= 0) {
                int ib = index(order, b, mergeKey, kind);
                if (ib >= 0) {
                    return ia < ib;
                }
            }
            return true;
        });
        sorted.addAll(toDelete);
        return sorted;
    }

    private static void validateMergeKeyInLists(String mergeKey, List<JsonNode> a, List<JsonNode> b) {
        for (List<JsonNode> list : List.of(a, b)) {
            for (JsonNode item : list) {
                if (!item.isObject()) {
                    throw Go.badArgType("map[string]interface {}", item);
                }
                if (!item.has(mergeKey)) {
                    throw Go.noMergeKey(item, mergeKey);
                }
            }
        }
    }

    private static void extractToDeleteItems(List<JsonNode> list, List<JsonNode> nonDelete, List<JsonNode> toDelete) {
        for (JsonNode v : list) {
            if (!v.isObject()) {
                throw Go.badArgType("map[string]interface {}", v);
            }
            JsonNode d = v.get(DIRECTIVE_MARKER);
            if (d != null && d.isTextual() && d.textValue().equals(DELETE)) {
                toDelete.add(v);
            } else {
                nonDelete.add(v);
            }
        }
    }

    /** index: position of the item (by merge key value for maps) in {@code list}, or -1. */
    private static int index(List<JsonNode> list, JsonNode item, String mergeKey, Go.Type kind) {
        JsonNode want = keyOf(item, mergeKey, kind);
        for (int i = 0; i < list.size(); i++) {
            if (Go.equal(want, keyOf(list.get(i), mergeKey, kind))) {
                return i;
            }
        }
        return -1;
    }

    private static JsonNode keyOf(JsonNode item, String mergeKey, Go.Type kind) {
        if (kind == Go.Type.MAP) {
            return item.isObject() ? item.get(mergeKey) : null; // a missing key reads as Go nil
        }
        return item;
    }

    /**
     * mergeSortedSlice: insert server-only items ({@code left}) into the patch items ({@code right}).
     * A server-only item goes first only if both it and the next patch item are in the live list and
     * it comes earlier there; so patch items unknown to the server go before the remaining
     * server-only items.
     */
    private static List<JsonNode> mergeSortedSlice(List<JsonNode> left, List<JsonNode> right, List<JsonNode> serverOrder,
                                                   String mergeKey, Go.Type kind) {
        int size = left.size() + right.size();
        List<JsonNode> s = new ArrayList<>(size);
        int i = 0;
        int j = 0;
        for (int k = 0; k < size; k++) {
            if (i >= left.size() && j < right.size()) {
                s.add(right.get(j++));
            } else if (j >= right.size() && i < left.size()) {
                s.add(left.get(i++));
            } else {
                int li = index(serverOrder, left.get(i), mergeKey, kind);
                int ri = index(serverOrder, right.get(j), mergeKey, kind);
                if (li >= 0 && ri >= 0 && li < ri) {
                    s.add(left.get(i++));
                } else {
                    s.add(right.get(j++));
                }
            }
        }
        return s;
    }

    private static ArrayNode toArray(List<JsonNode> items) {
        ArrayNode a = F.arrayNode(items.size());
        a.addAll(items);
        return a;
    }
}
