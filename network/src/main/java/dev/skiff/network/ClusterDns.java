package dev.skiff.network;

import dev.skiff.runtime.Component;
import dev.skiff.runtime.ComponentContext;
import dev.skiff.runtime.Informer;
import dev.skiff.runtime.SharedInformers;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddress;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.net.BindException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Opcode;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

/**
 * The cluster DNS server as a {@link Component} named {@code cluster-dns} (the role of CoreDNS
 * in k3s): answers names in the cluster domain from Services and EndpointSlices (see
 * {@link ClusterZone}) and forwards everything else to the host's resolvers (see
 * {@link UpstreamResolvers}), over UDP and TCP.
 *
 * <p>It makes itself reachable the Kubernetes way: it ensures the selector-less Service
 * {@code kube-system/kube-dns} (clusterIP = option {@code cluster-dns}, default 10.43.0.10; ports
 * {@code dns} 53/UDP and {@code dns-tcp} 53/TCP) exists, and publishes its own listen address as
 * the EndpointSlice {@code kube-dns-<node>} (managed-by {@value #MANAGED_BY}), so the
 * {@link ServiceProxy} forwards {@code 10.43.0.10:53} to it. The slice is deleted on stop and
 * re-asserted every 30 s.
 *
 * <p>Options: {@code cluster-domain} (default cluster.local); {@code cluster-dns};
 * {@code node-ip} (default: the Node's InternalIP, else the host's first IPv4 address);
 * {@code dns.port} (default 53 as root, else 0; 0 = ephemeral; if 53 is taken, ephemeral);
 * {@code dns.upstream} (comma-separated ip[:port] list replacing /etc/resolv.conf);
 * {@code dns.upstream-timeout-ms} (default 2000).
 */
public final class ClusterDns implements Component {
  private static final Logger log = LoggerFactory.getLogger(ClusterDns.class);
  /** Value of the managed-by label on the slices this server publishes. */
  public static final String MANAGED_BY = "cluster-dns.skiff.dev"; // label values cannot hold "/"; upstream style: endpointslice-controller.k8s.io
  static final String MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by";
  static final Duration REASSERT = Duration.ofSeconds(30);

  @Override
  public String name() {
    return "cluster-dns";
  }

  @Override
  public Running start(ComponentContext context) throws Exception {
    return new Running(context);
  }

  /** A running server; {@link #close()} stops it and withdraws its EndpointSlice. */
  public static final class Running implements AutoCloseable {
    private final KubernetesClient client;
    private final String nodeName;
    private final String clusterDnsIp;
    private final SharedInformers informers;
    private final ClusterZone zone;
    private final UpstreamResolvers upstream;
    private final DatagramSocket udp;
    private final ServerSocket tcp;
    private final ScheduledExecutorService timer;
    private volatile boolean closed;

