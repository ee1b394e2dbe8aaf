package dev.skiff.apiserver.admission;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.cache.CachedObject;
import dev.skiff.apiserver.cache.WatchFilter;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.ResourceRegistry;
import dev.skiff.apiserver.registry.ResourceStore;
import dev.skiff.apiserver.selector.FieldSelector;
import dev.skiff.apiserver.selector.LabelSelector;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * What an object counts against a ResourceQuota (pkg/quota/v1/evaluator/core): every object
 * {@code count/<resource>[.<group>]} = 1, the legacy core names (configmaps, secrets, services,
 * ...) too, and for non-terminal pods {@code pods} plus the summed container requests and limits
 * (requests.cpu / cpu, requests.memory / memory, limits.cpu, limits.memory).
 */
final class QuotaUsage {
  private static final Set<String> LEGACY = Set.of("configmaps", "secrets", "services", "persistentvolumeclaims",
      "replicationcontrollers", "resourcequotas");

  private QuotaUsage() {}

  static String countKey(ResourceDescriptor d) {
    return "count/" + (d.group.isEmpty() ? d.plural : d.plural + "." + d.group);
  }

  static Map<String, Quantity> of(ResourceDescriptor d, JsonNode obj) {
    Map<String, Quantity> u = new HashMap<>();
    Quantity one = new Quantity(java.math.BigDecimal.ONE, false);
    u.put(countKey(d), one);
    if (d.group.isEmpty() && LEGACY.contains(d.plural)) {
      u.put(d.plural, one);
    }
    if (d.group.isEmpty() && d.kind.equals("Pod")) {
      String phase = obj.path("status").path("phase").asText("");
      if (phase.equals("Succeeded") || phase.equals("Failed")) {
        return u;
      }
      u.put("pods", one);
      Map<String, Quantity> requests = new HashMap<>();
      Map<String, Quantity> limits = new HashMap<>();
      for (JsonNode c : obj.path("spec").path("containers")) {
        sum(requests, c.path("resources").path("requests"));
        sum(limits, c.path("resources").path("limits"));
      }
      // Init containers run one at a time: the pod needs the larger of their max and the sum.
      for (JsonNode c : obj.path("spec").path("initContainers")) {
        max(requests, c.path("resources").path("requests"));
        max(limits, c.path("resources").path("limits"));
      }
      for (String r : new String[] {"cpu", "memory", "ephemeral-storage"}) {
        if (requests.containsKey(r)) {
          u.put("requests." + r, requests.get(r));
          u.put(r, requests.get(r));
        }
        if (limits.containsKey(r)) {
          u.put("limits." + r, limits.get(r));
        }
      }
    }
    return u;
  }

  private static void sum(Map<String, Quantity> into, JsonNode list) {
    list.fields().forEachRemaining(e -> into.merge(e.getKey(), Quantity.parse(e.getValue().asText()), Quantity::add));
  }

  private static void max(Map<String, Quantity> into, JsonNode list) {
    list.fields().forEachRemaining(e -> {
      Quantity q = Quantity.parse(e.getValue().asText());
      into.merge(e.getKey(), q, (a, b) -> a.compareTo(b) >= 0 ? a : b);
    });
  }

  /** Which stored resource a quota key counts, or null for keys we do not track. */
  static ResourceStore storeFor(ResourceRegistry registry, String key) {
    if (key.startsWith("count/")) {
      String r = key.substring("count/".length());
      int dot = r.indexOf('.');
      String plural = dot < 0 ? r : r.substring(0, dot);
      String group = dot < 0 ? "" : r.substring(dot + 1);
      for (ResourceDescriptor d : registry.descriptors()) {
        if (d.group.equals(group) && d.plural.equals(plural)) {
          return registry.store(d.group, d.version, d.plural);
        }
      }
      return null;
    }
    if (LEGACY.contains(key)) {
      return registry.storeForKind("", kindOf(key));
    }
    if (key.equals("pods") || key.equals("cpu") || key.equals("memory") || key.startsWith("requests.") || key.startsWith("limits.")) {
      return registry.storeForKind("", "Pod");
    }
    return null;
  }

  private static String kindOf(String plural) {
    return switch (plural) {
      case "configmaps" -> "ConfigMap";
      case "secrets" -> "Secret";
      case "services" -> "Service";
      case "persistentvolumeclaims" -> "PersistentVolumeClaim";
      case "replicationcontrollers" -> "ReplicationController";
      default -> "ResourceQuota";
    };
  }

  /** Current usage of one quota key in a namespace, computed from the watch cache. */
  static Quantity used(ResourceRegistry registry, String namespace, String key) {
    ResourceStore s = storeFor(registry, key);
    if (s == null) {
      return Quantity.ZERO;
    }
    Quantity total = Quantity.ZERO;
    for (CachedObject o : s.cache().list(new WatchFilter(namespace, LabelSelector.EVERYTHING, FieldSelector.EVERYTHING)).objects()) {
      ObjectNode obj = Json.parseObject(o.json());
      Quantity q = of(s.descriptor(), obj).get(key);
      if (q != null) {
        total = total.add(q);
      }
    }
    return total;
  }
}
