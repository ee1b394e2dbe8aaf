package dev.skiff.apiserver.patch;

import java.util.HashMap;
import java.util.Map;

/**
 * A test-only {@link PatchSchema} for Deployment, Pod and Service, built from the merge-key table in
 * shared/reference/kubectl-compat.md §5 (which comes from the OpenAPI x-kubernetes-patch-* data).
 * Fields not listed are unknown (maps merge, lists replace), exactly as for untagged Go fields.
 */
final class KubeTestSchema implements PatchSchema {

    private final Map<String, PatchSchema> fields = new HashMap<>();
    private PatchSchema items;
    private String strategy;
    private String mergeKey;

    static KubeTestSchema struct() {
        return new KubeTestSchema();
    }

    KubeTestSchema field(String name, PatchSchema schema) {
        fields.put(name, schema);
        return this;
    }

    /** A list field with strategy merge and the given key; elements described by {@code elem}. */
    static KubeTestSchema mergeList(String key, PatchSchema elem) {
        KubeTestSchema s = new KubeTestSchema();
        s.strategy = "merge";
        s.mergeKey = key;
        s.items = elem;
        return s;
    }

    static KubeTestSchema primitiveMergeList() {
        KubeTestSchema s = new KubeTestSchema();
        s.strategy = "merge";
        return s;
    }

    KubeTestSchema strategy(String strategy) {
        this.strategy = strategy;
        return this;
    }

    @Override
    public PatchSchema field(String name) {
        return fields.get(name);
    }

    @Override
    public PatchSchema items() {
        return items;
    }

    @Override
    public String patchStrategy() {
        return strategy;
    }

    @Override
    public String patchMergeKey() {
        return mergeKey;
    }

    static final PatchSchema OBJECT_META = struct()
            .field("finalizers", primitiveMergeList())
            .field("ownerReferences", mergeList("uid", struct()));

    static final PatchSchema CONTAINER = struct()
            .field("env", mergeList("name", struct()))
            .field("ports", mergeList("containerPort", struct()))
            .field("volumeMounts", mergeList("mountPath", struct()))
            .field("volumeDevices", mergeList("devicePath", struct()));

    static final PatchSchema POD_SPEC = struct()
            .field("containers", mergeList("name", CONTAINER))
            .field("initContainers", mergeList("name", CONTAINER))
            .field("ephemeralContainers", mergeList("name", CONTAINER))
            .field("imagePullSecrets", mergeList("name", struct()))
            .field("volumes", mergeList("name", struct()).strategy("merge,retainKeys"))
            .field("resourceClaims", mergeList("name", struct()).strategy("merge,retainKeys"))
            .field("schedulingGates", mergeList("name", struct()))
            .field("hostAliases", mergeList("ip", struct()))
            .field("topologySpreadConstraints", mergeList("topologyKey", struct()));

    static final PatchSchema POD_TEMPLATE = struct()
            .field("metadata", OBJECT_META)
            .field("spec", POD_SPEC);

    static final PatchSchema CONDITIONS_STATUS = struct()
            .field("conditions", mergeList("type", struct()));

    static final PatchSchema DEPLOYMENT = struct()
            .field("metadata", OBJECT_META)
            .field("spec", struct()
                    .field("template", POD_TEMPLATE)
                    .field("strategy", struct().strategy("retainKeys")))
            .field("status", CONDITIONS_STATUS);

    static final PatchSchema POD = struct()
            .field("metadata", OBJECT_META)
            .field("spec", POD_SPEC)
            .field("status", struct()
                    .field("conditions", mergeList("type", struct()))
                    .field("podIPs", mergeList("ip", struct())));

    static final PatchSchema SERVICE = struct()
            .field("metadata", OBJECT_META)
            .field("spec", struct().field("ports", mergeList("port", struct())))
            .field("status", CONDITIONS_STATUS);
}
