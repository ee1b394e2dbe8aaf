package dev.skiff.scheduler;

import dev.skiff.runtime.Clock;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.Pod;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The scheduler's view of nodes and the pods on them, including pods it has <em>assumed</em> onto a
 * node before the API server confirms the binding (upstream {@code backend/cache/cache.go}, the
 * seed's assume/bind/TTL cache). An assumed pod counts against its node at once; the informer's
 * bound copy confirms it; if the bind finished but the confirmation does not arrive within the
 * TTL, the assumption expires and the resources are released.
 *
 * <p>Thread-safe: every method takes {@link #lock()}; the scheduling thread holds the lock across
 * a whole filter/score pass so it sees one consistent state.
 */
public final class SchedulerCache {
  private final ReentrantLock lock = new ReentrantLock();
  private final Clock clock;
  private final long ttlNanos;
  private final Map<String, NodeInfo> nodes = new HashMap<>();
  /** Nodes in a stable order, for round-robin examination; rebuilt when the set changes. */
  private List<NodeInfo> nodeList = List.of();
  private final Map<String, PodState> pods = new HashMap<>();
  /** Namespace -> nodes holding pods of it (with counts): spreading counts visit only these. */
  private final Map<String, Map<NodeInfo, Integer>> nodesByNamespace = new HashMap<>();
  /** Pods with any pod (anti-)affinity term and their nodes: the existing pods whose terms matter. */
  private final Map<PodInfo, NodeInfo> affinityPods = new java.util.IdentityHashMap<>();
  /** topologyKey -> value -> nodes; built on demand, dropped when node labels change. */
  private final Map<String, Map<String, List<NodeInfo>>> domainIndex = new HashMap<>();

  private static final class PodState {
    PodInfo info;
    String nodeName;
    boolean assumed;
    boolean bindingFinished;
    long deadline;
  }

  public SchedulerCache(Clock clock, Duration assumedTtl) {
    this.clock = clock;
    this.ttlNanos = assumedTtl.toNanos();
  }

  ReentrantLock lock() {
    return lock;
  }

  /** The current nodes in stable order; call with the lock held; do not modify. */
  List<NodeInfo> nodeList() {
    return nodeList;
  }

  NodeInfo node(String name) {
    return nodes.get(name);
  }

  public int nodeCount() {
    lock.lock();
    try {
      return nodeList.size();
    } finally {
      lock.unlock();
    }
  }

  public void addOrUpdateNode(Node n) {
    lock.lock();
    try {
      String name = n.getMetadata().getName();
      NodeInfo ni = nodes.get(name);
      boolean added = ni == null || ni.node == null;
      if (ni == null) {
        ni = new NodeInfo(name);
        nodes.put(name, ni);
      }
      if (ni.node == null || !java.util.Objects.equals(ni.node.getMetadata().getLabels(), n.getMetadata().getLabels())) {
        domainIndex.clear();
      }
      ni.setNode(n); // recounts the pods' ports when the node's pod network changes
      if (added) {
        rebuildList();
      }
    } finally {
      lock.unlock();
    }
  }

  public void removeNode(String name) {
    lock.lock();
    try {
      NodeInfo ni = nodes.get(name);
      if (ni != null) {
        // Pods still bound to it keep their accounting in a placeholder until they go, as
        // upstream keeps a NodeInfo while it has pods; the node re-registering reuses it.
        if (ni.pods.isEmpty()) {
          nodes.remove(name);
        } else {
          ni.node = null;
        }
        domainIndex.clear();
        rebuildList();
      }
    } finally {
      lock.unlock();
    }
  }

  private void rebuildList() {
    List<NodeInfo> l = new ArrayList<>();
    for (NodeInfo ni : nodes.values()) {
      if (ni.node != null) {
        l.add(ni);
      }
    }
    l.sort((a, b) -> a.name.compareTo(b.name));
    nodeList = l;
  }

  /** A pod the informer saw bound to a node (or updated); confirms an assumed pod. */
  public void addOrUpdatePod(Pod pod) {
    String nodeName = pod.getSpec().getNodeName();
    if (nodeName == null || nodeName.isEmpty()) {
      return;
    }
    PodInfo info = new PodInfo(pod);
    lock.lock();
    try {
      PodState s = pods.get(info.uid);
      if (s != null) {
        detach(s);
      } else {
        s = new PodState();
        pods.put(info.uid, s);
      }
      s.info = info;
      s.nodeName = nodeName;
      s.assumed = false;
      attach(s);
    } finally {
      lock.unlock();
    }
  }

  public void removePod(Pod pod) {
    String uid = pod.getMetadata().getUid();
    lock.lock();
    try {
      PodState s = pods.remove(uid);
      if (s != null) {
        detach(s);
      }
    } finally {
      lock.unlock();
    }
  }

  /** Counts {@code info} on {@code nodeName} before the binding is confirmed. */
  void assume(PodInfo info, String nodeName) {
    lock.lock();
    try {
      if (pods.containsKey(info.uid)) {
        return;
      }
      PodState s = new PodState();
      s.info = info;
      s.nodeName = nodeName;
      s.assumed = true;
      pods.put(info.uid, s);
      attach(s);
    } finally {
      lock.unlock();
    }
  }

  /** The bind call returned: from now the assumption expires after the TTL unless confirmed. */
  void finishBinding(PodInfo info) {
    lock.lock();
    try {
      PodState s = pods.get(info.uid);
      if (s != null && s.assumed) {
        s.bindingFinished = true;
        s.deadline = clock.nanoTime() + ttlNanos;
      }
    } finally {
      lock.unlock();
    }
  }

  /** Undoes {@link #assume} after a failed bind. */
  void forget(PodInfo info) {
    lock.lock();
    try {
      PodState s = pods.get(info.uid);
      if (s != null && s.assumed) {
        pods.remove(info.uid);
        detach(s);
      }
    } finally {
      lock.unlock();
    }
  }

  boolean isAssumed(String uid) {
    lock.lock();
    try {
      PodState s = pods.get(uid);
      return s != null && s.assumed;
    } finally {
      lock.unlock();
    }
  }

  /** Whether the cache already places this pod on a node (assumed or confirmed). */
  boolean isPlaced(String uid) {
    lock.lock();
    try {
      return pods.containsKey(uid);
    } finally {
      lock.unlock();
    }
  }

  /** Drops assumed pods whose bind finished more than the TTL ago without a confirmation. */
  int cleanupExpired() {
    lock.lock();
    try {
      long now = clock.nanoTime();
      List<String> expired = new ArrayList<>();
      pods.forEach((uid, s) -> {
        if (s.assumed && s.bindingFinished && now - s.deadline >= 0) {
          expired.add(uid);
        }
      });
      for (String uid : expired) {
        detach(pods.remove(uid));
      }
      return expired.size();
    } finally {
      lock.unlock();
    }
  }

  private void attach(PodState s) {
    NodeInfo ni = nodes.get(s.nodeName);
    if (ni == null) {
      // Pods may arrive before their node; keep an empty placeholder so nothing is lost.
      ni = new NodeInfo(s.nodeName);
      nodes.put(s.nodeName, ni);
    }
    if (s.info.hasAffinityTerms()) {
      affinityPods.put(s.info, ni);
    }
    if (!ni.pods.containsKey(s.info.uid)) {
      nodesByNamespace.computeIfAbsent(s.info.namespace, k -> new HashMap<>()).merge(ni, 1, Integer::sum);
    }
    ni.addPod(s.info);
  }

  private void detach(PodState s) {
    NodeInfo ni = nodes.get(s.nodeName);
    affinityPods.remove(s.info);
    if (ni != null) {
      if (ni.pods.containsKey(s.info.uid)) {
        Map<NodeInfo, Integer> m = nodesByNamespace.get(s.info.namespace);
        if (m != null) {
          m.computeIfPresent(ni, (k, c) -> c <= 1 ? null : c - 1);
          if (m.isEmpty()) {
            nodesByNamespace.remove(s.info.namespace);
          }
        }
      }
      ni.removePod(s.info);
    }
  }

  /** Current nodes holding pods of {@code namespace}; call with the lock held; do not modify. */
  java.util.Set<NodeInfo> nodesWithPodsIn(String namespace) {
    Map<NodeInfo, Integer> m = nodesByNamespace.get(namespace);
    return m == null ? java.util.Set.of() : m.keySet();
  }

  /** Placed pods that have pod (anti-)affinity terms, with their nodes; lock held; do not modify. */
  Map<PodInfo, NodeInfo> podsWithAffinityTerms() {
    return affinityPods;
  }

  /** Whether {@code ni} is the cache's current entry for a registered node. */
  boolean isCurrent(NodeInfo ni) {
    // A NodeInfo leaves the map only when empty, and one with pods left over from a deleted node
    // is a placeholder with no node: so "has a node" is enough, without a map lookup.
    return ni.node != null;
  }

  /** The nodes of each value of {@code topologyKey}; call with the lock held; do not modify. */
  Map<String, List<NodeInfo>> domains(String topologyKey) {
    return domainIndex.computeIfAbsent(topologyKey, k -> {
      Map<String, List<NodeInfo>> d = new HashMap<>();
      for (NodeInfo ni : nodeList) {
        String v = ni.labels.get(k);
        if (v != null) {
          d.computeIfAbsent(v, x -> new ArrayList<>()).add(ni);
        }
      }
      return d;
    });
  }
}
