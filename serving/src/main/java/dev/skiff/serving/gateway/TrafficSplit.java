package dev.skiff.serving.gateway;

import java.util.List;

/**
 * A weighted choice among revisions, by smooth weighted round-robin (nginx's algorithm): over
 * any run of requests each revision gets its share to within one request, without the variance
 * of a random draw and without sending bursts to one revision (the spec forbids stickiness that
 * violates the weights). Immutable targets; {@link #pick} is thread-safe.
 */
final class TrafficSplit {
  /** A revision (namespace/name) and its percent of the traffic. */
  record Target(String namespace, String revision, int percent) {}

  private final Target[] targets;
  private final int[] current;
  private final int total;

  TrafficSplit(List<Target> targets) {
    this.targets = targets.stream().filter(t -> t.percent() > 0).toArray(Target[]::new);
    this.current = new int[this.targets.length];
    int sum = 0;
    for (Target t : this.targets) {
      sum += t.percent();
    }
    this.total = sum;
  }

  List<Target> targets() {
    return List.of(targets);
  }

  /** The next revision, or null when no target has a positive percent. */
  Target pick() {
    if (targets.length == 1) {
      return targets[0];
    }
    if (targets.length == 0) {
      return null;
    }
    synchronized (current) {
      int best = 0;
      for (int i = 0; i < targets.length; i++) {
        current[i] += targets[i].percent();
        if (current[i] > current[best]) {
          best = i;
        }
      }
      current[best] -= total;
      return targets[best];
    }
  }
}
