package dev.skiff.scheduler;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Runs the plugins of one profile over a pod (upstream {@code framework/runtime/framework.go} and
 * the node search and selection of {@code schedule_one.go}): PreFilter, Filter over a round-robin
 * window of nodes until enough are feasible (percentageOfNodesToScore), PreScore, Score with
 * normalization and weights, then the highest total with ties broken round-robin (the seed's
 * {@code lastNodeIndex}) so identical nodes fill evenly.
 *
 * <p>Used by the one scheduling thread with the cache lock held; not thread-safe.
 */
final class Framework {
  static final int MIN_FEASIBLE_NODES_TO_FIND = 100;
  static final int MIN_FEASIBLE_NODES_PERCENTAGE = 5;

  final List<Plugin> plugins;
  private final List<Plugin.PreFilter> preFilters = new ArrayList<>();
  private final List<Plugin.Filter> filters = new ArrayList<>();
  private final List<Plugin.PreScore> preScores = new ArrayList<>();
  private final List<Plugin.Score> scorers = new ArrayList<>();
  final List<Plugin.PreBind> preBinds = new ArrayList<>();
  private final int percentageOfNodesToScore;
  private int nextStartNodeIndex;
  private long lastNodeIndex;

  /** The result of a successful search. */
  record Placement(String node, int evaluated, int feasible) {}

  /** Why a pod fits nowhere: a status per rejected node, or one PreFilter status for all. */
  static final class FitError extends Exception {
    final int numAllNodes;
    final Map<String, Status> nodeStatuses;
    final Status preFilterStatus;
    String postFilterMsg;

    FitError(int numAllNodes, Map<String, Status> nodeStatuses, Status preFilterStatus) {
      super(null, null, false, false);
      this.numAllNodes = numAllNodes;
      this.nodeStatuses = nodeStatuses;
      this.preFilterStatus = preFilterStatus;
    }

    /** Upstream's FitError.Error(): "0/N nodes are available: 1 A, 2 B." plus the PostFilter message. */
    @Override
    public String getMessage() {
      StringBuilder sb = new StringBuilder("0/").append(numAllNodes).append(" nodes are available:");
      if (preFilterStatus != null) {
        sb.append(' ').append(String.join(", ", preFilterStatus.reasons())).append('.');
      } else {
        sb.append(' ').append(histogram(nodeStatuses)).append('.');
      }
      if (postFilterMsg != null && !postFilterMsg.isEmpty()) {
        sb.append(' ').append(postFilterMsg).append('.');
      }
      return sb.toString();
    }
  }

  /** "1 Insufficient cpu, 2 node(s) had ...": counts per reason, sorted as strings. */
  static String histogram(Map<String, Status> statuses) {
    Map<String, Integer> counts = new HashMap<>();
    for (Status s : statuses.values()) {
      for (String r : s.reasons()) {
        counts.merge(r, 1, Integer::sum);
      }
    }
    List<String> parts = new ArrayList<>();
    counts.forEach((r, c) -> parts.add(c + " " + r));
    parts.sort(null);
    return String.join(", ", parts);
  }

  Framework(List<Plugin> plugins, int percentageOfNodesToScore) {
    this.plugins = List.copyOf(plugins);
    this.percentageOfNodesToScore = percentageOfNodesToScore;
    for (Plugin p : plugins) {
      if (p instanceof Plugin.PreFilter pf) {
        preFilters.add(pf);
      }
      if (p instanceof Plugin.Filter f) {
        filters.add(f);
      }
      if (p instanceof Plugin.PreScore ps) {
        preScores.add(ps);
      }
      if (p instanceof Plugin.Score s) {
        scorers.add(s);
      }
      if (p instanceof Plugin.PreBind pb) {
        preBinds.add(pb);
      }
    }
  }

