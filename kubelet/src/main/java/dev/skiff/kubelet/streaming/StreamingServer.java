package dev.skiff.kubelet.streaming;

import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.function.ToLongFunction;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Fields;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.eclipse.jetty.websocket.server.ServerUpgradeRequest;
import org.eclipse.jetty.websocket.server.ServerUpgradeResponse;
import org.eclipse.jetty.websocket.server.WebSocketUpgradeHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node agent's streaming server (kubelet pkg/kubelet/cri/streaming/server.go): WebSocket
 * endpoints the API server proxies {@code pods/exec}, {@code pods/attach} and
 * {@code pods/portforward} to: WebSocket, or plain SPDY/3.1 ({@code Upgrade: SPDY/3.1}) for
 * older clients. Mutual TLS on the node's address when the agent has serving credentials
 * ({@link dev.skiff.kubelet.ServingTls}), else plain HTTP on 127.0.0.1.
 *
 * <ul>
 *   <li>{@code GET /exec/<ns>/<pod>/<container>?command=..&command=..&stdin=&stdout=&stderr=&tty=}
 *   <li>{@code GET /attach/<ns>/<pod>/<container>?stdin=&stdout=&stderr=&tty=}
 *   <li>{@code GET /portForward/<ns>/<pod>} ({@code SPDY/3.1+portforward.k8s.io} or
 *       {@code portforward.k8s.io})
 * </ul>
 *
 * <p>exec and attach speak {@code v5.channel.k8s.io} or {@code v4.channel.k8s.io}, whichever
 * the client offers first. An unknown pod or a container that is not running is answered
 * before the upgrade (404 / 400 with a text message). Jetty answers pings. One virtual thread
 * per session. Thread-safe.
 */
