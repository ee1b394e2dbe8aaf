package dev.skiff.scheduler;

import io.fabric8.kubernetes.api.model.PodAffinityTerm;
import io.fabric8.kubernetes.api.model.WeightedPodAffinityTerm;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Required and preferred pod affinity and anti-affinity, including the anti-affinity of pods
 * already running (upstream interpodaffinity/filtering.go and scoring.go; weight 2,
 * hardPodAffinityWeight 1). Counts are kept per topology pair (topologyKey, value).
 */
final class InterPodAffinity implements Plugin.PreFilter, Plugin.Filter, Plugin.PreScore, Plugin.Score {
  static final String NAME = "InterPodAffinity";
  static final String AFFINITY = "node(s) didn't match pod affinity rules";
  static final String ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules";
  static final String EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules";
  private static final String FILTER_KEY = NAME + "/filter";
  private static final String SCORE_KEY = NAME + "/score";
  static final int HARD_POD_AFFINITY_WEIGHT = 1;

  /** topologyKey -> value -> count. */
  private static final class Counts {
    final Map<String, Map<String, Long>> m = new HashMap<>();

    void add(String key, String value, long n) {
      if (value != null) {
        m.computeIfAbsent(key, k -> new HashMap<>()).merge(value, n, Long::sum);
      }
    }

    long get(String key, String value) {
      Map<String, Long> v = m.get(key);
      return v == null || value == null ? 0 : v.getOrDefault(value, 0L);
    }

    boolean isEmpty() {
      return m.isEmpty();
    }
  }

  private record FilterState(Counts existingAnti, Counts affinity, Counts anti, boolean affinityMatchedNone) {}

  @Override
  public String name() {
    return NAME;
  }

  /** Indexes for fast counting; null means visit every node. */
  private final SchedulerCache cache;

  InterPodAffinity(SchedulerCache cache) {
    this.cache = cache;
  }

  /** Nodes whose pods the incoming pod's own terms can select. */
  private Iterable<NodeInfo> candidates(PodInfo pod, boolean local, List<NodeInfo> allNodes) {
    if (cache == null || !local) {
      return allNodes;
    }
    List<NodeInfo> out = new java.util.ArrayList<>();
    for (NodeInfo n : cache.nodesWithPodsIn(pod.namespace)) {
      if (cache.isCurrent(n)) {
        out.add(n);
      }
    }
    return out;
  }

  @Override
  public Status preFilter(CycleState state, PodInfo pod, List<NodeInfo> allNodes) {
    Counts existingAnti = new Counts();
    Counts affinity = new Counts();
    Counts anti = new Counts();
    boolean own = !pod.requiredAffinity.isEmpty() || !pod.requiredAntiAffinity.isEmpty();
    // Terms without namespaces or a namespaceSelector select only the pod's own namespace.
    boolean local = namespaceLocal(pod.requiredAffinity) && namespaceLocal(pod.requiredAntiAffinity);
    if (cache != null) {
      cache.podsWithAffinityTerms().forEach((e, n) -> {
        if (cache.isCurrent(n)) {
          for (PodAffinityTerm t : e.requiredAntiAffinity) {
            if (pod.matchedBy(t, e.namespace)) {
              existingAnti.add(t.getTopologyKey(), n.labels.get(t.getTopologyKey()), 1);
            }
          }
        }
      });
    } else {
      for (NodeInfo n : allNodes) {
        if (n.podsWithRequiredAntiAffinity > 0) {
          for (PodInfo e : n.pods.values()) {
            for (PodAffinityTerm t : e.requiredAntiAffinity) {
              if (pod.matchedBy(t, e.namespace)) {
                existingAnti.add(t.getTopologyKey(), n.labels.get(t.getTopologyKey()), 1);
              }
            }
          }
        }
      }
    }
    for (NodeInfo n : own ? candidates(pod, local, allNodes) : List.<NodeInfo>of()) {
      for (PodInfo e : local ? n.podsIn(pod.namespace) : n.pods.values()) {
        if (!pod.requiredAffinity.isEmpty()) {
          boolean all = true;
          for (PodAffinityTerm t : pod.requiredAffinity) {
            if (!e.matchedBy(t, pod.namespace)) {
              all = false;
              break;
            }
          }
          if (all) {
            for (PodAffinityTerm t : pod.requiredAffinity) {
              affinity.add(t.getTopologyKey(), n.labels.get(t.getTopologyKey()), 1);
            }
          }
        }
        for (PodAffinityTerm t : pod.requiredAntiAffinity) {
          if (e.matchedBy(t, pod.namespace)) {
            anti.add(t.getTopologyKey(), n.labels.get(t.getTopologyKey()), 1);
          }
        }
      }
    }
    // The first pod of a group that selects itself may go anywhere the topology key exists
    // (upstream satisfyPodAffinity: "if the pod matches its own affinity terms").
    boolean none = affinity.isEmpty() && !pod.requiredAffinity.isEmpty()
        && pod.requiredAffinity.stream().allMatch(t -> pod.matchedBy(t, pod.namespace));
    state.write(FILTER_KEY, new FilterState(existingAnti, affinity, anti, none));
    return Status.SUCCESS;
  }

  private static boolean namespaceLocal(List<PodAffinityTerm> terms) {
    for (PodAffinityTerm t : terms) {
      if (t.getNamespaceSelector() != null || (t.getNamespaces() != null && !t.getNamespaces().isEmpty())) {
        return false;
      }
    }
    return true;
  }

