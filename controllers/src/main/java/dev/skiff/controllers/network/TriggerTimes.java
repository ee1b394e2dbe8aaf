package dev.skiff.controllers.network;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.Service;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The value of the {@code endpoints.kubernetes.io/last-change-trigger-time} annotation
 * (pkg/controller/util/endpoint/trigger_time_tracker.go): the earliest change not yet reflected
 * in a Service's endpoints, where a pod's change time is its Ready condition's
 * lastTransitionTime and the Service's is its creation. Remembers, per Service, the times seen at
 * the previous sync. Thread-safe (one sync per Service at a time, as the work queue guarantees).
 */
final class TriggerTimes {
  static final String ANNOTATION = "endpoints.kubernetes.io/last-change-trigger-time";

  private record State(Instant service, Map<String, Instant> pods) {}

  private final Map<String, State> states = new ConcurrentHashMap<>();

  /** The earliest new trigger time since the last call for {@code key}, or null; records the current ones. */
  String compute(String key, Service svc, List<Pod> pods) {
    State old = states.getOrDefault(key, new State(Instant.EPOCH, Map.of()));
    Map<String, Instant> now = new HashMap<>();
    Instant min = null;
    for (Pod p : pods) {
      Instant t = podTime(p);
      if (t == null) {
        continue;
      }
      now.put(p.getMetadata().getName(), t);
      Instant before = old.pods().get(p.getMetadata().getName());
      if ((before == null || t.isAfter(before)) && (min == null || t.isBefore(min))) {
        min = t;
      }
    }
    Instant created = parse(svc.getMetadata().getCreationTimestamp());
    Instant svcTime = created == null ? Instant.EPOCH : created;
    if (svcTime.isAfter(old.service()) && (min == null || svcTime.isBefore(min))) {
      min = svcTime;
    }
    states.put(key, new State(svcTime, now));
    return min == null ? null : min.toString();
  }

  void forget(String key) {
    states.remove(key);
  }

  private static Instant podTime(Pod p) {
    if (p.getStatus() == null || p.getStatus().getConditions() == null) {
      return null;
    }
    for (PodCondition c : p.getStatus().getConditions()) {
      if ("Ready".equals(c.getType())) {
        return parse(c.getLastTransitionTime());
      }
    }
    return null;
  }

  private static Instant parse(String t) {
    try {
      return t == null || t.isEmpty() ? null : Instant.parse(t);
    } catch (RuntimeException e) {
      return null;
    }
  }
}
