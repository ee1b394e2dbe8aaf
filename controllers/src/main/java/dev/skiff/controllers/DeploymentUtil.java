package dev.skiff.controllers;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentCondition;
import io.fabric8.kubernetes.api.model.apps.DeploymentStatus;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The arithmetic and bookkeeping of {@code pkg/controller/deployment/util/deployment_util.go}:
 * fenceposts, replica counts, annotations, template hashing and equality, conditions. Pure
 * functions on their arguments (no API calls); thread-safe.
 */
final class DeploymentUtil {
  private DeploymentUtil() {
  }

  static final String REVISION = "deployment.kubernetes.io/revision";
  static final String REVISION_HISTORY = "deployment.kubernetes.io/revision-history";
  static final String DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas";
  static final String MAX_REPLICAS = "deployment.kubernetes.io/max-replicas";
  static final String POD_TEMPLATE_HASH = "pod-template-hash";
  static final String LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";
  static final String ROLLBACK_TO = "deprecated.deployment.rollback.to";

  /** Annotations never copied from a Deployment to its ReplicaSets (skipCopyAnnotation). */
  static final Set<String> SKIP_COPY = Set.of(LAST_APPLIED, REVISION, REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS, ROLLBACK_TO);

  private static final ObjectMapper CANONICAL = new ObjectMapper()
      .configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);

  static int replicas(Deployment d) {
    return d.getSpec().getReplicas() == null ? 1 : d.getSpec().getReplicas();
  }

  static int replicas(ReplicaSet rs) {
    return rs.getSpec().getReplicas() == null ? 1 : rs.getSpec().getReplicas();
  }

  static int nz(Integer i) {
    return i == null ? 0 : i;
  }

  static boolean isRollingUpdate(Deployment d) {
    return d.getSpec().getStrategy() == null || d.getSpec().getStrategy().getType() == null
        || "RollingUpdate".equals(d.getSpec().getStrategy().getType());
  }

  /** intstr.GetScaledValueFromIntOrPercent: percentages of {@code total}, rounded up or down. */
  static int scaled(IntOrString v, int total, boolean roundUp, String def) {
    if (v == null) {
      v = new IntOrString(def);
    }
    if (v.getIntVal() != null) {
      return v.getIntVal();
    }
    String s = v.getStrVal();
    if (s == null) {
      s = def;
    }
    s = s.trim();
    if (!s.endsWith("%")) {
      return Integer.parseInt(s);
    }
    int pct = Integer.parseInt(s.substring(0, s.length() - 1));
    double value = (double) pct * total / 100.0;
    return (int) (roundUp ? Math.ceil(value) : Math.floor(value));
  }

  /** ResolveFenceposts: surge rounded up, unavailable down; if both 0, unavailable becomes 1. */
  static int[] resolveFenceposts(Deployment d) {
    var ru = d.getSpec().getStrategy() == null ? null : d.getSpec().getStrategy().getRollingUpdate();
    int desired = replicas(d);
    int surge = scaled(ru == null ? null : ru.getMaxSurge(), desired, true, "25%");
    int unavailable = scaled(ru == null ? null : ru.getMaxUnavailable(), desired, false, "25%");
    if (surge == 0 && unavailable == 0) {
      unavailable = 1;
    }
    return new int[] {surge, unavailable};
  }

  static int maxSurge(Deployment d) {
    return isRollingUpdate(d) ? resolveFenceposts(d)[0] : 0;
  }

  static int maxUnavailable(Deployment d) {
    if (!isRollingUpdate(d) || replicas(d) == 0) {
      return 0;
    }
    return Math.min(resolveFenceposts(d)[1], replicas(d));
  }

  static int specReplicaSum(List<ReplicaSet> rss) {
    return rss.stream().filter(Objects::nonNull).mapToInt(DeploymentUtil::replicas).sum();
  }

  static int statusReplicaSum(List<ReplicaSet> rss) {
    return rss.stream().filter(Objects::nonNull).mapToInt(r -> r.getStatus() == null ? 0 : nz(r.getStatus().getReplicas())).sum();
  }

  static int readySum(List<ReplicaSet> rss) {
    return rss.stream().filter(Objects::nonNull).mapToInt(r -> r.getStatus() == null ? 0 : nz(r.getStatus().getReadyReplicas())).sum();
  }

  static int availableSum(List<ReplicaSet> rss) {
    return rss.stream().filter(Objects::nonNull).mapToInt(r -> r.getStatus() == null ? 0 : nz(r.getStatus().getAvailableReplicas())).sum();
  }

  /** NewRSNewReplicas: the new RS's target size this step. */
  static int newRSNewReplicas(Deployment d, List<ReplicaSet> all, ReplicaSet newRS) {
    if (!isRollingUpdate(d)) {
      return replicas(d);
    }
    int current = specReplicaSum(all);
    int maxTotal = replicas(d) + maxSurge(d);
    int newReplicas = newRS == null ? 0 : replicas(newRS);
    if (current >= maxTotal) {
      return newReplicas;
    }
    int scaleUp = Math.min(maxTotal - current, replicas(d) - newReplicas);
    return newReplicas + scaleUp;
  }

  static long revision(ReplicaSet rs) {
    var a = rs.getMetadata().getAnnotations();
    String v = a == null ? null : a.get(REVISION);
    if (v == null) {
      return 0;
    }
    try {
      return Long.parseLong(v);
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  static long maxRevision(List<ReplicaSet> rss) {
    return rss.stream().filter(Objects::nonNull).mapToLong(DeploymentUtil::revision).max().orElse(0);
  }

  static Integer intAnnotation(ReplicaSet rs, String key) {
    var a = rs.getMetadata().getAnnotations();
    String v = a == null ? null : a.get(key);
    if (v == null) {
      return null;
    }
    try {
      return Integer.parseInt(v);
    } catch (NumberFormatException e) {
      return null;
    }
  }

  /** Old to new; ties by name (ReplicaSetsByCreationTimestamp). */
  static final Comparator<ReplicaSet> BY_CREATION = Comparator
      .comparing((ReplicaSet r) -> String.valueOf(r.getMetadata().getCreationTimestamp()))
      .thenComparing(r -> r.getMetadata().getName());

  static final Comparator<ReplicaSet> BY_REVISION = Comparator.comparingLong(DeploymentUtil::revision)
      .thenComparing(BY_CREATION);

  static List<ReplicaSet> active(List<ReplicaSet> rss) {
    List<ReplicaSet> out = new ArrayList<>();
    for (ReplicaSet r : rss) {
      if (r != null && replicas(r) > 0) {
        out.add(r);
      }
    }
    return out;
  }

  /** The template as a canonical JSON tree (map keys sorted), without pod-template-hash. */
  @SuppressWarnings("unchecked")
  private static String canonical(PodTemplateSpec t, boolean dropHash) {
    try {
      Map<String, Object> m = CANONICAL.convertValue(t, Map.class);
      if (dropHash) {
        Object meta = m.get("metadata");
        if (meta instanceof Map<?, ?> mm) {
          Object labels = mm.get("labels");
          if (labels instanceof Map<?, ?> lm) {
            ((Map<String, Object>) lm).remove(POD_TEMPLATE_HASH);
            if (lm.isEmpty()) {
              ((Map<String, Object>) mm).remove("labels");
            }
          }
          if (mm.isEmpty()) {
            m.remove("metadata");
          }
        }
      }
      return CANONICAL.writeValueAsString(prune(m));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Drops nulls, empty strings, empty maps and empty lists, recursively: Go's semantic equality
   * treats those as the zero value, so {@code resources: {}} (which kubectl's rollback patch
   * sends) equals an absent field.
   */
  @SuppressWarnings("unchecked")
  private static Object prune(Object o) {
    if (o instanceof Map<?, ?> m) {
      Map<String, Object> out = new java.util.TreeMap<>();
      for (var e : m.entrySet()) {
        Object v = prune(e.getValue());
        if (v != null) {
          out.put((String) e.getKey(), v);
        }
      }
      return out.isEmpty() ? null : out;
    }
    if (o instanceof List<?> l) {
      List<Object> out = new ArrayList<>();
      for (Object x : l) {
        Object v = prune(x);
        out.add(v == null ? Map.of() : v);
      }
      return out.isEmpty() ? null : out;
    }
    if (o instanceof String str && str.isEmpty()) {
      return null;
    }
    return o;
  }

  /** EqualIgnoreHash: templates equal once pod-template-hash labels are dropped. */
  static boolean equalIgnoreHash(PodTemplateSpec a, PodTemplateSpec b) {
    return canonical(a, true).equals(canonical(b, true));
  }

  private static final String ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789";

  /**
   * ComputeHash: FNV-1a (32 bit) of the template (upstream hashes a spew dump; Skiff hashes the
   * canonical JSON, stable across restarts) plus the collision count, written as decimal and
   * encoded with rand.SafeEncodeString's alphabet (no vowels, no confusable characters).
   */
  static String computeHash(PodTemplateSpec template, Integer collisionCount) {
    int h = 0x811c9dc5;
    byte[] bytes = canonical(template, true).getBytes(StandardCharsets.UTF_8);
    for (byte b : bytes) {
      h ^= (b & 0xff);
      h *= 0x01000193;
    }
    if (collisionCount != null) {
      int c = collisionCount;
      // controller_utils.go ComputeHash writes an 8-byte buffer holding PutUint32 little-endian.
      for (int i = 0; i < 8; i++) {
        h ^= i < 4 ? (c >>> (8 * i)) & 0xff : 0;
        h *= 0x01000193;
      }
    }
    String dec = Long.toString(Integer.toUnsignedLong(h));
    StringBuilder out = new StringBuilder();
    for (char ch : dec.toCharArray()) {
      out.append(ALPHANUMS.charAt(ch % ALPHANUMS.length()));
    }
    return out.toString();
  }

  static DeploymentCondition condition(DeploymentStatus s, String type) {
    if (s == null || s.getConditions() == null) {
      return null;
    }
    for (DeploymentCondition c : s.getConditions()) {
      if (type.equals(c.getType())) {
        return c;
      }
    }
    return null;
  }

  /** SetDeploymentCondition: unchanged if same status and reason; keeps transition time on same status. */
  static void setCondition(DeploymentStatus s, DeploymentCondition c) {
    DeploymentCondition cur = condition(s, c.getType());
    if (cur != null && Objects.equals(cur.getStatus(), c.getStatus()) && Objects.equals(cur.getReason(), c.getReason())) {
      return;
    }
    if (cur != null && Objects.equals(cur.getStatus(), c.getStatus())) {
      c.setLastTransitionTime(cur.getLastTransitionTime());
    }
    removeCondition(s, c.getType());
    List<DeploymentCondition> list = s.getConditions() == null ? new ArrayList<>() : new ArrayList<>(s.getConditions());
    list.add(c);
    s.setConditions(list);
  }

  static void removeCondition(DeploymentStatus s, String type) {
    if (s.getConditions() == null) {
      return;
    }
    List<DeploymentCondition> list = new ArrayList<>(s.getConditions());
    list.removeIf(c -> type.equals(c.getType()));
    s.setConditions(list);
  }

  static boolean hasProgressDeadline(Deployment d) {
    Integer p = d.getSpec().getProgressDeadlineSeconds();
    return p == null || p != Integer.MAX_VALUE; // nil is defaulted to 600 by the API server
  }

  static int progressDeadline(Deployment d) {
    return d.getSpec().getProgressDeadlineSeconds() == null ? 600 : d.getSpec().getProgressDeadlineSeconds();
  }

  /** DeploymentComplete: every replica updated and available, and the spec observed. */
  static boolean complete(Deployment d, DeploymentStatus s) {
    int r = replicas(d);
    return nz(s.getUpdatedReplicas()) == r && nz(s.getReplicas()) == r && nz(s.getAvailableReplicas()) == r
        && (s.getObservedGeneration() == null ? 0 : s.getObservedGeneration())
        >= (d.getMetadata().getGeneration() == null ? 0 : d.getMetadata().getGeneration());
  }

  /** DeploymentProgressing: more updated, fewer old, more ready or more available replicas. */
  static boolean progressing(Deployment d, DeploymentStatus s) {
    DeploymentStatus old = d.getStatus() == null ? new DeploymentStatus() : d.getStatus();
    int oldOld = nz(old.getReplicas()) - nz(old.getUpdatedReplicas());
    int newOld = nz(s.getReplicas()) - nz(s.getUpdatedReplicas());
    return nz(s.getUpdatedReplicas()) > nz(old.getUpdatedReplicas()) || newOld < oldOld
        || nz(s.getReadyReplicas()) > nz(old.getReadyReplicas())
        || nz(s.getAvailableReplicas()) > nz(old.getAvailableReplicas());
  }
}
