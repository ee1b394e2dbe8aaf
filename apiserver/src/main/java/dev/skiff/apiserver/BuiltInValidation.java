package dev.skiff.apiserver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.ApiException.Cause;
import dev.skiff.apiserver.registry.ObjectMetaValidation;
import dev.skiff.apiserver.selector.LabelSelector;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * The most consequential kind-specific rules of kube-apiserver's validation
 * (pkg/apis/core/validation/validation.go ValidatePodSpec / ValidateService,
 * pkg/apis/apps/validation, pkg/apis/batch/validation), with upstream's field paths and wording,
 * so a broken manifest is refused the way a real cluster refuses it. Not every upstream rule is
 * here; the ones users hit daily are.
 */
final class BuiltInValidation {
  private static final Pattern CONFIG_KEY = Pattern.compile("[-._a-zA-Z0-9]+");
  private static final List<String> RESTART_POLICIES = List.of("Always", "OnFailure", "Never");
  private static final List<String> PROTOCOLS = List.of("SCTP", "TCP", "UDP");
  private static final List<String> SERVICE_TYPES = List.of("ClusterIP", "ExternalName", "LoadBalancer", "NodePort");

  private BuiltInValidation() {}

  static List<Cause> validate(String kind, ObjectNode obj, ObjectNode old) {
    List<Cause> out = new ArrayList<>();
    JsonNode spec = obj.path("spec");
    switch (kind) {
      case "Pod" -> podSpec(spec, "spec", out, null);
      case "PodTemplate" -> podSpec(obj.path("template").path("spec"), "template.spec", out, null);
      case "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "ReplicationController" -> workload(kind, obj, old, out);
      case "Job" -> {
        podSpec(spec.path("template").path("spec"), "spec.template.spec", out, List.of("OnFailure", "Never"));
        nonNegative(spec, "parallelism", "spec.parallelism", out);
        nonNegative(spec, "completions", "spec.completions", out);
        nonNegative(spec, "backoffLimit", "spec.backoffLimit", out);
        if (spec.has("activeDeadlineSeconds") && spec.get("activeDeadlineSeconds").asLong() <= 0) {
          out.add(Cause.invalid("spec.activeDeadlineSeconds", spec.get("activeDeadlineSeconds"), "must be greater than 0"));
        }
      }
      case "CronJob" -> {
        String schedule = spec.path("schedule").asText("");
        if (schedule.isEmpty()) {
          out.add(Cause.required("spec.schedule"));
        } else if (!CronSyntax.valid(schedule)) {
          out.add(Cause.invalid("spec.schedule", schedule, "unparseable schedule: " + schedule));
        }
        String cp = spec.path("concurrencyPolicy").asText("Allow");
        if (!List.of("Allow", "Forbid", "Replace").contains(cp)) {
          out.add(Cause.notSupported("spec.concurrencyPolicy", cp, List.of("Allow", "Forbid", "Replace")));
        }
        podSpec(spec.path("jobTemplate").path("spec").path("template").path("spec"), "spec.jobTemplate.spec.template.spec", out,
            List.of("OnFailure", "Never"));
      }
      case "Service" -> {
        service(spec, out);
        dev.skiff.apiserver.services.ServiceValidation.validate(obj, old, out);
      }
      case "ConfigMap", "Secret" -> {
        Set<String> keys = new HashSet<>();
        for (String field : new String[] {"data", "binaryData", "stringData"}) {
          obj.path(field).fieldNames().forEachRemaining(k -> {
            if (k.length() > 253 || !CONFIG_KEY.matcher(k).matches()) {
              out.add(Cause.invalid(field + "[" + k + "]", k,
                  "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
            }
            if (!field.equals("stringData") && !keys.add(k) && kind.equals("ConfigMap")) {
              out.add(Cause.invalid("data[" + k + "]", k, "duplicate of key present in binaryData"));
            }
          });
        }
      }
      default -> { }
    }
    return out;
  }

  private static void workload(String kind, ObjectNode obj, ObjectNode old, List<Cause> out) {
    JsonNode spec = obj.path("spec");
    JsonNode sel = spec.get("selector");
    nonNegative(spec, "replicas", "spec.replicas", out);
    if (kind.equals("ReplicationController")) {
      return;
    }
    if (sel == null || sel.isNull() || (sel.path("matchLabels").isEmpty() && sel.path("matchExpressions").isEmpty())) {
      out.add(sel == null || sel.isNull() ? Cause.required("spec.selector")
          : Cause.invalid("spec.selector", sel, "empty selector is invalid for deployment"));
    } else {
      Map<String, String> labels = new HashMap<>();
      spec.path("template").path("metadata").path("labels").fields()
          .forEachRemaining(e -> labels.put(e.getKey(), e.getValue().asText()));
      if (!matches(sel, labels)) {
        out.add(Cause.invalid("spec.template.metadata.labels", new ApiException.GoValue(goMap(labels)), "`selector` does not match template `labels`"));
      }
      // apps/v1 selectors are immutable (pkg/apis/apps/validation ValidateDeploymentUpdate etc.).
      if (old != null && !old.path("spec").path("selector").equals(sel)) {
        out.add(Cause.invalid("spec.selector", new ApiException.GoValue(selectorGo(sel)), "field is immutable"));
      }
    }
    List<String> allowed = List.of("Always");
    podSpec(spec.path("template").path("spec"), "spec.template.spec", out, allowed);
  }

  private static boolean matches(JsonNode sel, Map<String, String> labels) {
    StringBuilder s = new StringBuilder();
    sel.path("matchLabels").fields().forEachRemaining(e -> s.append(s.length() == 0 ? "" : ",").append(e.getKey()).append('=').append(e.getValue().asText()));
    for (JsonNode r : sel.path("matchExpressions")) {
      String key = r.path("key").asText();
      List<String> vals = new ArrayList<>();
      r.path("values").forEach(v -> vals.add(v.asText()));
      String term = switch (r.path("operator").asText()) {
        case "In" -> key + " in (" + String.join(",", vals) + ")";
        case "NotIn" -> key + " notin (" + String.join(",", vals) + ")";
        case "Exists" -> key;
        case "DoesNotExist" -> "!" + key;
        default -> null;
      };
      if (term != null) {
        s.append(s.length() == 0 ? "" : ",").append(term);
      }
    }
    try {
      return LabelSelector.parse(s.toString()).matches(labels);
    } catch (RuntimeException e) {
      return false;
    }
  }

  private static void podSpec(JsonNode spec, String path, List<Cause> out, List<String> restartPolicies) {
    JsonNode containers = spec.path("containers");
    if (containers.isEmpty()) {
      out.add(Cause.required(path + ".containers"));
    }
    Set<String> names = new HashSet<>();
    containers(spec.path("initContainers"), path + ".initContainers", names, out);
    containers(containers, path + ".containers", names, out);
    String rp = spec.path("restartPolicy").asText("");
    if (restartPolicies != null) {
      if (rp.isEmpty() && !restartPolicies.contains("Always")) {
        out.add(new Cause("FieldValueRequired", "Required value: valid values: \"OnFailure\", \"Never\"", path + ".restartPolicy"));
      } else if (!rp.isEmpty() && !restartPolicies.contains(rp)) {
        out.add(Cause.notSupported(path + ".restartPolicy", rp, restartPolicies));
      }
    } else if (!rp.isEmpty() && !RESTART_POLICIES.contains(rp)) {
      out.add(Cause.notSupported(path + ".restartPolicy", rp, RESTART_POLICIES));
    }
  }

  private static void containers(JsonNode list, String path, Set<String> names, List<Cause> out) {
    for (int i = 0; i < list.size(); i++) {
      JsonNode c = list.get(i);
      String p = path + "[" + i + "]";
      String name = c.path("name").asText("");
      if (name.isEmpty()) {
        out.add(Cause.required(p + ".name"));
      } else {
        String why = ObjectMetaValidation.dns1123Label(name);
        if (why != null) {
          out.add(Cause.invalid(p + ".name", name, why));
        } else if (!names.add(name)) {
          out.add(Cause.duplicate(p + ".name", name));
        }
      }
      if (c.path("image").asText("").isBlank()) {
        out.add(Cause.required(p + ".image"));
      }
      JsonNode ports = c.path("ports");
      for (int j = 0; j < ports.size(); j++) {
        JsonNode port = ports.get(j);
        int cp = port.path("containerPort").asInt(0);
        if (cp < 1 || cp > 65535) {
          out.add(port.has("containerPort")
              ? Cause.invalid(p + ".ports[" + j + "].containerPort", port.get("containerPort"), "must be between 1 and 65535, inclusive")
              : Cause.required(p + ".ports[" + j + "].containerPort"));
        }
        String proto = port.path("protocol").asText("TCP");
        if (!PROTOCOLS.contains(proto)) {
          out.add(Cause.notSupported(p + ".ports[" + j + "].protocol", proto, PROTOCOLS));
        }
      }
    }
  }

  private static void service(JsonNode spec, List<Cause> out) {
    String type = spec.path("type").asText("ClusterIP");
    if (!SERVICE_TYPES.contains(type)) {
      out.add(Cause.notSupported("spec.type", type, SERVICE_TYPES));
      return;
    }
    JsonNode ports = spec.path("ports");
    boolean headless = "None".equals(spec.path("clusterIP").asText(""));
    if (type.equals("ExternalName")) {
      if (spec.path("externalName").asText("").isEmpty()) {
        out.add(Cause.required("spec.externalName"));
      }
      return;
    }
    if (ports.isEmpty() && !headless) {
      out.add(Cause.required("spec.ports"));
    }
    Set<String> names = new HashSet<>();
    for (int i = 0; i < ports.size(); i++) {
      JsonNode port = ports.get(i);
      String p = "spec.ports[" + i + "]";
      int n = port.path("port").asInt(0);
      if (n < 1 || n > 65535) {
        out.add(port.has("port") ? Cause.invalid(p + ".port", port.get("port"), "must be between 1 and 65535, inclusive")
            : Cause.required(p + ".port"));
      }
      if (ports.size() > 1 && port.path("name").asText("").isEmpty()) {
        out.add(Cause.required(p + ".name"));
      }
      String name = port.path("name").asText("");
      if (!name.isEmpty() && !names.add(name)) {
        out.add(Cause.duplicate(p + ".name", name));
      }
      String proto = port.path("protocol").asText("TCP");
      if (!PROTOCOLS.contains(proto)) {
        out.add(Cause.notSupported(p + ".protocol", proto, PROTOCOLS));
      }
      if (port.has("nodePort") && type.equals("ClusterIP")) {
        out.add(Cause.forbidden(p + ".nodePort", "may not be used when `type` is 'ClusterIP'"));
      }
    }
  }

  private static void nonNegative(JsonNode spec, String field, String path, List<Cause> out) {
    JsonNode v = spec.get(field);
    if (v != null && v.isNumber() && v.asLong() < 0) {
      out.add(Cause.invalid(path, v, "must be greater than or equal to 0"));
    }
  }

  /** Go's %#v of a map[string]string, which upstream messages print. */
  private static String goMap(Map<String, String> m) {
    StringBuilder sb = new StringBuilder("map[string]string{");
    boolean first = true;
    for (Map.Entry<String, String> e : new TreeMap<>(m).entrySet()) {
      sb.append(first ? "" : ", ").append('"').append(e.getKey()).append("\":\"").append(e.getValue()).append('"');
      first = false;
    }
    return sb.append('}').toString();
  }

  private static String selectorGo(JsonNode sel) {
    return "v1.LabelSelector" + sel.toString();
  }
}
