package dev.skiff.controllers.gc;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A snapshot of the server's discovery documents ({@code /api}, {@code /apis} and every group
 * version, custom resources included): a RESTMapper from apiVersion+kind to resource, and the
 * resources the garbage collector monitors (upstream {@code GetDeletableResources}: the preferred
 * version of each group, verbs list, watch and delete, no subresources, minus events).
 * Immutable once built.
 */
public final class ApiDiscovery {
  /** Never monitored (upstream garbagecollector DefaultIgnoredResources). */
  static final Set<String> IGNORED = Set.of("/events", "events.k8s.io/events");

  private final Map<String, ApiResource> byApiVersionKind;
  private final Map<String, ApiResource> byGroupKind;
  private final List<ApiResource> deletable;
  private final Set<String> failed;

  private ApiDiscovery(Map<String, ApiResource> byApiVersionKind, Map<String, ApiResource> byGroupKind,
      List<ApiResource> deletable, Set<String> failed) {
    this.byApiVersionKind = byApiVersionKind;
    this.byGroupKind = byGroupKind;
    this.deletable = deletable;
    this.failed = failed;
  }

  /** An empty snapshot (nothing resolves). */
  public static ApiDiscovery empty() {
    return new ApiDiscovery(Map.of(), Map.of(), List.of(), Set.of());
  }

  /**
   * Reads discovery. A group version whose document cannot be read is skipped (as upstream
   * tolerates partial discovery failures), so its kinds resolve to nothing until the next read.
   */
  public static ApiDiscovery read(MetadataClient client) throws Exception {
    Map<String, ApiResource> byAvk = new HashMap<>();
    Map<String, ApiResource> byGk = new HashMap<>();
    List<ApiResource> deletable = new ArrayList<>();
    Set<String> failed = new java.util.HashSet<>();
    JsonNode core = client.getJson("/api");
    if (core != null) {
      for (JsonNode v : core.path("versions")) {
        readVersion(client, "", v.asText(), true, byAvk, byGk, deletable, failed);
      }
    }
    JsonNode groups = client.getJson("/apis");
    if (groups != null) {
      for (JsonNode g : groups.path("groups")) {
        String group = g.path("name").asText();
        String preferred = g.path("preferredVersion").path("version").asText(null);
        for (JsonNode v : g.path("versions")) {
          String version = v.path("version").asText();
          readVersion(client, group, version, version.equals(preferred), byAvk, byGk, deletable, failed);
        }
      }
    }
    return new ApiDiscovery(Map.copyOf(byAvk), Map.copyOf(byGk), List.copyOf(deletable), Set.copyOf(failed));
  }

  private static void readVersion(MetadataClient client, String group, String version, boolean preferred,
      Map<String, ApiResource> byAvk, Map<String, ApiResource> byGk, List<ApiResource> deletable, Set<String> failed) {
    JsonNode list;
    try {
      list = client.getJson(group.isEmpty() ? "/api/" + version : "/apis/" + group + "/" + version);
    } catch (Exception e) {
      failed.add(group);
      return;
    }
    if (list == null) {
      return;
    }
    for (JsonNode r : list.path("resources")) {
      String name = r.path("name").asText();
      if (name.contains("/")) {
        continue; // subresource
      }
      ApiResource res = new ApiResource(group, version, name, r.path("kind").asText(), r.path("namespaced").asBoolean());
      String apiVersion = res.apiVersion();
      byAvk.putIfAbsent(apiVersion + "/" + res.kind(), res);
      if (preferred || !byGk.containsKey(group + "/" + res.kind())) {
        byGk.put(group + "/" + res.kind(), res);
      }
      Set<String> verbs = new java.util.HashSet<>();
      r.path("verbs").forEach(v -> verbs.add(v.asText()));
      if (preferred && verbs.containsAll(List.of("list", "watch", "delete")) && !IGNORED.contains(group + "/" + name)) {
        deletable.add(res);
      }
    }
  }

  /**
   * The resource of an ownerReference's apiVersion and kind: that version if served, else the
   * group's kind in another served version (objects are reachable in every version); null if the
   * kind is unknown.
   */
  public ApiResource resolve(String apiVersion, String kind) {
    ApiResource r = byApiVersionKind.get(apiVersion + "/" + kind);
    return r != null ? r : byGroupKind.get(ApiResource.groupOf(apiVersion) + "/" + kind);
  }

  /**
   * Whether some version of {@code group} could not be read: its monitors must be kept as they
   * are (upstream keeps the previous resources of groups whose discovery failed).
   */
  public boolean failed(String group) {
    return failed.contains(group);
  }

  /** The resources to monitor, one version per group. */
  public List<ApiResource> deletable() {
    return deletable;
  }
}
