package dev.skiff.network;

import dev.skiff.runtime.Clock;
import dev.skiff.runtime.Component;
import dev.skiff.runtime.ComponentContext;
import dev.skiff.runtime.Controller;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.Informer;
import dev.skiff.runtime.Lister;
import dev.skiff.runtime.Result;
import dev.skiff.runtime.SharedInformers;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The service proxy ("kube-proxy") as a {@link Component} named {@code service-proxy}: watches
 * Services and EndpointSlices and forwards TCP and UDP from every Service's
 * {@code clusterIP:port}, from every {@code nodePort} (bound on 0.0.0.0, i.e. every node
 * address) and from externalIPs and LoadBalancer ingress IPs that are this host's, to the
 * Service's endpoints. Thread-safety: the running proxy is safe to use from any thread.
 *
 * <p>Data paths: as root with a usable {@code nft}, ClusterIPs, external IPs and NodePorts on
 * local non-loopback addresses are DNATed by the kernel ({@link NftablesProxier}, kube-proxy's
 * nftables mode; {@code proxy.mode=nftables}, the default); NodePort listeners in user space
 * still hold the ports and serve loopback. Otherwise ({@code proxy.mode=userspace}, no
 * {@code nft}, or a kernel that refuses the table) everything below is done in user space. The
 * user-space rules that differ in the kernel path: no connect retry, and draining is
 * conntrack's (an established flow keeps its DNAT until it ends).
 *
 * <p>Semantics (upstream kube-proxy, pkg/proxy): endpoints come from every slice labelled
 * {@code kubernetes.io/service-name} (controller-made or hand-made for selector-less Services);
 * only ready endpoints get new connections, or, when none is ready, serving terminating ones
 * (ProxyTerminatingEndpoints); round-robin, or ClientIP session affinity with
 * {@code sessionAffinityConfig.clientIP.timeoutSeconds} (default 10800); removing an endpoint
 * never cuts an established connection; a refused connect moves to the next endpoint.
 * ExternalName and headless Services get no proxy. A bind failure on one Service is logged and
 * recorded as a Warning Event on it, retried every 10 s, and never affects the others.
 *
 * <p>ClusterIPs in user space: as root with the {@code ip} tool, each instance owns a link (see
 * {@link ClusterIpInterface}) holding the ClusterIPs in use as /32 addresses, and binds
 * {@code clusterIP:port}; the link is deleted on stop. Otherwise only NodePorts are served and
 * the Node gets the annotation {@value #NODE_ANNOTATION} saying so.
 *
 * <p>Options: {@code proxy.engine} = {@code nio} (default: TCP bytes are copied by one or two
 * selector threads) or {@code threads} (two blocking threads per TCP connection);
 * {@code proxy.loops}: selector threads of the {@code nio} engine (default: cores, at most 2);
 * {@code proxy.threads} = {@code virtual} (default) or {@code platform}: the threads that accept,
 * connect, copy in the {@code threads} engine, and serve UDP; {@code proxy.cluster-ips} =
 * {@code false} forces NodePort-only mode; {@code proxy.udp-idle-seconds} (default 5: a DNS
 * client uses a new source port per query, so each query is a flow holding a socket until it
 * idles out; 5 s outlives the cluster DNS's upstream timeouts; upstream's user-space proxy used
 * 250 ms); {@code proxy.balance} = {@code random} (kernel path: kube-proxy's {@code numgen
 * random} instead of round-robin); {@code proxy.min-sync-period-ms} (kernel path, default 10).
 */
public final class ServiceProxy implements Component {
  private static final Logger log = LoggerFactory.getLogger(ServiceProxy.class);
  /** Node annotation describing what this node's proxy serves. */
  public static final String NODE_ANNOTATION = "skiff.dev/service-proxy";
  static final String NODEPORT_ONLY = "nodeport-only (not root: ClusterIPs unreachable)";
  static final int DEFAULT_AFFINITY_SECONDS = 10800;
  static final String BY_SERVICE = "service";
  static final Duration BIND_RETRY = Duration.ofSeconds(10);

