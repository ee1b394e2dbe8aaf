package dev.skiff.apiserver.nodes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.http.ApiHandler;
import dev.skiff.apiserver.http.Exchange;
import dev.skiff.apiserver.http.RawUpgrade;
import dev.skiff.apiserver.http.RequestInfo;
import dev.skiff.apiserver.http.WebSocketUpgrade;
import dev.skiff.apiserver.registry.ResourceRegistry;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.WebSocket;
import java.net.http.WebSocketHandshakeException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.eclipse.jetty.websocket.api.Callback;
import org.eclipse.jetty.websocket.api.Session;

/**
 * The pods/exec, pods/attach and pods/portforward subresources (pkg/registry/core/pod/rest/
 * subresources.go and pod/strategy.go ExecLocation/AttachLocation/PortForwardLocation): the
 * client's WebSocket ({@code v5.channel.k8s.io}, {@code v4.channel.k8s.io},
 * {@code SPDY/3.1+portforward.k8s.io}) is joined to one the API server opens to the pod's node
 * agent, and binary messages are relayed both ways unchanged, so the agent speaks the
 * protocol (as the kubelet does behind kube-apiserver's UpgradeAwareHandler).
 *
 * <p>The node agent is found like {@link PodLogProxy} finds it ({@link KubeletClient});
 * it redirects to its streaming server, whose answer before the upgrade (404, 400) becomes the
 * client's error. Authorization: besides the request's own verb, a GET (WebSocket) needs
 * {@code create} on the subresource, as kube-apiserver checks since 1.30
 * (AuthorizePodWebsocketUpgradeCreatePermission; done in ApiHandler). Thread-safe.
 */
public final class PodStreamProxy {
  private static final List<String> SUPPORTED = List.of("v5.channel.k8s.io", "v4.channel.k8s.io",
      "SPDY/3.1+portforward.k8s.io");
  private static final String SPDY_31 = "SPDY/3.1";
  private static final String STREAM_PROTOCOL = "X-Stream-Protocol-Version";
  private static final List<String> EXEC_PARAMS = List.of("command", "stdin", "stdout", "stderr", "tty");

  private PodStreamProxy() {}

  public static void install(ApiHandler handler, ResourceRegistry registry, KubeletClient kubelet) {
    handler.addVirtual("", "v1", "pods/exec", (ex, info) -> serve(ex, info, registry, kubelet, "exec"));
    handler.addVirtual("", "v1", "pods/attach", (ex, info) -> serve(ex, info, registry, kubelet, "attach"));
    handler.addVirtual("", "v1", "pods/portforward", (ex, info) -> serve(ex, info, registry, kubelet, "portForward"));
  }

