package dev.skiff.apiserver.http;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Discovery documents built from the served resources: aggregated discovery
 * (apidiscovery.k8s.io v2 and v2beta1, chosen by the Accept header and announced by the response
 * Content-Type, which is how client-go recognises them) and the legacy APIVersions / APIGroupList
 * / APIResourceList documents. Immutable; rebuilt when the set of resources changes.
 */
final class Discovery {
  private final List<ResourceDescriptor> resources;
  private final Map<String, byte[]> cache = new java.util.concurrent.ConcurrentHashMap<>();

  Discovery(List<ResourceDescriptor> resources) {
    this.resources = List.copyOf(resources);
  }

  /** group -> versions in preference order -> resources. */
  private Map<String, Map<String, List<ResourceDescriptor>>> byGroup() {
    Map<String, Map<String, List<ResourceDescriptor>>> m = new LinkedHashMap<>();
    for (ResourceDescriptor d : resources) {
      m.computeIfAbsent(d.group, g -> new LinkedHashMap<>()).computeIfAbsent(d.version, v -> new ArrayList<>()).add(d);
    }
    return m;
  }

  byte[] aggregated(boolean core, String version) {
    return cache.computeIfAbsent("agg:" + core + ":" + version, k -> {
      ObjectNode list = Json.object();
      list.put("kind", "APIGroupDiscoveryList");
      list.put("apiVersion", "apidiscovery.k8s.io/" + version);
      list.putObject("metadata");
      ArrayNode items = list.putArray("items");
      for (Map.Entry<String, Map<String, List<ResourceDescriptor>>> g : byGroup().entrySet()) {
        if (core != g.getKey().isEmpty()) {
          continue;
        }
        ObjectNode item = items.addObject();
        item.putObject("metadata").put("name", g.getKey());
        ArrayNode versions = item.putArray("versions");
        for (Map.Entry<String, List<ResourceDescriptor>> v : g.getValue().entrySet()) {
          ObjectNode ver = versions.addObject();
          ver.put("version", v.getKey());
          ArrayNode res = ver.putArray("resources");
          for (ResourceDescriptor d : v.getValue()) {
            ObjectNode r = res.addObject();
            r.put("resource", d.plural);
            ObjectNode rk = r.putObject("responseKind");
            rk.put("group", d.group);
            rk.put("version", d.version);
            rk.put("kind", d.kind);
            r.put("scope", d.namespaced ? "Namespaced" : "Cluster");
            r.put("singularResource", d.singular);
            names(r, d);
            if (!d.subresources.isEmpty()) {
              ArrayNode subs = r.putArray("subresources");
              for (String s : d.subresources.stream().sorted().toList()) {
                ObjectNode so = subs.addObject();
                so.put("subresource", s);
                ObjectNode sk = so.putObject("responseKind");
                subresourceKind(d, s, sk);
                ArrayNode sv = so.putArray("verbs");
                subresourceVerbs(s).forEach(sv::add);
              }
            }
          }
          ver.put("freshness", "Current");
        }
      }
      return Json.bytes(list);
    });
  }

  /** verbs, shortNames and categories, which both discovery formats carry alike. */
  private static void names(ObjectNode r, ResourceDescriptor d) {
    ArrayNode verbs = r.putArray("verbs");
    d.verbs.forEach(verbs::add);
    if (!d.shortNames.isEmpty()) {
      ArrayNode sn = r.putArray("shortNames");
      d.shortNames.forEach(sn::add);
    }
    if (!d.categories.isEmpty()) {
      ArrayNode cat = r.putArray("categories");
      d.categories.forEach(cat::add);
    }
  }

  private static void subresourceKind(ResourceDescriptor d, String s, ObjectNode k) {
    switch (s) {
      case "scale" -> {
        k.put("group", "autoscaling");
        k.put("version", "v1");
        k.put("kind", "Scale");
      }
      case "binding" -> {
        k.put("group", "");
        k.put("version", "v1");
        k.put("kind", "Binding");
      }
      case "eviction" -> {
        k.put("group", "policy");
        k.put("version", "v1");
        k.put("kind", "Eviction");
      }
      case "token" -> {
        k.put("group", "authentication.k8s.io");
        k.put("version", "v1");
        k.put("kind", "TokenRequest");
      }
      case "log", "exec", "attach", "portforward", "proxy" -> {
        k.put("group", "");
        k.put("version", "v1");
        k.put("kind", s.equals("log") ? "Pod" : s.equals("proxy") ? (d.kind.equals("Node") ? "NodeProxyOptions" : "ServiceProxyOptions")
            : "Pod" + Character.toUpperCase(s.charAt(0)) + s.substring(1) + "Options");
      }
      default -> {
        k.put("group", d.group);
        k.put("version", d.version);
        k.put("kind", d.kind);
      }
    }
  }