    Running(ComponentContext ctx) throws Exception {
      this.client = ctx.client();
      this.nodeName = ctx.nodeName();
      Map<String, String> opts = ctx.options();
      this.clusterDnsIp = opts.getOrDefault("cluster-dns", "10.43.0.10");
      String domain = opts.getOrDefault("cluster-domain", "cluster.local");
      String nodeIp = opts.containsKey("node-ip") ? opts.get("node-ip") : nodeIp(client, nodeName);
      int port = Integer.parseInt(opts.getOrDefault("dns.port", ClusterIpInterface.supported() ? "53" : "0"));

      informers = new SharedInformers(client);
      Informer<EndpointSlice> sliceInformer = informers.informerFor(EndpointSlice.class);
      sliceInformer.addIndexer(ServiceProxy.BY_SERVICE, s -> {
        String k = Slices.serviceKey(s);
        return k == null ? List.of() : List.of(k);
      });
      Informer<Service> svcInformer = informers.informerFor(Service.class);
      zone = new ClusterZone(domain, svcInformer.lister(), sliceInformer.lister());
      informers.start();

      Object[] bound;
      try {
        bound = bindBoth(nodeIp, port);
      } catch (BindException e) {
        if (port == 0) {
          informers.close();
          throw e;
        }
        log.warn("cannot bind {}:{} ({}), using an ephemeral port", nodeIp, port, e.getMessage());
        try {
          bound = bindBoth(nodeIp, 0);
        } catch (IOException e2) {
          informers.close();
          throw e2;
        }
      }
      DatagramSocket u = (DatagramSocket) bound[0];
      ServerSocket t = (ServerSocket) bound[1];
      udp = u;
      tcp = t;
      InetSocketAddress self = new InetSocketAddress(nodeIp, udp.getLocalPort());
      List<InetSocketAddress> servers = opts.containsKey("dns.upstream") ? parseServers(opts.get("dns.upstream"))
          : UpstreamResolvers.fromResolvConf(Path.of("/etc/resolv.conf"), self, Set.of(clusterDnsIp));
      upstream = new UpstreamResolvers(servers,
          Duration.ofMillis(Long.parseLong(opts.getOrDefault("dns.upstream-timeout-ms", "2000"))));
      informers.waitForCacheSync(Duration.ofSeconds(30));
      Thread.ofPlatform().name("cluster-dns-udp").daemon().start(this::udpLoop);
      Thread.ofPlatform().name("cluster-dns-tcp").daemon().start(this::tcpLoop);
      timer = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().name("cluster-dns-publish").daemon().unstarted(r));
      timer.scheduleWithFixedDelay(this::publish, 0, REASSERT.toMillis(), TimeUnit.MILLISECONDS);
      log.info("cluster DNS for {} on {} (udp+tcp), upstream {}", domain, self, servers);
    }

    /** Where the server listens (node IP and port). */
    public InetSocketAddress address() {
      return new InetSocketAddress(((InetSocketAddress) udp.getLocalSocketAddress()).getAddress(), udp.getLocalPort());
    }

    private static DatagramSocket bindUdp(String ip, int port) throws IOException {
      DatagramSocket s = new DatagramSocket(null);
      try {
        s.bind(new InetSocketAddress(ip, port));
        return s;
      } catch (IOException e) {
        s.close();
        throw e;
      }
    }

    private static ServerSocket bindTcp(String ip, int port) throws IOException {
      ServerSocket s = new ServerSocket();
      try {
        s.setReuseAddress(true);
        s.bind(new InetSocketAddress(ip, port), 128);
        return s;
      } catch (IOException e) {
        s.close();
        throw e;
      }
    }

    /** UDP and TCP sockets on the same port ({@code port} 0: any port free for both). */
    private static Object[] bindBoth(String ip, int port) throws IOException {
      BindException last = null;
      for (int i = 0; i < (port == 0 ? 20 : 1); i++) {
        DatagramSocket u = bindUdp(ip, port);
        try {
          return new Object[] {u, bindTcp(ip, u.getLocalPort())};
        } catch (BindException e) {
          u.close();
          last = e;
        }
      }
      throw last;
    }

    static List<InetSocketAddress> parseServers(String spec) {
      List<InetSocketAddress> out = new ArrayList<>();
      for (String s : spec.split(",")) {
        s = s.trim();
        if (!s.isEmpty()) {
          int colon = s.lastIndexOf(':');
          out.add(colon > 0 && s.indexOf(':') == colon
              ? new InetSocketAddress(s.substring(0, colon), Integer.parseInt(s.substring(colon + 1)))
              : new InetSocketAddress(s, 53));
        }
      }
      return out;
    }

