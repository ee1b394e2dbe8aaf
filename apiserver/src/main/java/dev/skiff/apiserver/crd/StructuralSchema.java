package dev.skiff.apiserver.crd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException.Cause;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * A CRD version's {@code openAPIV3Schema} applied to custom resource objects, as
 * apiextensions-apiserver does: structural pruning of unknown fields
 * (pkg/apiserver/schema/pruning), defaulting (pkg/apiserver/schema/defaulting) and validation with
 * kube-openapi's messages turned into field errors (pkg/apiserver/validation/validation.go
 * kubeOpenAPIResultToFieldErrors). Immutable and thread-safe.
 */
public final class StructuralSchema {
  private static final Map<String, Pattern> PATTERNS = new ConcurrentHashMap<>();

  private static final java.util.Set<String> OBJECT_META = java.util.Set.of("name", "generateName", "namespace",
      "selfLink", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
      "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers", "managedFields");
  private static final Pattern DNS1123_SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

  private final JsonNode root;

  public StructuralSchema(JsonNode openApiV3Schema) {
    this.root = openApiV3Schema == null ? null : openApiV3Schema.deepCopy();
  }

  public JsonNode root() {
    return root;
  }

  // ---------------------------------------------------------------- pruning

  /**
   * Removes fields the schema does not specify (and nulls of non-nullable fields without a default,
   * as PruneNonNullableNullsWithoutDefaults); returns the paths of removed unknown fields like
   * {@code spec.foo} or {@code spec.items[0].bar}, which fieldValidation=Strict reports.
   */
  public List<String> prune(ObjectNode obj) {
    List<String> unknown = new ArrayList<>();
    if (root == null) {
      return unknown;
    }
    pruneObject(obj, root, "", true, unknown);
    return unknown;
  }

  private void prune(JsonNode node, JsonNode schema, String path, List<String> unknown) {
    if (schema == null || schema.isMissingNode() || node == null) {
      return;
    }
    if (node instanceof ObjectNode o) {
      pruneObject(o, schema, path, schema.path("x-kubernetes-embedded-resource").asBoolean(false), unknown);
    } else if (node instanceof ArrayNode a && schema.has("items")) {
      for (int i = 0; i < a.size(); i++) {
        prune(a.get(i), schema.get("items"), path + "[" + i + "]", unknown);
      }
    }
  }

