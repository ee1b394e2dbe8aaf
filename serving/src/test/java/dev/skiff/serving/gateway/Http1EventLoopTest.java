package dev.skiff.serving.gateway;

import static dev.skiff.serving.gateway.ServingFixture.traffic;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The gateway's event loop ({@link Http1EventLoop}) against real pod-like apps on loopback: what
 * it serves itself (keep-alive, pipelined requests, small bodies, 504 at the revision's
 * timeoutSeconds) and each hand-over to the thread path (request bodies to stream, large and
 * chunked responses, Expect, WebSocket upgrades, containerConcurrency queueing, unknown hosts),
 * after which the connection comes back to the loop. Raw sockets, so that one connection is
 * seen to carry every step. The loop's counters tell which path served a request.
 */
class Http1EventLoopTest {
  static ServingFixture fx;
  static final List<AutoCloseable> apps = new ArrayList<>();
  static TestApp app;
  static TestApp slow;
  static TestApp single;

  @BeforeAll
  static void start() throws Exception {
    fx = new ServingFixture(Map.of(), Map.of("gateway.frontend", "loop"));
    app = serve("loop", new TestApp("loop-app"), 0, 300);
    slow = serve("slowloop", new TestApp("slow-app"), 0, 1);
    single = serve("singleloop", new TestApp("single-app"), 1, 300);
    TestApp.WebSocketEcho ws = new TestApp.WebSocketEcho();
    apps.add(ws);
    fx.revision("wsloop-00001", 0, 300, Map.of());
    fx.pod("wsloop-00001-pod", "wsloop-00001", ws.port(), "user-port", true);
    fx.route("wsloop", "http://wsloop.default.localhost", List.of(traffic("wsloop-00001", 100, null, null)));
    for (String host : List.of("loop", "slowloop", "singleloop")) {
      assertThat(ServingFixture.until(Duration.ofSeconds(10), () -> {
        try (Client c = new Client()) {
          return c.get(host + ".default.localhost", "/").status() == 200;
        } catch (IOException e) {
          return false;
        }
      })).as("%s served", host).isTrue();
    }
  }

  static TestApp serve(String route, TestApp a, int cc, int timeout) throws Exception {
    apps.add(a);
    String revision = route + "-00001";
    fx.revision(revision, cc, timeout, Map.of());
    fx.pod(revision + "-pod", revision, a.port(), "user-port", true);
    fx.route(route, "http://" + route + ".default.localhost", List.of(traffic(revision, 100, null, null)));
    return a;
  }

  @AfterAll
  static void stop() throws Exception {
    for (AutoCloseable a : apps) {
      a.close();
    }
    fx.close();
  }

  /** {served by the loop, handed to threads} so far. */
  static long[] counts() {
    Http1Server front = fx.gateway.front();
    Assumptions.assumeTrue(front != null && front.loopCounts()[0] + front.loopCounts()[1] > 0,
        "the event loop front end is in use");
    return front.loopCounts();
  }

  /** One client connection with raw requests. */
  static final class Client implements AutoCloseable {
    final Socket s;
    final InputStream in;
    final OutputStream out;

    Client() throws IOException {
      s = new Socket("127.0.0.1", fx.port());
      s.setSoTimeout(15_000);
      in = s.getInputStream();
      out = s.getOutputStream();
    }

    void send(String raw) throws IOException {
      out.write(raw.getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
    }

    Http1ServerTest.Resp read() throws IOException {
      return Http1ServerTest.read(in, false);
    }

    Http1ServerTest.Resp get(String host, String path) throws IOException {
      send("GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n");
      return read();
    }

    /** True when the server closed the connection (nothing more to read). */
    boolean closedByServer() throws IOException {
      return in.read() < 0;
    }

    @Override
    public void close() throws IOException {
      s.close();
    }
  }

