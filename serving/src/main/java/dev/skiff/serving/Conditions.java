package dev.skiff.serving;

import dev.skiff.serving.v1.Condition;
import dev.skiff.serving.v1.Status;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;

/**
 * Knative's living condition sets (knative.dev/pkg/apis/condition_set.go): setting a condition
 * keeps its lastTransitionTime unless the status changes; {@code Ready} is derived from the
 * dependent conditions (any False makes it False with that condition's reason and message, else
 * any Unknown makes it Unknown, else True); non-dependent conditions get severity Info and do not
 * affect Ready. Stateless.
 */
final class Conditions {
  private Conditions() {}

  /** Sets one condition on {@code status}. */
  static void set(Status status, String type, String value, String reason, String message, Instant now) {
    List<Condition> conds = status.getConditions() == null ? new ArrayList<>() : new ArrayList<>(status.getConditions());
    Condition cur = status.condition(type);
    Condition next = new Condition(type, value, reason, message);
    if (cur != null && Objects.equals(cur.getStatus(), value) && cur.getLastTransitionTime() != null) {
      next.setLastTransitionTime(cur.getLastTransitionTime());
    } else {
      next.setLastTransitionTime(now.truncatedTo(ChronoUnit.SECONDS).toString());
    }
    if (cur != null) {
      next.setSeverity(cur.getSeverity());
      conds.remove(cur);
    }
    conds.add(next);
    conds.sort(Comparator.comparing(Condition::getType));
    status.setConditions(conds);
  }

  /** Sets a condition that does not affect Ready (severity Info), such as a Revision's Active. */
  static void setInfo(Status status, String type, String value, String reason, String message, Instant now) {
    set(status, type, value, reason, message, now);
    status.condition(type).setSeverity("Info");
  }

  /** Derives Ready from {@code dependents}. */
  static void ready(Status status, Instant now, String... dependents) {
    Condition unknown = null;
    for (String d : dependents) {
      Condition c = status.condition(d);
      if (c != null && "False".equals(c.getStatus())) {
        set(status, "Ready", "False", c.getReason(), c.getMessage(), now);
        return;
      }
      if ((c == null || !"True".equals(c.getStatus())) && unknown == null) {
        unknown = c == null ? new Condition(d, "Unknown", null, null) : c;
      }
    }
    if (unknown != null) {
      set(status, "Ready", "Unknown", unknown.getReason(), unknown.getMessage(), now);
    } else {
      set(status, "Ready", "True", null, null, now);
    }
  }

  /** Ready=True and the status describes the current generation (Knative's IsReady). */
  static boolean isReady(Status status, Long generation) {
    return status != null && status.isTrue("Ready") && Objects.equals(status.getObservedGeneration(), generation);
  }
}
