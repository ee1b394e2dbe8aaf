package dev.skiff.apiserver.patch;

/**
 * The patch metadata strategic merge patch needs about one node of an object's type: which fields
 * exist, what the elements of a list are, and the {@code x-kubernetes-patch-strategy} /
 * {@code x-kubernetes-patch-merge-key} of the field that holds this node.
 *
 * <p>Upstream reads the same facts from Go struct tags ({@code patchStrategy:"merge"
 * patchMergeKey:"name"}) through {@code LookupPatchMeta} in apimachinery
 * {@code pkg/util/strategicpatch/meta.go}. A node therefore describes "the type of a field plus the
 * tags on that field": the node returned by {@code podSpec.field("containers")} has strategy
 * {@code merge}, merge key {@code name}, and {@code items()} describing a Container.
 *
 * <p>Every method may answer {@code null} for "unknown". Unknown means what upstream does for a
 * field without tags: maps merge key by key, lists are replaced as a whole.
 */
public interface PatchSchema {

    /**
     * The schema of a named field of an object, or {@code null} when unknown. For map-valued nodes
     * (Go {@code map[string]T}, OpenAPI {@code additionalProperties}) implementations may return
     * {@code null} here and describe every value through {@link #items()}.
     */
    PatchSchema field(String name);

    /** The schema of list elements, or of map values; {@code null} when unknown. */
    PatchSchema items();

    /**
     * The patch strategy of the field holding this node: {@code null}, {@code "merge"},
     * {@code "retainKeys"}, {@code "merge,retainKeys"} or {@code "replace"}.
     */
    String patchStrategy();

    /** The merge key of a list-of-maps field with strategy merge, e.g. {@code "name"}; else null. */
    String patchMergeKey();
}
