package dev.skiff.serving;

import dev.skiff.serving.v1.Configuration;
import dev.skiff.serving.v1.Knative;
import dev.skiff.serving.v1.Revision;
import io.fabric8.kubernetes.api.model.ConfigMap;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Knative's revision garbage collection rule (knative.dev/serving pkg/reconciler/gc/gc.go,
 * pkg/gc/config.go), as a pure function of a Configuration's revisions, the config-gc settings and
 * the time. Revisions that are routed ({@code routingState=active}), the latest created or latest
 * ready one, and those annotated {@code serving.knative.dev/no-gc: "true"} are never collected.
 * Of the others (non-active), sorted by last-active time (the {@code routingStateModified}
 * annotation, else creation), the newest {@code min-non-active-revisions} are kept; older ones are
 * deleted when they are older than {@code retain-since-create-time} AND inactive for longer than
 * {@code retain-since-last-active-time}; then, past {@code max-non-active-revisions}, the oldest
 * go regardless. Nothing is collected while there are at most {@code min} revisions. Defaults:
 * 48h, 15h, 20, 1000 (upstream's config-gc; "disabled" or -1 turns a limit off). Stateless.
 */
final class RevisionGc {
  private RevisionGc() {}

  /** config-gc values; a null duration or a negative max means disabled. */
  record Settings(Duration retainSinceCreate, Duration retainSinceLastActive, int minNonActive, int maxNonActive) {
    static final Settings DEFAULTS = new Settings(Duration.ofHours(48), Duration.ofHours(15), 20, 1000);

    /** The settings in ConfigMap knative-serving/config-gc (null: defaults). */
    static Settings from(ConfigMap cm) {
      Map<String, String> d = cm == null || cm.getData() == null ? Map.of() : cm.getData();
      return new Settings(duration(d.get("retain-since-create-time"), DEFAULTS.retainSinceCreate()),
          duration(d.get("retain-since-last-active-time"), DEFAULTS.retainSinceLastActive()),
          integer(d.get("min-non-active-revisions"), DEFAULTS.minNonActive()),
          integer(d.get("max-non-active-revisions"), DEFAULTS.maxNonActive()));
    }
  }

  /** The revisions to delete now. */
  static List<Revision> collect(Configuration cfg, List<Revision> revisions, Settings s, Instant now) {
    int min = s.minNonActive();
    int max = s.maxNonActive();
    if ((max < 0 && s.retainSinceCreate() == null && s.retainSinceLastActive() == null) || revisions.size() <= min) {
      return List.of();
    }
    List<Revision> candidates = new ArrayList<>();
    for (Revision r : revisions) {
      if (!isActive(r, cfg)) {
        candidates.add(r);
      }
    }
    candidates.sort(Comparator.comparing(RevisionGc::lastActive).reversed());
    List<Revision> out = new ArrayList<>();
    for (int i = candidates.size() - 1; i >= min; i--) {
      if (isStale(candidates.get(i), s, now)) {
        out.add(candidates.get(i));
      }
    }
    if (max >= 0 && candidates.size() - out.size() > max) {
      int excess = candidates.size() - out.size() - max;
      for (int i = candidates.size() - 1; i >= 0 && excess > 0; i--) {
        Revision r = candidates.get(i);
        if (!out.contains(r) && !noGc(r)) {
          out.add(r);
          excess--;
        }
      }
    }
    return out;
  }

  private static boolean noGc(Revision r) {
    Map<String, String> a = r.getMetadata().getAnnotations();
    return a != null && "true".equalsIgnoreCase(a.get(Knative.NO_GC_ANNOTATION));
  }

  private static boolean isActive(Revision r, Configuration cfg) {
    String name = r.getMetadata().getName();
    if (cfg.getStatus() != null && (name.equals(cfg.getStatus().getLatestCreatedRevisionName())
        || name.equals(cfg.getStatus().getLatestReadyRevisionName()))) {
      return true;
    }
    Map<String, String> l = r.getMetadata().getLabels();
    return l != null && "active".equals(l.get(Knative.ROUTING_STATE_LABEL));
  }

  private static boolean isStale(Revision r, Settings s, Instant now) {
    if (noGc(r) || (s.retainSinceCreate() == null && s.retainSinceLastActive() == null)) {
      return false; // both time checks disabled: never stale by age
    }
    Instant created = Instant.parse(r.getMetadata().getCreationTimestamp());
    if (s.retainSinceCreate() != null && Duration.between(created, now).compareTo(s.retainSinceCreate()) < 0) {
      return false;
    }
    return s.retainSinceLastActive() == null || Duration.between(lastActive(r), now).compareTo(s.retainSinceLastActive()) >= 0;
  }

  /** revisionLastActiveTime: when routing state last changed, else creation. */
  static Instant lastActive(Revision r) {
    Map<String, String> a = r.getMetadata().getAnnotations();
    String t = a == null ? null : a.get(Knative.ROUTING_STATE_MODIFIED_ANNOTATION);
    try {
      if (t != null) {
        return Instant.parse(t);
      }
    } catch (RuntimeException e) {
      // unparsable: fall back to creation
    }
    return Instant.parse(r.getMetadata().getCreationTimestamp());
  }

  private static final Pattern PART = Pattern.compile("(\\d+(?:\\.\\d+)?)(h|ms|m|s)");

  /** A Go duration ("48h", "1h30m", "90s"), "disabled" or a negative number: null. */
  static Duration duration(String v, Duration dflt) {
    if (v == null || v.isBlank()) {
      return dflt;
    }
    String s = v.trim();
    if (s.equalsIgnoreCase("disabled") || s.startsWith("-")) {
      return null;
    }
    Matcher m = PART.matcher(s);
    long millis = 0;
    int end = 0;
    while (m.find()) {
      if (m.start() != end) {
        return dflt;
      }
      double n = Double.parseDouble(m.group(1));
      millis += (long) (n * switch (m.group(2)) {
        case "h" -> 3_600_000;
        case "m" -> 60_000;
        case "s" -> 1_000;
        default -> 1;
      });
      end = m.end();
    }
    return end == s.length() && end > 0 ? Duration.ofMillis(millis) : dflt;
  }

  private static int integer(String v, int dflt) {
    if (v == null || v.isBlank()) {
      return dflt;
    }
    if (v.trim().equalsIgnoreCase("disabled")) {
      return -1;
    }
    try {
      return Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      return dflt;
    }
  }
}