  private void pruneObject(ObjectNode o, JsonNode schema, String path, boolean resource, List<String> unknown) {
    JsonNode props = schema.path("properties");
    JsonNode additional = schema.path("additionalProperties");
    boolean preserve = schema.path("x-kubernetes-preserve-unknown-fields").asBoolean(false);
    if (schema.path("x-kubernetes-int-or-string").asBoolean(false)) {
      return;
    }
    Iterator<Map.Entry<String, JsonNode>> it = o.properties().iterator();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      String name = e.getKey();
      String child = path.isEmpty() ? name : path + "." + name;
      if (resource && name.equals("metadata")) {
        // Always ObjectMeta, whatever the schema says about it (at most name restrictions).
        if (e.getValue() instanceof ObjectNode meta) {
          pruneObjectMeta(meta, child, unknown);
        }
        continue;
      }
      if (resource && (name.equals("apiVersion") || name.equals("kind")) && !props.has(name)) {
        continue; // implicitly specified
      }
      JsonNode sub = props.get(name);
      if (sub == null && additional.isObject()) {
        sub = additional;
      }
      if (sub == null) {
        if (!preserve && !(additional.isBoolean() && additional.asBoolean())) {
          it.remove();
          unknown.add(child);
        }
        continue;
      }
      if (e.getValue().isNull() && !sub.path("nullable").asBoolean(false) && !sub.has("default")) {
        it.remove();
        continue;
      }
      prune(e.getValue(), sub, child, unknown);
    }
  }

  /** ObjectMeta keeps its own fields only (objectmeta.Coerce drops the rest). */
  private static void pruneObjectMeta(ObjectNode meta, String path, List<String> unknown) {
    Iterator<String> it = meta.fieldNames();
    while (it.hasNext()) {
      String f = it.next();
      if (!OBJECT_META.contains(f)) {
        it.remove();
        unknown.add(path + "." + f);
      }
    }
  }

  // ---------------------------------------------------------------- defaulting

  /** Fills missing fields that have a {@code default}, top-down (defaulting.Default). */
  public void applyDefaults(ObjectNode obj) {
    if (root != null) {
      defaults(obj, root);
    }
  }

  private static void defaults(JsonNode node, JsonNode schema) {
    if (schema == null || node == null) {
      return;
    }
    if (node instanceof ObjectNode o) {
      JsonNode props = schema.path("properties");
      for (Map.Entry<String, JsonNode> p : props.properties()) {
        JsonNode def = p.getValue().get("default");
        JsonNode cur = o.get(p.getKey());
        if (def != null && (cur == null || (cur.isNull() && !p.getValue().path("nullable").asBoolean(false)))) {
          o.set(p.getKey(), def.deepCopy());
        }
      }
      for (Map.Entry<String, JsonNode> e : o.properties()) {
        JsonNode sub = props.get(e.getKey());
        if (sub == null && schema.path("additionalProperties").isObject()) {
          sub = schema.get("additionalProperties");
        }
        defaults(e.getValue(), sub);
      }
    } else if (node instanceof ArrayNode a && schema.has("items")) {
      for (JsonNode item : a) {
        defaults(item, schema.get("items"));
      }
    }
  }

  // ---------------------------------------------------------------- validation

  /** Field errors of an object against the schema (empty when valid). */
  public List<Cause> validate(ObjectNode obj) {
    List<Cause> causes = new ArrayList<>();
    if (root != null) {
      validate(obj, root, "", causes, true);
    }
    return causes;
  }

  private void validate(JsonNode node, JsonNode s, String path, List<Cause> out, boolean isRoot) {
    if (node.isNull()) {
      if (!s.path("nullable").asBoolean(false) && s.has("type")) {
        out.add(typeInvalid(path, "null", s.path("type").asText()));
      }
      return;
    }
    if (s.path("x-kubernetes-int-or-string").asBoolean(false)) {
      if (!node.isIntegralNumber() && !node.isTextual()) {
        out.add(typeInvalid(path, typeOf(node), "integer,string"));
        return;
      }
    } else if (s.has("type")) {
      String want = s.get("type").asText();
      String have = typeOf(node);
      boolean ok = want.equals(have) || (want.equals("number") && have.equals("integer"));
      if (!ok) {
        out.add(typeInvalid(path, have, want));
        return;
      }
    }
    JsonNode en = s.get("enum");
    if (en != null && en.isArray()) {
      boolean found = false;
      for (JsonNode v : en) {
        if (equalValues(v, node)) {
          found = true;
          break;
        }
      }
      if (!found) {
        List<String> allowed = new ArrayList<>();
        for (JsonNode v : en) {
          allowed.add(v.isTextual() ? v.asText() : v.toString());
        }
        out.add(Cause.notSupported(field(path), node, allowed));
      }
    }
    if (node.isTextual()) {
      String v = node.asText();
      int len = v.codePointCount(0, v.length());
      if (s.has("maxLength") && len > s.get("maxLength").asLong()) {
        out.add(Cause.tooLong(field(path), s.get("maxLength").asInt()));
      }
      if (s.has("minLength") && len < s.get("minLength").asLong()) {
        out.add(Cause.invalid(field(path), node, name(path) + " in body should be at least " + s.get("minLength").asLong() + " chars long"));
      }
      if (s.has("pattern")) {
        Pattern p = pattern(s.get("pattern").asText());
        if (p != null && !p.matcher(v).find()) {
          out.add(Cause.invalid(field(path), node, name(path) + " in body should match '" + s.get("pattern").asText() + "'"));
        }
      }
    }
    if (node.isNumber()) {
      BigDecimal v = node.decimalValue();
      if (s.has("minimum")) {
        BigDecimal min = s.get("minimum").decimalValue();
        boolean excl = s.path("exclusiveMinimum").asBoolean(false);
        int c = v.compareTo(min);
        if (c < 0 || (excl && c == 0)) {
          out.add(Cause.invalid(field(path), node, name(path) + " in body should be greater than " + (excl ? "" : "or equal to ") + num(min)));
        }
      }
      if (s.has("maximum")) {
        BigDecimal max = s.get("maximum").decimalValue();
        boolean excl = s.path("exclusiveMaximum").asBoolean(false);
        int c = v.compareTo(max);
        if (c > 0 || (excl && c == 0)) {
          out.add(Cause.invalid(field(path), node, name(path) + " in body should be less than " + (excl ? "" : "or equal to ") + num(max)));
        }
      }
      if (s.has("multipleOf")) {
        BigDecimal m = s.get("multipleOf").decimalValue();
        if (m.signum() != 0 && v.remainder(m).signum() != 0) {
          out.add(Cause.invalid(field(path), node, name(path) + " in body should be a multiple of " + num(m)));
        }
      }
    }
    if (node instanceof ArrayNode a) {
      if (s.has("maxItems") && a.size() > s.get("maxItems").asLong()) {
        out.add(new Cause("FieldValueTooMany", "Too many: " + a.size() + ": must have at most " + s.get("maxItems").asLong() + " items", field(path)));
      }
      if (s.has("minItems") && a.size() < s.get("minItems").asLong()) {
        out.add(Cause.invalid(field(path), a.size(), name(path) + " in body should have at least " + s.get("minItems").asLong() + " items"));
      }
      if (s.path("uniqueItems").asBoolean(false) || "set".equals(s.path("x-kubernetes-list-type").asText())) {
        for (int i = 0; i < a.size(); i++) {
          for (int j = 0; j < i; j++) {
            if (equalValues(a.get(i), a.get(j))) {
              out.add(Cause.duplicate(field(path) + "[" + i + "]", a.get(i)));
            }
          }
        }
      }
      JsonNode items = s.get("items");
      if (items != null && items.isObject()) {
        for (int i = 0; i < a.size(); i++) {
          validate(a.get(i), items, path + "[" + i + "]", out, false);
        }
      }
    }
    if (node instanceof ObjectNode o) {
      JsonNode props = s.path("properties");
      for (JsonNode r : s.path("required")) {
        if (!o.has(r.asText())) {
          out.add(Cause.required(child(path, r.asText())));
        }
      }
      boolean embedded = s.path("x-kubernetes-embedded-resource").asBoolean(false);
      if (embedded) {
        for (String f : new String[] {"apiVersion", "kind"}) {
          JsonNode v = o.get(f);
          if ((v == null || v.asText("").isEmpty()) && !props.has(f)) {
            out.add(new Cause("FieldValueRequired", "Required value: must not be empty", child(path, f)));
          } else if (v != null && !v.isTextual()) {
            out.add(typeInvalid(child(path, f), typeOf(v), "string"));
          }
        }
        JsonNode meta = o.get("metadata");
        if (meta != null && !meta.isObject() && !props.has("metadata")) {
          out.add(typeInvalid(child(path, "metadata"), typeOf(meta), "object"));
        } else if (meta != null && meta.path("name").isTextual()) {
          // Embedded ObjectMeta is validated as ObjectMeta (ValidateEmbeddedResource).
          String n = meta.get("name").asText();
          if (!n.isEmpty() && (n.length() > 253 || !DNS1123_SUBDOMAIN.matcher(n).matches())) {
            out.add(Cause.invalid(child(path, "metadata.name"), n, "a lowercase RFC 1123 subdomain must consist of lower "
                + "case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. "
                + "'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"));
          }
        }
      }
      if (s.has("maxProperties") && o.size() > s.get("maxProperties").asLong()) {
        out.add(new Cause("FieldValueTooMany", "Too many: " + o.size() + ": must have at most " + s.get("maxProperties").asLong() + " items", field(path)));
      }
      if (s.has("minProperties") && o.size() < s.get("minProperties").asLong()) {
        out.add(Cause.invalid(field(path), o.size(), name(path) + " in body should have at least " + s.get("minProperties").asLong() + " properties"));
      }
      for (Map.Entry<String, JsonNode> e : o.properties()) {
        if ((isRoot || embedded) && e.getKey().equals("metadata") && !props.has("metadata")) {
          continue;
        }
        JsonNode sub = props.get(e.getKey());
        if (sub == null && s.path("additionalProperties").isObject()) {
          sub = s.get("additionalProperties");
        }
        if (sub != null) {
          validate(e.getValue(), sub, child(path, e.getKey()), out, false);
        }
      }
    }
  }

  private static Cause typeInvalid(String path, String have, String want) {
    // kube-openapi InvalidType: "%s in %s must be of type %s: %q" with the data's type name, reported
    // by apiextensions as field.TypeInvalid whose value is that type name.
    return new Cause("FieldValueTypeInvalid", "Invalid value: \"" + have + "\": " + name(path)
        + " in body must be of type " + want + ": \"" + have + "\"", field(path));
  }

  private static String typeOf(JsonNode n) {
    if (n.isTextual()) {
      return "string";
    }
    if (n.isIntegralNumber()) {
      return "integer";
    }
    if (n.isNumber()) {
      return n.decimalValue().stripTrailingZeros().scale() <= 0 ? "integer" : "number";
    }
    if (n.isBoolean()) {
      return "boolean";
    }
    if (n.isArray()) {
      return "array";
    }
    if (n.isObject()) {
      return "object";
    }
    return "null";
  }

  private static boolean equalValues(JsonNode a, JsonNode b) {
    if (a.isNumber() && b.isNumber()) {
      return a.decimalValue().compareTo(b.decimalValue()) == 0;
    }
    return a.equals(b);
  }

  private static String num(BigDecimal d) {
    BigDecimal s = d.stripTrailingZeros();
    return s.scale() <= 0 ? s.toBigInteger().toString() : s.toPlainString();
  }

  private static Pattern pattern(String regex) {
    try {
      return PATTERNS.computeIfAbsent(regex, Pattern::compile);
    } catch (PatternSyntaxException e) {
      return null;
    }
  }

  private static String child(String path, String name) {
    return path.isEmpty() ? name : path + "." + name;
  }

  private static String field(String path) {
    return path.isEmpty() ? "<root>" : path;
  }

  private static String name(String path) {
    return path.isEmpty() ? "body" : path;
  }
}
