package dev.skiff.scheduler;

import io.fabric8.kubernetes.api.model.Pod;
import java.util.List;

/**
 * A scheduler plugin: a name plus whichever tiny extension-point interfaces it implements
 * (upstream {@code framework/interface.go}). Plugins run on the scheduling thread only and read
 * {@link NodeInfo}s under the cache lock: they must not block or call the API server.
 */
public interface Plugin {
  String name();

  /** Computes per-pod state once per cycle; a rejection fails the pod on every node. */
  interface PreFilter extends Plugin {
    Status preFilter(CycleState state, PodInfo pod, List<NodeInfo> allNodes);
  }

  /** Decides whether the pod fits one node. */
  interface Filter extends Plugin {
    Status filter(CycleState state, PodInfo pod, NodeInfo node);
  }

  /** Computes state for scoring over the feasible nodes. */
  interface PreScore extends Plugin {
    void preScore(CycleState state, PodInfo pod, List<NodeInfo> feasible, List<NodeInfo> allNodes);
  }

  /** Scores one feasible node; {@link #normalize} then maps the scores into 0..100. */
  interface Score extends Plugin {
    long score(CycleState state, PodInfo pod, NodeInfo node);

    default void normalize(CycleState state, PodInfo pod, long[] scores) {}

    /** Upstream's default weight for this plugin. */
    int weight();
  }

  /** Reserves per-node resources once a node is chosen; unreserve undoes it on failure. */
  interface Reserve extends Plugin {
    Status reserve(CycleState state, Pod pod, String nodeName);

    default void unreserve(CycleState state, Pod pod, String nodeName) {}
  }

  /** Runs in the binding cycle, before the Binding is posted (for example volume annotations). */
  interface PreBind extends Plugin {
    Status preBind(CycleState state, Pod pod, String nodeName);
  }
}
