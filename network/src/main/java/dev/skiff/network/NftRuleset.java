package dev.skiff.network;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The nftables ruleset of the kernel data path, as text for {@code nft -f -}: pure functions of
 * the Services' ports and endpoints, no I/O (unit-tested on the generated text). The layout is
 * kube-proxy's nftables mode (pkg/proxy/nftables/proxier.go), in a table of our own:
 *
 * <pre>
 * table ip T
 *   map service-ips        daddr . proto . dport : goto service-… (ClusterIPs) / external-… (external IPs)
 *   map service-nodeports  proto . dport : goto external-…      (local, non-loopback destinations)
 *   map no-endpoint-services daddr . proto . dport : goto reject-chain
 *   chain nat-prerouting / nat-output (dstnat) → services; nat-postrouting (srcnat) → masquerading
 *   chain filter-forward / filter-output (priority -110, before DNAT) → no-endpoint check
 *   chain external-H-ns/name/proto/port: mark for masquerade, goto service-…
 *   chain service-H-ns/name/proto/port: [mark non-pod sources], [affinity], numgen inc|random mod N vmap {…}
 *   chain endpoint-H-ns/name/proto/port__ip/port: [mark hairpin], [update affinity set], dnat to ip:port
 *   set affinity-H (dynamic, timeout = the Service's ClientIP timeout) per endpoint with affinity
 * </pre>
 *
 * <p>Syncs are incremental as kube-proxy's: {@link #transaction} writes the base objects once,
 * flushes and refills the three maps, (re)writes only chains whose rules changed since the last
 * applied {@link State}, and deletes chains and sets no longer needed, all in one transaction
 * that the kernel applies atomically. Affinity sets survive syncs (a set is never rewritten, its
 * name includes its timeout). Stateless and thread-safe.
 */
final class NftRuleset {
  /** Packets with this mark bit are masqueraded in postrouting (kube-proxy's masquerade bit). */
  static final String MASQ_BIT = "0x4000";

  private NftRuleset() {}

  /**
   * How a service chain picks an endpoint for a new connection: {@code numgen inc}, round-robin
   * over new connections (the nat chains see only a connection's first packet), as the issue and
   * the user-space path do; or {@code numgen random}, kube-proxy's choice.
   */
  enum Balance {
    ROUND_ROBIN("inc"),
    RANDOM("random");

    final String numgen;

    Balance(String numgen) {
      this.numgen = numgen;
    }
  }

  /**
   * One Service port as the kernel path serves it.
   *
   * @param service "namespace/name"
   * @param portName the Service port's name ("" when unnamed)
   * @param protocol TCP or UDP
   * @param nodePort 0 when none
   * @param externalIps externalIPs and LoadBalancer ingress IPs (IPv4 literals)
   * @param endpoints the ready endpoints (or serving-terminating when none is ready)
   * @param affinitySeconds ClientIP affinity timeout, 0 = none
   */
  record Port(String service, String portName, String protocol, String clusterIp, int port, int nodePort,
      List<String> externalIps, List<InetSocketAddress> endpoints, int affinitySeconds) {
    Port {
      externalIps = List.copyOf(externalIps);
      endpoints = List.copyOf(endpoints);
    }

    String proto() {
      return protocol.toLowerCase(java.util.Locale.ROOT);
    }

    /** kube-proxy's "servicePortName" part of chain names: ns/name/proto/port. */
    String id() {
      return service + "/" + proto() + "/" + (portName.isEmpty() ? "p" + port : portName);
    }

    String serviceChain() {
      return chainName("service", id());
    }

    String externalChain() {
      return chainName("external", id());
    }

    String endpointChain(InetSocketAddress ep) {
      return chainName("endpoint", id() + "__" + ep.getAddress().getHostAddress() + "/" + ep.getPort());
    }

    String affinitySet(InetSocketAddress ep) {
      return "affinity-" + hash(endpointChain(ep) + "/" + affinitySeconds);
    }
  }

  /**
   * Checks what the kernel would reject with a message that names the Service (kube-proxy's
   * per-service validation); null when fine.
   */
  static String validate(Port p) {
    if (!p.protocol.equals("TCP") && !p.protocol.equals("UDP")) {
      return "protocol " + p.protocol + " is not proxied";
    }
    if (Slices.ipv4Literal(p.clusterIp) == null) {
      return "clusterIP " + p.clusterIp + " is not an IPv4 address";
    }
    if (p.port < 1 || p.port > 65535 || p.nodePort < 0 || p.nodePort > 65535) {
      return "port " + p.port + " / nodePort " + p.nodePort + " out of range";
    }
    for (String ip : p.externalIps) {
      if (Slices.ipv4Literal(ip) == null) {
        return "external IP " + ip + " is not an IPv4 address";
      }
    }
    for (InetSocketAddress e : p.endpoints) {
      if (e.getAddress() == null || e.getAddress().getAddress().length != 4 || e.getPort() < 1 || e.getPort() > 65535) {
        return "endpoint " + e + " is not an IPv4 address and port";
      }
    }
    if (p.id().length() > 200) {
      return "name too long for an nftables chain";
    }
    return null;
  }

  /** What was applied: chain name → its rules, and the affinity sets that exist. */
  record State(Map<String, List<String>> chains, Set<String> sets) {
    static final State EMPTY = new State(Map.of(), Set.of());
  }

  /** A transaction and the state it leaves once applied. */
  record Transaction(String script, State next) {}

  /** The chains (name → rules) and affinity sets one Service port needs; the order matters. */
  static void objects(Port p, String clusterCidr, Balance balance, Map<String, List<String>> chains, Map<String, Integer> sets) {
    if (p.endpoints.isEmpty()) {
      return; // only a no-endpoint-services element (reject)
    }
    List<String> svc = new ArrayList<>();
    // Traffic from outside the pod network (the host itself, other nodes) is masqueraded so the
    // reply comes back through this host's conntrack (proxier.go: "masquerade off-cluster traffic").
    svc.add(clusterCidr == null ? "jump mark-for-masquerade" : "ip saddr != " + clusterCidr + " jump mark-for-masquerade");
    if (p.affinitySeconds > 0) {
      for (InetSocketAddress ep : p.endpoints) {
        svc.add("ip saddr @" + p.affinitySet(ep) + " goto " + p.endpointChain(ep));
      }
    }
    StringBuilder vmap = new StringBuilder("numgen " + balance.numgen + " mod " + p.endpoints.size() + " vmap { ");
    for (int i = 0; i < p.endpoints.size(); i++) {
      vmap.append(i == 0 ? "" : ", ").append(i).append(" : goto ").append(p.endpointChain(p.endpoints.get(i)));
    }
    svc.add(vmap.append(" }").toString());
    for (InetSocketAddress ep : p.endpoints) {
      String ip = ep.getAddress().getHostAddress();
      List<String> rules = new ArrayList<>();
      // Hairpin: an endpoint reaching itself through the Service must see the node as source.
      rules.add("ip saddr " + ip + " jump mark-for-masquerade");
      if (p.affinitySeconds > 0) {
        sets.put(p.affinitySet(ep), p.affinitySeconds);
        rules.add("update @" + p.affinitySet(ep) + " { ip saddr }");
      }
      rules.add("meta l4proto " + p.proto() + " dnat to " + ip + ":" + ep.getPort());
      chains.put(p.endpointChain(ep), rules);
    }
    chains.put(p.serviceChain(), svc);
    if (p.nodePort > 0 || !p.externalIps.isEmpty()) {
      chains.put(p.externalChain(), List.of("jump mark-for-masquerade", "goto " + p.serviceChain()));
    }
  }

  /** The table's fixed part, replacing any table of that name (a leftover of a dead proxy). */
  static String base(String table) {
    return """
        add table ip %1$s
        delete table ip %1$s
        table ip %1$s {
          comment "skiff service proxy (pid %2$d); removed when the proxy stops"
          map service-ips { type ipv4_addr . inet_proto . inet_service : verdict; comment "ClusterIP, external and LoadBalancer IPs"; }
          map service-nodeports { type inet_proto . inet_service : verdict; comment "NodePorts on local addresses"; }
          map no-endpoint-services { type ipv4_addr . inet_proto . inet_service : verdict; comment "Services without endpoints: rejected"; }
          chain nat-prerouting { type nat hook prerouting priority dstnat; policy accept; jump services; }
          chain nat-output { type nat hook output priority -100; policy accept; jump services; }
          chain nat-postrouting { type nat hook postrouting priority srcnat; policy accept; jump masquerading; }
          chain filter-forward { type filter hook forward priority -110; policy accept; ct state new jump service-endpoints-check; }
          chain filter-output { type filter hook output priority -110; policy accept; ct state new jump service-endpoints-check; }
          chain services {
            ip daddr . meta l4proto . th dport vmap @service-ips
            fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports
          }
          chain service-endpoints-check { ip daddr . meta l4proto . th dport vmap @no-endpoint-services; }
          chain reject-chain { reject; }
          chain mark-for-masquerade { meta mark set meta mark or %3$s; }
          chain masquerading {
            meta mark & %3$s == 0 return
            meta mark set meta mark xor %3$s
            masquerade fully-random
          }
        }
        """.formatted(table, ProcessHandle.current().pid(), MASQ_BIT);
  }

  /**
   * The transaction from {@code prev} to the rules of {@code ports}.
   *
   * @param table the table name
   * @param fresh write the base first (first sync, or after a failure left the state unknown)
   * @param clusterCidr the pod network (sources outside it are masqueraded), null = masquerade all
   */
  static Transaction transaction(String table, boolean fresh, State prev, String clusterCidr, Balance balance,
      Collection<Port> ports) {
    State from = fresh ? State.EMPTY : prev;
    Map<String, List<String>> chains = new LinkedHashMap<>();
    Map<String, Integer> sets = new TreeMap<>();
    // key -> "key : verdict"; the first Service claiming a key keeps it (a map cannot hold a
    // key twice, and the allocator never gives out a clusterIP or nodePort twice anyway).
    Map<String, String> serviceIps = new LinkedHashMap<>();
    Map<String, String> nodePorts = new LinkedHashMap<>();
    Map<String, String> noEndpoints = new LinkedHashMap<>();
    for (Port p : ports) {
      objects(p, clusterCidr, balance, chains, sets);
      if (p.endpoints.isEmpty()) {
        noEndpoints.putIfAbsent(p.clusterIp + " . " + p.proto() + " . " + p.port, "goto reject-chain");
        for (String ip : p.externalIps) {
          noEndpoints.putIfAbsent(ip + " . " + p.proto() + " . " + p.port, "goto reject-chain");
        }
        continue;
      }
      serviceIps.putIfAbsent(p.clusterIp + " . " + p.proto() + " . " + p.port, "goto " + p.serviceChain());
      for (String ip : p.externalIps) {
        serviceIps.putIfAbsent(ip + " . " + p.proto() + " . " + p.port, "goto " + p.externalChain());
      }
      if (p.nodePort > 0) {
        nodePorts.putIfAbsent(p.proto() + " . " + p.nodePort, "goto " + p.externalChain());
      }
    }
    StringBuilder t = new StringBuilder();
    if (fresh) {
      t.append(base(table));
    }
    String at = " ip " + table + " ";
    // 1. Maps first: once flushed, nothing refers to chains that are about to go.
    for (String m : List.of("service-ips", "service-nodeports", "no-endpoint-services")) {
      t.append("flush map").append(at).append(m).append('\n');
    }
    // 2. New sets and chains exist before any rule refers to them.
    for (Map.Entry<String, Integer> s : sets.entrySet()) {
      if (!from.sets.contains(s.getKey())) {
        t.append("add set").append(at).append(s.getKey())
            .append(" { type ipv4_addr; flags dynamic,timeout; timeout ").append(s.getValue()).append("s; }\n");
      }
    }
    for (String c : chains.keySet()) {
      if (!from.chains.containsKey(c)) {
        t.append("add chain").append(at).append(c).append('\n');
      }
    }
    // 3. Rules of changed chains (endpoint chains were put before the service chains using them).
    for (Map.Entry<String, List<String>> c : chains.entrySet()) {
      if (!c.getValue().equals(from.chains.get(c.getKey()))) {
        if (from.chains.containsKey(c.getKey())) {
          t.append("flush chain").append(at).append(c.getKey()).append('\n');
        }
        for (String r : c.getValue()) {
          t.append("add rule").append(at).append(c.getKey()).append(' ').append(r).append('\n');
        }
      }
    }
    // 4. Chains and sets no longer needed: empty them all first (they may jump to each other).
    List<String> gone = from.chains.keySet().stream().filter(c -> !chains.containsKey(c)).sorted().toList();
    gone.forEach(c -> t.append("flush chain").append(at).append(c).append('\n'));
    gone.forEach(c -> t.append("delete chain").append(at).append(c).append('\n'));
    from.sets.stream().filter(s -> !sets.containsKey(s)).sorted()
        .forEach(s -> t.append("delete set").append(at).append(s).append('\n'));
    // 5. The maps' elements.
    element(t, at, "service-ips", serviceIps);
    element(t, at, "service-nodeports", nodePorts);
    element(t, at, "no-endpoint-services", noEndpoints);
    return new Transaction(t.toString(), new State(Map.copyOf(chains), Set.copyOf(sets.keySet())));
  }

  /**
   * A self-contained definition of one Service's objects in a scratch table, for
   * {@code nft -c} (check only): tells whether the kernel accepts that Service's rules,
   * independently of the live table's state.
   */
  static String check(String scratchTable, String clusterCidr, Balance balance, Collection<Port> ports) {
    return transaction(scratchTable, true, State.EMPTY, clusterCidr, balance, ports).script();
  }

  private static void element(StringBuilder t, String at, String map, Map<String, String> elements) {
    if (!elements.isEmpty()) {
      // One element per line keeps an error message pointing at the culprit.
      t.append("add element").append(at).append(map).append(" {\n");
      int i = 0;
      for (Map.Entry<String, String> e : elements.entrySet()) {
        t.append("  ").append(e.getKey()).append(" : ").append(e.getValue()).append(++i < elements.size() ? ",\n" : "\n");
      }
      t.append("}\n");
    }
  }

  static String chainName(String kind, String id) {
    return kind + "-" + hash(id) + "-" + id;
  }

  /** 8 hex digits of SHA-256: keeps names unique when ids differ only in characters nft folds. */
  static String hash(String s) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d, 0, 4);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
