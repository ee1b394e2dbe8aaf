package dev.skiff.apiserver.services;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.ApiException.Cause;
import dev.skiff.apiserver.registry.WriteHooks;
import dev.skiff.apiserver.registry.WriteOptions;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * ClusterIP and NodePort allocation for Services, as kube-apiserver's service REST storage does it
 * (pkg/registry/core/service/storage/alloc.go with ipallocator and portallocator): a clusterIP
 * from the service CIDR unless the Service is headless ({@code None}) or ExternalName; nodePorts
 * for NodePort and LoadBalancer Services (requested ones are checked, missing ones allocated); a
 * healthCheckNodePort for LoadBalancer Services with externalTrafficPolicy Local. A failed or
 * dry-run write gives back what it took; an update releases what the new object no longer uses
 * once it is stored; a delete releases everything.
 *
 * <p>The bitmaps live in memory and are rebuilt from the stored Services at start
 * ({@link #rebuild}), before the API server serves, so allocations survive restarts without a
 * separate persisted range object. Thread-safe: one lock guards both bitmaps, so concurrent
 * creates never get the same address or port.
 */
public final class ServiceAllocator implements WriteHooks {
  private static final Logger LOG = LoggerFactory.getLogger(ServiceAllocator.class);

  private final ServiceNetwork network;
  private final RangeAllocator ips;
  private final RangeAllocator ports;

  public ServiceAllocator(ServiceNetwork network) {
    this.network = network;
    int size = network.usableAddresses();
    // Static band: min(max(16, size/16), 256) addresses (KEP-3070).
    this.ips = new RangeAllocator(size, Math.min(Math.max(16, size / 16), 256));
    int portCount = network.lastNodePort() - network.firstNodePort() + 1;
    // Static band: min(max(16, size/32), 128) ports (KEP-3668).
    this.ports = new RangeAllocator(portCount, Math.min(Math.max(16, portCount / 32), 128));
  }

  public ServiceNetwork network() {
    return network;
  }

  /**
   * Marks everything the given stored Services hold as allocated (start-up, before serving). A
   * value outside the current ranges (the CIDR was changed) or held twice is logged and skipped,
   * as upstream's repair controller reports it.
   */
  public synchronized void rebuild(Iterable<ObjectNode> services) {
    for (ObjectNode svc : services) {
      String who = svc.path("metadata").path("namespace").asText() + "/" + svc.path("metadata").path("name").asText();
      JsonNode spec = svc.path("spec");
      if (needsClusterIP(spec)) {
        for (String ip : clusterIPs(spec)) {
          if (ip.equals("None")) {
            continue;
          }
          int off = network.offsetOf(ip);
          if (off < 0) {
            LOG.warn("Service {}: clusterIP {} is not within the service CIDR {}", who, ip, network.cidr());
          } else if (!ips.allocate(off)) {
            LOG.warn("Service {}: clusterIP {} is allocated to another Service", who, ip);
          }
        }
      }
      for (int p : nodePortsOf(spec)) {
        int off = p - network.firstNodePort();
        if (off < 0 || off >= ports.size()) {
          LOG.warn("Service {}: nodePort {} is not within the range {}", who, p, network.nodePortRange());
        } else if (!ports.allocate(off)) {
          LOG.warn("Service {}: nodePort {} is allocated to another Service", who, p);
        }
      }
    }
  }

  /** Allocated clusterIPs (for tests and metrics). */
  public synchronized int allocatedIPs() {
    return ips.count();
  }

  /** Allocated node ports (for tests and metrics). */
  public synchronized int allocatedNodePorts() {
    return ports.count();
  }

  /** Whether {@code ip} is currently allocated. */
  public synchronized boolean isAllocated(String ip) {
    int off = network.offsetOf(ip);
    return off >= 0 && ips.isAllocated(off);
  }

  // ---------------------------------------------------------------- write hooks

  @Override
  public Finish beginCreate(ObjectNode svc, WriteOptions opts) {
    Txn txn = new Txn();
    try {
      ObjectNode spec = spec(svc);
      if (needsClusterIP(spec)) {
        allocateClusterIPs(svc, spec, txn);
      }
      allocateNodePorts(svc, spec, Set.of(), txn);
    } catch (RuntimeException e) {
      txn.rollback();
      throw e;
    }
    return committed -> {
      if (!committed) {
        txn.rollback();
      }
    };
  }

  @Override
  public Finish beginUpdate(ObjectNode svc, ObjectNode old, WriteOptions opts) {
    if (opts.status()) {
      return NOTHING; // a status write keeps the stored spec as it is
    }
    ObjectNode spec = spec(svc);
    JsonNode oldSpec = old.path("spec");
    Txn txn = new Txn();
    Txn release = new Txn();
    try {
      boolean oldNeeds = needsClusterIP(oldSpec);
      boolean newNeeds = needsClusterIP(spec);
      if (newNeeds && (!oldNeeds || clusterIPs(oldSpec).isEmpty())) {
        allocateClusterIPs(svc, spec, txn);
      } else if (oldNeeds && !newNeeds) {
        for (String ip : clusterIPs(oldSpec)) {
          int off = network.offsetOf(ip);
          if (off >= 0) {
            release.ips.add(off);
          }
        }
      }
      Set<Integer> oldPorts = nodePortsOf(oldSpec);
      Set<Integer> kept = allocateNodePorts(svc, spec, oldPorts, txn);
      for (int p : oldPorts) {
        if (!kept.contains(p)) {
          release.ports.add(p - network.firstNodePort());
        }
      }
    } catch (RuntimeException e) {
      txn.rollback();
      throw e;
    }
    return committed -> {
      if (committed) {
        release.rollback();
      } else {
        txn.rollback();
      }
    };
  }

  @Override
  public void afterDelete(ObjectNode svc) {
    JsonNode spec = svc.path("spec");
    Txn release = new Txn();
    if (needsClusterIP(spec)) {
      for (String ip : clusterIPs(spec)) {
        int off = network.offsetOf(ip);
        if (off >= 0) {
          release.ips.add(off);
        }
      }
    }
    for (int p : nodePortsOf(spec)) {
      release.ports.add(p - network.firstNodePort());
    }
    release.rollback();
  }

  // ---------------------------------------------------------------- allocation

  private void allocateClusterIPs(ObjectNode svc, ObjectNode spec, Txn txn) {
    String name = svc.path("metadata").path("name").asText("");
    List<String> requested = clusterIPs(spec);
    // Single-stack IPv4 cluster (alloc.go initIPFamilyFields): no IPv6 family, no dual stack.
    boolean headless = requested.size() == 1 && requested.get(0).equals("None");
    boolean selectorless = !(spec.get("selector") instanceof ObjectNode sel) || sel.isEmpty();
    if (!(headless && selectorless)) {
      JsonNode families = spec.path("ipFamilies");
      for (int i = 0; i < families.size(); i++) {
        if (!families.get(i).asText().equals("IPv4")) {
          throw ApiException.invalid("", "Service", name, List.of(Cause.invalid("spec.ipFamilies[" + i + "]",
              families.get(i).asText(), "not configured on this cluster")));
        }
      }
      if ("RequireDualStack".equals(spec.path("ipFamilyPolicy").asText())) {
        throw ApiException.invalid("", "Service", name, List.of(Cause.invalid("spec.ipFamilyPolicy",
            "RequireDualStack", "this cluster is not configured for dual-stack services")));
      }
    }
    if (headless) {
      return;
    }
    if (requested.size() > 1) {
      throw ApiException.invalid("", "Service", name, List.of(Cause.invalid("spec.clusterIPs",
          goStrings(requested), "this cluster is not configured for dual-stack services")));
    }
    String ip;
    synchronized (this) {
      if (requested.isEmpty()) {
        int off = ips.allocateNext();
        if (off < 0) {
          throw ApiException.internal("failed to allocate a serviceIP: range is full");
        }
        txn.ips.add(off);
        ip = network.addressAt(off);
      } else {
        ip = requested.get(0);
        int off = network.offsetOf(ip);
        String why = null;
        if (off < 0) {
          why = "the provided IP (" + ip + ") is not in the valid range. The range of valid IPs is " + network.cidr();
        } else if (!ips.allocate(off)) {
          why = "provided IP is already allocated";
        } else {
          txn.ips.add(off);
        }
        if (why != null) {
          throw ApiException.invalid("", "Service", name, List.of(Cause.invalid("spec.clusterIPs",
              goStrings(requested), "failed to allocate IP " + ip + ": " + why)));
        }
      }
    }
    spec.put("clusterIP", ip);
    spec.putArray("clusterIPs").add(ip);
  }

  /**
   * Allocates the Service's nodePorts (alloc.go initNodePorts/updateNodePorts): requested ones must
   * be free unless the old object already holds them; missing ones are allocated when the type
   * asks for them. Returns every nodePort the new object holds.
   */
  private Set<Integer> allocateNodePorts(ObjectNode svc, ObjectNode spec, Set<Integer> held, Txn txn) {
    Set<Integer> now = new HashSet<>();
    String type = spec.path("type").asText("ClusterIP");
    boolean nodePortType = type.equals("NodePort") || type.equals("LoadBalancer");
    if (!nodePortType) {
      return now;
    }
    boolean auto = type.equals("NodePort") || spec.path("allocateLoadBalancerNodePorts").asBoolean(true);
    String name = svc.path("metadata").path("name").asText("");
    JsonNode list = spec.path("ports");
    synchronized (this) {
      // Requested values first, so an automatic pick never takes a value requested later in the list.
      for (int i = 0; i < list.size(); i++) {
        int np = list.get(i).path("nodePort").asInt(0);
        if (np != 0 && !now.contains(np)) {
          claim(name, "spec.ports[" + i + "].nodePort", np, held, txn);
          now.add(np);
        }
      }
      for (int i = 0; i < list.size(); i++) {
        JsonNode port = list.get(i);
        if (port.path("nodePort").asInt(0) != 0 || !auto || !(port instanceof ObjectNode p)) {
          continue;
        }
        // A port number served over two protocols shares one nodePort (findRequestedNodePort).
        int same = 0;
        for (JsonNode other : list) {
          if (other != port && other.path("port").asInt() == port.path("port").asInt() && other.path("nodePort").asInt(0) != 0) {
            same = other.path("nodePort").asInt();
            break;
          }
        }
        if (same != 0) {
          p.put("nodePort", same);
          continue;
        }
        int off = ports.allocateNext();
        if (off < 0) {
          throw ApiException.internal("failed to allocate a nodePort: range is full");
        }
        txn.ports.add(off);
        int np = network.firstNodePort() + off;
        p.put("nodePort", np);
        now.add(np);
      }
      if (type.equals("LoadBalancer") && "Local".equals(spec.path("externalTrafficPolicy").asText())) {
        int hc = spec.path("healthCheckNodePort").asInt(0);
        if (hc != 0) {
          if (!now.contains(hc)) {
            claim(name, "spec.healthCheckNodePort", hc, held, txn);
            now.add(hc);
          }
        } else {
          int off = ports.allocateNext();
          if (off < 0) {
            throw ApiException.internal("failed to allocate a nodePort: range is full");
          }
          txn.ports.add(off);
          hc = network.firstNodePort() + off;
          spec.put("healthCheckNodePort", hc);
          now.add(hc);
        }
      }
    }
    return now;
  }

  /** Takes one specific node port (caller holds the lock). */
  private void claim(String name, String field, int np, Set<Integer> held, Txn txn) {
    if (held.contains(np)) {
      return;
    }
    int off = np - network.firstNodePort();
    String why = null;
    if (off < 0 || off >= ports.size()) {
      why = "provided port is not in the valid range. The range of valid ports is " + network.nodePortRange();
    } else if (!ports.allocate(off)) {
      why = "provided port is already allocated";
    } else {
      txn.ports.add(off);
    }
    if (why != null) {
      throw ApiException.invalid("", "Service", name, List.of(Cause.invalid(field, np, why)));
    }
  }

  /** Offsets taken by one write; {@link #rollback} gives them back. */
  private final class Txn {
    final List<Integer> ips = new ArrayList<>();
    final List<Integer> ports = new ArrayList<>();

    void rollback() {
      synchronized (ServiceAllocator.this) {
        for (int off : ips) {
          ServiceAllocator.this.ips.release(off);
        }
        for (int off : ports) {
          if (off >= 0 && off < ServiceAllocator.this.ports.size()) {
            ServiceAllocator.this.ports.release(off);
          }
        }
      }
      ips.clear();
      ports.clear();
    }
  }

  // ---------------------------------------------------------------- helpers

  private static ObjectNode spec(ObjectNode svc) {
    return svc.get("spec") instanceof ObjectNode s ? s : svc.putObject("spec");
  }

  /** Every type but ExternalName has a clusterIP (or is headless). */
  static boolean needsClusterIP(JsonNode spec) {
    return !"ExternalName".equals(spec.path("type").asText("ClusterIP"));
  }

  static boolean needsNodePort(JsonNode spec) {
    String type = spec.path("type").asText("ClusterIP");
    return type.equals("NodePort") || type.equals("LoadBalancer");
  }

  /** clusterIPs, or clusterIP alone from an older client. */
  static List<String> clusterIPs(JsonNode spec) {
    List<String> out = new ArrayList<>();
    for (JsonNode ip : spec.path("clusterIPs")) {
      if (!ip.asText("").isEmpty()) {
        out.add(ip.asText());
      }
    }
    if (out.isEmpty() && !spec.path("clusterIP").asText("").isEmpty()) {
      out.add(spec.path("clusterIP").asText());
    }
    return out;
  }

  /** nodePorts and healthCheckNodePort held by a stored Service of a type that has them. */
  static Set<Integer> nodePortsOf(JsonNode spec) {
    Set<Integer> out = new HashSet<>();
    if (!needsNodePort(spec)) {
      return out;
    }
    for (JsonNode p : spec.path("ports")) {
      int np = p.path("nodePort").asInt(0);
      if (np != 0) {
        out.add(np);
      }
    }
    int hc = spec.path("healthCheckNodePort").asInt(0);
    if (hc != 0 && "LoadBalancer".equals(spec.path("type").asText())) {
      out.add(hc);
    }
    return out;
  }

  static ApiException.GoValue goStrings(List<String> values) {
    StringBuilder sb = new StringBuilder("[]string{");
    for (int i = 0; i < values.size(); i++) {
      sb.append(i == 0 ? "" : ", ").append('"').append(values.get(i)).append('"');
    }
    return new ApiException.GoValue(sb.append('}').toString());
  }

  // ---------------------------------------------------------------- update preparation

  /**
   * What the service registry does to an update before validation, so that clients that send a
   * Service without its allocated values (a PUT from an old manifest, {@code kubectl apply} of a
   * file without clusterIP) keep them, and a change of type drops what no longer applies:
   * {@code patchAllocatedValues} and {@code normalizeClusterIPs} (storage/storage.go) and
   * {@code dropTypeDependentFields} (service/strategy.go).
   */
  public static void prepareForUpdate(ObjectNode svc, ObjectNode old) {
    ObjectNode spec = spec(svc);
    JsonNode oldSpec = old.path("spec");
    // patchAllocatedValues
    if (needsClusterIP(oldSpec) && needsClusterIP(spec)) {
      if (spec.path("clusterIP").asText("").isEmpty() && oldSpec.has("clusterIP")) {
        spec.set("clusterIP", oldSpec.get("clusterIP").deepCopy());
      }
      if (spec.path("clusterIPs").isEmpty() && !oldSpec.path("clusterIPs").isEmpty()) {
        spec.set("clusterIPs", oldSpec.get("clusterIPs").deepCopy());
      }
    }
    if (needsNodePort(oldSpec) && needsNodePort(spec)) {
      Set<Integer> used = new HashSet<>();
      for (JsonNode p : spec.path("ports")) {
        int np = p.path("nodePort").asInt(0);
        if (np != 0 && nodePortsOf(oldSpec).contains(np)) {
          used.add(np);
        }
      }
      java.util.Map<String, Integer> byName = new java.util.HashMap<>();
      for (JsonNode p : oldSpec.path("ports")) {
        byName.put(p.path("name").asText(""), p.path("nodePort").asInt(0));
      }
      for (JsonNode p : spec.path("ports")) {
        if (p instanceof ObjectNode port && port.path("nodePort").asInt(0) == 0) {
          int oldVal = byName.getOrDefault(port.path("name").asText(""), 0);
          if (oldVal != 0 && !used.contains(oldVal)) {
            port.put("nodePort", oldVal);
          }
        }
      }
    }
    if ("LoadBalancer".equals(oldSpec.path("type").asText()) && "LoadBalancer".equals(spec.path("type").asText())
        && "Local".equals(spec.path("externalTrafficPolicy").asText()) && spec.path("healthCheckNodePort").asInt(0) == 0
        && oldSpec.path("healthCheckNodePort").asInt(0) != 0) {
      spec.put("healthCheckNodePort", oldSpec.path("healthCheckNodePort").asInt());
    }
    // normalizeClusterIPs
    String oldIP = oldSpec.path("clusterIP").asText("");
    String newIP = spec.path("clusterIP").asText("");
    if (!oldSpec.path("clusterIPs").isEmpty() && spec.path("clusterIPs").isEmpty() && oldIP.equals(newIP)) {
      spec.set("clusterIPs", oldSpec.get("clusterIPs").deepCopy());
    }
    if (!oldIP.equals(newIP)) {
      boolean sameIPs = spec.path("clusterIPs").equals(oldSpec.path("clusterIPs"));
      if (!oldIP.isEmpty() && newIP.isEmpty() && sameIPs) {
        spec.remove("clusterIPs");
      }
      if (!newIP.isEmpty() && sameIPs) {
        spec.putArray("clusterIPs").add(newIP);
      }
    }
    // dropTypeDependentFields
    if (needsClusterIP(oldSpec) && !needsClusterIP(spec)) {
      if (spec.path("clusterIP").equals(oldSpec.path("clusterIP")) && spec.path("clusterIPs").equals(oldSpec.path("clusterIPs"))) {
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
      }
      if (spec.path("ipFamilies").equals(oldSpec.path("ipFamilies"))) {
        spec.remove("ipFamilies");
      }
      if (spec.path("ipFamilyPolicy").equals(oldSpec.path("ipFamilyPolicy"))) {
        spec.remove("ipFamilyPolicy");
      }
      if (spec.path("internalTrafficPolicy").equals(oldSpec.path("internalTrafficPolicy"))) {
        spec.remove("internalTrafficPolicy");
      }
    }
    if (needsNodePort(oldSpec) && !needsNodePort(spec)) {
      boolean same = true;
      JsonNode a = spec.path("ports");
      JsonNode b = oldSpec.path("ports");
      if (a.size() != b.size()) {
        same = false;
      } else {
        for (int i = 0; i < a.size(); i++) {
          if (a.get(i).path("nodePort").asInt(0) != b.get(i).path("nodePort").asInt(0)) {
            same = false;
          }
        }
      }
      if (same) {
        for (JsonNode p : a) {
          if (p instanceof ObjectNode port) {
            port.remove("nodePort");
          }
        }
      }
      if (spec.path("externalTrafficPolicy").equals(oldSpec.path("externalTrafficPolicy"))) {
        spec.remove("externalTrafficPolicy");
      }
    }
    boolean oldLb = "LoadBalancer".equals(oldSpec.path("type").asText());
    boolean newLb = "LoadBalancer".equals(spec.path("type").asText());
    if (oldLb && !newLb) {
      if (spec.path("healthCheckNodePort").equals(oldSpec.path("healthCheckNodePort"))) {
        spec.remove("healthCheckNodePort");
      }
      if (spec.path("allocateLoadBalancerNodePorts").equals(oldSpec.path("allocateLoadBalancerNodePorts"))) {
        spec.remove("allocateLoadBalancerNodePorts");
      }
      if (spec.path("loadBalancerClass").equals(oldSpec.path("loadBalancerClass"))) {
        spec.remove("loadBalancerClass");
      }
    }
  }
}
