package dev.skiff.apiserver;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.auth.Authenticator;
import dev.skiff.apiserver.auth.ClientCertificateAuthenticator;
import dev.skiff.apiserver.auth.TokenFileAuthenticator;
import dev.skiff.apiserver.auth.UnionAuthenticator;
import dev.skiff.apiserver.cache.CacheHub;
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
   */
  public record Config(Path dataDir, int port, String bindAddress) {}

  private final Config config;
  private final KeyValueStore store;
  private final AutoCompactor compactor;
  private final CacheHub hub;
  private final ResourceRegistry registry;
  private final NamespaceFinalizer namespaceFinalizer;
  private final ClusterPki pki;
  private final Server jetty;
  private final ApiHandler handler;
  private final ApiSchemas schemas;
  private final java.util.Map<String, dev.skiff.apiserver.table.TablePrinter> printers = new java.util.concurrent.ConcurrentHashMap<>();
  private final ServerConnector connector;
  private volatile boolean ready;

  private ApiServer(Config config) throws Exception {
    this.config = config;
    Files.createDirectories(config.dataDir());
    Clock clock = Clock.systemUTC();
    pki = ClusterPki.loadOrCreate(config.dataDir(), List.of());
    store = LogStore.open(config.dataDir().resolve("store"));
    compactor = AutoCompactor.start(store);
    hub = new CacheHub(store);
    registry = new ResourceRegistry(store, hub, clock, new BuiltInStrategy());
    schemas = ApiSchemas.withBuiltins();
    FieldManager fieldManager = new FieldManager(schemas);
    registry.setFieldTracker(fieldManager);
    for (ResourceDescriptor d : BuiltInResources.all()) {
      registry.add(d);
    }
    hub.start();
    registry.addAdmission(new NamespaceLifecycle(registry.storeForKind("", "Namespace")));
    bootstrapNamespaces();
    namespaceFinalizer = new NamespaceFinalizer(registry);
    namespaceFinalizer.start();

    handler = new ApiHandler(registry, authenticator(), new SchemaChecker(schemas), new PatchDispatcher(schemas, fieldManager),
        new TableWriterFactory(d -> printers.get(d.group + "/" + d.version + "/" + d.plural)), new OpenApiDocuments(registry, new OpenApiV3(schemas, "v1.32.4")),
        () -> ready, clock);

    QueuedThreadPool threads = new QueuedThreadPool(16, 4);
    threads.setName("skiff-http");
    threads.setVirtualThreadsExecutor(VirtualThreads.getNamedVirtualThreadsExecutor("skiff-request"));
    jetty = new Server(threads);
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
    connector = new ServerConnector(jetty, 1, 1, tls, alpn, h2, h1);
    connector.setPort(config.port());
    if (config.bindAddress() != null) {
      connector.setHost(config.bindAddress());
    }
    connector.setIdleTimeout(3_600_000);
    jetty.addConnector(connector);
    jetty.setHandler(handler);
    jetty.setStopTimeout(2000);
    jetty.start();
    pki.writeAdminKubeconfig(connector.getLocalPort());
    ready = true;
  }

  public static ApiServer start(Config config) throws Exception {
    return new ApiServer(config);
  }

  private Authenticator authenticator() throws IOException {
    List<Authenticator> list = new ArrayList<>();
    list.add(new ClientCertificateAuthenticator(pki.caCertificate()));
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

  public ClusterPki pki() {
    return pki;
  }

  @Override
  public void close() {
    ready = false;
    try {
      jetty.stop();
    } catch (Exception e) {
      LOG.warn("stopping HTTP server: {}", e.toString());
    }
    namespaceFinalizer.close();
    hub.close();
    compactor.close();
    store.close();
  }
}