  private static void serve(Exchange ex, RequestInfo info, ResourceRegistry registry, KubeletClient kubelet,
      String kind) throws Exception {
    if (!ex.method().equals("GET") && !ex.method().equals("POST")) {
      throw ApiException.methodNotAllowed("the server does not allow this method on the requested resource");
    }
    ObjectNode pod = registry.storeForKind("", "Pod").getObject(info.namespace(), info.name());
    StringBuilder url = new StringBuilder("/").append(kind).append('/').append(enc(info.namespace())).append('/')
        .append(enc(info.name()));
    if (!kind.equals("portForward")) {
      url.append('/').append(enc(container(pod, ex.param("container"), info.name())));
      char sep = '?';
      for (String p : EXEC_PARAMS) {
        for (String v : ex.params(p)) {
          url.append(sep).append(p).append('=').append(enc(v));
          sep = '&';
        }
      }
    }
    String nodeName = pod.path("spec").path("nodeName").asText("");
    if (nodeName.isEmpty()) {
      throw ApiException.badRequest("pod " + info.name() + " does not have a host assigned");
    }
    ObjectNode node = registry.storeForKind("", "Node").getObject(null, nodeName);
    String base = kubelet.baseUrl(node);
    if (RawUpgrade.requested(ex, SPDY_31)) {
      spdy(ex, kubelet, base + url, nodeName);
      return;
    }
    if (!WebSocketUpgrade.requested(ex)) {
      throw ApiException.badRequest("Upgrade request required");
    }
    List<String> offered = protocols(ex.header("Sec-WebSocket-Protocol"));
    String protocol = offered.stream().filter(SUPPORTED::contains).findFirst().orElse(null);
    if (protocol == null || protocol.startsWith("SPDY") != kind.equals("portForward")) {
      throw ApiException.badRequest("unsupported subprotocol(s) " + offered + " for " + kind);
    }
    String location = streamingLocation(kubelet, base + url, nodeName);
    // The client is upgraded first and the agent dialed without blocking this thread; the agent
    // accepts exactly the protocol chosen here. A failure after the upgrade is reported in-band.
    CompletableFuture<WebSocket> agent = new CompletableFuture<>();
    Relay relay = new Relay(agent, !kind.equals("portForward"));
    WebSocket.Builder builder = kubelet.http().newWebSocketBuilder().connectTimeout(Duration.ofSeconds(5));
    if (!protocol.startsWith("SPDY")) {
      // The JDK client refuses "SPDY/3.1+portforward.k8s.io" ('/' is not a token character):
      // the agent's portForward endpoint speaks only that protocol and takes an upgrade without one.
      builder.subprotocols(protocol);
    }
    builder.buildAsync(URI.create(location), relay).whenComplete((ws, err) -> {
          if (err != null) {
            agent.completeExceptionally(err instanceof java.util.concurrent.CompletionException c && c.getCause() != null
                ? c.getCause() : err);
          } else {
            agent.complete(ws);
          }
        });
    WebSocketUpgrade.upgrade(ex, protocol, new ClientSide(relay));
  }

