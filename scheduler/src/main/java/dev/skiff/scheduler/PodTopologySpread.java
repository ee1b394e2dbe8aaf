package dev.skiff.scheduler;

import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.TopologySpreadConstraint;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Topology spread constraints (upstream podtopologyspread/filtering.go and scoring.go, weight 2).
 * DoNotSchedule constraints filter: placing the pod must keep {@code count(domain) + self − min}
 * within maxSkew. ScheduleAnyway constraints, and the system defaults (hostname maxSkew 3, zone
 * maxSkew 5) for pods without constraints, score: fewer matching pods in the node's domains is
 * better. Only nodes passing the pod's node affinity/selector count (nodeAffinityPolicy Honor).
 *
 * <p>Upstream derives the default constraints' selector from the Services, ReplicaSets and
 * StatefulSets selecting the pod; this scheduler does not watch those and instead treats pods with
 * the same controller owner as the selected set, which is what those selectors select in practice.
 */
final class PodTopologySpread implements Plugin.PreFilter, Plugin.Filter, Plugin.PreScore, Plugin.Score {
  static final String NAME = "PodTopologySpread";
  static final String REASON = "node(s) didn't match pod topology spread constraints";
  static final String MISSING_LABEL = "node(s) didn't match pod topology spread constraints (missing required label)";
  private static final String FILTER_KEY = NAME + "/filter";
  private static final String SCORE_KEY = NAME + "/score";

  /** A constraint with its selection rule: a label selector, or (system default) a controller uid. */
  private record Constraint(String topologyKey, int maxSkew, int minDomains, LabelSelector selector, String ownerUid) {
    boolean selects(PodInfo p, String namespace) {
      if (!p.namespace.equals(namespace)) {
        return false;
      }
      if (ownerUid != null) {
        return ownerUid.equals(controllerUid(p));
      }
      return Selectors.matches(selector, p.labels);
    }
  }

  /** Indexes for fast counting; null means count by visiting every node. */
  private final SchedulerCache cache;

  PodTopologySpread(SchedulerCache cache) {
    this.cache = cache;
  }

  private record FilterState(List<Constraint> constraints, List<Map<String, Long>> counts, long[] min) {}

  private record ScoreState(List<Constraint> constraints, List<Map<String, Long>> counts, double[] weights) {}

  @Override
  public String name() {
    return NAME;
  }

  private static List<Constraint> constraints(PodInfo pod, String whenUnsatisfiable) {
    List<Constraint> out = new ArrayList<>();
    List<TopologySpreadConstraint> tscs = pod.pod.getSpec().getTopologySpreadConstraints();
    if (tscs != null && !tscs.isEmpty()) {
      for (TopologySpreadConstraint c : tscs) {
        if (whenUnsatisfiable.equals(c.getWhenUnsatisfiable())) {
          out.add(new Constraint(c.getTopologyKey(), c.getMaxSkew(), c.getMinDomains() == null ? 1 : c.getMinDomains(), c.getLabelSelector(), null));
        }
      }
      return out;
    }
    if (whenUnsatisfiable.equals("ScheduleAnyway")) {
      String owner = controllerUid(pod);
      if (owner != null) {
        out.add(new Constraint("kubernetes.io/hostname", 3, 1, null, owner));
        out.add(new Constraint("topology.kubernetes.io/zone", 5, 1, null, owner));
      }
    }
    return out;
  }

  static String controllerUid(PodInfo p) {
    List<OwnerReference> refs = p.pod.getMetadata().getOwnerReferences();
    if (refs != null) {
      for (OwnerReference r : refs) {
        if (Boolean.TRUE.equals(r.getController())) {
          return r.getUid();
        }
      }
    }
    return null;
  }

  /** Counts matching pods per domain over the eligible nodes; every eligible domain appears. */
  private List<Map<String, Long>> count(PodInfo pod, List<Constraint> cs, List<NodeInfo> nodes, boolean requireAllKeys) {
    if (cache != null && (cs.size() == 1 || !requireAllKeys) && !hasNodeConstraints(pod)) {
      return countIndexed(pod, cs);
    }
    List<Map<String, Long>> counts = new ArrayList<>();
    for (int i = 0; i < cs.size(); i++) {
      counts.add(new HashMap<>());
    }
    for (NodeInfo n : nodes) {
      if (!NodeAffinity.fits(pod, n)) {
        continue;
      }
      if (requireAllKeys) {
        boolean all = true;
        for (Constraint c : cs) {
          if (!n.labels.containsKey(c.topologyKey)) {
            all = false;
            break;
          }
        }
        if (!all) {
          continue;
        }
      }
      for (int i = 0; i < cs.size(); i++) {
        Constraint c = cs.get(i);
        String v = n.labels.get(c.topologyKey);
        if (v == null) {
          continue;
        }
        long m = 0;
        for (PodInfo e : n.podsIn(pod.namespace)) {
          if (c.selects(e, pod.namespace)) {
            m++;
          }
        }
        counts.get(i).merge(v, m, Long::sum);
      }
    }
    return counts;
  }