  @Override
  public String name() {
    return "service-proxy";
  }

  @Override
  public Running start(ComponentContext context) throws Exception {
    return new Running(context);
  }

  /** Where a forwarder listens. {@code ip} is 0.0.0.0 for NodePorts. */
  record ListenerKey(String ip, int port, String protocol) {
    @Override
    public String toString() {
      return ip + ":" + port + "/" + protocol;
    }
  }

  /** {@code onLink}: the address is a ClusterIP held on this proxy's link. */
  private record Listener(String service, Balancer balancer, AutoCloseable forwarder, boolean onLink) {}

  /** A running proxy; {@link #close()} stops it and removes what it added to the host. */
  public static final class Running implements AutoCloseable {
    private final KubernetesClient client;
    private final String nodeName;
    private final Clock clock = Clock.system();
    private final SharedInformers informers;
    private final Lister<Service> services;
    private final Lister<EndpointSlice> slices;
    private final Controller controller;
    private final EventRecorder events;
    private final ThreadFactory threads;
    private final NioLoops loops; // null: blocking copy threads
    private final Duration udpIdle;
    private final NftablesProxier nft; // null: ClusterIPs in user space (link) or NodePort-only
    private final ClusterIpInterface link; // null: kernel path or NodePort-only
    // Guarded by this (reconciles are serialised anyway: one worker).
    private final Map<ListenerKey, Listener> listeners = new HashMap<>();
    private final Map<String, Map<String, Balancer>> balancers = new HashMap<>();
    private final List<TcpForwarder> draining = new ArrayList<>();
    private volatile boolean closed;

    Running(ComponentContext ctx) throws Exception {
      this.client = ctx.client();
      this.nodeName = ctx.nodeName();
      Map<String, String> opts = ctx.options();
      this.threads = "platform".equals(opts.getOrDefault("proxy.threads", "virtual"))
          ? Thread.ofPlatform().name("proxy-", 0).daemon().factory()
          : Thread.ofVirtual().name("proxy-", 0).factory();
      this.loops = "threads".equals(opts.getOrDefault("proxy.engine", "nio")) ? null
          : new NioLoops(Integer.parseInt(opts.getOrDefault("proxy.loops",
              Integer.toString(Math.max(1, Math.min(2, Runtime.getRuntime().availableProcessors()))))));
      this.udpIdle = Duration.ofSeconds(Long.parseLong(opts.getOrDefault("proxy.udp-idle-seconds", "5")));
      boolean clusterIps = !"false".equals(opts.get("proxy.cluster-ips"));
      String mode = opts.getOrDefault("proxy.mode", "nftables");
      NftablesProxier n = null;
      if (clusterIps && !"userspace".equals(mode) && NftablesProxier.supported()) {
        try {
          ClusterIpInterface.removeStale(); // links of killed user-space proxies
          n = NftablesProxier.start(opts.getOrDefault("cluster-cidr", "10.42.0.0/16"),
              "random".equals(opts.get("proxy.balance")) ? NftRuleset.Balance.RANDOM : NftRuleset.Balance.ROUND_ROBIN,
              Duration.ofMillis(Long.parseLong(opts.getOrDefault("proxy.min-sync-period-ms", "10"))), this::kernelFailure);
        } catch (IOException e) {
          log.warn("nftables unusable, proxying ClusterIPs in user space: {}", e.getMessage());
        }
      }
      this.nft = n;
      ClusterIpInterface l = null;
      if (n == null && clusterIps && ClusterIpInterface.supported()) {
        try {
          l = ClusterIpInterface.create();
        } catch (IOException e) {
          log.warn("cannot create the ClusterIP link, serving NodePorts only: {}", e.getMessage());
        }
      }
      this.link = l;
      try {
        this.events = new EventRecorder(client, "service-proxy");
      } catch (RuntimeException e) {
        release();
        throw e;
      }
      this.informers = new SharedInformers(client);
      Informer<EndpointSlice> sliceInformer = informers.informerFor(EndpointSlice.class);
      sliceInformer.addIndexer(BY_SERVICE, s -> {
        String k = Slices.serviceKey(s);
        return k == null ? List.of() : List.of(k);
      });
      this.slices = sliceInformer.lister();
      this.services = informers.informerFor(Service.class).lister();
      this.controller = Controller.builder("service-proxy", informers)
          .watches(Service.class)
          .watches(EndpointSlice.class, s -> {
            String k = Slices.serviceKey(s);
            return k == null ? List.of() : List.of(k);
          })
          .reconciler(this::reconcile)
          .build();
      controller.start();
      Thread.ofVirtual().name("service-proxy-node-annotation").start(this::annotateNode);
      log.info("service proxy started on node {}: {}", nodeName, mode());
    }

