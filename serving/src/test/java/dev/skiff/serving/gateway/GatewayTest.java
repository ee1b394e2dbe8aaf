package dev.skiff.serving.gateway;

import static dev.skiff.serving.gateway.ServingFixture.traffic;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.ConfigMap;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.StringRequestContent;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.http2.client.HTTP2Client;
import org.eclipse.jetty.http2.client.transport.HttpClientTransportOverHTTP2;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The gateway against a real API server, with local HTTP apps registered as Ready pods. */
class GatewayTest {
  static ServingFixture fx;
  static HttpClient http;
  static final List<AutoCloseable> apps = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    fx = new ServingFixture();
    http = new HttpClient();
    http.setFollowRedirects(false);
    http.start();
  }

  @AfterAll
  static void stop() throws Exception {
    for (AutoCloseable a : apps) {
      a.close();
    }
    http.stop();
    fx.close();
  }

  static TestApp app(String name) throws Exception {
    TestApp a = new TestApp(name);
    apps.add(a);
    return a;
  }

  static ContentResponse get(String host, String path) throws Exception {
    return http.newRequest("127.0.0.1", fx.port()).path(path).headers(h -> h.put(HttpHeader.HOST, host))
        .timeout(30, TimeUnit.SECONDS).send();
  }

  /** A revision with one Ready pod served by {@code app}, routed 100% by a Route {@code route}. */
  static void serve(String route, String revision, TestApp a, int cc, int timeout) throws Exception {
    fx.revision(revision, cc, timeout, Map.of());
    fx.pod(revision + "-pod", revision, a.port(), "user-port", true);
    fx.route(route, "http://" + route + ".default.localhost", List.of(traffic(revision, 100, null, null)));
  }

  static void awaitServed(String host) throws Exception {
    assertThat(ServingFixture.until(Duration.ofSeconds(10), () -> {
      try {
        return get(host, "/").getStatus() == 200;
      } catch (Exception e) {
        return false;
      }
    })).as("host %s served", host).isTrue();
  }

  @Test
  void recordsItsPortInConfigNetwork() {
    ConfigMap cm = fx.client.configMaps().inNamespace("knative-serving").withName("config-network").get();
    assertThat(cm.getMetadata().getAnnotations()).containsEntry("skiff.dev/gateway-http-port", Integer.toString(fx.port()));
    assertThat(cm.getData()).containsEntry("skiff.dev.gateway-http-port", Integer.toString(fx.port()));
  }

  @Test
  void routesByHostAndAnswers404ForUnknownHosts() throws Exception {
    TestApp a = app("hello-app");
    serve("hello", "hello-00001", a, 0, 300);
    awaitServed("hello.default.localhost");
    assertThat(get("hello.default.localhost:" + fx.port(), "/").getContentAsString()).isEqualTo("hello-app");
    assertThat(get("hello.default.svc.cluster.local", "/").getContentAsString()).isEqualTo("hello-app");
    assertThat(get("hello.default.svc", "/").getContentAsString()).isEqualTo("hello-app");
    assertThat(get("hello.default", "/").getContentAsString()).isEqualTo("hello-app");
    assertThat(get("HELLO.default.localhost.", "/").getStatus()).isEqualTo(200);
    ContentResponse unknown = get("nope.default.localhost", "/");
    assertThat(unknown.getStatus()).isEqualTo(404);
    // POST bodies stream through.
    ContentResponse echo = http.newRequest("127.0.0.1", fx.port()).method(HttpMethod.POST).path("/echo")
        .headers(h -> h.put(HttpHeader.HOST, "hello.default.localhost"))
        .body(new StringRequestContent("text/plain", "x".repeat(100_000))).timeout(30, TimeUnit.SECONDS).send();
    assertThat(echo.getContentAsString()).hasSize(100_000);
  }

  @Test
  void splitsFiftyFiftyAndTagHostsHitOnlyTheirRevision() throws Exception {
    TestApp blue = app("blue");
    TestApp green = app("green");
    fx.revision("split-00001", 0, 300, Map.of());
    fx.revision("split-00002", 0, 300, Map.of());
    fx.pod("split-1-pod", "split-00001", blue.port(), "user-port", true);
    fx.pod("split-2-pod", "split-00002", green.port(), "user-port", true);
    fx.route("split", "http://split.default.localhost", List.of(
        traffic("split-00001", 50, "blue", "http://blue-split.default.localhost"),
        traffic("split-00002", 50, "green", "http://green-split.default.localhost")));
    awaitServed("split.default.localhost");
    awaitServed("green-split.default.localhost");
    Map<String, Integer> counts = new HashMap<>();
    for (int i = 0; i < 1000; i++) {
      counts.merge(get("split.default.localhost", "/").getContentAsString(), 1, Integer::sum);
    }
    assertThat(counts.get("blue")).isBetween(450, 550);
    assertThat(counts.get("green")).isBetween(450, 550);
    for (int i = 0; i < 50; i++) {
      assertThat(get("blue-split.default.localhost", "/").getContentAsString()).isEqualTo("blue");
      assertThat(get("green-split.default.localhost", "/").getContentAsString()).isEqualTo("green");
      assertThat(get("green-split.default.svc.cluster.local", "/").getContentAsString()).isEqualTo("green");
    }
  }

  @Test
  void forwardsForwardedHeadersAndDropsHopByHopOnes() throws Exception {
    TestApp a = app("hdr");
    serve("hdr", "hdr-00001", a, 0, 300);
    awaitServed("hdr.default.localhost");
    ContentResponse r = http.newRequest("127.0.0.1", fx.port()).path("/headers")
        .headers(h -> {
          h.put(HttpHeader.HOST, "hdr.default.localhost");
          h.put("X-Custom", "kept");
          h.put("X-Secret-Hop", "dropped");
          h.put(HttpHeader.CONNECTION, "keep-alive, X-Secret-Hop");
          h.put("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
        })
        .timeout(30, TimeUnit.SECONDS).send();
    String headers = r.getContentAsString();
    assertThat(headers).contains("host: hdr.default.localhost\n", "x-custom: kept\n",
        "x-forwarded-for: 127.0.0.1\n", "x-forwarded-proto: http\n", "x-forwarded-host: hdr.default.localhost\n",
        "forwarded: for=127.0.0.1;host=hdr.default.localhost;proto=http\n", "x-request-id: ",
        "traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\n");
    assertThat(headers).doesNotContain("x-secret-hop");
    // The app's hop-by-hop response header does not reach the client; its own headers do.
    assertThat(r.getHeaders().get("Keep-Alive")).isNull();
    assertThat(r.getHeaders().get("X-App")).isEqualTo("hdr");
    // An existing X-Forwarded-For is appended to.
    String chained = http.newRequest("127.0.0.1", fx.port()).path("/headers")
        .headers(h -> {
          h.put(HttpHeader.HOST, "hdr.default.localhost");
          h.put(HttpHeader.X_FORWARDED_FOR, "203.0.113.7");
        }).timeout(30, TimeUnit.SECONDS).send().getContentAsString();
    assertThat(chained).contains("x-forwarded-for: 203.0.113.7, 127.0.0.1\n");
  }

  @Test
  void containerConcurrencyOneQueuesParallelRequests() throws Exception {
    TestApp a = app("single");
    serve("single", "single-00001", a, 1, 300);
    awaitServed("single.default.localhost");
    a.maxInFlight.set(0);
    List<CompletableFuture<ContentResponse>> all = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      all.add(CompletableFuture.supplyAsync(() -> {
        try {
          return get("single.default.localhost", "/?sleep=200");
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      }));
    }
    for (CompletableFuture<ContentResponse> f : all) {
      assertThat(f.get(30, TimeUnit.SECONDS).getStatus()).isEqualTo(200);
    }
    assertThat(a.maxInFlight.get()).isEqualTo(1);
  }

  @Test
  void answers504WhenTheResponseDoesNotStartWithinTimeoutSeconds() throws Exception {
    TestApp a = app("slow");
    serve("slow", "slow-00001", a, 0, 1);
    awaitServed("slow.default.localhost");
    assertThat(get("slow.default.localhost", "/?sleep=3000").getStatus()).isEqualTo(504);
    assertThat(get("slow.default.localhost", "/?sleep=100").getStatus()).isEqualTo(200);
  }

  @Test
  void passesWebSocketUpgradesThrough() throws Exception {
    TestApp.WebSocketEcho ws = new TestApp.WebSocketEcho();
    apps.add(ws);
    fx.revision("ws-00001", 0, 300, Map.of());
    fx.pod("ws-pod", "ws-00001", ws.port(), "user-port", true);
    fx.route("ws", "http://ws.default.localhost", List.of(traffic("ws-00001", 100, null, null)));
    String status = "";
    for (int attempt = 0; attempt < 100 && !status.contains(" 101 "); attempt++) {
      try (Socket s = new Socket("127.0.0.1", fx.port())) {
        s.setSoTimeout(10_000);
        OutputStream out = s.getOutputStream();
        out.write(("GET /chat HTTP/1.1\r\nHost: ws.default.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        InputStream in = s.getInputStream();
        String head = TestApp.WebSocketEcho.readHead(in);
        status = head.split("\r\n")[0];
        if (!status.contains(" 101 ")) {
          Thread.sleep(50);
          continue;
        }
        assertThat(head).containsIgnoringCase("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        for (String msg : List.of("hello", "world")) {
          byte[] payload = msg.getBytes(StandardCharsets.UTF_8);
          byte[] mask = {1, 2, 3, 4};
          out.write(new byte[] {(byte) 0x81, (byte) (0x80 | payload.length)});
          out.write(mask);
          for (int i = 0; i < payload.length; i++) {
            out.write(payload[i] ^ mask[i % 4]);
          }
          out.flush();
          assertThat(in.read()).isEqualTo(0x81);
          int len = in.read();
          assertThat(new String(in.readNBytes(len), StandardCharsets.UTF_8)).isEqualTo("echo: " + msg);
        }
      }
    }
    assertThat(status).contains(" 101 ");
  }

  @Test
  void speaksH2cToClientsAndToH2cApps() throws Exception {
    // An h2c app: Jetty with only the HTTP/2 cleartext connection factory (prior knowledge).
    Server app = new Server();
    ServerConnector c = new ServerConnector(app, new HTTP2CServerConnectionFactory(new HttpConfiguration()));
    c.setHost("127.0.0.1");
    app.addConnector(c);
    app.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(org.eclipse.jetty.server.Request req, org.eclipse.jetty.server.Response resp, Callback cb) {
        resp.write(true, StandardCharsets.UTF_8.encode("app saw " + req.getConnectionMetaData().getProtocol()), cb);
        return true;
      }
    });
    app.start();
    apps.add(app::stop);
    fx.revision("grpc-00001", 0, 300, Map.of());
    fx.pod("grpc-pod", "grpc-00001", c.getLocalPort(), "h2c", true);
    fx.route("grpc", "http://grpc.default.localhost", List.of(traffic("grpc-00001", 100, null, null)));
    awaitServed("grpc.default.localhost");
    // HTTP/1.1 client -> gateway -> HTTP/2 app.
    assertThat(get("grpc.default.localhost", "/").getContentAsString()).isEqualTo("app saw HTTP/2.0");
    // h2c prior-knowledge client -> gateway.
    HttpClient h2 = new HttpClient(new HttpClientTransportOverHTTP2(new HTTP2Client()));
    h2.start();
    try {
      ContentResponse r = h2.newRequest("127.0.0.1", fx.port()).path("/").headers(h -> h.put(HttpHeader.HOST, "grpc.default.localhost"))
          .timeout(30, TimeUnit.SECONDS).send();
      assertThat(r.getVersion()).isEqualTo(HttpVersion.HTTP_2);
      assertThat(r.getContentAsString()).isEqualTo("app saw HTTP/2.0");
    } finally {
      h2.stop();
    }
    // h2c via Upgrade (RFC 7540 §3.2) from a raw HTTP/1.1 request.
    try (Socket s = new Socket("127.0.0.1", fx.port())) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(("GET / HTTP/1.1\r\nHost: grpc.default.localhost\r\nConnection: Upgrade, HTTP2-Settings\r\n"
          + "Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      String head = TestApp.WebSocketEcho.readHead(s.getInputStream());
      assertThat(head).startsWith("HTTP/1.1 101").containsIgnoringCase("upgrade: h2c");
    }
  }

  @Test
  void holdsRequestsAtZeroAsksForAPodAtOnceAndReleasesThemWhenItTurnsReady() throws Exception {
    TestApp a = app("cold");
    fx.revision("cold-00001", 0, 300, Map.of());
    fx.deployment("cold-00001", 0);
    io.fabric8.kubernetes.api.model.Pod pod = fx.pod("cold-pod", "cold-00001", a.port(), "user-port", false);
    fx.route("cold", "http://cold.default.localhost", List.of(traffic("cold-00001", 100, null, null)));
    assertThat(ServingFixture.until(Duration.ofSeconds(10), () -> fx.gateway.view().lookup("cold.default.localhost") != null)).isTrue();
    List<CompletableFuture<ContentResponse>> held = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      held.add(CompletableFuture.supplyAsync(() -> {
        try {
          return get("cold.default.localhost", "/");
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      }));
    }
    // The activator asks for a pod: the Deployment goes 0 -> 1 without waiting for a request to finish.
    assertThat(ServingFixture.until(Duration.ofSeconds(10), () -> fx.replicas("cold-00001") == 1)).isTrue();
    Thread.sleep(300);
    assertThat(held).noneMatch(CompletableFuture::isDone);
    assertThat(a.requests.get()).isZero();
    fx.setReady(pod, true);
    for (CompletableFuture<ContentResponse> f : held) {
      ContentResponse r = f.get(30, TimeUnit.SECONDS);
      assertThat(r.getStatus()).isEqualTo(200);
      assertThat(r.getContentAsString()).isEqualTo("cold");
    }
    assertThat(a.requests.get()).as("each held request forwarded exactly once").isEqualTo(3);
    assertThat(ServingFixture.until(Duration.ofSeconds(10), () -> !revisionEvents("cold-00001").isEmpty())).isTrue();
    assertThat(revisionEvents("cold-00001")).anySatisfy(e -> {
      assertThat(e.getReason()).isEqualTo("ScaledUp");
      assertThat(e.getInvolvedObject().getKind()).isEqualTo("Revision");
      assertThat(e.getMessage()).contains("desired scale 1");
    });
  }

  static List<io.fabric8.kubernetes.api.model.Event> revisionEvents(String revision) {
    return fx.client.v1().events().inNamespace("default").list().getItems().stream()
        .filter(e -> revision.equals(e.getInvolvedObject().getName())).toList();
  }
}
