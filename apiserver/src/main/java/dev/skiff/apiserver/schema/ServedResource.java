package dev.skiff.apiserver.schema;

import java.util.List;
import java.util.Objects;

/**
 * One REST resource the server serves, as far as the OpenAPI documents need to know it.
 *
 * @param group        API group, "" for core
 * @param version      e.g. "v1"
 * @param kind         e.g. "Deployment"
 * @param plural       resource name, e.g. "deployments"
 * @param namespaced   whether paths contain {@code /namespaces/{namespace}}
 * @param subresources e.g. ["status", "scale"]
 * @param verbs        Kubernetes verbs: get, list, watch, create, update, patch, delete, deletecollection
 */
public record ServedResource(String group, String version, String kind, String plural, boolean namespaced,
                             List<String> subresources, List<String> verbs) {
    public ServedResource {
        Objects.requireNonNull(group, "group");
        Objects.requireNonNull(version, "version");
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(plural, "plural");
        subresources = List.copyOf(subresources);
        verbs = List.copyOf(verbs);
    }

    /** "api/v1" or "apis/apps/v1": the key of this group-version in the /openapi/v3 index. */
    public String groupVersionPath() {
        return group.isEmpty() ? "api/" + version : "apis/" + group + "/" + version;
    }
}