  /** Upstream numFeasibleNodesToFind (schedule_one.go). */
  int numFeasibleNodesToFind(int numAllNodes) {
    if (numAllNodes < MIN_FEASIBLE_NODES_TO_FIND) {
      return numAllNodes;
    }
    int pct = percentageOfNodesToScore;
    if (pct <= 0) {
      pct = 50 - numAllNodes / 125;
      if (pct < MIN_FEASIBLE_NODES_PERCENTAGE) {
        pct = MIN_FEASIBLE_NODES_PERCENTAGE;
      }
    }
    if (pct >= 100) {
      return numAllNodes;
    }
    int n = numAllNodes * pct / 100;
    return Math.max(n, MIN_FEASIBLE_NODES_TO_FIND);
  }

  /** Runs the filters on one node; the first rejection wins (upstream RunFilterPlugins). */
  Status runFilters(CycleState state, PodInfo pod, NodeInfo node) {
    for (Plugin.Filter f : filters) {
      Status s = f.filter(state, pod, node);
      if (!s.isSuccess()) {
        return s.withPlugin(f.name());
      }
    }
    return Status.SUCCESS;
  }

  /** Finds the node for {@code pod}, or throws the FitError naming why each node was rejected. */
  Placement schedule(CycleState state, PodInfo pod, List<NodeInfo> nodes) throws FitError {
    int n = nodes.size();
    if (n == 0) {
      throw new FitError(0, Map.of(), null);
    }
    for (Plugin.PreFilter pf : preFilters) {
      Status s = pf.preFilter(state, pod, nodes);
      if (!s.isSuccess()) {
        Map<String, Status> all = new HashMap<>();
        Status ws = s.withPlugin(pf.name());
        for (NodeInfo ni : nodes) {
          all.put(ni.name, ws);
        }
        throw new FitError(n, all, ws);
      }
    }
    // A nominated node (set by an earlier preemption) is tried first.
    String nominated = pod.pod.getStatus() == null ? null : pod.pod.getStatus().getNominatedNodeName();
    if (nominated != null && !nominated.isEmpty()) {
      for (NodeInfo ni : nodes) {
        if (ni.name.equals(nominated) && runFilters(state, pod, ni).isSuccess()) {
          return new Placement(ni.name, 1, 1);
        }
      }
    }
    int want = scorers.isEmpty() ? 1 : numFeasibleNodesToFind(n);
    List<NodeInfo> feasible = new ArrayList<>(Math.min(want, 128));
    Map<String, Status> rejected = new TreeMap<>();
    int start = nextStartNodeIndex % n;
    int processed = 0;
    for (int i = 0; i < n && feasible.size() < want; i++) {
      NodeInfo ni = nodes.get((start + i) % n);
      processed++;
      Status s = runFilters(state, pod, ni);
      if (s.isSuccess()) {
        feasible.add(ni);
      } else {
        rejected.put(ni.name, s);
      }
    }
    nextStartNodeIndex = (start + processed) % n;
    if (feasible.isEmpty()) {
      throw new FitError(n, rejected, null);
    }
    if (feasible.size() == 1) {
      return new Placement(feasible.get(0).name, processed, 1);
    }
    long[] total = new long[feasible.size()];
    for (Plugin.PreScore ps : preScores) {
      ps.preScore(state, pod, feasible, nodes);
    }
    long[] scores = new long[feasible.size()];
    for (Plugin.Score sp : scorers) {
      for (int i = 0; i < scores.length; i++) {
        scores[i] = sp.score(state, pod, feasible.get(i));
      }
      sp.normalize(state, pod, scores);
      for (int i = 0; i < scores.length; i++) {
        total[i] += scores[i] * sp.weight();
      }
    }
    return new Placement(feasible.get(selectHost(total)).name, processed, feasible.size());
  }

  /** The highest score; among equal ones the next in round-robin order (seed 001, lastNodeIndex). */
  int selectHost(long[] total) {
    long max = Long.MIN_VALUE;
    int count = 0;
    for (long t : total) {
      if (t > max) {
        max = t;
        count = 1;
      } else if (t == max) {
        count++;
      }
    }
    int pick = (int) (lastNodeIndex++ % count);
    for (int i = 0; i < total.length; i++) {
      if (total[i] == max && pick-- == 0) {
        return i;
      }
    }
    throw new AssertionError();
  }
}
