package dev.skiff.apiserver.admission;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.cache.CachedObject;
import dev.skiff.apiserver.cache.WatchFilter;
import dev.skiff.apiserver.registry.Admission;
import dev.skiff.apiserver.registry.Meta;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.ResourceRegistry;
import dev.skiff.apiserver.registry.ResourceStore;
import dev.skiff.apiserver.registry.WriteOptions;
import dev.skiff.apiserver.selector.FieldSelector;
import dev.skiff.apiserver.selector.LabelSelector;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * ResourceQuota enforcement on create (plugin/pkg/admission/resourcequota/controller.go): the
 * object's usage is added to each matching quota's status.used with an optimistic update of the
 * quota, so concurrent creates cannot both take the last unit; if any hard limit would be exceeded
 * the create is refused with upstream's message ("exceeded quota: q, requested: pods=1, used:
 * pods=2, limited: pods=2"). {@link QuotaController} later recomputes used from what really exists.
 */
public final class ResourceQuotaAdmission implements Admission {
  private final ResourceRegistry registry;
  private final ResourceStore quotas;
  private final QuotaController controller;
  /** Namespaces a live lookup found without quotas, and when (nanoTime). */
  private final java.util.Map<String, Long> liveLookups = new java.util.concurrent.ConcurrentHashMap<>();
  private static final long LIVE_LOOKUP_TTL_NANOS = 30_000_000_000L;

  public ResourceQuotaAdmission(ResourceRegistry registry, QuotaController controller) {
    this.registry = registry;
    this.quotas = registry.storeForKind("", "ResourceQuota");
    this.controller = controller;
  }

  @Override
  public void admit(ResourceDescriptor resource, ObjectNode obj, ObjectNode old, WriteOptions options) {
    if (old != null || !resource.namespaced || (resource.group.isEmpty() && resource.kind.equals("ResourceQuota"))) {
      return;
    }
    String ns = Meta.namespace(obj);
    WatchFilter inNamespace = new WatchFilter(ns, LabelSelector.EVERYTHING, FieldSelector.EVERYTHING);
    List<CachedObject> qs = quotas.cache().list(inNamespace).objects();
    if (qs.isEmpty()) {
      // As upstream's quota accessor (plugin/pkg/admission/resourcequota/resource_access.go)
      // looks up live when its informer shows none, remembering the answer for 30 s: a quota
      // created a moment ago may not be cached yet, and an object it misses is never charged.
      // The memory keeps the consistent read off the hot path of ordinary creates.
      long now = System.nanoTime();
      Long checked = liveLookups.get(ns);
      if (checked != null && now - checked < LIVE_LOOKUP_TTL_NANOS) {
        return;
      }
      qs = quotas.list(inNamespace, true).objects();
      if (qs.isEmpty()) {
        liveLookups.put(ns, now);
        return;
      }
    }
    Map<String, Quantity> delta = QuotaUsage.of(resource, obj);
    boolean pod = resource.group.isEmpty() && resource.kind.equals("Pod");
    for (CachedObject q : qs) {
      ObjectNode quota = Json.parseObject(q.json());
      boolean relevant = false;
      for (var it = quota.path("spec").path("hard").fieldNames(); it.hasNext(); ) {
        String k = it.next();
        // The pod evaluator's MatchingResources: compute keys matter even when the pod omits them.
        if (delta.containsKey(k) || (pod && (k.equals("cpu") || k.equals("memory") || k.startsWith("requests.")
            || k.startsWith("limits.")))) {
          relevant = true;
        }
      }
      if (!relevant) {
        continue;
      }
      String missing = pod ? missingRequirements(quota, obj) : null;
      if (missing != null) {
        throw AdmissionErrors.forbidden(resource, obj, "failed quota: " + q.name() + ": must specify " + missing);
      }
      if (options.dryRun()) {
        check(resource, obj, quota, delta, ns);
        continue;
      }
      quotas.guaranteedUpdate(ns, q.name(), 0, cur -> {
        ObjectNode used = check(resource, obj, cur, delta, ns);
        ObjectNode status = cur.with("status");
        status.set("hard", cur.path("spec").path("hard").deepCopy());
        status.set("used", used);
        return cur;
      }, new WriteOptions("resourcequota-admission", false, "status", "Update"), false);
      controller.charged(ns, q.name());
    }
  }

  /** Refuses when over; otherwise returns the quota's new status.used. */
  private ObjectNode check(ResourceDescriptor resource, ObjectNode obj, ObjectNode quota, Map<String, Quantity> delta, String ns) {
    JsonNode hard = quota.path("spec").path("hard");
    JsonNode used = quota.path("status").path("used");
    ObjectNode newUsed = Json.object();
    TreeMap<String, String> requested = new TreeMap<>();
    TreeMap<String, String> failedUsed = new TreeMap<>();
    TreeMap<String, String> limited = new TreeMap<>();
    for (var it = hard.fields(); it.hasNext(); ) {
      var e = it.next();
      String k = e.getKey();
      Quantity h = Quantity.parse(e.getValue().asText());
      Quantity u = used.has(k) ? Quantity.parse(used.get(k).asText()) : QuotaUsage.used(registry, ns, k);
      Quantity d = delta.get(k);
      Quantity next = d == null ? u : u.add(d);
      if (d != null && next.compareTo(h) > 0) {
        requested.put(k, d.toString());
        failedUsed.put(k, u.toString());
        limited.put(k, h.toString());
      }
      newUsed.put(k, next.toString());
    }
    if (!limited.isEmpty()) {
      throw AdmissionErrors.forbidden(resource, obj, "exceeded quota: " + Meta.name(quota) + ", requested: " + pretty(requested)
          + ", used: " + pretty(failedUsed) + ", limited: " + pretty(limited));
    }
    return newUsed;
  }

  /**
   * The pod evaluator's backward-compatibility constraint (pkg/quota/v1/evaluator/core/pods.go):
   * when a quota limits cpu or memory, every container must state that request or limit.
   * Returns "requests.cpu for: a,b; limits.memory for: a" or null.
   */
  static String missingRequirements(ObjectNode quota, ObjectNode pod) {
    TreeMap<String, java.util.TreeSet<String>> missing = new TreeMap<>();
    for (var it = quota.path("spec").path("hard").fieldNames(); it.hasNext(); ) {
      String k = it.next();
      String field;
      String res;
      switch (k) {
        case "cpu", "memory" -> { field = "requests"; res = k; }
        case "requests.cpu", "requests.memory" -> { field = "requests"; res = k.substring("requests.".length()); }
        case "limits.cpu", "limits.memory" -> { field = "limits"; res = k.substring("limits.".length()); }
        default -> { continue; }
      }
      for (String list : List.of("initContainers", "containers")) {
        for (JsonNode c : pod.path("spec").path(list)) {
          if (!c.path("resources").path(field).has(res)) {
            missing.computeIfAbsent(k, x -> new java.util.TreeSet<>()).add(c.path("name").asText());
          }
        }
      }
    }
    if (missing.isEmpty()) {
      return null;
    }
    List<String> parts = new ArrayList<>();
    missing.forEach((k, names) -> parts.add(k + " for: " + String.join(",", names)));
    return String.join("; ", parts);
  }

  /** prettyPrint in controller.go: sorted k=v joined by commas. */
  private static String pretty(TreeMap<String, String> m) {
    List<String> parts = new ArrayList<>();
    m.forEach((k, v) -> parts.add(k + "=" + v));
    return String.join(",", parts);
  }
}
