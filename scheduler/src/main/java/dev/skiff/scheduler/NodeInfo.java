package dev.skiff.scheduler;

import io.fabric8.kubernetes.api.model.ContainerImage;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeCondition;
import io.fabric8.kubernetes.api.model.Taint;
import io.fabric8.kubernetes.api.model.TaintBuilder;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A node with the pods the scheduler has placed or seen on it and their summed requests, used
 * ports and images (upstream {@code framework.NodeInfo}). Guarded by the {@link SchedulerCache}
 * lock; plugins read it only during a scheduling cycle.
 */
public final class NodeInfo {
  /** Nodes with this label value run pods as processes sharing the host network namespace. */
  static final String RUNTIME_LABEL = "skiff.dev/runtime";
  /** Set by the node agent: {@code bridge} when every pod has its own network namespace. */
  static final String POD_NETWORK_ANNOTATION = "skiff.dev/pod-network";

  Node node;
  final String name;
  Map<String, String> labels = Map.of();
  final Map<String, Long> allocatable = new HashMap<>();
  final Map<String, Long> requested = new HashMap<>();
  long nonZeroMilliCpu;
  long nonZeroMemory;
  final Map<String, PodInfo> pods = new LinkedHashMap<>();
  /** The same pods by namespace: label selectors of spreading and affinity are namespaced. */
  private final Map<String, List<PodInfo>> podsByNamespace = new HashMap<>();
  /** Used host ports: "protocol/hostIP/port" -> count. */
  final Map<String, Integer> usedPorts = new HashMap<>();
  private boolean hostNetworkPods;
  /** Image name -> size in bytes. */
  final Map<String, Long> images = new HashMap<>();
  /** Derived in setNode so that filters on thousands of nodes stay cheap. */
  boolean unschedulable;
  List<Taint> hardTaints = List.of();
  List<Taint> preferTaints = List.of();
  /** Taints the node's conditions imply (not-ready, pressure) that the node does not carry yet. */
  List<Taint> conditionTaints = List.of();
  long allocMilliCpu;
  long allocMemory;
  long allocPods;
  long reqMilliCpu;
  long reqMemory;
  int podsWithAffinity;
  int podsWithRequiredAntiAffinity;

  NodeInfo(String name) {
    this.name = name;
  }

  public String name() {
    return name;
  }

  public Node node() {
    return node;
  }

  void setNode(Node n) {
    this.node = n;
    this.labels = n.getMetadata().getLabels() == null ? Map.of() : n.getMetadata().getLabels();
    var annotations = n.getMetadata().getAnnotations();
    boolean shared = "process".equals(labels.get(RUNTIME_LABEL))
        && !(annotations != null && "bridge".equals(annotations.get(POD_NETWORK_ANNOTATION)));
    if (shared != hostNetworkPods) {
      // The ports pods hold depend on it: recount them under the new rule.
      hostNetworkPods = shared;
      usedPorts.clear();
      for (PodInfo p : pods.values()) {
        countPorts(p, 1);
      }
    }
    allocatable.clear();
    var alloc = n.getStatus() == null ? null : n.getStatus().getAllocatable();
    if (alloc == null || alloc.isEmpty()) {
      alloc = n.getStatus() == null ? null : n.getStatus().getCapacity();
    }
    if (alloc != null) {
      alloc.forEach((k, q) -> allocatable.put(k, PodInfo.amount(k, q)));
    }
    allocMilliCpu = allocatable.getOrDefault("cpu", 0L);
    allocMemory = allocatable.getOrDefault("memory", 0L);
    allocPods = allocatable.getOrDefault("pods", 110L);
    unschedulable = n.getSpec() != null && Boolean.TRUE.equals(n.getSpec().getUnschedulable());
    List<Taint> hard = new ArrayList<>();
    List<Taint> prefer = new ArrayList<>();
    Set<String> keys = new HashSet<>();
    if (n.getSpec() != null && n.getSpec().getTaints() != null) {
      for (Taint t : n.getSpec().getTaints()) {
        keys.add(t.getKey());
        if ("NoSchedule".equals(t.getEffect()) || "NoExecute".equals(t.getEffect())) {
          hard.add(t);
        } else if ("PreferNoSchedule".equals(t.getEffect())) {
          prefer.add(t);
        }
      }
    }
    hardTaints = List.copyOf(hard);
    preferTaints = List.copyOf(prefer);
    List<Taint> cond = new ArrayList<>();
    if (n.getStatus() != null && n.getStatus().getConditions() != null) {
      for (NodeCondition c : n.getStatus().getConditions()) {
        String key = NodeConditions.taintKey(c);
        if (key != null && !keys.contains(key)) {
          cond.add(new TaintBuilder().withKey(key).withEffect("NoSchedule").build());
        }
      }
    }
    conditionTaints = List.copyOf(cond);
    images.clear();
    if (n.getStatus() != null && n.getStatus().getImages() != null) {
      for (ContainerImage img : n.getStatus().getImages()) {
        long size = img.getSizeBytes() == null ? 0 : img.getSizeBytes();
        if (img.getNames() != null) {
          for (String name : img.getNames()) {
            images.put(normalizeImage(name), size);
          }
        }
      }
    }
  }

