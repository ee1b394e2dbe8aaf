package dev.skiff.serving.gateway;

import dev.skiff.runtime.Clock;
import dev.skiff.runtime.Component;
import dev.skiff.runtime.ComponentContext;
import dev.skiff.serving.autoscaler.Autoscaler;
import dev.skiff.serving.autoscaler.AutoscalerElection;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.transport.HttpClientTransportOverHTTP;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.http2.client.HTTP2Client;
import org.eclipse.jetty.http2.client.transport.HttpClientTransportOverHTTP2;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.io.ClientConnector;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.ProxyConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.util.thread.ScheduledExecutorScheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Knative ingress of Skiff, in the server process (no Istio, no Kourier, no queue-proxy
 * sidecar): an HTTP server that routes by Host to the revisions of a Route, splits traffic by its
 * percentages, enforces containerConcurrency by queueing, holds requests for revisions at zero
 * while asking the {@link Autoscaler} for a pod (the activator), measures concurrency and
 * request rate per revision for the autoscaler, and runs the autoscaler itself.
 *
 * <p>Options ({@code --set gateway.port=N}): the port, default 80 when it can be bound, else
 * 8081; 0 picks a free port. The bound port is recorded in ConfigMap
 * knative-serving/config-network, key {@code skiff.dev/gateway-http-port}, for the Route
 * controller's status.url (as an annotation with that name and data key
 * {@code skiff.dev.gateway-http-port}: '/' is not allowed in a data key). Options {@code cluster-domain} (default cluster.local) names the
 * cluster-local hosts. The gateway keeps no state of its own, so several may run (one per node).
 * Each has an {@link Autoscaler} and campaigns for Lease knative-serving/autoscaler
 * ({@link AutoscalerElection}); only the holder decides and writes scales, from the traffic of
 * every live gateway: each publishes cumulative counters on its {@link StatsServer} (option
 * {@code gateway.stats-port}, default 0: a free port), advertised on its {@link GatewayLease}.
 * Any gateway activates a revision at zero itself. {@code gateway.autoscaler=false}: this gateway
 * never leads (it still publishes its stats and activates). {@code autoscaler.leaseDurationSeconds}
 * (default 15) sets the election's Lease duration. See docs/serving.md, "Several gateways".
 *
 * <p>Front ends: HTTP/1.1 clients are served by {@link Http1Server}: its event loops
 * ({@link Http1EventLoop}, one per core, {@code gateway.loops}) serve the common exchange and hand
 * the rest to virtual threads with blocking sockets ({@code gateway.frontend=threads}: threads
 * only); h2c clients by Jetty, to which Http1Server relays their connections.
 * {@code gateway.frontend=jetty} lets Jetty serve HTTP/1.1 clients too (the previous front end,
 * kept for comparison); {@code gateway.upstream=jetty} sends to HTTP/1.1 pods with Jetty's
 * HttpClient instead of {@link Http1Upstream}. Both front ends share {@link RoutingProxy}.
 */
public final class Gateway implements Component {
  private static final Logger log = LoggerFactory.getLogger(Gateway.class);
  /**
   * The contract's key (CONTRACTS.md). A ConfigMap data key may not contain '/' (the API server
   * rejects it, as kube-apiserver does), so it is written as an annotation of config-network,
   * and the same value as data key {@link #PORT_DATA_KEY}.
   */
  public static final String PORT_KEY = "skiff.dev/gateway-http-port";
  public static final String PORT_DATA_KEY = "skiff.dev.gateway-http-port";
  public static final String NETWORK_CONFIG = "config-network";
  /**
   * The drain request (the preStop hook of every Revision's user container, Knative's
   * queue-proxy {@code /wait-for-drain}): {@code GET /wait-for-drain} from a loopback client with
   * this header set to {@code <namespace>/<revision>}; answered once the gateway has seen the
   * revision's terminating pod and its requests to terminating pods have completed.
   */
  public static final String DRAIN_HEADER = "K-Skiff-Drain";
  public static final String DRAIN_PATH = "/wait-for-drain";
  public static final String NAMESPACE = "knative-serving";
  /** Client connections idle longer than this are closed. */
  static final long IDLE_TIMEOUT_MS = TimeUnit.MINUTES.toMillis(10);

  @Override
  public String name() {
    return "gateway";
  }