    /** The ClusterIP link's name, or null in NodePort-only mode. */
    public String linkName() {
      return link == null ? null : link.name();
    }

    /** True when ClusterIPs are served (root), false in NodePort-only mode. */
    public boolean clusterIpsReachable() {
      return link != null || nft != null;
    }

    /** The nftables table of the kernel data path, or null when ClusterIPs are proxied in user space or not at all. */
    public String nftTable() {
      return nft == null ? null : nft.table();
    }

    String mode() {
      if (nft != null) {
        return "nftables: ClusterIPs, external IPs and NodePorts DNATed by table ip " + nft.table()
            + "; NodePorts also on 0.0.0.0 in user space (loopback)";
      }
      return link == null ? NODEPORT_ONLY : "userspace: ClusterIPs on link " + link.name() + ", NodePorts on 0.0.0.0";
    }

    /**
     * True when the kernel has every change requested so far (always true in user space, where
     * a reconcile takes effect before it returns). Tests and benchmarks wait on it.
     */
    boolean kernelSynced() {
      return nft == null || nft.appliedGeneration() >= nft.generation();
    }

    /** A Service's rules were refused by the kernel (sync thread). */
    private void kernelFailure(String serviceKey, String message) {
      Service svc = services == null ? null : services.getByKey(serviceKey);
      if (svc != null) {
        events.event(svc, EventRecorder.WARNING, "ProxyFailed", "%s", message);
      }
    }

    /** The forwarder's local address for a listener, or null (tests). */
    synchronized InetSocketAddress boundAddress(ListenerKey key) {
      Listener l = listeners.get(key);
      if (l == null) {
        return null;
      }
      return l.forwarder instanceof TcpForwarder t ? t.localAddress() : ((UdpForwarder) l.forwarder).localAddress();
    }

    /** The current upstreams of a Service port (tests, benchmarks). */
    synchronized List<InetSocketAddress> upstreams(String serviceKey, String portName, String protocol) {
      Map<String, Balancer> m = balancers.get(serviceKey);
      Balancer b = m == null ? null : m.get(portName + "/" + protocol);
      return b == null ? List.of() : b.endpoints();
    }

    private void annotateNode() {
      String patch = "{\"metadata\":{\"annotations\":{" + Serialization.asJson(NODE_ANNOTATION) + ":"
          + Serialization.asJson(mode()) + "}}}";
      for (int i = 0; i < 120 && !closed; i++) {
        try {
          client.nodes().withName(nodeName).patch(PatchContext.of(PatchType.JSON_MERGE), patch);
          return;
        } catch (KubernetesClientException e) {
          if (e.getCode() != 404) {
            log.warn("cannot annotate node {}: {}", nodeName, e.getMessage());
          }
        }
        try {
          Thread.sleep(1000); // the Node appears when the node agent registers it
        } catch (InterruptedException e) {
          return;
        }
      }
    }

    static boolean proxied(Service svc) {
      if (svc == null || svc.getSpec() == null || "ExternalName".equals(svc.getSpec().getType())) {
        return false;
      }
      String ip = svc.getSpec().getClusterIP();
      return ip != null && !ip.isEmpty() && !"None".equals(ip);
    }

