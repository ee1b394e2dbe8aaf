package dev.skiff.apiserver;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.ResourceStrategy;

/**
 * Create and update rules of the built-in kinds (pkg/registry/&lt;group&gt;/&lt;kind&gt;/strategy.go
 * PrepareForCreate): objects with a status subresource start with an empty status, except the
 * few whose creators own it (nodes report their own status, pods start Pending).
 */
public final class BuiltInStrategy implements ResourceStrategy {
  @Override
  public void prepareForCreate(ResourceDescriptor d, ObjectNode obj) {
    switch (d.kind) {
      case "Pod" -> {
        ObjectNode status = Json.object();
        status.put("phase", "Pending");
        status.put("qosClass", qosClass(obj));
        obj.set("status", status);
      }
      case "Namespace" -> {
        Json.with(obj, "status").put("phase", "Active");
        ObjectNode spec = Json.with(obj, "spec");
        if (!spec.has("finalizers")) {
          spec.putArray("finalizers").add("kubernetes");
        }
      }
      case "PersistentVolume", "PersistentVolumeClaim" -> {
        ObjectNode status = Json.object();
        status.put("phase", "Pending");
        obj.set("status", status);
      }
      case "Service" -> {
        ObjectNode status = Json.object();
        status.putObject("loadBalancer");
        obj.set("status", status);
      }
      case "Job" -> {
        obj.remove("status");
        // The selector and pod labels name the Job by uid (pkg/registry/batch/job/strategy.go).
        dev.skiff.apiserver.defaults.Defaulters.applyJobSelector(obj, obj.path("metadata").path("uid").asText());
      }
      case "Node", "Event", "Lease" -> { }
      default -> {
        if (d.has("status")) {
          obj.remove("status");
        }
      }
    }
  }

  @Override
  public void prepareForUpdate(ResourceDescriptor d, ObjectNode obj, ObjectNode old) {
    if (d.kind.equals("Service") && d.group.isEmpty()) {
      dev.skiff.apiserver.services.ServiceAllocator.prepareForUpdate(obj, old);
    }
  }

  @Override
  public void applyDefaults(ResourceDescriptor d, ObjectNode obj) {
    dev.skiff.apiserver.defaults.Defaulters.apply(d.group, d.version, d.kind, obj);
  }

  @Override
  public java.util.List<dev.skiff.apiserver.api.ApiException.Cause> validate(ResourceDescriptor d, ObjectNode obj, ObjectNode old) {
    return d.group.isEmpty() || d.group.equals("apps") || d.group.equals("batch")
        ? BuiltInValidation.validate(d.kind, obj, old) : java.util.List.of();
  }

  /** v1.PodQOSClass from requests and limits (pkg/apis/core/v1/helper/qos). */
  static String qosClass(ObjectNode pod) {
    boolean any = false;
    boolean guaranteed = true;
    for (var c : pod.path("spec").path("containers")) {
      var req = c.path("resources").path("requests");
      var lim = c.path("resources").path("limits");
      if (req.size() > 0 || lim.size() > 0) {
        any = true;
      }
      for (String r : new String[] {"cpu", "memory"}) {
        String l = lim.path(r).asText("");
        String q = req.path(r).asText(l);
        if (l.isEmpty() || !l.equals(q)) {
          guaranteed = false;
        }
      }
    }
    if (!any) {
      return "BestEffort";
    }
    return guaranteed ? "Guaranteed" : "Burstable";
  }
}