  @Override
  public Running start(ComponentContext ctx) throws Exception {
    KubernetesClient client = ctx.client();
    String domain = ctx.options().getOrDefault("cluster-domain", "cluster.local");
    ServingView view = new ServingView(client, domain).start(Duration.ofSeconds(30));
    String instance = java.util.UUID.randomUUID().toString();
    ClusterScalingInputs inputs = new ClusterScalingInputs(client, view, instance, ctx.nodeName()).start();
    // Every gateway has an autoscaler: followers activate revisions at zero; the leader scales.
    Autoscaler autoscaler = new Autoscaler(client, inputs, Clock.system()).start();

    QueuedThreadPool threads = new QueuedThreadPool(64, 4);
    threads.setName("gateway");
    threads.setVirtualThreadsExecutor(Executors.newVirtualThreadPerTaskExecutor());
    Server server = new Server(threads);
    ScheduledExecutorScheduler scheduler = new ScheduledExecutorScheduler("gateway-timer", true);
    server.addBean(scheduler);

    HttpClient http1 = client(new HttpClientTransportOverHTTP(connector()), "gateway-http1");
    HTTP2Client h2 = new HTTP2Client(connector());
    HttpClient h2c = client(new HttpClientTransportOverHTTP2(h2), "gateway-h2c");
    server.addBean(http1);
    server.addBean(h2c);

    HttpConfiguration config = new HttpConfiguration();
    config.setSendServerVersion(false);
    config.setSendDateHeader(false); // the app's Date header passes through
    config.setSendXPoweredBy(false);
    config.setRelativeRedirectAllowed(true);
    RoutingProxy proxy = new RoutingProxy(view, http1, h2c,
        b -> autoscaler.activate(b.namespace, b.name),
        // gateway.upstream=jetty: Jetty's HttpClient to HTTP/1.1 pods (the path before Http1Upstream).
        !"jetty".equals(ctx.options().get("gateway.upstream")));
    server.setHandler(new ProxyHandler(proxy));
    server.setStopTimeout(2000);
    // One listener per address of this node, never the wildcard: a wildcard :80 would keep the
    // service proxy from binding ClusterIP:80 for every other Service (docs/services.md).
    List<String> addresses = listenAddresses(ctx);
    String opt = ctx.options().get("gateway.port");
    int[] ports = opt != null ? new int[] {Integer.parseInt(opt)} : new int[] {80, 8081, 0};
    int port = -1;
    Http1Server front = null;
    if ("jetty".equals(ctx.options().get("gateway.frontend"))) {
      // gateway.frontend=jetty: Jetty serves HTTP/1.1 clients too (the front end before Http1Server).
      List<ServerConnector> connectors = new java.util.ArrayList<>();
      for (String address : addresses) {
        ServerConnector connector = new ServerConnector(server, 1, 1,
            new HttpConnectionFactory(config), new HTTP2CServerConnectionFactory(config));
        connector.setHost(address);
        connector.setIdleTimeout(IDLE_TIMEOUT_MS);
        connector.setAcceptQueueSize(1024);
        server.addConnector(connector);
        connectors.add(connector);
      }
      for (int p : ports) {
        try {
          bind(server, connectors, p);
          port = connectors.get(0).getLocalPort();
          break;
        } catch (IOException e) {
          log.info("gateway: port {} unavailable ({})", p, e.getMessage());
          server.stop();
        }
      }
    } else {
      // HTTP/1.1 clients: Http1Server. h2c clients are relayed to Jetty on a loopback port, with
      // the PROXY protocol carrying the client's address.
      ServerConnector h2cBackend = new ServerConnector(server, 1, 1,
          new ProxyConnectionFactory(HttpVersion.HTTP_1_1.asString()),
          new HttpConnectionFactory(config), new HTTP2CServerConnectionFactory(config));
      h2cBackend.setHost("127.0.0.1");
      h2cBackend.setPort(0);
      h2cBackend.setIdleTimeout(IDLE_TIMEOUT_MS);
      server.addConnector(h2cBackend);
      server.start();
      for (int p : ports) {
        Http1Server s = new Http1Server(proxy, new InetSocketAddress("127.0.0.1", h2cBackend.getLocalPort()), IDLE_TIMEOUT_MS,
            eventLoops(ctx));
        try {
          port = s.start(addresses, p);
          front = s;
          break;
        } catch (IOException e) {
          log.info("gateway: port {} unavailable ({})", p, e.getMessage());
        }
      }
      if (front == null) {
        server.stop();
      }
    }
    if (port < 0) {
      throw new IOException("gateway: no port could be bound");
    }
    ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "gateway-sampler");
      t.setDaemon(true);
      return t;
    });
    // Concurrency is sampled every 100 ms and averaged per scrape (queue-proxy reports a
    // time-weighted average per second; sampling keeps the request path free of locks).
    sampler.scheduleAtFixedRate(() -> view.backends().forEach(RevisionBackend::sample), 100, 100, TimeUnit.MILLISECONDS);
    recordPort(client, port);
    // The stats listener on this node's first non-loopback address (what peers on other nodes
    // reach), else loopback.
    String statsHost = addresses.stream().filter(a -> !a.startsWith("127.")).findFirst().orElse("127.0.0.1");
    StatsServer stats = StatsServer.start(statsHost, Integer.parseInt(ctx.options().getOrDefault("gateway.stats-port", "0")),
        () -> view.stats(instance));
    GatewayLease lease = GatewayLease.hold(client, ctx.nodeName(), Map.of(GatewayLease.STATS_ADDRESS, stats.address()));
    AutoscalerElection election = null;
    if (Boolean.parseBoolean(ctx.options().getOrDefault("gateway.autoscaler", "true"))) {
      election = AutoscalerElection.start(client, autoscaler, ctx.nodeName() + "_" + instance,
          Duration.ofSeconds(Integer.parseInt(ctx.options().getOrDefault("autoscaler.leaseDurationSeconds", "15"))));
    }
    log.info("gateway listening on port {}, stats on {}", port, stats.address());
    return new Running(server, front, view, autoscaler, sampler, port, lease, inputs, stats, election);
  }

  /**
   * How many event loops serve HTTP/1.1 clients first ({@link Http1EventLoop}): 0 with
   * {@code gateway.frontend=threads} (a virtual thread per connection from the start, the front
   * end before the loop), else {@code gateway.loops}, by default one per core: on the 2-core
   * benchmark two loops served ~7% more requests than one for the same CPU per request (one loop
   * is a single lane every exchange passes through twice).
   */
  static int eventLoops(ComponentContext ctx) {
    String frontend = ctx.options().get("gateway.frontend");
    if ("threads".equals(frontend)) {
      return 0;
    }
    String n = ctx.options().get("gateway.loops");
    return n == null ? Runtime.getRuntime().availableProcessors() : Math.max(0, Integer.parseInt(n));
  }

  /**
   * Binds every listener to {@code port}; with 0 the first picks a free port and the others
   * follow it, so one port serves every address.
   */
  private static void bind(Server server, List<ServerConnector> connectors, int port) throws Exception {
    if (port == 0 && connectors.size() > 1) {
      ServerConnector first = connectors.get(0);
      first.setPort(0);
      first.open();
      port = first.getLocalPort();
      for (int i = 1; i < connectors.size(); i++) {
        connectors.get(i).setPort(port);
      }
    } else {
      for (ServerConnector c : connectors) {
        c.setPort(port);
      }
    }
    server.start();
  }

  /**
   * 127.0.0.1 and this node's InternalIP addresses ({@code gateway.address=a,b} overrides), so
   * that Route URLs answer locally and the Route's Service endpoints (the nodes' addresses) too.
   */
  static List<String> listenAddresses(ComponentContext ctx) {
    String opt = ctx.options().get("gateway.address");
    if (opt != null && !opt.isBlank()) {
      return List.of(opt.split(","));
    }
    java.util.LinkedHashSet<String> out = new java.util.LinkedHashSet<>();
    out.add("127.0.0.1");
    try {
      var node = ctx.client().nodes().withName(ctx.nodeName()).get();
      if (node != null && node.getStatus() != null && node.getStatus().getAddresses() != null) {
        node.getStatus().getAddresses().stream().filter(a -> "InternalIP".equals(a.getType())
            && !a.getAddress().contains(":")).forEach(a -> out.add(a.getAddress()));
      }
    } catch (RuntimeException e) {
      log.info("gateway: cannot read node {} ({}); listening on loopback only", ctx.nodeName(), e.getMessage());
    }
    return List.copyOf(out);
  }

  private static ClientConnector connector() {
    ClientConnector c = new ClientConnector();
    c.setSelectors(1);
    c.setConnectTimeout(Duration.ofSeconds(10));
    return c;
  }

  private static HttpClient client(org.eclipse.jetty.client.HttpClientTransport transport, String name) {
    HttpClient c = new HttpClient(transport);
    QueuedThreadPool pool = new QueuedThreadPool(64, 2);
    pool.setName(name);
    c.setExecutor(pool);
    c.setFollowRedirects(false);
    c.setUserAgentField(null);
    c.getContentDecoderFactories().clear(); // bodies pass through encoded
    c.setHttpCookieStore(new HttpCookieStore.Empty());
    c.setMaxConnectionsPerDestination(4096);
    c.setMaxRequestsQueuedPerDestination(100_000);
    c.setIdleTimeout(TimeUnit.MINUTES.toMillis(5));
    return c;
  }

  /** Create-or-merge of config-network's port key. */
  static void recordPort(KubernetesClient client, int port) {
    try {
      if (client.namespaces().withName(NAMESPACE).get() == null) {
        client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(NAMESPACE).endMetadata().build()).create();
      }
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        log.warn("creating namespace {} failed: {}", NAMESPACE, e.getMessage());
      }
    }
    for (int attempt = 0; attempt < 5; attempt++) {
      try {
        ConfigMap cm = client.configMaps().inNamespace(NAMESPACE).withName(NETWORK_CONFIG).get();
        if (cm == null) {
          client.configMaps().inNamespace(NAMESPACE).resource(new ConfigMapBuilder().withNewMetadata().withName(NETWORK_CONFIG)
              .withNamespace(NAMESPACE).addToAnnotations(PORT_KEY, Integer.toString(port)).endMetadata()
              .addToData(PORT_DATA_KEY, Integer.toString(port)).build()).create();
        } else {
          Map<String, String> data = new HashMap<>(cm.getData() == null ? Map.of() : cm.getData());
          Map<String, String> ann = new HashMap<>(cm.getMetadata().getAnnotations() == null ? Map.of() : cm.getMetadata().getAnnotations());
          if (Integer.toString(port).equals(data.get(PORT_DATA_KEY)) && Integer.toString(port).equals(ann.get(PORT_KEY))) {
            return;
          }
          data.put(PORT_DATA_KEY, Integer.toString(port));
          ann.put(PORT_KEY, Integer.toString(port));
          cm.setData(data);
          cm.getMetadata().setAnnotations(ann);
          client.configMaps().inNamespace(NAMESPACE).resource(cm).update(); // resourceVersion-conditioned
        }
        return;
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          log.warn("recording the gateway port in {}/{} failed: {}", NAMESPACE, NETWORK_CONFIG, e.getMessage());
          return;
        }
      }
    }
  }

  /** A running gateway. {@link #close} stops the server, the autoscaler and the informers. */
  public static final class Running implements AutoCloseable {
    private final Server server;
    private final Http1Server front;
    private final ServingView view;
    private final Autoscaler autoscaler;
    private final ScheduledExecutorService sampler;
    private final int port;
    private final GatewayLease lease;
    private final ClusterScalingInputs inputs;
    private final StatsServer stats;
    private final AutoscalerElection election;

    Running(Server server, Http1Server front, ServingView view, Autoscaler autoscaler, ScheduledExecutorService sampler,
        int port, GatewayLease lease, ClusterScalingInputs inputs, StatsServer stats, AutoscalerElection election) {
      this.inputs = inputs;
      this.stats = stats;
      this.election = election;
      this.server = server;
      this.front = front;
      this.view = view;
      this.autoscaler = autoscaler;
      this.sampler = sampler;
      this.port = port;
      this.lease = lease;
    }

    /** The port the gateway listens on. */
    public int port() {
      return port;
    }

    ServingView view() {
      return view;
    }

    /** The HTTP/1.1 front end, null with {@code gateway.frontend=jetty}. */
    Http1Server front() {
      return front;
    }

    /** This gateway's autoscaler (it scales only while {@link Autoscaler#isLeading}). */
    public Autoscaler autoscaler() {
      return autoscaler;
    }

    /** Whether this gateway's autoscaler holds the autoscaler Lease now. */
    public boolean leading() {
      return election != null && election.isLeader() && autoscaler.isLeading();
    }

    ClusterScalingInputs inputs() {
      return inputs;
    }

    @Override
    public void close() throws Exception {
      if (election != null) {
        election.close(); // first: stop scaling and hand the Lease to another gateway at once
      }
      lease.close(); // Routes stop sending this node cluster traffic
      sampler.shutdownNow();
      if (front != null) {
        front.close();
      }
      server.stop();
      autoscaler.close();
      stats.close();
      inputs.close();
      view.close();
    }
  }
}