    static List<String> externalAddresses(Service svc) {
      List<String> out = new ArrayList<>();
      if (svc.getSpec().getExternalIPs() != null) {
        out.addAll(svc.getSpec().getExternalIPs());
      }
      if ("LoadBalancer".equals(svc.getSpec().getType()) && svc.getStatus() != null
          && svc.getStatus().getLoadBalancer() != null && svc.getStatus().getLoadBalancer().getIngress() != null) {
        svc.getStatus().getLoadBalancer().getIngress().forEach(i -> {
          if (i.getIp() != null && !i.getIp().isEmpty()) {
            out.add(i.getIp());
          }
        });
      }
      return out;
    }

    /** True when {@code ip} is an IPv4 address of one of this host's interfaces (not our link). */
    static boolean isLocal(String ip) {
      try {
        if (ip.indexOf(':') >= 0 || !ip.matches("[0-9.]+")) {
          return false;
        }
        java.net.NetworkInterface nic = java.net.NetworkInterface.getByInetAddress(java.net.InetAddress.getByName(ip));
        return nic != null && !nic.getName().startsWith(ClusterIpInterface.PREFIX);
      } catch (IOException e) {
        return false;
      }
    }

    static int affinitySeconds(Service svc) {
      if (!"ClientIP".equals(svc.getSpec().getSessionAffinity())) {
        return 0;
      }
      var cfg = svc.getSpec().getSessionAffinityConfig();
      Integer t = cfg == null || cfg.getClientIP() == null ? null : cfg.getClientIP().getTimeoutSeconds();
      return t == null || t <= 0 ? DEFAULT_AFFINITY_SECONDS : t;
    }

    private synchronized Result reconcile(String key) {
      if (closed) {
        return Result.done();
      }
      pruneDraining();
      Service svc = services.getByKey(key);
      Map<ListenerKey, Balancer> desired = new HashMap<>();
      Set<ListenerKey> onLink = new HashSet<>();
      List<NftRuleset.Port> kernel = new ArrayList<>();
      if (proxied(svc)) {
        List<EndpointSlice> mine = slices.byIndex(BY_SERVICE, key);
        int affinity = affinitySeconds(svc);
        Map<String, Balancer> old = balancers.getOrDefault(key, Map.of());
        Map<String, Balancer> now = new HashMap<>();
        String clusterIp = svc.getSpec().getClusterIP();
        for (ServicePort p : svc.getSpec().getPorts() == null ? List.<ServicePort>of() : svc.getSpec().getPorts()) {
          String proto = p.getProtocol() == null ? "TCP" : p.getProtocol();
          if (!proto.equals("TCP") && !proto.equals("UDP")) {
            continue; // SCTP is not proxied
          }
          String name = p.getName() == null ? "" : p.getName();
          String pk = name + "/" + proto;
          Balancer b = now.computeIfAbsent(pk, k -> old.getOrDefault(k, new Balancer(clock)));
          List<InetSocketAddress> ups = Slices.upstreams(mine, name, proto);
          b.update(ups, affinity);
          if (nft != null && clusterIp.indexOf(':') < 0 && p.getPort() != null) {
            // Kernel path: ClusterIP, external IPs and NodePort (local non-loopback addresses)
            // are DNATed; the NodePort's user-space listener below still holds the port and
            // serves loopback, which nftables DNAT does not (kube-proxy's nftables mode neither).
            List<String> external = externalAddresses(svc).stream().filter(a -> Slices.ipv4Literal(a) != null).toList();
            kernel.add(new NftRuleset.Port(key, name, proto, clusterIp, p.getPort(),
                p.getNodePort() == null ? 0 : p.getNodePort(), external, ups, affinity));
          }
          if (link != null && clusterIp.indexOf(':') < 0 && p.getPort() != null) {
            ListenerKey k = new ListenerKey(clusterIp, p.getPort(), proto);
            desired.put(k, b);
            onLink.add(k);
          }
          if (p.getNodePort() != null && p.getNodePort() > 0) {
            desired.put(new ListenerKey("0.0.0.0", p.getNodePort(), proto), b);
          }
          // externalIPs and a LoadBalancer's ingress IPs (the node's own address with Skiff's
          // servicelb-style status) answer on the Service port where they are this host's.
          for (String ip : externalAddresses(svc)) {
            if (p.getPort() != null && !onLink.contains(new ListenerKey(ip, p.getPort(), proto)) && isLocal(ip)) {
              desired.put(new ListenerKey(ip, p.getPort(), proto), b);
            }
          }
        }
        balancers.put(key, now);
      } else {
        balancers.remove(key);
      }
      if (nft != null) {
        nft.update(key, kernel);
      }
      // Stop what this Service no longer needs (or needs with another balancer).
      for (Iterator<Map.Entry<ListenerKey, Listener>> it = listeners.entrySet().iterator(); it.hasNext(); ) {
        Map.Entry<ListenerKey, Listener> e = it.next();
        Listener l = e.getValue();
        if (l.service.equals(key) && desired.get(e.getKey()) != l.balancer) {
          stopListener(e.getKey(), l);
          it.remove();
        }
      }
      List<String> failures = new ArrayList<>();
      for (Map.Entry<ListenerKey, Balancer> e : desired.entrySet()) {
        ListenerKey lk = e.getKey();
        Listener existing = listeners.get(lk);
        if (existing != null) {
          if (!existing.service.equals(key)) {
            failures.add(lk + " is already used by Service " + existing.service);
          }
          continue;
        }
        try {
          listeners.put(lk, startListener(key, lk, e.getValue(), onLink.contains(lk)));
        } catch (IOException ex) {
          failures.add("cannot listen on " + lk + ": " + ex.getMessage());
        }
      }
      releaseAddresses();
      if (!failures.isEmpty()) {
        String msg = String.join("; ", failures);
        log.warn("service {}: {}", key, msg);
        if (svc != null) {
          events.event(svc, EventRecorder.WARNING, "ProxyFailed", "%s", msg);
        }
        return Result.requeueAfter(BIND_RETRY);
      }
      return Result.done();
    }

