package dev.skiff.apiserver.rbac;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.auth.RequestAttributes;
import java.util.ArrayList;
import java.util.List;

/**
 * One rbac/v1 PolicyRule, compiled for matching. The matching rules are upstream's
 * (pkg/apis/rbac/v1/evaluation_helpers.go: VerbMatches, APIGroupMatches, ResourceMatches,
 * ResourceNameMatches, NonResourceURLMatches; plugin/pkg/auth/authorizer/rbac/rbac.go RuleAllows).
 */
public record PolicyRule(List<String> verbs, List<String> apiGroups, List<String> resources,
    List<String> resourceNames, List<String> nonResourceURLs) {

  public PolicyRule {
    verbs = List.copyOf(verbs);
    apiGroups = List.copyOf(apiGroups);
    resources = List.copyOf(resources);
    resourceNames = List.copyOf(resourceNames);
    nonResourceURLs = List.copyOf(nonResourceURLs);
  }

  public static PolicyRule parse(JsonNode rule) {
    return new PolicyRule(strings(rule.get("verbs")), strings(rule.get("apiGroups")), strings(rule.get("resources")),
        strings(rule.get("resourceNames")), strings(rule.get("nonResourceURLs")));
  }

  public static List<PolicyRule> parseAll(JsonNode rules) {
    List<PolicyRule> out = new ArrayList<>();
    if (rules != null) {
      for (JsonNode r : rules) {
        out.add(parse(r));
      }
    }
    return out;
  }

  /** Resource rule: verbs on resources of groups. */
  public static PolicyRule resources(List<String> verbs, List<String> groups, List<String> resources) {
    return new PolicyRule(verbs, groups, resources, List.of(), List.of());
  }

  /** Non-resource rule: verbs on URL paths. */
  public static PolicyRule urls(List<String> verbs, List<String> urls) {
    return new PolicyRule(verbs, List.of(), List.of(), List.of(), urls);
  }

  public ObjectNode toJson() {
    ObjectNode o = Json.object();
    put(o, "verbs", verbs, true);
    put(o, "apiGroups", apiGroups, !resources.isEmpty());
    put(o, "resources", resources, false);
    put(o, "resourceNames", resourceNames, false);
    put(o, "nonResourceURLs", nonResourceURLs, false);
    return o;
  }

  private static void put(ObjectNode o, String field, List<String> values, boolean always) {
    if (values.isEmpty() && !always) {
      return;
    }
    ArrayNode a = o.putArray(field);
    values.forEach(a::add);
  }

  private static List<String> strings(JsonNode n) {
    if (n == null || !n.isArray()) {
      return List.of();
    }
    List<String> out = new ArrayList<>(n.size());
    for (JsonNode s : n) {
      out.add(s.asText());
    }
    return out;
  }

  public boolean allows(RequestAttributes a) {
    if (!matchesAny(verbs, a.verb())) {
      return false;
    }
    if (!a.resourceRequest()) {
      return nonResourceURLMatches(a.path());
    }
    String group = a.apiGroup() == null ? "" : a.apiGroup();
    return matchesAny(apiGroups, group)
        && resourceMatches(a.resource(), a.subresource())
        && resourceNameMatches(a.name());
  }

  private static boolean matchesAny(List<String> values, String requested) {
    for (int i = 0; i < values.size(); i++) {
      String v = values.get(i);
      if (v.equals("*") || v.equals(requested)) {
        return true;
      }
    }
    return false;
  }

  boolean resourceMatches(String resource, String subresource) {
    boolean hasSub = subresource != null && !subresource.isEmpty();
    for (int i = 0; i < resources.size(); i++) {
      String r = resources.get(i);
      if (r.equals("*")) {
        return true;
      }
      // "resource/subresource" compared without building the combined string
      if (!hasSub) {
        if (r.equals(resource)) {
          return true;
        }
        continue;
      }
      int rl = resource == null ? 0 : resource.length();
      if (r.length() == rl + 1 + subresource.length() && r.startsWith(resource) && r.charAt(rl) == '/'
          && r.endsWith(subresource)) {
        return true;
      }
      if (r.length() == subresource.length() + 2 && r.startsWith("*/") && r.endsWith(subresource)) {
        return true;
      }
    }
    return false;
  }

  boolean resourceNameMatches(String name) {
    if (resourceNames.isEmpty()) {
      return true;
    }
    return name != null && !name.isEmpty() && resourceNames.contains(name);
  }

  boolean nonResourceURLMatches(String path) {
    for (int i = 0; i < nonResourceURLs.size(); i++) {
      String u = nonResourceURLs.get(i);
      if (u.equals("*") || u.equals(path)) {
        return true;
      }
      if (u.endsWith("*") && path.startsWith(stripStars(u))) {
        return true;
      }
    }
    return false;
  }

  private static String stripStars(String u) {
    int end = u.length();
    while (end > 0 && u.charAt(end - 1) == '*') {
      end--;
    }
    return u.substring(0, end);
  }
}
