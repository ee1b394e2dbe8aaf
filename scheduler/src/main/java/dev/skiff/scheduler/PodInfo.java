package dev.skiff.scheduler;

import io.fabric8.kubernetes.api.model.Affinity;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodAffinityTerm;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.WeightedPodAffinityTerm;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A pod with what scheduling needs computed once: its effective requests, host ports, priority
 * and affinity terms (upstream {@code framework.PodInfo}). Immutable after construction; the pod
 * itself must not be modified.
 */
public final class PodInfo {
  /** Upstream's non-zero defaults used only for scoring ({@code schedutil.GetNonzeroRequests}). */
  static final long DEFAULT_MILLI_CPU = 100;
  static final long DEFAULT_MEMORY = 200L * 1024 * 1024;

  final Pod pod;
  final String key;
  final String uid;
  final String namespace;
  final Map<String, String> labels;
  final int priority;
  /** Effective requests: millicores for cpu, bytes or counts for everything else. */
  final Map<String, Long> requests;
  final long milliCpu;
  final long memory;
  final long nonZeroMilliCpu;
  final long nonZeroMemory;
  /** hostPorts as "protocol/hostIP/port" plus containerPorts as "protocol/port" (process nodes). */
  final List<ContainerPort> hostPorts;
  final List<ContainerPort> containerPorts;
  final List<PodAffinityTerm> requiredAffinity;
  final List<PodAffinityTerm> requiredAntiAffinity;
  final List<WeightedPodAffinityTerm> preferredAffinity;
  final List<WeightedPodAffinityTerm> preferredAntiAffinity;

  public PodInfo(Pod pod) {
    this.pod = pod;
    this.namespace = pod.getMetadata().getNamespace();
    this.key = namespace + "/" + pod.getMetadata().getName();
    this.uid = pod.getMetadata().getUid() != null ? pod.getMetadata().getUid() : key;
    this.labels = pod.getMetadata().getLabels() == null ? Map.of() : pod.getMetadata().getLabels();
    this.priority = pod.getSpec().getPriority() == null ? 0 : pod.getSpec().getPriority();
    this.requests = computeRequests(pod);
    this.milliCpu = requests.getOrDefault("cpu", 0L);
    this.memory = requests.getOrDefault("memory", 0L);
    long nzCpu = 0;
    long nzMem = 0;
    for (Container c : pod.getSpec().getContainers()) {
      Map<String, Long> r = containerRequests(c);
      nzCpu += r.containsKey("cpu") ? r.get("cpu") : DEFAULT_MILLI_CPU;
      nzMem += r.containsKey("memory") ? r.get("memory") : DEFAULT_MEMORY;
    }
    this.nonZeroMilliCpu = Math.max(nzCpu, milliCpu);
    this.nonZeroMemory = Math.max(nzMem, memory);
    List<ContainerPort> hp = new ArrayList<>();
    List<ContainerPort> cp = new ArrayList<>();
    List<Container> all = new ArrayList<>(pod.getSpec().getContainers());
    if (pod.getSpec().getInitContainers() != null) {
      all.addAll(pod.getSpec().getInitContainers());
    }
    for (Container c : all) {
      if (c.getPorts() == null) {
        continue;
      }
      for (ContainerPort p : c.getPorts()) {
        if (p.getHostPort() != null && p.getHostPort() > 0) {
          hp.add(p);
        }
        if (p.getContainerPort() != null) {
          cp.add(p);
        }
      }
    }
    this.hostPorts = List.copyOf(hp);
    this.containerPorts = List.copyOf(cp);
    Affinity a = pod.getSpec().getAffinity();
    var pa = a == null ? null : a.getPodAffinity();
    var paa = a == null ? null : a.getPodAntiAffinity();
    this.requiredAffinity = pa == null || pa.getRequiredDuringSchedulingIgnoredDuringExecution() == null
        ? List.of() : pa.getRequiredDuringSchedulingIgnoredDuringExecution();
    this.preferredAffinity = pa == null || pa.getPreferredDuringSchedulingIgnoredDuringExecution() == null
        ? List.of() : pa.getPreferredDuringSchedulingIgnoredDuringExecution();
    this.requiredAntiAffinity = paa == null || paa.getRequiredDuringSchedulingIgnoredDuringExecution() == null
        ? List.of() : paa.getRequiredDuringSchedulingIgnoredDuringExecution();
    this.preferredAntiAffinity = paa == null || paa.getPreferredDuringSchedulingIgnoredDuringExecution() == null
        ? List.of() : paa.getPreferredDuringSchedulingIgnoredDuringExecution();
  }

