package dev.skiff.apiserver.crd;

import com.fasterxml.jackson.databind.JsonNode;
import dev.skiff.apiserver.api.ApiException.Cause;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * CustomResourceDefinition validation, the subset of apiextensions-apiserver
 * pkg/apis/apiextensions/validation/validation.go that decides whether a CRD can be served: names,
 * group, scope, versions (exactly one storage version), subresources, printer columns and the
 * structural-schema basics (every specified field has a type, arrays have items, the root is an object).
 */
final class CrdValidation {
  private static final Pattern DNS1035 = Pattern.compile("[a-z]([-a-z0-9]*[a-z0-9])?");
  private static final Pattern DNS1123_SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  private static final Set<String> TYPES = Set.of("object", "array", "string", "integer", "number", "boolean");
  private static final Set<String> COLUMN_TYPES = Set.of("integer", "number", "string", "boolean", "date");

  private CrdValidation() {}

  static List<Cause> validate(JsonNode crd) {
    List<Cause> out = new ArrayList<>();
    JsonNode spec = crd.path("spec");
    String name = crd.path("metadata").path("name").asText("");
    String group = spec.path("group").asText("");
    JsonNode names = spec.path("names");
    String plural = names.path("plural").asText("");
    if (!name.isEmpty() && !name.equals(plural + "." + group)) {
      out.add(Cause.invalid("metadata.name", name, "must be spec.names.plural+\".\"+spec.group"));
    }
    if (group.isEmpty()) {
      out.add(Cause.required("spec.group"));
    } else {
      if (!DNS1123_SUBDOMAIN.matcher(group).matches()) {
        out.add(Cause.invalid("spec.group", group, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
            + "characters, '-' or '.', and must start and end with an alphanumeric character"));
      }
      if (group.split("\\.").length < 2) {
        out.add(Cause.invalid("spec.group", group, "should be a domain with at least one dot"));
      }
      // Protected community groups need an approval annotation (apiextensions v1 validation).
      if ((group.equals("k8s.io") || group.endsWith(".k8s.io") || group.equals("kubernetes.io") || group.endsWith(".kubernetes.io"))
          && crd.path("metadata").path("annotations").path("api-approved.kubernetes.io").asText("").isEmpty()) {
        out.add(new Cause("FieldValueRequired", "Required value: protected groups must have approval annotation "
            + "\"api-approved.kubernetes.io\", see https://github.com/kubernetes/enhancements/pull/1111",
            "metadata.annotations[api-approved.kubernetes.io]"));
      }
    }
    String scope = spec.path("scope").asText("");
    if (scope.isEmpty()) {
      out.add(Cause.required("spec.scope"));
    } else if (!scope.equals("Namespaced") && !scope.equals("Cluster")) {
      out.add(Cause.notSupported("spec.scope", scope, List.of("Cluster", "Namespaced")));
    }
    names(names, "spec.names", out);

    JsonNode versions = spec.path("versions");
    if (!versions.isArray() || versions.isEmpty()) {
      out.add(Cause.required("spec.versions"));
    } else {
      int storage = 0;
      Set<String> seen = new HashSet<>();
      boolean unique = true;
      for (int i = 0; i < versions.size(); i++) {
        JsonNode v = versions.get(i);
        String p = "spec.versions[" + i + "]";
        String vn = v.path("name").asText("");
        if (v.path("storage").asBoolean(false)) {
          storage++;
        }
        if (!seen.add(vn)) {
          unique = false;
        }
        if (vn.isEmpty()) {
          out.add(Cause.required(p + ".name"));
        } else if (!DNS1035.matcher(vn).matches() || vn.length() > 63) {
          out.add(Cause.invalid(p + ".name", vn, "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
              + "start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
              + "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"));
        }
        JsonNode schema = v.path("schema").path("openAPIV3Schema");
        if (schema.isMissingNode() || schema.isNull()) {
          out.add(new Cause("FieldValueRequired", "Required value: schemas are required", p + ".schema.openAPIV3Schema"));
        } else {
          schema(schema, p + ".schema.openAPIV3Schema", true, out);
        }
        subresources(v.path("subresources"), p + ".subresources", out);
        JsonNode cols = v.path("additionalPrinterColumns");
        for (int c = 0; c < cols.size(); c++) {
          JsonNode col = cols.get(c);
          String cp = p + ".additionalPrinterColumns[" + c + "]";
          if (col.path("name").asText("").isEmpty()) {
            out.add(Cause.required(cp + ".name"));
          }
          String t = col.path("type").asText("");
          if (t.isEmpty()) {
            out.add(Cause.required(cp + ".type"));
          } else if (!COLUMN_TYPES.contains(t)) {
            out.add(Cause.notSupported(cp + ".type", t, List.of("boolean", "date", "integer", "number", "string")));
          }
          if (col.path("jsonPath").asText("").isEmpty()) {
            out.add(Cause.required(cp + ".jsonPath"));
          }
        }
      }
      if (!unique) {
        out.add(Cause.invalid("spec.versions", versions, "must contain unique version names"));
      }
      if (storage != 1) {
        out.add(Cause.invalid("spec.versions", versions, "must have exactly one version marked as storage version"));
      }
    }
    String strategy = spec.path("conversion").path("strategy").asText("None");
    if (!strategy.equals("None") && !strategy.equals("Webhook")) {
      out.add(Cause.notSupported("spec.conversion.strategy", strategy, List.of("None", "Webhook")));
    } else if (strategy.equals("Webhook")) {
      out.add(Cause.forbidden("spec.conversion.strategy", "conversion webhooks are not supported by this server"));
    }
    return out;
  }