public final class StreamingServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StreamingServer.class);
  /** Channel protocols, newest first (apimachinery remotecommand constants.go). */
  static final List<String> CHANNEL_PROTOCOLS = List.of("v5.channel.k8s.io", "v4.channel.k8s.io");
  /** kubelet streaming idle timeout (StreamingConnectionIdleTimeout default 4h). */
  static final Duration IDLE_TIMEOUT = Duration.ofHours(4);
  static final String SPDY_31 = "SPDY/3.1";
  static final String STREAM_PROTOCOL_HEADER = "X-Stream-Protocol-Version";
  /** The port-forward protocol over plain SPDY (kubelet portforward/constants.go ProtocolV1Name). */
  static final String PORT_FORWARD_PROTOCOL = "portforward.k8s.io";

  private final Server server;
  private final StreamTarget.Resolver resolver;
  private final ToLongFunction<String> pids;

  /**
   * Starts on 127.0.0.1:{@code port} (0: any free port).
   *
   * @param pids a container's shim pid by id while it runs, 0 once it exited (attach ends then)
   */
  public StreamingServer(int port, StreamTarget.Resolver resolver, ToLongFunction<String> pids) throws Exception {
    this("127.0.0.1", port, null, resolver, pids);
  }

  /**
   * Starts on {@code host}:{@code port}; with {@code tls} it serves HTTPS and requires a client
   * certificate the context's trust manager accepts (the agent's ServingTls), else plain HTTP.
   */
  public StreamingServer(String host, int port, javax.net.ssl.SSLContext tls, StreamTarget.Resolver resolver,
      ToLongFunction<String> pids) throws Exception {
    this.resolver = resolver;
    this.pids = pids;
    QueuedThreadPool pool = new QueuedThreadPool(16, 2);
    pool.setName("kubelet-streaming");
    pool.setVirtualThreadsExecutor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
    server = new Server(pool);
    ServerConnector connector;
    if (tls != null) {
      org.eclipse.jetty.util.ssl.SslContextFactory.Server ssl = new org.eclipse.jetty.util.ssl.SslContextFactory.Server();
      ssl.setSslContext(tls);
      ssl.setNeedClientAuth(true);
      connector = new ServerConnector(server, 1, 1, new org.eclipse.jetty.server.SslConnectionFactory(ssl, "http/1.1"),
          new org.eclipse.jetty.server.HttpConnectionFactory());
    } else {
      connector = new ServerConnector(server, 1, 1);
    }
    connector.setHost(host);
    connector.setPort(port);
    connector.setIdleTimeout(IDLE_TIMEOUT.toMillis());
    server.addConnector(connector);
    WebSocketUpgradeHandler ws = WebSocketUpgradeHandler.from(server, container -> {
      container.setIdleTimeout(IDLE_TIMEOUT);
      container.setMaxBinaryMessageSize(4 * 1024 * 1024);
      container.addMapping("/exec/*", (req, resp, cb) -> remoteCommand(req, resp, cb, true));
      container.addMapping("/attach/*", (req, resp, cb) -> remoteCommand(req, resp, cb, false));
      container.addMapping("/portForward/*", this::portForward);
    });
    ws.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, org.eclipse.jetty.util.Callback callback) {
        String upgrade = request.getHeaders().get(org.eclipse.jetty.http.HttpHeader.UPGRADE);
        if (upgrade != null && upgrade.equalsIgnoreCase(SPDY_31)) {
          spdy(request, response, callback);
        } else {
          reject(response, callback, 400, "Upgrade request required");
        }
        return true;
      }
    });
    server.setHandler(ws);
    server.setStopTimeout(1000);
    server.start();
  }

  public int port() {
    return ((ServerConnector) server.getConnectors()[0]).getLocalPort();
  }

  @Override
  public void close() {
    try {
      server.stop();
    } catch (Exception e) {
      log.warn("stopping the streaming server: {}", e.toString());
    }
  }

  private Object remoteCommand(ServerUpgradeRequest req, ServerUpgradeResponse resp,
      org.eclipse.jetty.util.Callback cb, boolean exec) {
    String protocol = req.getSubProtocols().stream().filter(CHANNEL_PROTOCOLS::contains).findFirst().orElse(null);
    if (protocol == null) {
      reject(resp, cb, 400, "unsupported subprotocol(s) " + req.getSubProtocols()
          + "; supported: " + CHANNEL_PROTOCOLS);
      return null;
    }
    RemoteCommandSession.Options opts;
    StreamTarget target;
    try {
      opts = options(req, exec);
      target = target(req, exec ? "/exec/" : "/attach/");
    } catch (StreamTarget.StreamException e) {
      reject(resp, cb, e.status(), e.getMessage());
      return null;
    }
    resp.setAcceptedSubProtocol(protocol);
    String id = target.containerId();
    return new RemoteCommandSession(target, opts, protocol.startsWith("v5"), () -> pids.applyAsLong(id));
  }

  /** The query of an exec or attach (kubelet remotecommand/options.go NewOptions). */
  private static RemoteCommandSession.Options options(Request req, boolean exec) throws StreamTarget.StreamException {
    Fields q = Request.extractQueryParameters(req);
    List<String> command = q.getValues("command");
    if (exec && (command == null || command.isEmpty())) {
      throw new StreamTarget.StreamException(400, "you must specify at least one command for the container");
    }
    boolean tty = flag(q, "tty");
    RemoteCommandSession.Options opts = new RemoteCommandSession.Options(exec ? List.copyOf(command) : null,
        flag(q, "stdin"), flag(q, "stdout"), flag(q, "stderr") && !tty, tty);
    if (!opts.stdin() && !opts.stdout() && !opts.stderr()) {
      throw new StreamTarget.StreamException(400, "you must specify at least 1 of stdin, stdout, stderr");
    }
    return opts;
  }

  /** The running container a request's path names ({@code <prefix><ns>/<pod>[/<container>]}). */
  private StreamTarget target(Request req, String prefix) throws StreamTarget.StreamException {
    String[] parts = path(req, prefix);
    boolean pf = prefix.equals("/portForward/");
    if (pf ? parts.length != 2 : parts.length < 2 || parts.length > 3) {
      throw new StreamTarget.StreamException(400, "expected " + prefix + "<namespace>/<pod>" + (pf ? "" : "/<container>"));
    }
    return resolver.resolve(parts[0], parts[1], parts.length > 2 ? parts[2] : null);
  }

  /**
   * A plain SPDY/3.1 upgrade (apimachinery pkg/util/httpstream/spdy/upgrade.go and
   * httpstream.Handshake): the first of the client's {@code X-Stream-Protocol-Version}s this
   * server speaks is chosen (none offered: v1), 101 names it, and the connection then carries
   * SPDY frames ({@link SpdyRemoteCommand} or {@link PortForwarder}).
   */
  private void spdy(Request req, Response resp, org.eclipse.jetty.util.Callback cb) {
    String path = req.getHttpURI().getPath();
    String prefix = path.startsWith("/exec/") ? "/exec/" : path.startsWith("/attach/") ? "/attach/"
        : path.startsWith("/portForward/") ? "/portForward/" : null;
    if (prefix == null) {
      reject(resp, cb, 404, "not found");
      return;
    }
    boolean pf = prefix.equals("/portForward/");
    List<String> supported = pf ? List.of(PORT_FORWARD_PROTOCOL) : SpdyRemoteCommand.PROTOCOLS;
    List<String> offered = new java.util.ArrayList<>();
    for (String v : req.getHeaders().getValuesList(STREAM_PROTOCOL_HEADER)) {
      for (String p : v.split(",")) {
        if (!p.isBlank()) {
          offered.add(p.trim());
        }
      }
    }
    String protocol = offered.isEmpty() ? supported.getLast()
        : offered.stream().filter(supported::contains).findFirst().orElse(null);
    if (protocol == null) {
      reject(resp, cb, 403, "unable to upgrade: unable to negotiate protocol: client supports " + offered
          + ", server supports " + supported);
      return;
    }
    StreamTarget target;
    RemoteCommandSession.Options opts = null;
    try {
      if (!pf) {
        opts = options(req, prefix.equals("/exec/"));
      }
      target = target(req, prefix);
    } catch (StreamTarget.StreamException e) {
      reject(resp, cb, e.status(), e.getMessage());
      return;
    }
    RemoteCommandSession.Options o = opts;
    String id = target.containerId();
    UpgradedConnection upgraded = new UpgradedConnection(req.getConnectionMetaData().getConnection().getEndPoint(),
        req.getConnectionMetaData().getConnector().getExecutor(), IDLE_TIMEOUT, c -> {
          if (pf) {
            new SpdyConnection(c.input(), c.output()::write).serve(new PortForwarder(target));
            c.closeConnection();
          } else {
            new SpdyRemoteCommand(target, o, protocol, () -> pids.applyAsLong(id), c).serve();
          }
        });
    req.setAttribute(org.eclipse.jetty.server.HttpStream.UPGRADE_CONNECTION_ATTRIBUTE, upgraded);
    resp.setStatus(101);
    resp.getHeaders().put(org.eclipse.jetty.http.HttpHeader.CONNECTION, "Upgrade");
    resp.getHeaders().put(org.eclipse.jetty.http.HttpHeader.UPGRADE, SPDY_31);
    resp.getHeaders().put(STREAM_PROTOCOL_HEADER, protocol);
    cb.succeeded();
  }

  private Object portForward(ServerUpgradeRequest req, ServerUpgradeResponse resp, org.eclipse.jetty.util.Callback cb) {
    StreamTarget target;
    try {
      target = target(req, "/portForward/");
    } catch (StreamTarget.StreamException e) {
      reject(resp, cb, e.status(), e.getMessage());
      return null;
    }
    if (req.hasSubProtocol(PortForwardSession.SPDY_PROTOCOL)) {
      resp.setAcceptedSubProtocol(PortForwardSession.SPDY_PROTOCOL);
      return new PortForwardSession(target);
    }
    if (req.getSubProtocols().isEmpty()) {
      return new PortForwardSession(target); // the API server's hop (its client cannot name this protocol)
    }
    reject(resp, cb, 400, "unsupported subprotocol(s) " + req.getSubProtocols()
        + "; supported: [" + PortForwardSession.SPDY_PROTOCOL + "]");
    return null;
  }

  /** A plain-text error before the upgrade (the API server passes the message on to the client). */
  private static void reject(Response resp, org.eclipse.jetty.util.Callback cb, int status, String message) {
    resp.setStatus(status);
    resp.getHeaders().put(org.eclipse.jetty.http.HttpHeader.CONTENT_TYPE, "text/plain; charset=utf-8");
    org.eclipse.jetty.io.Content.Sink.write(resp, true, message, cb);
  }

  private static String[] path(Request req, String prefix) {
    String p = req.getHttpURI().getPath().substring(prefix.length());
    String[] parts = p.split("/");
    for (int i = 0; i < parts.length; i++) {
      parts[i] = URLDecoder.decode(parts[i], StandardCharsets.UTF_8);
    }
    return parts;
  }

  private static boolean flag(Fields q, String name) {
    String v = q.getValue(name);
    return v != null && (v.equals("1") || v.equalsIgnoreCase("true"));
  }
}