    private Listener startListener(String service, ListenerKey lk, Balancer b, boolean onLink) throws IOException {
      if (onLink) {
        link.add(lk.ip);
      }
      InetSocketAddress bind = new InetSocketAddress(lk.ip, lk.port);
      String name = service + " " + lk;
      AutoCloseable f = lk.protocol.equals("UDP")
          ? new UdpForwarder(bind, b, threads, name, udpIdle, clock)
          : new TcpForwarder(bind, b, threads, loops, name);
      log.info("proxying {} for service {}", lk, service);
      return new Listener(service, b, f, onLink);
    }

    private void stopListener(ListenerKey lk, Listener l) {
      TcpForwarder.closeQuietly(l.forwarder);
      if (l.forwarder instanceof TcpForwarder t) {
        draining.add(t); // established connections live on; cut only when the proxy stops
      }
      log.info("stopped proxying {} for service {}", lk, l.service);
    }

    /** Removes link addresses no listener binds any more. */
    private void releaseAddresses() {
      if (link == null) {
        return;
      }
      Set<String> used = new HashSet<>();
      listeners.forEach((k, l) -> {
        if (l.onLink) {
          used.add(k.ip);
        }
      });
      for (String a : link.addresses()) {
        if (!used.contains(a)) {
          link.remove(a);
        }
      }
    }

    private void pruneDraining() {
      draining.removeIf(t -> t.openConnections() == 0);
    }

    /** Undoes the constructor's host changes when it fails. */
    private void release() {
      if (nft != null) {
        nft.close();
      }
      if (link != null) {
        link.close();
      }
      if (loops != null) {
        loops.close();
      }
    }

    @Override
    public void close() throws Exception {
      closed = true;
      controller.stop(Duration.ofSeconds(5));
      informers.close();
      synchronized (this) {
        for (Listener l : listeners.values()) {
          if (l.forwarder instanceof TcpForwarder t) {
            t.closeAll();
          } else {
            TcpForwarder.closeQuietly(l.forwarder);
          }
        }
        listeners.clear();
        draining.forEach(TcpForwarder::closeAll);
        draining.clear();
        if (link != null) {
          link.close();
        }
      }
      if (nft != null) {
        nft.close();
      }
      if (loops != null) {
        loops.close();
      }
      events.close();
      log.info("service proxy stopped");
    }
  }
}