  /** Update rules (ValidateCustomResourceDefinitionUpdate / ValidateCustomResourceDefinitionStoredVersions). */
  static List<Cause> validateUpdate(JsonNode crd, JsonNode old) {
    List<Cause> out = validate(crd);
    String scope = crd.path("spec").path("scope").asText("");
    String oldScope = old.path("spec").path("scope").asText("");
    if (!scope.equals(oldScope) && !oldScope.isEmpty()) {
      out.add(Cause.invalid("spec.scope", scope, "field is immutable"));
    }
    String group = crd.path("spec").path("group").asText("");
    if (!group.equals(old.path("spec").path("group").asText(""))) {
      out.add(Cause.invalid("spec.group", group, "field is immutable"));
    }
    Set<String> versions = new HashSet<>();
    crd.path("spec").path("versions").forEach(v -> versions.add(v.path("name").asText()));
    JsonNode stored = crd.path("status").path("storedVersions");
    for (int i = 0; i < stored.size(); i++) {
      if (!versions.contains(stored.get(i).asText())) {
        out.add(Cause.invalid("status.storedVersions[" + i + "]", stored.get(i).asText(), "must appear in spec.versions"));
      }
    }
    return out;
  }

  private static void names(JsonNode names, String p, List<Cause> out) {
    String plural = names.path("plural").asText("");
    if (plural.isEmpty()) {
      out.add(Cause.required(p + ".plural"));
    } else if (!DNS1035.matcher(plural).matches()) {
      out.add(Cause.invalid(p + ".plural", plural, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters "
          + "or '-', and must start and end with an alphanumeric character"));
    }
    String singular = names.path("singular").asText("");
    if (!singular.isEmpty() && !DNS1035.matcher(singular).matches()) {
      out.add(Cause.invalid(p + ".singular", singular, "a lowercase RFC 1123 label must consist of lower case alphanumeric "
          + "characters or '-', and must start and end with an alphanumeric character"));
    }
    if (names.path("kind").asText("").isEmpty()) {
      out.add(Cause.required(p + ".kind"));
    }
    String kind = names.path("kind").asText("");
    if (!kind.isEmpty() && kind.equals(names.path("listKind").asText(""))) {
      out.add(Cause.invalid(p + ".listKind", kind, "kind and listKind may not be the same"));
    }
    JsonNode shorts = names.path("shortNames");
    for (int i = 0; i < shorts.size(); i++) {
      String s = shorts.get(i).asText("");
      if (!DNS1035.matcher(s).matches()) {
        out.add(Cause.invalid(p + ".shortNames[" + i + "]", s, "a lowercase RFC 1123 label must consist of lower case "
            + "alphanumeric characters or '-', and must start and end with an alphanumeric character"));
      }
    }
  }

  private static void subresources(JsonNode subs, String p, List<Cause> out) {
    JsonNode scale = subs.get("scale");
    if (scale == null || scale.isNull()) {
      return;
    }
    String spec = scale.path("specReplicasPath").asText("");
    String status = scale.path("statusReplicasPath").asText("");
    if (spec.isEmpty()) {
      out.add(Cause.required(p + ".scale.specReplicasPath"));
    } else if (!spec.startsWith(".spec.")) {
      out.add(Cause.invalid(p + ".scale.specReplicasPath", spec, "should be a json path under .spec"));
    }
    if (status.isEmpty()) {
      out.add(Cause.required(p + ".scale.statusReplicasPath"));
    } else if (!status.startsWith(".status.")) {
      out.add(Cause.invalid(p + ".scale.statusReplicasPath", status, "should be a json path under .status"));
    }
    String sel = scale.path("labelSelectorPath").asText("");
    if (!sel.isEmpty() && !sel.startsWith(".spec.") && !sel.startsWith(".status.")) {
      out.add(Cause.invalid(p + ".scale.labelSelectorPath", sel, "should be a json path under either .spec or .status"));
    }
  }

  /** Structural schema basics (apiextensions-apiserver pkg/apiserver/schema/validation.go). */
  private static void schema(JsonNode s, String p, boolean root, List<Cause> out) {
    boolean intOrString = s.path("x-kubernetes-int-or-string").asBoolean(false);
    boolean preserve = s.path("x-kubernetes-preserve-unknown-fields").asBoolean(false);
    String type = s.path("type").asText("");
    if (root && !type.equals("object")) {
      if (type.isEmpty()) {
        out.add(new Cause("FieldValueRequired", "Required value: must not be empty at the root", p + ".type"));
      } else {
        out.add(Cause.invalid(p + ".type", type, "must be object at the root"));
      }
    } else if (type.isEmpty() && !intOrString && !preserve) {
      out.add(new Cause("FieldValueRequired", "Required value: must not be empty for specified "
          + (s.has("items") ? "array items" : "object fields"), p + ".type"));
    } else if (!type.isEmpty() && !TYPES.contains(type)) {
      out.add(Cause.notSupported(p + ".type", type, List.of("array", "boolean", "integer", "number", "object", "string")));
    }
    if (type.equals("array") && !s.has("items")) {
      out.add(new Cause("FieldValueRequired", "Required value: must be specified", p + ".items"));
    }
    if (s.has("properties") && s.path("additionalProperties").isObject()) {
      out.add(Cause.forbidden(p + ".additionalProperties", "additionalProperties and properties are mutual exclusive"));
    }
    for (Map.Entry<String, JsonNode> e : s.path("properties").properties()) {
      schema(e.getValue(), p + ".properties[" + e.getKey() + "]", false, out);
    }
    if (s.path("items").isObject()) {
      schema(s.get("items"), p + ".items", false, out);
    }
    if (s.path("additionalProperties").isObject()) {
      schema(s.get("additionalProperties"), p + ".additionalProperties", false, out);
    }
    if (s.has("default") && root) {
      out.add(Cause.forbidden(p + ".default", "must not be set at the root"));
    }
  }
}