  /**
   * The same counts from the cache's indexes: every node is eligible (no node selector or required
   * node affinity) and each constraint stands alone, so the domains come from the topology index
   * and only nodes holding pods of the namespace need visiting.
   */
  private List<Map<String, Long>> countIndexed(PodInfo pod, List<Constraint> cs) {
    List<Map<String, Long>> counts = new ArrayList<>();
    for (Constraint c : cs) {
      Map<String, Long> m = new HashMap<>();
      for (String v : cache.domains(c.topologyKey).keySet()) {
        m.put(v, 0L);
      }
      for (NodeInfo n : cache.nodesWithPodsIn(pod.namespace)) {
        String v = n.labels.get(c.topologyKey);
        if (v == null || !cache.isCurrent(n)) {
          continue;
        }
        long k = 0;
        for (PodInfo e : n.podsIn(pod.namespace)) {
          if (c.selects(e, pod.namespace)) {
            k++;
          }
        }
        if (k > 0) {
          m.merge(v, k, Long::sum);
        }
      }
      counts.add(m);
    }
    return counts;
  }

  private static boolean hasNodeConstraints(PodInfo pod) {
    var sel = pod.pod.getSpec().getNodeSelector();
    var a = pod.pod.getSpec().getAffinity();
    return (sel != null && !sel.isEmpty())
        || (a != null && a.getNodeAffinity() != null && a.getNodeAffinity().getRequiredDuringSchedulingIgnoredDuringExecution() != null);
  }

  @Override
  public Status preFilter(CycleState state, PodInfo pod, List<NodeInfo> allNodes) {
    List<Constraint> cs = constraints(pod, "DoNotSchedule");
    if (cs.isEmpty()) {
      state.write(FILTER_KEY, null);
      return Status.SUCCESS;
    }
    List<Map<String, Long>> counts = count(pod, cs, allNodes, true);
    long[] min = new long[cs.size()];
    for (int i = 0; i < cs.size(); i++) {
      Map<String, Long> m = counts.get(i);
      long mn = m.isEmpty() ? 0 : Long.MAX_VALUE;
      for (long v : m.values()) {
        mn = Math.min(mn, v);
      }
      // Fewer eligible domains than minDomains: the global minimum is treated as 0.
      if (m.size() < cs.get(i).minDomains) {
        mn = 0;
      }
      min[i] = mn;
    }
    state.write(FILTER_KEY, new FilterState(cs, counts, min));
    return Status.SUCCESS;
  }

  @Override
  public Status filter(CycleState state, PodInfo pod, NodeInfo node) {
    FilterState s = state.read(FILTER_KEY);
    if (s == null) {
      return Status.SUCCESS;
    }
    for (int i = 0; i < s.constraints.size(); i++) {
      Constraint c = s.constraints.get(i);
      String v = node.labels.get(c.topologyKey);
      if (v == null) {
        return Status.unresolvable(MISSING_LABEL);
      }
      long self = c.selects(pod, pod.namespace) ? 1 : 0;
      long skew = s.counts.get(i).getOrDefault(v, 0L) + self - s.min[i];
      if (skew > c.maxSkew) {
        return Status.unschedulable(REASON);
      }
    }
    return Status.SUCCESS;
  }

  @Override
  public void preScore(CycleState state, PodInfo pod, List<NodeInfo> feasible, List<NodeInfo> allNodes) {
    List<Constraint> cs = constraints(pod, "ScheduleAnyway");
    if (cs.isEmpty()) {
      state.write(SCORE_KEY, null);
      return;
    }
    List<Map<String, Long>> counts = count(pod, cs, allNodes, false);
    double[] w = new double[cs.size()];
    for (int i = 0; i < cs.size(); i++) {
      // Upstream topologyNormalizingWeight: log(domains + 2).
      w[i] = Math.log(counts.get(i).size() + 2);
    }
    state.write(SCORE_KEY, new ScoreState(cs, counts, w));
  }

  @Override
  public long score(CycleState state, PodInfo pod, NodeInfo node) {
    ScoreState s = state.read(SCORE_KEY);
    if (s == null) {
      return 0;
    }
    double score = 0;
    for (int i = 0; i < s.constraints.size(); i++) {
      Constraint c = s.constraints.get(i);
      String v = node.labels.get(c.topologyKey);
      if (v == null) {
        return -1;
      }
      score += s.counts.get(i).getOrDefault(v, 0L) * s.weights[i] + (c.maxSkew - 1);
    }
    return Math.round(score);
  }

  @Override
  public void normalize(CycleState state, PodInfo pod, long[] scores) {
    ScoreState s = state.read(SCORE_KEY);
    if (s == null) {
      java.util.Arrays.fill(scores, 0);
      return;
    }
    long min = Long.MAX_VALUE;
    long max = Long.MIN_VALUE;
    for (long v : scores) {
      if (v >= 0) {
        min = Math.min(min, v);
        max = Math.max(max, v);
      }
    }
    for (int i = 0; i < scores.length; i++) {
      if (scores[i] < 0) {
        scores[i] = 0; // node lacks a topology key: ignored
      } else if (max == 0) {
        scores[i] = Scores.MAX;
      } else {
        scores[i] = Scores.MAX * (max + min - scores[i]) / max;
      }
    }
  }

  @Override
  public int weight() {
    return 2;
  }
}
