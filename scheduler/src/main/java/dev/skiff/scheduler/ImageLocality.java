package dev.skiff.scheduler;

import io.fabric8.kubernetes.api.model.Container;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Favors nodes that already have the pod's images: the sum of each present image's size scaled by
 * the fraction of nodes holding it, clamped to [23 MB, 1000 MB × containers] and mapped to 0..100
 * (upstream imagelocality/image_locality.go, weight 1).
 */
final class ImageLocality implements Plugin.PreScore, Plugin.Score {
  static final String NAME = "ImageLocality";
  private static final String KEY = NAME + "/spread";
  private static final long MB = 1024 * 1024;
  private static final long MIN_THRESHOLD = 23 * MB;
  private static final long MAX_CONTAINER_THRESHOLD = 1000 * MB;

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public void preScore(CycleState state, PodInfo pod, List<NodeInfo> feasible, List<NodeInfo> allNodes) {
    Map<String, Integer> counts = new HashMap<>();
    for (Container c : pod.pod.getSpec().getContainers()) {
      if (c.getImage() != null) {
        counts.put(NodeInfo.normalizeImage(c.getImage()), 0);
      }
    }
    boolean anyImages = false;
    for (NodeInfo n : allNodes) {
      if (n.images.isEmpty()) {
        continue;
      }
      anyImages = true;
      for (var e : counts.entrySet()) {
        if (n.images.containsKey(e.getKey())) {
          e.setValue(e.getValue() + 1);
        }
      }
    }
    state.write(KEY, anyImages ? new Object[] {counts, allNodes.size()} : null);
  }

  @Override
  @SuppressWarnings("unchecked")
  public long score(CycleState state, PodInfo pod, NodeInfo node) {
    Object[] s = state.read(KEY);
    if (s == null || node.images.isEmpty()) {
      return 0;
    }
    Map<String, Integer> counts = (Map<String, Integer>) s[0];
    int total = (Integer) s[1];
    long sum = 0;
    for (Container c : pod.pod.getSpec().getContainers()) {
      if (c.getImage() == null) {
        continue;
      }
      String img = NodeInfo.normalizeImage(c.getImage());
      Long size = node.images.get(img);
      if (size != null) {
        sum += (long) (size * ((double) counts.getOrDefault(img, 0) / total));
      }
    }
    long max = MAX_CONTAINER_THRESHOLD * pod.pod.getSpec().getContainers().size();
    if (sum < MIN_THRESHOLD) {
      sum = MIN_THRESHOLD;
    } else if (sum > max) {
      sum = max;
    }
    return Scores.MAX * (sum - MIN_THRESHOLD) / (max - MIN_THRESHOLD);
  }

  @Override
  public int weight() {
    return 1;
  }
}