  /**
   * Plain SPDY/3.1 (kubectl up to 1.29 for exec and attach, up to 1.30 for port-forward): the
   * upgrade request goes to the agent's streaming server as it came (method, path, the offered
   * {@code X-Stream-Protocol-Version}s); its 101 is passed back with the chosen version and the
   * two connections are joined as raw bytes - the agent speaks SPDY. Any other answer is the
   * client's error, with the agent's message.
   */
  private static void spdy(Exchange ex, KubeletClient kubelet, String url, String nodeName) throws Exception {
    URI location = URI.create(streamingLocation(kubelet, url, nodeName));
    Socket backend;
    try {
      backend = kubelet.connect(location);
    } catch (java.io.IOException e) {
      throw ApiException.internal("dialing the node agent of " + nodeName + ": " + e.getMessage());
    }
    try {
      StringBuilder req = new StringBuilder(ex.method()).append(' ').append(location.getRawPath())
          .append(location.getRawQuery() == null ? "" : "?" + location.getRawQuery()).append(" HTTP/1.1\r\n")
          .append("Host: ").append(location.getHost()).append(':').append(location.getPort()).append("\r\n")
          .append("Connection: Upgrade\r\nUpgrade: ").append(SPDY_31).append("\r\nContent-Length: 0\r\n");
      for (String v : ex.headers(STREAM_PROTOCOL)) {
        req.append(STREAM_PROTOCOL).append(": ").append(v).append("\r\n");
      }
      req.append("\r\n");
      OutputStream out = backend.getOutputStream();
      out.write(req.toString().getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = backend.getInputStream();
      String head = readHead(in);
      String[] lines = head.split("\r\n");
      String[] statusLine = lines[0].split(" ", 3);
      int status = Integer.parseInt(statusLine[1]);
      java.util.Map<String, String> headers = new java.util.TreeMap<>(String.CASE_INSENSITIVE_ORDER);
      for (int i = 1; i < lines.length; i++) {
        int c = lines[i].indexOf(':');
        if (c > 0) {
          headers.put(lines[i].substring(0, c).trim(), lines[i].substring(c + 1).trim());
        }
      }
      if (status != 101) {
        int len = Integer.parseInt(headers.getOrDefault("Content-Length", "0"));
        String msg = new String(in.readNBytes(Math.min(len, 64 * 1024)), StandardCharsets.UTF_8).trim();
        backend.close();
        throw new ApiException(status, status == 404 ? "NotFound" : status == 403 ? "Forbidden" : "BadRequest",
            msg.isEmpty() ? "the node agent refused the stream (" + status + ")" : msg, null);
      }
      java.util.Map<String, String> answer = new java.util.LinkedHashMap<>();
      answer.put("Connection", "Upgrade");
      answer.put("Upgrade", SPDY_31);
      if (headers.containsKey(STREAM_PROTOCOL)) {
        answer.put(STREAM_PROTOCOL, headers.get(STREAM_PROTOCOL));
      }
      RawUpgrade.relay(ex, answer, backend);
    } catch (java.io.IOException | RuntimeException e) {
      backend.close();
      if (e instanceof ApiException a) {
        throw a;
      }
      throw ApiException.internal("dialing the node agent of " + nodeName + ": " + e.getMessage());
    }
  }

  /** An HTTP response head, up to and without the empty line. */
  private static String readHead(InputStream in) throws java.io.IOException {
    java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream();
    int last4 = 0;
    while (last4 != 0x0d0a0d0a) {
      int c = in.read();
      if (c < 0) {
        throw new java.io.EOFException("the node agent closed the connection");
      }
      b.write(c);
      last4 = (last4 << 8) | c;
      if (b.size() > 64 * 1024) {
        throw new java.io.IOException("response head too large");
      }
    }
    return b.toString(StandardCharsets.ISO_8859_1).trim();
  }

  /** The agent answers its kubelet port with a redirect to its streaming server. */
  private static String streamingLocation(KubeletClient kubelet, String url, String nodeName) throws Exception {
    HttpResponse<String> resp;
    try {
      resp = kubelet.http().send(HttpRequest.newBuilder(URI.create(url)).GET().build(), HttpResponse.BodyHandlers.ofString());
    } catch (java.io.IOException e) {
      throw ApiException.internal("dialing the node agent of " + nodeName + ": " + e.getMessage());
    }
    if (resp.statusCode() / 100 == 3 && resp.headers().firstValue("Location").isPresent()) {
      return resp.headers().firstValue("Location").get();
    }
    throw ApiException.internal("node agent of " + nodeName + " does not stream (" + resp.statusCode() + ")");
  }

  /** Why the agent refused, from its handshake answer. */
  static String refusal(Throwable err) {
    if (err instanceof WebSocketHandshakeException h) {
      Object body = h.getResponse().body();
      String msg = body instanceof byte[] b ? new String(b, StandardCharsets.UTF_8).trim()
          : body == null ? "" : body.toString().trim();
      return msg.isEmpty() ? "the node agent refused the stream (" + h.getResponse().statusCode() + ")" : msg;
    }
    return "connecting to the node agent: " + err;
  }

  /**
   * Relays binary messages between the client (Jetty session) and the agent (JDK WebSocket),
   * one message in flight per direction: the agent's next message is requested only once the
   * previous one was written to the client, and the client's messages go to the agent in order,
   * each acknowledged to Jetty once the agent side has taken it.
   */
  private static final class Relay implements WebSocket.Listener {
    final CompletableFuture<WebSocket> agent;
    final boolean channels;
    volatile Session client;
    CompletableFuture<?> toAgent;

    Relay(CompletableFuture<WebSocket> agent, boolean channels) {
      this.agent = agent;
      this.channels = channels;
      this.toAgent = agent;
    }

    @Override
    public void onOpen(WebSocket webSocket) {
      // no request(1) yet: messages flow once the client's session is open
    }

    @Override
    public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
      Session s = client;
      ByteBuffer copy = ByteBuffer.allocate(data.remaining()).put(data).flip();
      CompletableFuture<Void> done = new CompletableFuture<>();
      s.sendPartialBinary(copy, last, Callback.from(() -> {
        done.complete(null);
        ws.request(1);
      }, err -> {
        done.completeExceptionally(err);
        ws.abort();
      }));
      return done;
    }

    @Override
    public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
      ws.request(1); // the protocols here are binary; nothing to relay
      return null;
    }

    @Override
    public CompletionStage<?> onClose(WebSocket ws, int statusCode, String reason) {
      Session s = client;
      if (s != null && s.isOpen()) {
        s.close(statusCode, reason, Callback.NOOP);
      }
      return null;
    }

