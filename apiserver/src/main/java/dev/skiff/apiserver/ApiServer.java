package dev.skiff.apiserver;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.auth.Authenticator;
import dev.skiff.apiserver.auth.ClientCertificateAuthenticator;
import dev.skiff.apiserver.auth.TokenFileAuthenticator;
import dev.skiff.apiserver.auth.UnionAuthenticator;
import dev.skiff.apiserver.cache.CacheHub;
import dev.skiff.apiserver.crd.CustomResourceManager;
import dev.skiff.apiserver.crd.CustomResources;
import dev.skiff.apiserver.http.ApiHandler;
import dev.skiff.apiserver.http.TableWriterFactory;
import dev.skiff.apiserver.pki.ClusterPki;
import dev.skiff.apiserver.registry.BuiltInResources;
import dev.skiff.apiserver.registry.NamespaceFinalizer;
import dev.skiff.apiserver.registry.NamespaceLifecycle;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.ResourceRegistry;
import dev.skiff.apiserver.registry.ResourceStore;
import dev.skiff.apiserver.registry.WriteOptions;
import dev.skiff.apiserver.schema.ApiSchemas;
import dev.skiff.apiserver.schema.OpenApiV2;
import dev.skiff.apiserver.ssa.FieldManager;
import dev.skiff.apiserver.schema.OpenApiV3;
import dev.skiff.store.AutoCompactor;
import dev.skiff.store.KeyValueStore;
import dev.skiff.store.LogStore;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import org.eclipse.jetty.alpn.server.ALPNServerConnectionFactory;
import org.eclipse.jetty.http2.server.HTTP2ServerConnectionFactory;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.VirtualThreads;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The API server: the durable store, the watch caches, the registry of every built-in resource,
 * and HTTPS (HTTP/1.1 and HTTP/2 over ALPN) with client-certificate and token authentication.
 * {@link #start} returns once the server is ready to serve; {@link #close} stops it cleanly.
 */
public final class ApiServer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ApiServer.class);

  /**
   * @param dataDir state directory (pki/, store/, kubeconfig.yaml)
   * @param port HTTPS port, 0 for any free port
   * @param bindAddress address to listen on (null: all interfaces)
   * @param serviceCidr the Services' clusterIP range (null: 10.43.0.0/16)
   * @param nodePortRange the NodePort range, {@code FIRST-LAST} (null: 30000-32767)
   * @param advertiseAddress the address the {@code kubernetes} Service's endpoints carry (null:
   *     the bind address, or the host's first non-loopback IPv4 address)
   */
  public record Config(Path dataDir, int port, String bindAddress, String serviceCidr, String nodePortRange,
      String advertiseAddress) {
    public Config(Path dataDir, int port, String bindAddress) {
      this(dataDir, port, bindAddress, null, null, null);
    }
  }

  private final Config config;
  private final KeyValueStore store;
  private final AutoCompactor compactor;
  private final CacheHub hub;
  private final ResourceRegistry registry;
  private final NamespaceFinalizer namespaceFinalizer;
  private final dev.skiff.apiserver.serviceaccount.ServiceAccountTokens saTokens;
  private final List<AutoCloseable> controllers = new ArrayList<>();
  private dev.skiff.apiserver.rbac.RbacAuthorizer rbac;
  private final CustomResources customResources;
  private final CustomResourceManager crdManager;
  private final dev.skiff.apiserver.knative.KnativeServing knative;
  private final ClusterPki pki;
  private final dev.skiff.apiserver.nodes.NodeJoinToken joinToken;
  private final Server jetty;
  private final ApiHandler handler;
  private final dev.skiff.apiserver.protobuf.ProtobufBodyDecoder protobuf;
  private final ApiSchemas schemas;
  private final java.util.Map<String, dev.skiff.apiserver.table.TablePrinter> printers = new java.util.concurrent.ConcurrentHashMap<>();
  private final ServerConnector connector;
  private final dev.skiff.apiserver.services.ServiceAllocator serviceAllocator;
  private dev.skiff.apiserver.services.KubernetesServiceReconciler kubernetesService;
  private volatile boolean ready;

  private ApiServer(Config config) throws Exception {
    this.config = config;
    Files.createDirectories(config.dataDir());
    // Fail fast on a bad --service-cidr / --service-node-port-range, before anything starts.
    var serviceNetwork = dev.skiff.apiserver.services.ServiceNetwork.parse(config.serviceCidr(), config.nodePortRange());
    Clock clock = Clock.systemUTC();
    // Start-up runs two independent halves at once (2 cores, and both are mostly class loading):
    // certificates + TLS + the HTTP server on one thread, the store + caches + bootstrap on this one.
    // Until the second half is done the server answers 503 (and /readyz says not ready).
    Gate gate = new Gate();
    var tlsHalf = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
      try {
        ClusterPki p = ClusterPki.loadOrCreate(config.dataDir(), List.of());
        Server s = httpServer(config, p, gate);
        s.start();
        return java.util.Map.entry(p, s);
      } catch (Exception e) {
        throw new java.util.concurrent.CompletionException(e);
      }
    }, r -> Thread.ofPlatform().name("skiff-start-tls").start(r));

    MeasuredStore measured = new MeasuredStore(LogStore.open(config.dataDir().resolve("store")));
    store = measured;
    compactor = AutoCompactor.start(store);
    hub = new CacheHub(store);
    customResources = new CustomResources();
    registry = new ResourceRegistry(store, hub, clock, customResources.strategy(new BuiltInStrategy()));
    schemas = ApiSchemas.withBuiltins();
    FieldManager fieldManager = new FieldManager(schemas);
    registry.setFieldTracker(fieldManager);
    for (ResourceDescriptor d : BuiltInResources.all()) {
      registry.add(d);
    }
    registry.add(CustomResources.CRD);
    hub.start();
    serviceAllocator = new dev.skiff.apiserver.services.ServiceAllocator(serviceNetwork);
    installServiceAllocation();
    registry.addAdmission(new NamespaceLifecycle(registry.storeForKind("", "Namespace")));
    bootstrapNamespaces();
    namespaceFinalizer = new NamespaceFinalizer(registry);
    namespaceFinalizer.start();
    saTokens = dev.skiff.apiserver.serviceaccount.ServiceAccountTokens.loadOrCreate(config.dataDir());
    startAuthorizationAndAdmission(clock);

    java.util.Map.Entry<ClusterPki, Server> tls;
    try {
      tls = tlsHalf.join();
    } catch (java.util.concurrent.CompletionException e) {
      close(null, namespaceFinalizer, hub, compactor, store);
      throw e.getCause() instanceof Exception ex ? ex : e;
    }
    pki = tls.getKey();
    jetty = tls.getValue();
    joinToken = dev.skiff.apiserver.nodes.NodeJoinToken.loadOrCreate(config.dataDir(), pki.caCertificate());
    connector = (ServerConnector) jetty.getConnectors()[0];
    handler = new ApiHandler(registry, authenticator(), customResources.schemaCheck(new SchemaChecker(schemas)),
        customResources.patches(new PatchDispatcher(schemas, fieldManager)),
        new TableWriterFactory(d -> printers.get(d.group + "/" + d.version + "/" + d.plural)),
        new OpenApiDocuments(registry, new OpenApiV3(schemas, "v1.32.4"), new OpenApiV2(schemas, "v1.32.4")),
        () -> ready, clock);
    handler.metrics().addCollector(measured::render);
    // kubectl 1.32+ sends protobuf bodies for its typed commands (kubectl-compat.md finding 5).
    protobuf = new dev.skiff.apiserver.protobuf.ProtobufBodyDecoder(schemas);
    handler.addBodyDecoder(protobuf);
    installAuthorization(clock);
    // Before the port serves: CRDs stored before a restart are served from the first request on.
    knative = dev.skiff.apiserver.knative.KnativeServing.install(registry, customResources);
    crdManager = new CustomResourceManager(registry, schemas, customResources, this::setPrinter);
    crdManager.start();
    kubernetesService = new dev.skiff.apiserver.services.KubernetesServiceReconciler(registry, serviceNetwork,
        config.advertiseAddress() != null ? config.advertiseAddress()
            : dev.skiff.apiserver.services.KubernetesServiceReconciler.advertiseAddress(config.bindAddress()),
        connector.getLocalPort());
    kubernetesService.start(10);
    controllers.add(kubernetesService);
    gate.open(handler);
    pki.writeAdminKubeconfig(connector.getLocalPort());
    ready = true;
    // Loading the protobuf descriptors takes ~250 ms; do it now, off the request path, rather
    // than on the first `kubectl create` (and so the build's AOT training run records them).
    Thread.ofVirtual().name("skiff-warm-up").start(() -> {
      saTokens.warmUp();
      dev.skiff.apiserver.protobuf.ProtobufBodyDecoder.warmUp();
    });
  }

  private static Server httpServer(Config config, ClusterPki pki, Handler handler) throws Exception {
    QueuedThreadPool threads = new QueuedThreadPool(16, 4);
    threads.setName("skiff-http");
    threads.setVirtualThreadsExecutor(VirtualThreads.getNamedVirtualThreadsExecutor("skiff-request"));
    Server jetty = new Server(threads);
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    http.setSendDateHeader(true);
    SecureRequestCustomizer secure = new SecureRequestCustomizer();
    secure.setSniHostCheck(false);
    http.addCustomizer(secure);
    HttpConnectionFactory h1 = new HttpConnectionFactory(http);
    HTTP2ServerConnectionFactory h2 = new HTTP2ServerConnectionFactory(http);
    h2.setMaxConcurrentStreams(1000);
    ALPNServerConnectionFactory alpn = new ALPNServerConnectionFactory();
    alpn.setDefaultProtocol(h1.getProtocol());
    SslContextFactory.Server ssl = pki.sslContextFactory();
    SslConnectionFactory tls = new SslConnectionFactory(ssl, alpn.getProtocol());
    ServerConnector connector = new ServerConnector(jetty, 1, 1, tls, alpn, h2, h1);
    connector.setPort(config.port());
    if (config.bindAddress() != null) {
      connector.setHost(config.bindAddress());
    }
    connector.setIdleTimeout(3_600_000);
    jetty.addConnector(connector);
    jetty.setHandler(handler);
    jetty.setStopTimeout(2000);
    // Watches (and later exec/attach) may upgrade to WebSocket, as kube-apiserver allows.
    org.eclipse.jetty.websocket.server.ServerWebSocketContainer.ensure(jetty);
    return jetty;
  }

  /** Answers 503 until the API handler is ready, then hands every request to it. */
  private static final class Gate extends Handler.Abstract {
    private volatile Handler target;

    Gate() {
      super(InvocationType.BLOCKING);
    }

    void open(Handler h) {
      target = h;
    }

    @Override
    public boolean handle(org.eclipse.jetty.server.Request request, org.eclipse.jetty.server.Response response,
        org.eclipse.jetty.util.Callback callback) throws Exception {
      Handler t = target;
      if (t != null) {
        return t.handle(request, response, callback);
      }
      response.setStatus(503);
      response.write(true, java.nio.ByteBuffer.wrap("starting".getBytes(java.nio.charset.StandardCharsets.US_ASCII)), callback);
      return true;
    }
  }

  public static ApiServer start(Config config) throws Exception {
    return new ApiServer(config);
  }

  /** Service clusterIP/nodePort allocation, rebuilt from the stored Services before anything writes. */
  private void installServiceAllocation() {
    ResourceStore services = registry.storeForKind("", "Service");
    List<ObjectNode> stored = new ArrayList<>();
    for (var o : services.list(dev.skiff.apiserver.cache.WatchFilter.ALL, true).objects()) {
      stored.add(Json.parseObject(o.json()));
    }
    serviceAllocator.rebuild(stored);
    services.setWriteHooks(serviceAllocator);
  }

  /** The Service IP and port allocator (tests, metrics). */
  public dev.skiff.apiserver.services.ServiceAllocator serviceAllocator() {
    return serviceAllocator;
  }

  /** Bootstrap RBAC policy, admission plugins and the controllers behind them (issue 3, parts 4-5). */
  private void startAuthorizationAndAdmission(Clock clock) {
    registry.addAdmission(new dev.skiff.apiserver.admission.LimitRanger(registry.storeForKind("", "LimitRange")));
    registry.addAdmission(new dev.skiff.apiserver.admission.DefaultTolerationSeconds());
    registry.addAdmission(new dev.skiff.apiserver.admission.PriorityAdmission(
        registry.storeForKind("scheduling.k8s.io", "PriorityClass")));
    dev.skiff.apiserver.rbac.BootstrapPolicy.ensure(registry);
    rbac = new dev.skiff.apiserver.rbac.RbacAuthorizer(registry);
    var aggregator = new dev.skiff.apiserver.rbac.ClusterRoleAggregator(registry);
    aggregator.start();
    controllers.add(aggregator);
    var serviceAccounts = new dev.skiff.apiserver.serviceaccount.DefaultServiceAccounts(registry);
    registry.addAdmission(new dev.skiff.apiserver.serviceaccount.ServiceAccountAdmission(
        registry.storeForKind("", "ServiceAccount"), serviceAccounts));
    registry.addAdmission(new dev.skiff.apiserver.rbac.EscalationCheck(rbac, registry));
    // Quota last, as upstream orders its admission plugins: it charges what the others let through.
    var quotas = new dev.skiff.apiserver.admission.QuotaController(registry);
    registry.addAdmission(new dev.skiff.apiserver.admission.ResourceQuotaAdmission(registry, quotas));
    serviceAccounts.start();
    controllers.add(serviceAccounts);
    quotas.start();
    controllers.add(quotas);
  }

  /** RBAC authorizer, review APIs and token requests on the request pipeline. */
  private void installAuthorization(Clock clock) {
    handler.setAuthorizer(rbac);
    dev.skiff.apiserver.rbac.AccessReviews.install(registry, handler, rbac);
    dev.skiff.apiserver.serviceaccount.TokenRequests.install(handler, registry, saTokens, clock);
    // pods/log is answered by the pod's node agent.
    dev.skiff.apiserver.nodes.KubeletClient kubeletClient;
    try {
      kubeletClient = new dev.skiff.apiserver.nodes.KubeletClient(pki);
    } catch (java.security.GeneralSecurityException | IOException e) {
      throw new IllegalStateException("kubelet client certificate: " + e.getMessage(), e);
    }
    dev.skiff.apiserver.nodes.PodLogProxy.install(handler, registry, kubeletClient);
    // Node agents on other machines join with the node token (`skiff agent --token`).
    dev.skiff.apiserver.nodes.NodeCredentials.install(handler, pki);
    dev.skiff.apiserver.nodes.PodStreamProxy.install(handler, registry, kubeletClient);
  }

  private Authenticator authenticator() throws IOException {
    List<Authenticator> list = new ArrayList<>();
    list.add(new ClientCertificateAuthenticator(pki.caCertificate()));
    list.add(joinToken.authenticator());
    list.add(new dev.skiff.apiserver.serviceaccount.ServiceAccountAuthenticator(saTokens, registry, Clock.systemUTC()));
    Path tokens = config.dataDir().resolve("tokens.csv");
    // Looked up lazily so that a tokens.csv created after start-up is picked up too.
    TokenFileAuthenticator[] file = {null};
    list.add((chain, header) -> {
      if (header == null || !header.startsWith("Bearer ")) {
        return null;
      }
      synchronized (file) {
        if (file[0] == null && Files.exists(tokens)) {
          try {
            file[0] = new TokenFileAuthenticator(tokens);
          } catch (IOException e) {
            LOG.warn("cannot read {}: {}", tokens, e.getMessage());
          }
        }
      }
      return file[0] == null ? null : file[0].authenticate(chain, header);
    });
    return new UnionAuthenticator(list);
  }

  private void bootstrapNamespaces() {
    ResourceStore ns = registry.storeForKind("", "Namespace");
    for (String name : List.of("default", "kube-system", "kube-public", "kube-node-lease")) {
      try {
        ns.get(null, name);
      } catch (ApiException notFound) {
        ObjectNode obj = Json.object();
        obj.put("apiVersion", "v1");
        obj.put("kind", "Namespace");
        obj.putObject("metadata").put("name", name).putObject("labels").put("kubernetes.io/metadata.name", name);
        try {
          ns.create(null, obj, WriteOptions.internal("kube-apiserver"));
        } catch (ApiException e) {
          if (!"AlreadyExists".equals(e.reason())) {
            throw e;
          }
        }
      }
    }
  }

  public int port() {
    return connector.getLocalPort();
  }

  public Path kubeconfig() {
    return config.dataDir().resolve(ClusterPki.KUBECONFIG_FILE);
  }

  public ResourceRegistry registry() {
    return registry;
  }

  /** The request pipeline, for installing an authorizer, body decoders and virtual resources. */
  public ApiHandler handler() {
    return handler;
  }

  /** The protobuf request-body decoder, for virtual resources whose clients send protobuf. */
  public dev.skiff.apiserver.protobuf.ProtobufBodyDecoder protobuf() {
    return protobuf;
  }

  /** Every served kind's OpenAPI schema; custom resources register theirs here. */
  public ApiSchemas schemas() {
    return schemas;
  }

  /** Sets the Table printer of a resource (custom resources' additionalPrinterColumns); null removes it. */
  public void setPrinter(String group, String version, String plural, dev.skiff.apiserver.table.TablePrinter printer) {
    String k = group + "/" + version + "/" + plural;
    if (printer == null) {
      printers.remove(k);
    } else {
      printers.put(k, printer);
    }
    handler.forgetPrinter(group, plural);
  }

  /** The token node agents join with ({@code DATA_DIR/server/node-token}). */
  public dev.skiff.apiserver.nodes.NodeJoinToken joinToken() {
    return joinToken;
  }

  public ClusterPki pki() {
    return pki;
  }

  @Override
  public void close() {
    ready = false;
    List<AutoCloseable> parts = new ArrayList<>();
    if (knative != null) {
      parts.add(knative);
    }
    if (crdManager != null) {
      parts.add(crdManager);
    }
    parts.add(namespaceFinalizer);
    parts.addAll(controllers);
    parts.addAll(List.of(hub, compactor, store));
    close(jetty, parts.toArray(AutoCloseable[]::new));
  }

  private static void close(Server jetty, AutoCloseable... parts) {
    if (jetty != null) {
      try {
        jetty.stop();
      } catch (Exception e) {
        LOG.warn("stopping HTTP server: {}", e.toString());
      }
    }
    for (AutoCloseable p : parts) {
      try {
        p.close();
      } catch (Exception e) {
        LOG.warn("stopping {}: {}", p.getClass().getSimpleName(), e.toString());
      }
    }
  }
}
