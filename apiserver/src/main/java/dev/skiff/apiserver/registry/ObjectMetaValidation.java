package dev.skiff.apiserver.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException.Cause;
import dev.skiff.apiserver.selector.LabelValidation;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * ObjectMeta validation as apimachinery pkg/api/validation/objectmeta.go and the name rules of
 * pkg/apis/core/validation: names, labels, annotations, finalizers, owner references. Messages
 * are upstream's, because kubectl shows them verbatim.
 */
public final class ObjectMetaValidation {
  private static final Pattern DNS1123_LABEL = Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?");
  private static final Pattern DNS1035_LABEL = Pattern.compile("[a-z]([-a-z0-9]*[a-z0-9])?");
  private static final Pattern DNS1123_SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  private static final int TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;
  private static final Set<String> DNS1123_LABEL_KINDS = Set.of("Namespace");
  private static final Set<String> DNS1035_LABEL_KINDS = Set.of("Service");
  private static final Set<String> PATH_SEGMENT_KINDS = Set.of("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding");

  private ObjectMetaValidation() {}

  public static List<Cause> validate(ResourceDescriptor d, ObjectNode obj, ObjectNode old) {
    List<Cause> out = new ArrayList<>();
    JsonNode meta = obj.path("metadata");
    String name = meta.path("name").asText("");
    if (old == null) {
      String why = nameError(d.kind, name);
      if (why != null) {
        out.add(Cause.invalid("metadata.name", name, why));
      }
    }
    labels(meta.path("labels"), out);
    annotations(meta.path("annotations"), out);
    JsonNode fins = meta.path("finalizers");
    for (int i = 0; i < fins.size(); i++) {
      String f = fins.get(i).asText();
      String why = LabelValidation.labelKeyError(f);
      if (why != null) {
        out.add(Cause.invalid("metadata.finalizers[" + i + "]", f, why));
      }
    }
    JsonNode owners = meta.path("ownerReferences");
    for (int i = 0; i < owners.size(); i++) {
      JsonNode o = owners.get(i);
      String p = "metadata.ownerReferences[" + i + "]";
      for (String f : new String[] {"apiVersion", "kind", "name", "uid"}) {
        if (o.path(f).asText("").isEmpty()) {
          out.add(f.equals("uid") ? Cause.invalid(p + ".uid", "", "uid must not be empty") : Cause.invalid(p + "." + f, "", f + " must not be empty"));
        }
      }
    }
    return out;
  }

  /** Why {@code name} is not a valid name for {@code kind}, or null. */
  public static String nameError(String kind, String name) {
    if (PATH_SEGMENT_KINDS.contains(kind)) {
      if (name.equals(".") || name.equals("..")) {
        return "may not be '" + name + "'";
      }
      if (name.contains("/")) {
        return "may not contain '/'";
      }
      if (name.contains("%")) {
        return "may not contain '%'";
      }
      return null;
    }
    if (DNS1123_LABEL_KINDS.contains(kind)) {
      return dns1123Label(name);
    }
    if (DNS1035_LABEL_KINDS.contains(kind)) {
      if (name.length() > 63) {
        return "must be no more than 63 characters";
      }
      if (!DNS1035_LABEL.matcher(name).matches()) {
        return "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an"
            + " alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123',"
            + " regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
      }
      return null;
    }
    return dns1123Subdomain(name);
  }

  public static String dns1123Label(String name) {
    if (name.length() > 63) {
      return "must be no more than 63 characters";
    }
    if (!DNS1123_LABEL.matcher(name).matches()) {
      return "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must"
          + " start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for"
          + " validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
    }
    return null;
  }

  public static String dns1123Subdomain(String name) {
    if (name.length() > 253) {
      return "must be no more than 253 characters";
    }
    if (!DNS1123_SUBDOMAIN.matcher(name).matches()) {
      return "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and"
          + " must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is"
          + " '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    }
    return null;
  }

  private static void labels(JsonNode labels, List<Cause> out) {
    Iterator<Map.Entry<String, JsonNode>> it = labels.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      String why = LabelValidation.labelKeyError(e.getKey());
      if (why != null) {
        out.add(Cause.invalid("metadata.labels", e.getKey(), why));
      }
      String v = e.getValue().asText();
      if (!LabelValidation.isValidLabelValue(v)) {
        out.add(Cause.invalid("metadata.labels", v,
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and"
                + " must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345',"
                + " regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"));
      }
    }
  }

  private static void annotations(JsonNode annotations, List<Cause> out) {
    long total = 0;
    Iterator<Map.Entry<String, JsonNode>> it = annotations.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      String why = LabelValidation.labelKeyError(e.getKey().toLowerCase());
      if (why != null) {
        out.add(Cause.invalid("metadata.annotations", e.getKey(), why));
      }
      total += e.getKey().length() + e.getValue().asText().getBytes(StandardCharsets.UTF_8).length;
    }
    if (total > TOTAL_ANNOTATION_SIZE_LIMIT) {
      out.add(Cause.tooLong("metadata.annotations", TOTAL_ANNOTATION_SIZE_LIMIT));
    }
  }
}