    @Override
    public void onError(WebSocket ws, Throwable error) {
      Session s = client;
      if (s != null && s.isOpen()) {
        s.close(1011, "node agent connection failed", Callback.NOOP);
      }
    }
  }

  /** The client's session (public: Jetty invokes listeners through method handles). */
  public static final class ClientSide implements Session.Listener.AutoDemanding {
    private final Relay relay;

    ClientSide(Relay relay) {
      this.relay = relay;
    }

    @Override
    public void onWebSocketOpen(Session session) {
      relay.client = session;
      relay.agent.whenComplete((ws, err) -> {
        if (err == null) {
          ws.request(1);
          return;
        }
        if (relay.channels) {
          // remotecommand: the error channel (3) carries a Status, then a normal close
          byte[] status = ("{\"metadata\":{},\"status\":\"Failure\",\"message\":\""
              + refusal(err).replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", " ")
              + "\",\"reason\":\"InternalError\",\"code\":500}").getBytes(StandardCharsets.UTF_8);
          ByteBuffer msg = ByteBuffer.allocate(status.length + 1).put((byte) 3).put(status).flip();
          session.sendBinary(msg, Callback.from(() -> session.close(1000, "", Callback.NOOP),
              e -> session.close(1011, "", Callback.NOOP)));
        } else {
          session.close(1011, refusal(err), Callback.NOOP);
        }
      });
    }

    @Override
    public void onWebSocketBinary(ByteBuffer payload, Callback callback) {
      ByteBuffer copy = ByteBuffer.allocate(payload.remaining()).put(payload).flip();
      synchronized (relay) {
        relay.toAgent = relay.toAgent.thenCompose(v -> relay.agent.join().sendBinary(copy, true))
            .whenComplete((v, err) -> {
              if (err == null) {
                callback.succeed();
              } else {
                callback.fail(err);
              }
            });
      }
    }

    @Override
    public void onWebSocketClose(int statusCode, String reason) {
      synchronized (relay) {
        relay.toAgent = relay.toAgent.handle((v, e) -> null).thenCompose(v -> {
          WebSocket ws = relay.agent.getNow(null);
          if (ws != null && !ws.isOutputClosed()) {
            return ws.sendClose(WebSocket.NORMAL_CLOSURE, "").whenComplete((w, e) -> ws.abort());
          }
          return CompletableFuture.completedFuture(null);
        });
      }
    }

    @Override
    public void onWebSocketError(Throwable cause) {
      WebSocket ws = relay.agent.getNow(null);
      if (ws != null) {
        ws.abort();
      }
    }
  }

  private static String container(ObjectNode pod, String container, String podName) {
    JsonNode containers = pod.path("spec").path("containers");
    if (container == null || container.isEmpty()) {
      if (containers.size() != 1 && containers.size() > 0) {
        StringBuilder names = new StringBuilder();
        containers.forEach(c -> names.append(names.isEmpty() ? "" : " ").append(c.path("name").asText()));
        throw ApiException.badRequest("a container name must be specified for pod " + podName
            + ", choose one of: [" + names + "]");
      }
      return containers.path(0).path("name").asText();
    }
    for (String list : List.of("containers", "initContainers", "ephemeralContainers")) {
      for (JsonNode c : pod.path("spec").path(list)) {
        if (container.equals(c.path("name").asText())) {
          return container;
        }
      }
    }
    throw ApiException.badRequest("container " + container + " is not valid for pod " + podName);
  }

  private static List<String> protocols(String header) {
    List<String> out = new ArrayList<>();
    if (header != null) {
      for (String p : header.split(",")) {
        if (!p.isBlank()) {
          out.add(p.trim());
        }
      }
    }
    return out;
  }

  /** Jetty's error pages are HTML; keep the message. */
  private static String stripHtml(String s) {
    int i = s.indexOf("<th>MESSAGE:</th><td>");
    if (i >= 0) {
      int start = i + "<th>MESSAGE:</th><td>".length();
      int end = s.indexOf("</td>", start);
      return s.substring(start, end < 0 ? s.length() : end).replace("&quot;", "\"").replace("&amp;", "&");
    }
    return s;
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }
}
