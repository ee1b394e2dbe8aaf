package dev.skiff.apiserver.admission;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.cache.CachedObject;
import dev.skiff.apiserver.cache.WatchFilter;
import dev.skiff.apiserver.registry.Admission;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.ResourceStore;
import dev.skiff.apiserver.registry.WriteOptions;
import java.util.Map;

/**
 * The Priority admission plugin (plugin/pkg/admission/priority/admission.go): a new pod's
 * priorityClassName is resolved into spec.priority and spec.preemptionPolicy (which the
 * scheduler's queue and preemption read); without a class the global-default class applies, else
 * priority 0. An unknown class refuses the pod with upstream's message. The two system classes
 * exist whether or not they are stored.
 */
public final class PriorityAdmission implements Admission {
  private static final Map<String, Integer> SYSTEM = Map.of(
      "system-node-critical", 2_000_001_000, "system-cluster-critical", 2_000_000_000);

  private final ResourceStore classes;

  public PriorityAdmission(ResourceStore classes) {
    this.classes = classes;
  }

  @Override
  public void admit(ResourceDescriptor resource, ObjectNode obj, ObjectNode old, WriteOptions options) {
    if (old != null || !resource.group.isEmpty() || !resource.kind.equals("Pod")) {
      return;
    }
    ObjectNode spec = Json.with(obj, "spec");
    String name = Json.text(spec, "priorityClassName");
    JsonNode pc = null;
    if (name != null && !name.isEmpty()) {
      CachedObject c = classes.cache().get(classes.descriptor().key(null, name));
      if (c == null && !SYSTEM.containsKey(name)) {
        // A class created a moment ago may not be in the cache yet: read consistently before refusing.
        try {
          c = classes.get(null, name);
        } catch (dev.skiff.apiserver.api.ApiException e) {
          if (e.code() != 404) {
            throw e;
          }
        }
      }
      if (c != null) {
        pc = Json.parseObject(c.json());
      } else if (SYSTEM.containsKey(name)) {
        spec.put("priority", SYSTEM.get(name));
        spec.put("preemptionPolicy", "PreemptLowerPriority");
        return;
      } else {
        throw AdmissionErrors.forbidden(resource, obj, "no PriorityClass with name " + name + " was found");
      }
    } else {
      for (CachedObject c : classes.cache().list(WatchFilter.ALL).objects()) {
        JsonNode candidate = Json.parseObject(c.json());
        if (candidate.path("globalDefault").asBoolean(false)) {
          pc = candidate;
          spec.put("priorityClassName", c.name());
          break;
        }
      }
    }
    if (pc == null) {
      if (!spec.has("priority")) {
        spec.put("priority", 0);
      }
      return;
    }
    spec.put("priority", pc.path("value").asInt(0));
    spec.put("preemptionPolicy", pc.path("preemptionPolicy").asText("PreemptLowerPriority"));
  }
}