  public Pod pod() {
    return pod;
  }

  public String key() {
    return key;
  }

  boolean hasAffinityTerms() {
    return !requiredAffinity.isEmpty() || !requiredAntiAffinity.isEmpty()
        || !preferredAffinity.isEmpty() || !preferredAntiAffinity.isEmpty();
  }

  /** Whether {@code term} of a pod in {@code termNamespace} selects this pod. */
  boolean matchedBy(PodAffinityTerm term, String termNamespace) {
    if (term.getNamespaceSelector() != null) {
      // An empty namespaceSelector means all namespaces; a non-empty one would need namespace
      // labels, which the scheduler does not watch: it is treated as the listed namespaces only.
      boolean empty = (term.getNamespaceSelector().getMatchLabels() == null || term.getNamespaceSelector().getMatchLabels().isEmpty())
          && (term.getNamespaceSelector().getMatchExpressions() == null || term.getNamespaceSelector().getMatchExpressions().isEmpty());
      if (!empty && (term.getNamespaces() == null || !term.getNamespaces().contains(namespace))) {
        return false;
      }
    } else if (term.getNamespaces() != null && !term.getNamespaces().isEmpty()) {
      if (!term.getNamespaces().contains(namespace)) {
        return false;
      }
    } else if (!namespace.equals(termNamespace)) {
      return false;
    }
    return Selectors.matches(term.getLabelSelector(), labels);
  }

  /**
   * Upstream's {@code resource.PodRequests}: containers summed; init containers as the max of
   * each, sidecars (restartable init containers) added to everything after them; plus overhead.
   */
  static Map<String, Long> computeRequests(Pod pod) {
    Map<String, Long> reqs = new HashMap<>();
    for (Container c : pod.getSpec().getContainers()) {
      add(reqs, containerRequests(c));
    }
    Map<String, Long> restartable = new HashMap<>();
    Map<String, Long> initMax = new HashMap<>();
    if (pod.getSpec().getInitContainers() != null) {
      for (Container c : pod.getSpec().getInitContainers()) {
        Map<String, Long> r = containerRequests(c);
        Map<String, Long> tmp;
        if ("Always".equals(c.getRestartPolicy())) {
          add(restartable, r);
          tmp = new HashMap<>(restartable);
        } else {
          tmp = new HashMap<>(r);
          add(tmp, restartable);
        }
        max(initMax, tmp);
      }
    }
    add(reqs, restartable);
    max(reqs, initMax);
    if (pod.getSpec().getOverhead() != null) {
      add(reqs, parse(pod.getSpec().getOverhead()));
    }
    return reqs;
  }

  static Map<String, Long> containerRequests(Container c) {
    if (c.getResources() == null) {
      return Map.of();
    }
    Map<String, Quantity> r = c.getResources().getRequests();
    Map<String, Quantity> l = c.getResources().getLimits();
    // Limits default the requests when requests are absent (API defaulting).
    Map<String, Quantity> merged = new HashMap<>();
    if (l != null) {
      merged.putAll(l);
    }
    if (r != null) {
      merged.putAll(r);
    }
    return parse(merged);
  }

  static Map<String, Long> parse(Map<String, Quantity> q) {
    Map<String, Long> out = new HashMap<>();
    for (var e : q.entrySet()) {
      out.put(e.getKey(), amount(e.getKey(), e.getValue()));
    }
    return out;
  }

  static long amount(String resource, Quantity q) {
    BigDecimal v = Quantity.getAmountInBytes(q);
    if (resource.equals("cpu")) {
      v = v.multiply(BigDecimal.valueOf(1000));
    }
    return v.setScale(0, RoundingMode.CEILING).longValue();
  }

  private static void add(Map<String, Long> into, Map<String, Long> r) {
    r.forEach((k, v) -> into.merge(k, v, Long::sum));
  }

  private static void max(Map<String, Long> into, Map<String, Long> r) {
    r.forEach((k, v) -> into.merge(k, v, Math::max));
  }
}