  @Override
  public Status filter(CycleState state, PodInfo pod, NodeInfo node) {
    FilterState s = state.read(FILTER_KEY);
    // Upstream order (interpodaffinity/filtering.go Filter): affinity, anti-affinity, existing pods' anti-affinity.
    for (PodAffinityTerm t : pod.requiredAffinity) {
      String v = node.labels.get(t.getTopologyKey());
      if (v == null) {
        return Status.unresolvable(AFFINITY);
      }
      if (!s.affinityMatchedNone && s.affinity.get(t.getTopologyKey(), v) == 0) {
        return Status.unresolvable(AFFINITY);
      }
    }
    for (PodAffinityTerm t : pod.requiredAntiAffinity) {
      if (s.anti.get(t.getTopologyKey(), node.labels.get(t.getTopologyKey())) > 0) {
        return Status.unschedulable(ANTI_AFFINITY);
      }
    }
    for (var e : s.existingAnti.m.entrySet()) {
      String v = node.labels.get(e.getKey());
      if (v != null && e.getValue().getOrDefault(v, 0L) > 0) {
        return Status.unschedulable(EXISTING_ANTI_AFFINITY);
      }
    }
    return Status.SUCCESS;
  }

  @Override
  public void preScore(CycleState state, PodInfo pod, List<NodeInfo> feasible, List<NodeInfo> allNodes) {
    Counts scores = new Counts();
    boolean own = !pod.preferredAffinity.isEmpty() || !pod.preferredAntiAffinity.isEmpty();
    boolean local = namespaceLocalWeighted(pod.preferredAffinity) && namespaceLocalWeighted(pod.preferredAntiAffinity);
    // The incoming pod's preferred terms over the pods they can select.
    for (NodeInfo n : own ? candidates(pod, local, allNodes) : List.<NodeInfo>of()) {
      for (PodInfo e : local ? n.podsIn(pod.namespace) : n.pods.values()) {
        for (WeightedPodAffinityTerm w : pod.preferredAffinity) {
          if (e.matchedBy(w.getPodAffinityTerm(), pod.namespace)) {
            scores.add(w.getPodAffinityTerm().getTopologyKey(), n.labels.get(w.getPodAffinityTerm().getTopologyKey()), w.getWeight());
          }
        }
        for (WeightedPodAffinityTerm w : pod.preferredAntiAffinity) {
          if (e.matchedBy(w.getPodAffinityTerm(), pod.namespace)) {
            scores.add(w.getPodAffinityTerm().getTopologyKey(), n.labels.get(w.getPodAffinityTerm().getTopologyKey()), -w.getWeight());
          }
        }
      }
    }
    // Existing pods' terms that select the incoming pod (symmetry).
    java.util.function.BiConsumer<PodInfo, NodeInfo> existing = (e, n) -> {
      for (PodAffinityTerm t : e.requiredAffinity) {
        if (pod.matchedBy(t, e.namespace)) {
          scores.add(t.getTopologyKey(), n.labels.get(t.getTopologyKey()), HARD_POD_AFFINITY_WEIGHT);
        }
      }
      for (WeightedPodAffinityTerm w : e.preferredAffinity) {
        if (pod.matchedBy(w.getPodAffinityTerm(), e.namespace)) {
          scores.add(w.getPodAffinityTerm().getTopologyKey(), n.labels.get(w.getPodAffinityTerm().getTopologyKey()), w.getWeight());
        }
      }
      for (WeightedPodAffinityTerm w : e.preferredAntiAffinity) {
        if (pod.matchedBy(w.getPodAffinityTerm(), e.namespace)) {
          scores.add(w.getPodAffinityTerm().getTopologyKey(), n.labels.get(w.getPodAffinityTerm().getTopologyKey()), -w.getWeight());
        }
      }
    };
    if (cache != null) {
      cache.podsWithAffinityTerms().forEach((e, n) -> {
        if (cache.isCurrent(n)) {
          existing.accept(e, n);
        }
      });
    } else {
      for (NodeInfo n : allNodes) {
        if (n.podsWithAffinity > 0) {
          for (PodInfo e : n.pods.values()) {
            if (e.hasAffinityTerms()) {
              existing.accept(e, n);
            }
          }
        }
      }
    }
    state.write(SCORE_KEY, scores);
  }

  private static boolean namespaceLocalWeighted(List<WeightedPodAffinityTerm> terms) {
    for (WeightedPodAffinityTerm w : terms) {
      if (!namespaceLocal(List.of(w.getPodAffinityTerm()))) {
        return false;
      }
    }
    return true;
  }

  @Override
  public long score(CycleState state, PodInfo pod, NodeInfo node) {
    Counts s = state.read(SCORE_KEY);
    if (s == null || s.isEmpty()) {
      return 0;
    }
    long sum = 0;
    for (var e : s.m.entrySet()) {
      String v = node.labels.get(e.getKey());
      if (v != null) {
        sum += e.getValue().getOrDefault(v, 0L);
      }
    }
    return sum;
  }

  @Override
  public void normalize(CycleState state, PodInfo pod, long[] scores) {
    Counts s = state.read(SCORE_KEY);
    if (s == null || s.isEmpty() || scores.length == 0) {
      java.util.Arrays.fill(scores, 0);
      return;
    }
    long min = Long.MAX_VALUE;
    long max = Long.MIN_VALUE;
    for (long v : scores) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    long diff = max - min;
    for (int i = 0; i < scores.length; i++) {
      scores[i] = diff > 0 ? Scores.MAX * (scores[i] - min) / diff : 0;
    }
  }

  @Override
  public int weight() {
    return 2;
  }
}