  /** The pods in {@code namespace} on this node; do not modify. */
  List<PodInfo> podsIn(String namespace) {
    return podsByNamespace.getOrDefault(namespace, List.of());
  }

  /**
   * Whether this node's pods share the host's network, so that their containerPorts collide: a
   * process-runtime node without per-pod network namespaces (its agent annotates
   * {@value #POD_NETWORK_ANNOTATION}: bridge when each pod has its own).
   */
  boolean processRuntime() {
    return hostNetworkPods;
  }

  private void countPorts(PodInfo p, int delta) {
    for (ContainerPort cp : p.hostPorts) {
      count(portKey(cp), delta);
    }
    if (hostNetworkPods) {
      for (ContainerPort cp : p.containerPorts) {
        count(containerPortKey(cp), delta);
      }
    }
  }

  private void count(String key, int delta) {
    if (delta > 0) {
      usedPorts.merge(key, delta, Integer::sum);
    } else {
      usedPorts.computeIfPresent(key, (k, c) -> c + delta <= 0 ? null : c + delta);
    }
  }

  void addPod(PodInfo p) {
    if (pods.putIfAbsent(p.uid, p) != null) {
      return;
    }
    podsByNamespace.computeIfAbsent(p.namespace, k -> new ArrayList<>(2)).add(p);
    p.requests.forEach((k, v) -> requested.merge(k, v, Long::sum));
    reqMilliCpu += p.milliCpu;
    reqMemory += p.memory;
    nonZeroMilliCpu += p.nonZeroMilliCpu;
    nonZeroMemory += p.nonZeroMemory;
    countPorts(p, 1);
    if (p.hasAffinityTerms()) {
      podsWithAffinity++;
    }
    if (!p.requiredAntiAffinity.isEmpty()) {
      podsWithRequiredAntiAffinity++;
    }
  }

  void removePod(PodInfo known) {
    PodInfo p = pods.remove(known.uid);
    if (p == null) {
      return;
    }
    List<PodInfo> inNs = podsByNamespace.get(p.namespace);
    if (inNs != null) {
      inNs.remove(p);
      if (inNs.isEmpty()) {
        podsByNamespace.remove(p.namespace);
      }
    }
    p.requests.forEach((k, v) -> requested.merge(k, -v, Long::sum));
    reqMilliCpu -= p.milliCpu;
    reqMemory -= p.memory;
    nonZeroMilliCpu -= p.nonZeroMilliCpu;
    nonZeroMemory -= p.nonZeroMemory;
    countPorts(p, -1);
    if (p.hasAffinityTerms()) {
      podsWithAffinity--;
    }
    if (!p.requiredAntiAffinity.isEmpty()) {
      podsWithRequiredAntiAffinity--;
    }
  }

  /** A copy for preemption's dry runs. */
  NodeInfo copy() {
    NodeInfo c = new NodeInfo(name);
    c.setNode(node);
    for (PodInfo p : pods.values()) {
      c.addPod(p);
    }
    return c;
  }

  static String portKey(ContainerPort p) {
    String proto = p.getProtocol() == null ? "TCP" : p.getProtocol();
    String ip = p.getHostIP() == null || p.getHostIP().isEmpty() ? "0.0.0.0" : p.getHostIP();
    return proto + "/" + ip + "/" + p.getHostPort();
  }

  /** On process-runtime nodes a declared containerPort binds the host's port on all addresses. */
  static String containerPortKey(ContainerPort p) {
    String proto = p.getProtocol() == null ? "TCP" : p.getProtocol();
    return proto + "/0.0.0.0/" + p.getContainerPort();
  }

  /** Image names as the kubelet reports them: default tag "latest" (upstream normalizedImageName). */
  static String normalizeImage(String name) {
    int slash = name.lastIndexOf('/');
    if (name.indexOf('@') < 0 && name.indexOf(':', slash + 1) < 0) {
      return name + ":latest";
    }
    return name;
  }
}
