package dev.skiff.controllers;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import java.time.Instant;

/** Pod helpers shared by the workload controllers ({@code pkg/api/v1/pod/util.go}). Stateless. */
final class Pods {
  private Pods() {
  }

  /** Not terminal and not being deleted (controller_utils.go IsPodActive). */
  static boolean isActive(Pod p) {
    String phase = p.getStatus() == null ? null : p.getStatus().getPhase();
    return !"Succeeded".equals(phase) && !"Failed".equals(phase) && p.getMetadata().getDeletionTimestamp() == null;
  }

  static PodCondition readyCondition(Pod p) {
    if (p.getStatus() == null || p.getStatus().getConditions() == null) {
      return null;
    }
    for (PodCondition c : p.getStatus().getConditions()) {
      if ("Ready".equals(c.getType())) {
        return c;
      }
    }
    return null;
  }

  static boolean isReady(Pod p) {
    PodCondition c = readyCondition(p);
    return c != null && "True".equals(c.getStatus());
  }

  /** When the pod last became ready, or null. */
  static Instant readySince(Pod p) {
    PodCondition c = readyCondition(p);
    if (c == null || !"True".equals(c.getStatus()) || c.getLastTransitionTime() == null) {
      return null;
    }
    return parseTime(c.getLastTransitionTime());
  }

  /**
   * Ready for at least minReadySeconds at {@code nowMillis} (podutil.IsPodAvailable). A ready pod
   * without a transition time counts as available only with minReadySeconds 0.
   */
  static boolean isAvailable(Pod p, int minReadySeconds, long nowMillis) {
    if (!isReady(p)) {
      return false;
    }
    if (minReadySeconds <= 0) {
      return true;
    }
    Instant since = readySince(p);
    return since != null && since.toEpochMilli() + minReadySeconds * 1000L <= nowMillis;
  }

  static Instant parseTime(String t) {
    if (t == null || t.isEmpty()) {
      return null;
    }
    try {
      return Instant.parse(t);
    } catch (RuntimeException e) {
      return null;
    }
  }

  static int restarts(Pod p) {
    if (p.getStatus() == null || p.getStatus().getContainerStatuses() == null) {
      return 0;
    }
    return p.getStatus().getContainerStatuses().stream()
        .mapToInt(s -> s.getRestartCount() == null ? 0 : s.getRestartCount()).sum();
  }

  /** A controller owner reference to {@code owner} with blockOwnerDeletion (metav1.NewControllerRef). */
  static OwnerReference controllerRef(HasMetadata owner) {
    return new OwnerReferenceBuilder()
        .withApiVersion(owner.getApiVersion())
        .withKind(owner.getKind())
        .withName(owner.getMetadata().getName())
        .withUid(owner.getMetadata().getUid())
        .withController(true)
        .withBlockOwnerDeletion(true)
        .build();
  }
}