  private static List<String> subresourceVerbs(String s) {
    return switch (s) {
      case "status", "scale" -> List.of("get", "patch", "update");
      case "binding", "eviction", "token" -> List.of("create");
      case "log" -> List.of("get");
      case "exec", "attach", "portforward" -> List.of("create", "get");
      case "proxy" -> List.of("create", "delete", "get", "patch", "update");
      case "finalize" -> List.of("update");
      case "ephemeralcontainers" -> List.of("get", "patch", "update");
      default -> List.of("get");
    };
  }

  byte[] apiVersions(String serverAddress) {
    ObjectNode o = Json.object();
    o.put("kind", "APIVersions");
    o.putArray("versions").add("v1");
    ArrayNode s = o.putArray("serverAddressByClientCIDRs");
    ObjectNode a = s.addObject();
    a.put("clientCIDR", "0.0.0.0/0");
    a.put("serverAddress", serverAddress);
    return Json.bytes(o);
  }

  byte[] apiGroupList() {
    return cache.computeIfAbsent("groups", k -> {
      ObjectNode o = Json.object();
      o.put("kind", "APIGroupList");
      o.put("apiVersion", "v1");
      ArrayNode groups = o.putArray("groups");
      for (Map.Entry<String, Map<String, List<ResourceDescriptor>>> g : byGroup().entrySet()) {
        if (!g.getKey().isEmpty()) {
          groups.add(group(g.getKey(), new ArrayList<>(g.getValue().keySet())));
        }
      }
      return Json.bytes(o);
    });
  }

  byte[] apiGroup(String group) {
    Map<String, List<ResourceDescriptor>> versions = byGroup().get(group);
    if (versions == null) {
      return null;
    }
    ObjectNode g = group(group, new ArrayList<>(versions.keySet()));
    g.put("kind", "APIGroup");
    g.put("apiVersion", "v1");
    return Json.bytes(g);
  }

  private static ObjectNode group(String name, List<String> versions) {
    ObjectNode g = Json.object();
    g.put("name", name);
    ArrayNode vs = g.putArray("versions");
    for (String v : versions) {
      ObjectNode vo = vs.addObject();
      vo.put("groupVersion", name + "/" + v);
      vo.put("version", v);
    }
    ObjectNode pref = g.putObject("preferredVersion");
    pref.put("groupVersion", name + "/" + versions.get(0));
    pref.put("version", versions.get(0));
    return g;
  }

  /** APIResourceList for one group-version, or null when it is not served. */
  byte[] resourceList(String group, String version) {
    Map<String, List<ResourceDescriptor>> versions = byGroup().get(group);
    if (versions == null || !versions.containsKey(version)) {
      return null;
    }
    return cache.computeIfAbsent("res:" + group + "/" + version, k -> {
      ObjectNode o = Json.object();
      o.put("kind", "APIResourceList");
      o.put("apiVersion", "v1");
      o.put("groupVersion", group.isEmpty() ? version : group + "/" + version);
      ArrayNode res = o.putArray("resources");
      for (ResourceDescriptor d : versions.get(version)) {
        ObjectNode r = res.addObject();
        r.put("name", d.plural);
        r.put("singularName", d.singular);
        r.put("namespaced", d.namespaced);
        r.put("kind", d.kind);
        names(r, d);
        for (String s : d.subresources.stream().sorted().toList()) {
          ObjectNode so = res.addObject();
          so.put("name", d.plural + "/" + s);
          so.put("singularName", "");
          so.put("namespaced", d.namespaced);
          ObjectNode k2 = Json.object();
          subresourceKind(d, s, k2);
          if (!k2.path("group").asText().equals(group)) {
            so.put("group", k2.path("group").asText());
            so.put("version", k2.path("version").asText());
          }
          so.put("kind", k2.path("kind").asText());
          ArrayNode sv = so.putArray("verbs");
          subresourceVerbs(s).forEach(sv::add);
        }
      }
      return Json.bytes(o);
    });
  }
}