  @Test
  void servesKeepAliveAndPipelinedRequestsItselfWithTheForwardingHeaders() throws Exception {
    long[] before = counts();
    try (Client c = new Client()) {
      c.send("GET /headers HTTP/1.1\r\nHost: loop.default.localhost\r\nConnection: x-hop\r\nX-Hop: 1\r\nTE: trailers\r\n"
          + "X-Forwarded-For: 10.1.2.3\r\ntraceparent: 00-abc-def-01\r\n\r\n"
          + "GET / HTTP/1.1\r\nHost: loop.default.localhost\r\n\r\n"
          + "GET /?size=3 HTTP/1.1\r\nHost: LOOP.default.localhost.:8080\r\nX-Request-Id: mine\r\n\r\n");
      Http1ServerTest.Resp first = c.read();
      assertThat(first.status()).isEqualTo(200);
      assertThat(first.body())
          .contains("x-forwarded-for: 10.1.2.3, 127.0.0.1")
          .contains("x-forwarded-proto: http")
          .contains("x-forwarded-host: loop.default.localhost")
          .contains("forwarded: for=127.0.0.1;host=loop.default.localhost;proto=http")
          .contains("traceparent: 00-abc-def-01")
          .containsPattern("x-request-id: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
          .doesNotContain("x-hop").doesNotContain("te: trailers");
      assertThat(first.header("keep-alive")).as("hop-by-hop response header dropped").isNull();
      assertThat(first.header("x-app")).isEqualTo("loop-app");
      Http1ServerTest.Resp second = c.read();
      assertThat(second.status()).isEqualTo(200);
      assertThat(second.body()).isEqualTo("loop-app");
      Http1ServerTest.Resp third = c.read();
      assertThat(third.body()).isEqualTo("xxx");
      // Later requests on the same connection: keep-alive, the pod connection pooled.
      for (int i = 0; i < 5; i++) {
        assertThat(c.get("loop.default.localhost", "/").body()).isEqualTo("loop-app");
      }
    }
    long[] after = counts();
    assertThat(after[0] - before[0]).as("served by the loop").isGreaterThanOrEqualTo(8);
    assertThat(after[1] - before[1]).as("handed over").isZero();
  }

  @Test
  void forwardsASmallBufferedBodyItself() throws Exception {
    long[] before = counts();
    try (Client c = new Client()) {
      c.send("POST /echo HTTP/1.1\r\nHost: loop.default.localhost\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n\r\nhello world");
      assertThat(c.read().body()).isEqualTo("hello world");
      c.send("PUT /echo HTTP/1.1\r\nHost: loop.default.localhost\r\nContent-Length: 3\r\n\r\nabc");
      assertThat(c.read().body()).isEqualTo("abc");
    }
    long[] after = counts();
    assertThat(after[0] - before[0]).isEqualTo(2);
    assertThat(after[1] - before[1]).isZero();
  }

  @Test
  void handsBodiesLargeAndChunkedResponsesToAThreadAndTakesTheConnectionBack() throws Exception {
    long[] before = counts();
    try (Client c = new Client()) {
      // A request body larger than the loop forwards: the thread streams it.
      String big = "b".repeat(20_000);
      c.send("POST /echo HTTP/1.1\r\nHost: loop.default.localhost\r\nContent-Length: " + big.length() + "\r\n\r\n" + big);
      assertThat(c.read().body()).isEqualTo(big);
      // A chunked request body.
      c.send("POST /echo HTTP/1.1\r\nHost: loop.default.localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
          + "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
      assertThat(c.read().body()).isEqualTo("hello world");
      // Expect: 100-continue: the thread sends the 100 when it reads the body.
      c.send("POST /echo HTTP/1.1\r\nHost: loop.default.localhost\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n");
      assertThat(c.read().status()).isEqualTo(100);
      c.send("ping");
      assertThat(c.read().body()).isEqualTo("ping");
      // A response larger than the loop's buffer: handed over mid-response.
      Http1ServerTest.Resp large = c.get("loop.default.localhost", "/?size=100000");
      assertThat(large.header("content-length")).isEqualTo("100000");
      assertThat(large.body()).hasSize(100_000).matches("x+");
      // A response of unknown length: chunked to the client by the thread.
      Http1ServerTest.Resp chunked = c.get("loop.default.localhost", "/chunked");
      assertThat(chunked.header("transfer-encoding")).isEqualTo("chunked");
      assertThat(chunked.body()).isEqualTo("one,two,three");
      long[] mid = counts();
      assertThat(mid[1] - before[1]).as("handed over").isGreaterThanOrEqualTo(5);
      // Back on the loop.
      assertThat(c.get("loop.default.localhost", "/").body()).isEqualTo("loop-app");
      assertThat(c.get("loop.default.localhost", "/").body()).isEqualTo("loop-app");
      long[] after = counts();
      assertThat(after[0] - mid[0]).as("served by the loop again").isEqualTo(2);
      assertThat(after[1] - mid[1]).isZero();
    }
  }

  @Test
  void answers504AtTheRevisionsTimeoutAndKeepsTheConnection() throws Exception {
    long[] before = counts();
    try (Client c = new Client()) {
      Http1ServerTest.Resp late = c.get("slowloop.default.localhost", "/?sleep=3000");
      assertThat(late.status()).isEqualTo(504);
      assertThat(late.body()).contains("request timeout");
      assertThat(c.get("slowloop.default.localhost", "/?sleep=10").body()).isEqualTo("slow-app");
    }
    long[] after = counts();
    assertThat(after[0] - before[0]).isEqualTo(2);
    assertThat(after[1] - before[1]).isZero();
  }

  @Test
  void queuesForContainerConcurrencyOnThreadsAndComesBack() throws Exception {
    single.maxInFlight.set(0);
    long[] before = counts();
    List<Client> clients = new ArrayList<>();
    try {
      List<CompletableFuture<Http1ServerTest.Resp>> all = new ArrayList<>();
      for (int i = 0; i < 5; i++) {
        Client c = new Client();
        clients.add(c);
        c.send("GET /?sleep=200 HTTP/1.1\r\nHost: singleloop.default.localhost\r\n\r\n");
        all.add(CompletableFuture.supplyAsync(() -> {
          try {
            return c.read();
          } catch (IOException e) {
            throw new RuntimeException(e);
          }
        }));
      }
      for (CompletableFuture<Http1ServerTest.Resp> f : all) {
        assertThat(f.get(30, TimeUnit.SECONDS).body()).isEqualTo("single-app");
      }
      assertThat(single.maxInFlight.get()).isEqualTo(1);
      assertThat(counts()[1] - before[1]).as("requests that waited went to threads").isGreaterThanOrEqualTo(1);
      for (Client c : clients) {
        assertThat(c.get("singleloop.default.localhost", "/").body()).isEqualTo("single-app");
      }
      assertThat(single.maxInFlight.get()).isEqualTo(1);
    } finally {
      for (Client c : clients) {
        c.close();
      }
    }
  }

  @Test
  void tunnelsWebSocketUpgradesThroughAThread() throws Exception {
    try (Client c = new Client()) {
      c.send("GET /chat HTTP/1.1\r\nHost: wsloop.default.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
      String head = TestApp.WebSocketEcho.readHead(c.in);
      assertThat(head.split("\r\n")[0]).contains(" 101 ");
      assertThat(head).containsIgnoringCase("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
      for (String msg : List.of("hello", "world")) {
        byte[] payload = msg.getBytes(StandardCharsets.UTF_8);
        byte[] mask = {1, 2, 3, 4};
        c.out.write(new byte[] {(byte) 0x81, (byte) (0x80 | payload.length)});
        c.out.write(mask);
        for (int i = 0; i < payload.length; i++) {
          c.out.write(payload[i] ^ mask[i % 4]);
        }
        c.out.flush();
        assertThat(c.in.read()).isEqualTo(0x81);
        int len = c.in.read();
        assertThat(new String(c.in.readNBytes(len), StandardCharsets.UTF_8)).isEqualTo("echo: " + msg);
      }
    }
  }

  @Test
  void keepsHttp10AndConnectionCloseRules() throws Exception {
    try (Client c = new Client()) {
      c.send("GET / HTTP/1.0\r\nHost: loop.default.localhost\r\n\r\n");
      Http1ServerTest.Resp r = c.read();
      assertThat(r.body()).isEqualTo("loop-app");
      assertThat(r.header("connection")).isEqualTo("close");
      assertThat(c.closedByServer()).isTrue();
    }
    try (Client c = new Client()) {
      c.send("GET / HTTP/1.0\r\nHost: loop.default.localhost\r\nConnection: keep-alive\r\n\r\n");
      Http1ServerTest.Resp r = c.read();
      assertThat(r.header("connection")).isEqualTo("keep-alive");
      c.send("GET / HTTP/1.1\r\nHost: loop.default.localhost\r\nConnection: close\r\n\r\n");
      r = c.read();
      assertThat(r.body()).isEqualTo("loop-app");
      assertThat(r.header("connection")).isEqualTo("close");
      assertThat(c.closedByServer()).isTrue();
    }
  }

  @Test
  void answersUnknownHostsAndBadRequestsOnAThreadAsBefore() throws Exception {
    try (Client c = new Client()) {
      Http1ServerTest.Resp r = c.get("nobody.default.localhost", "/");
      assertThat(r.status()).isEqualTo(404);
      assertThat(c.get("loop.default.localhost", "/").body()).isEqualTo("loop-app");
      c.send("GET / HTTP/1.1\r\n\r\n"); // no Host
      assertThat(c.read().status()).isEqualTo(400);
      assertThat(c.closedByServer()).isTrue();
    }
  }
}
