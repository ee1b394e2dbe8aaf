package dev.skiff.apiserver.admission;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.cache.CachedObject;
import dev.skiff.apiserver.cache.WatchFilter;
import dev.skiff.apiserver.registry.Admission;
import dev.skiff.apiserver.registry.Meta;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.ResourceStore;
import dev.skiff.apiserver.registry.WriteOptions;
import dev.skiff.apiserver.selector.FieldSelector;
import dev.skiff.apiserver.selector.LabelSelector;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

/**
 * The LimitRanger admission plugin for pods (plugin/pkg/admission/limitranger/admission.go):
 * on create, containers get the namespace's LimitRange (type Container) default limits and
 * default requests where they set none, recorded in the kubernetes.io/limit-ranger annotation;
 * then every container is checked against min and max, refusing the pod with upstream's
 * messages ("maximum cpu usage per Container is 500m, but limit is 1").
 */
public final class LimitRanger implements Admission {
  public static final String ANNOTATION = "kubernetes.io/limit-ranger";
  private static final List<String> RESOURCES = List.of("cpu", "memory", "ephemeral-storage");

  private final ResourceStore limitRanges;

  public LimitRanger(ResourceStore limitRanges) {
    this.limitRanges = limitRanges;
  }

  @Override
  public void admit(ResourceDescriptor resource, ObjectNode obj, ObjectNode old, WriteOptions options) {
    if (old != null || !resource.group.isEmpty() || !resource.kind.equals("Pod")) {
      return;
    }
    String ns = Meta.namespace(obj);
    List<CachedObject> ranges = limitRanges.cache().list(new WatchFilter(ns, LabelSelector.EVERYTHING, FieldSelector.EVERYTHING)).objects();
    if (ranges.isEmpty()) {
      return;
    }
    List<String> annotations = new ArrayList<>();
    List<String> errors = new ArrayList<>();
    for (CachedObject r : ranges) {
      for (JsonNode item : Json.parseObject(r.json()).path("spec").path("limits")) {
        if (!item.path("type").asText().equals("Container")) {
          continue;
        }
        Map<String, String> defaults = new LinkedHashMap<>();
        Map<String, String> defaultRequests = new LinkedHashMap<>();
        // SetDefaults_LimitRangeItem: default limit <- max; default request <- default limit, then min.
        item.path("default").fields().forEachRemaining(e -> defaults.put(e.getKey(), e.getValue().asText()));
        item.path("max").fields().forEachRemaining(e -> defaults.putIfAbsent(e.getKey(), e.getValue().asText()));
        item.path("defaultRequest").fields().forEachRemaining(e -> defaultRequests.put(e.getKey(), e.getValue().asText()));
        defaults.forEach(defaultRequests::putIfAbsent);
        item.path("min").fields().forEachRemaining(e -> defaultRequests.putIfAbsent(e.getKey(), e.getValue().asText()));
        for (String list : List.of("initContainers", "containers")) {
          for (JsonNode c : obj.path("spec").path(list)) {
            if (c instanceof ObjectNode container) {
              merge(container, defaults, defaultRequests, list.equals("containers") ? "container" : "init container", annotations);
            }
          }
        }
        for (String list : List.of("initContainers", "containers")) {
          for (JsonNode c : obj.path("spec").path(list)) {
            check(item, c.path("resources"), errors);
          }
        }
      }
    }
    if (!annotations.isEmpty()) {
      Meta.meta(obj).with("annotations").put(ANNOTATION, "LimitRanger plugin set: " + String.join("; ", annotations));
    }
    if (!errors.isEmpty()) {
      String msg = errors.size() == 1 ? errors.get(0) : "[" + String.join(", ", errors) + "]";
      throw AdmissionErrors.forbidden(resource, obj, msg);
    }
  }

  private static void merge(ObjectNode container, Map<String, String> defaults, Map<String, String> defaultRequests,
      String prefix, List<String> annotations) {
    ObjectNode res = container.with("resources");
    TreeSet<String> setLimits = new TreeSet<>();
    TreeSet<String> setRequests = new TreeSet<>();
    if (!defaults.isEmpty()) {
      ObjectNode limits = res.with("limits");
      defaults.forEach((k, v) -> {
        if (!limits.has(k)) {
          limits.put(k, v);
          setLimits.add(k);
        }
      });
    }
    if (!defaultRequests.isEmpty()) {
      ObjectNode requests = res.with("requests");
      defaultRequests.forEach((k, v) -> {
        if (!requests.has(k)) {
          requests.put(k, v);
          setRequests.add(k);
        }
      });
    }
    String name = container.path("name").asText();
    if (!setRequests.isEmpty()) {
      annotations.add(String.join(", ", setRequests) + " request for " + prefix + " " + name);
    }
    if (!setLimits.isEmpty()) {
      annotations.add(String.join(", ", setLimits) + " limit for " + prefix + " " + name);
    }
  }

  private static void check(JsonNode item, JsonNode resources, List<String> errors) {
    JsonNode requests = resources.path("requests");
    JsonNode limits = resources.path("limits");
    item.path("min").fields().forEachRemaining(e -> {
      String k = e.getKey();
      Quantity min = Quantity.parse(e.getValue().asText());
      if (!requests.has(k)) {
        errors.add("minimum " + k + " usage per Container is " + min + ".  No request is specified");
      } else if (Quantity.parse(requests.get(k).asText()).compareTo(min) < 0) {
        errors.add("minimum " + k + " usage per Container is " + min + ", but request is " + Quantity.parse(requests.get(k).asText()));
      } else if (limits.has(k) && Quantity.parse(limits.get(k).asText()).compareTo(min) < 0) {
        errors.add("minimum " + k + " usage per Container is " + min + ", but limit is " + Quantity.parse(limits.get(k).asText()));
      }
    });
    // limitRequestRatioConstraint in admission.go
    item.path("maxLimitRequestRatio").fields().forEachRemaining(e -> {
      String k = e.getKey();
      Quantity ratio = Quantity.parse(e.getValue().asText());
      java.math.BigDecimal req = requests.has(k) ? Quantity.parse(requests.get(k).asText()).value() : java.math.BigDecimal.ZERO;
      java.math.BigDecimal lim = limits.has(k) ? Quantity.parse(limits.get(k).asText()).value() : java.math.BigDecimal.ZERO;
      String prefix = k + " max limit to request ratio per Container is " + ratio;
      if (req.signum() == 0) {
        errors.add(prefix + ", but no request is specified or request is 0");
      } else if (lim.signum() == 0) {
        errors.add(prefix + ", but no limit is specified or limit is 0");
      } else {
        java.math.BigDecimal observed = lim.divide(req, java.math.MathContext.DECIMAL64);
        if (observed.compareTo(ratio.value()) > 0) {
          errors.add(prefix + ", but provided ratio is " + String.format(java.util.Locale.ROOT, "%f", observed.doubleValue()));
        }
      }
    });
    item.path("max").fields().forEachRemaining(e -> {
      String k = e.getKey();
      Quantity max = Quantity.parse(e.getValue().asText());
      if (!limits.has(k)) {
        errors.add("maximum " + k + " usage per Container is " + max + ".  No limit is specified");
      } else if (Quantity.parse(limits.get(k).asText()).compareTo(max) > 0) {
        errors.add("maximum " + k + " usage per Container is " + max + ", but limit is " + Quantity.parse(limits.get(k).asText()));
      } else if (requests.has(k) && Quantity.parse(requests.get(k).asText()).compareTo(max) > 0) {
        errors.add("maximum " + k + " usage per Container is " + max + ", but request is " + Quantity.parse(requests.get(k).asText()));
      }
    });
  }
}