    /** The Node's InternalIP, else the host's first non-loopback IPv4 address. */
    static String nodeIp(KubernetesClient client, String nodeName) {
      try {
        Node n = client.nodes().withName(nodeName).get();
        if (n != null && n.getStatus() != null && n.getStatus().getAddresses() != null) {
          for (NodeAddress a : n.getStatus().getAddresses()) {
            if ("InternalIP".equals(a.getType()) && a.getAddress().indexOf(':') < 0) {
              return a.getAddress();
            }
          }
        }
      } catch (KubernetesClientException e) {
        // fall through
      }
      try {
        for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
          if (!nic.isUp() || nic.isLoopback() || nic.getName().startsWith(ClusterIpInterface.PREFIX)) {
            continue;
          }
          for (InetAddress a : Collections.list(nic.getInetAddresses())) {
            if (a instanceof Inet4Address && !a.isLoopbackAddress() && !a.isLinkLocalAddress()) {
              return a.getHostAddress();
            }
          }
        }
      } catch (IOException e) {
        // fall through
      }
      return "127.0.0.1";
    }

    /** Answers one query (never throws): zone answer, forwarded answer, or an error reply. */
    byte[] handle(byte[] data, int length, boolean overTcp, int maxUdp) {
      Message query;
      try {
        query = new Message(java.util.Arrays.copyOf(data, length));
      } catch (IOException e) {
        return null; // not DNS: drop, as CoreDNS does
      }
      Message r;
      Record q = query.getQuestion();
      if (query.getHeader().getFlag(Flags.QR)) {
        return null;
      }
      if (q == null || query.getHeader().getOpcode() != Opcode.QUERY) {
        r = ClusterZone.reply(query);
        r.getHeader().setRcode(q == null ? Rcode.FORMERR : Rcode.NOTIMP);
      } else if (zone.contains(q.getName())) {
        try {
          ClusterZone.Answer a = zone.answer(query);
          r = a.message();
          if (a.chase() != null) {
            chase(r, a.chase(), q.getType(), overTcp);
          }
        } catch (RuntimeException e) {
          log.warn("cluster DNS: answering {} failed: {}", q, e.toString());
          r = ClusterZone.reply(query);
          r.getHeader().setRcode(Rcode.SERVFAIL);
        }
      } else {
        r = upstream.forward(query, overTcp);
      }
      byte[] out = r.toWire();
      if (!overTcp && out.length > maxUdp) {
        out = r.toWire(maxUdp); // truncates and sets TC: the client retries over TCP
      }
      return out;
    }

    /** Appends the upstream answer for a CNAME target (CoreDNS resolves ExternalName targets). */
    private void chase(Message r, org.xbill.DNS.Name target, int qtype, boolean tcp) {
      if (qtype != Type.A && qtype != Type.AAAA && qtype != Type.ANY) {
        return;
      }
      Message q = Message.newQuery(Record.newRecord(target, qtype == Type.ANY ? Type.A : qtype, org.xbill.DNS.DClass.IN));
      Message a = upstream.forward(q, tcp);
      if (a.getRcode() == Rcode.NOERROR) {
        for (Record rec : a.getSection(Section.ANSWER)) {
          r.addRecord(rec, Section.ANSWER);
        }
      }
    }

    private void udpLoop() {
      byte[] buf = new byte[65535];
      DatagramPacket p = new DatagramPacket(buf, buf.length);
      while (!closed) {
        try {
          p.setLength(buf.length);
          udp.receive(p);
        } catch (IOException e) {
          if (!closed) {
            log.warn("cluster DNS udp: {}", e.toString());
          }
          return;
        }
        byte[] data = java.util.Arrays.copyOf(buf, p.getLength());
        SocketAddress client = p.getSocketAddress();
        // A virtual thread per query: forwarding may wait on an upstream without stalling others.
        Thread.ofVirtual().start(() -> {
          byte[] out = handle(data, data.length, false, maxUdpSize(data));
          if (out != null) {
            try {
              udp.send(new DatagramPacket(out, out.length, client));
            } catch (IOException e) {
              log.debug("cluster DNS reply to {}: {}", client, e.toString());
            }
          }
        });
      }
    }

    /** 512, or the EDNS(0) payload size the client advertised. */
    private static int maxUdpSize(byte[] data) {
      try {
        var opt = new Message(data).getOPT();
        return opt == null ? 512 : Math.max(512, opt.getPayloadSize());
      } catch (IOException e) {
        return 512;
      }
    }

    private void tcpLoop() {
      while (!closed) {
        Socket s;
        try {
          s = tcp.accept();
        } catch (IOException e) {
          if (!closed) {
            log.warn("cluster DNS tcp: {}", e.toString());
          }
          return;
        }
        Thread.ofVirtual().start(() -> serveTcp(s));
      }
    }

    private void serveTcp(Socket s) {
      try (s) {
        s.setSoTimeout(10_000); // idle connections are closed (CoreDNS: 10 s read timeout)
        DataInputStream in = new DataInputStream(s.getInputStream());
        DataOutputStream out = new DataOutputStream(s.getOutputStream());
        while (!closed) {
          int len;
          try {
            len = in.readUnsignedShort();
          } catch (EOFException e) {
            return;
          }
          byte[] q = in.readNBytes(len);
          byte[] a = handle(q, q.length, true, 65535);
          if (a == null) {
            return;
          }
          out.writeShort(a.length);
          out.write(a);
          out.flush();
        }
      } catch (IOException e) {
        // client went away or idled out
      }
    }

    /** Ensures the kube-dns Service and this node's slice pointing at this server. */
    private void publish() {
      if (closed) {
        return;
      }
      try {
        Service svc = client.services().inNamespace("kube-system").withName("kube-dns").get();
        if (svc == null) {
          svc = new ServiceBuilder()
              .withMetadata(new ObjectMetaBuilder().withName("kube-dns").withNamespace("kube-system")
                  .withLabels(Map.of("k8s-app", "kube-dns", "kubernetes.io/name", "CoreDNS")).build())
              .withNewSpec().withType("ClusterIP").withClusterIP(clusterDnsIp)
              .withPorts(new ServicePortBuilder().withName("dns").withPort(53).withProtocol("UDP")
                      .withTargetPort(new IntOrString(53)).build(),
                  new ServicePortBuilder().withName("dns-tcp").withPort(53).withProtocol("TCP")
                      .withTargetPort(new IntOrString(53)).build())
              .endSpec().build();
          try {
            svc = client.services().resource(svc).create();
            log.info("created Service kube-system/kube-dns ({})", clusterDnsIp);
          } catch (KubernetesClientException e) {
            if (e.getCode() != 409) {
              throw e;
            }
            svc = client.services().inNamespace("kube-system").withName("kube-dns").get();
          }
        }
        EndpointSlice want = slice(svc);
        EndpointSlice have = client.resources(EndpointSlice.class).inNamespace("kube-system").withName(want.getMetadata().getName()).get();
        if (have == null) {
          client.resource(want).create();
        } else if (!have.getEndpoints().equals(want.getEndpoints()) || !have.getPorts().equals(want.getPorts())) {
          want.getMetadata().setResourceVersion(have.getMetadata().getResourceVersion());
          client.resource(want).update();
        }
      } catch (RuntimeException e) {
        log.warn("cannot publish the cluster DNS endpoint: {}", e.toString());
      }
    }

    private EndpointSlice slice(Service svc) {
      InetSocketAddress a = address();
      int port = a.getPort();
      return new EndpointSliceBuilder()
          .withMetadata(new ObjectMetaBuilder().withName(sliceName()).withNamespace("kube-system")
              .withLabels(Map.of(Slices.SERVICE_NAME_LABEL, "kube-dns", MANAGED_BY_LABEL, MANAGED_BY))
              .withOwnerReferences(new OwnerReferenceBuilder().withApiVersion("v1").withKind("Service")
                  .withName("kube-dns").withUid(svc.getMetadata().getUid()).withController(true)
                  .withBlockOwnerDeletion(true).build())
              .build())
          .withAddressType("IPv4")
          .withPorts(new EndpointPortBuilder().withName("dns").withProtocol("UDP").withPort(port).build(),
              new EndpointPortBuilder().withName("dns-tcp").withProtocol("TCP").withPort(port).build())
          .withEndpoints(new EndpointBuilder().withAddresses(a.getAddress().getHostAddress())
              .withNewConditions().withReady(true).withServing(true).withTerminating(false).endConditions()
              .withNodeName(nodeName).build())
          .build();
    }

    String sliceName() {
      return "kube-dns-" + nodeName;
    }

    @Override
    public void close() {
      closed = true;
      timer.shutdownNow();
      udp.close();
      TcpForwarder.closeQuietly(tcp);
      try {
        client.resources(EndpointSlice.class).inNamespace("kube-system").withName(sliceName()).delete();
      } catch (RuntimeException e) {
        log.debug("cannot withdraw the cluster DNS slice: {}", e.toString());
      }
      informers.close();
    }
  }
}
