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
 * {@code pods/portforward} to. Plain HTTP on 127.0.0.1 for now (mutual TLS is later).
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

  private final Server server;
  private final StreamTarget.Resolver resolver;
  private final ToLongFunction<String> pids;

  /**
   * Starts on 127.0.0.1:{@code port} (0: any free port).
   *
   * @param pids a container's shim pid by id while it runs, 0 once it exited (attach ends then)
   */
  public StreamingServer(int port, StreamTarget.Resolver resolver, ToLongFunction<String> pids) throws Exception {
    this.resolver = resolver;
    this.pids = pids;
    QueuedThreadPool pool = new QueuedThreadPool(16, 2);
    pool.setName("kubelet-streaming");
    pool.setVirtualThreadsExecutor(java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor());
    server = new Server(pool);
    ServerConnector connector = new ServerConnector(server, 1, 1);
    connector.setHost("127.0.0.1");
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
        reject(response, callback, 400, "Upgrade request required");
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
    String[] parts = path(req, exec ? "/exec/" : "/attach/");
    if (parts.length < 2 || parts.length > 3) {
      reject(resp, cb, 400, "expected /" + (exec ? "exec" : "attach") + "/<namespace>/<pod>/<container>");
      return null;
    }
    String protocol = req.getSubProtocols().stream().filter(CHANNEL_PROTOCOLS::contains).findFirst().orElse(null);
    if (protocol == null) {
      reject(resp, cb, 400, "unsupported subprotocol(s) " + req.getSubProtocols()
          + "; supported: " + CHANNEL_PROTOCOLS);
      return null;
    }
    Fields q = Request.extractQueryParameters(req);
    List<String> command = q.getValues("command");
    if (exec && (command == null || command.isEmpty())) {
      reject(resp, cb, 400, "you must specify at least one command for the container");
      return null;
    }
    boolean tty = flag(q, "tty");
    RemoteCommandSession.Options opts = new RemoteCommandSession.Options(exec ? List.copyOf(command) : null,
        flag(q, "stdin"), flag(q, "stdout"), flag(q, "stderr") && !tty, tty);
    if (!opts.stdin() && !opts.stdout() && !opts.stderr()) {
      reject(resp, cb, 400, "you must specify at least 1 of stdin, stdout, stderr");
      return null;
    }
    StreamTarget target;
    try {
      target = resolver.resolve(parts[0], parts[1], parts.length > 2 ? parts[2] : null);
    } catch (StreamTarget.StreamException e) {
      reject(resp, cb, e.status(), e.getMessage());
      return null;
    }
    resp.setAcceptedSubProtocol(protocol);
    String id = target.containerId();
    return new RemoteCommandSession(target, opts, protocol.startsWith("v5"), () -> pids.applyAsLong(id));
  }

  private Object portForward(ServerUpgradeRequest req, ServerUpgradeResponse resp, org.eclipse.jetty.util.Callback cb) {
    String[] parts = path(req, "/portForward/");
    if (parts.length != 2) {
      reject(resp, cb, 400, "expected /portForward/<namespace>/<pod>");
      return null;
    }
    StreamTarget target;
    try {
      target = resolver.resolve(parts[0], parts[1], null);
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

  private static String[] path(ServerUpgradeRequest req, String prefix) {
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
