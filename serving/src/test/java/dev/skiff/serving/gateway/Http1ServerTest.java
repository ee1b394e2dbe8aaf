package dev.skiff.serving.gateway;

import static dev.skiff.serving.gateway.ServingFixture.traffic;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.http2.client.HTTP2Client;
import org.eclipse.jetty.http2.client.transport.HttpClientTransportOverHTTP2;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The gateway's own HTTP/1.1 server ({@link Http1Server}, {@link Http1Connection}) on real
 * sockets, with raw requests where the bytes matter and real clients (JDK HttpClient, Jetty's
 * HTTP/2 client, curl) otherwise: request framing, keep-alive and pipelining, HEAD,
 * Connection: close, 100-continue, chunked bodies both ways, and the error answers.
 */
class Http1ServerTest {
  static ServingFixture fx;
  static TestApp app;
  static final String HOST = "h1.default.localhost";

  @BeforeAll
  static void start() throws Exception {
    fx = new ServingFixture();
    app = new TestApp("h1-app");
    fx.revision("h1-00001", 0, 300, Map.of());
    fx.pod("h1-pod", "h1-00001", app.port(), "user-port", true);
    fx.route("h1", "http://" + HOST, List.of(traffic("h1-00001", 100, null, null)));
    // A second Route whose URL host is the gateway's own address, so that clients that set Host
    // themselves (the JDK's HttpClient, curl without -H) reach it too.
    fx.route("byip", "http://127.0.0.1", List.of(traffic("h1-00001", 100, null, null)));
    assertThat(ServingFixture.until(Duration.ofSeconds(10), () -> {
      try {
        return exchange("GET / HTTP/1.1\r\nHost: " + HOST + "\r\n\r\n").get(0).status == 200
            && exchange("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").get(0).status == 200;
      } catch (IOException e) {
        return false;
      }
    })).as("routes served").isTrue();
  }

  @AfterAll
  static void stop() throws Exception {
    app.close();
    fx.close();
  }

  /** A parsed HTTP/1.1 response. */
  record Resp(int status, Map<String, String> headers, String body) {
    String header(String name) {
      return headers.get(name.toLowerCase(Locale.ROOT));
    }
  }

  /** Sends {@code raw} on a new connection and reads every response until the server closes. */
  static List<Resp> exchange(String raw) throws IOException {
    try (Socket s = new Socket("127.0.0.1", fx.port())) {
      s.setSoTimeout(10_000);
      s.getOutputStream().write(raw.getBytes(StandardCharsets.ISO_8859_1));
      s.shutdownOutput();
      InputStream in = s.getInputStream();
      List<Resp> out = new ArrayList<>();
      boolean head = raw.startsWith("HEAD");
      Resp r;
      while ((r = read(in, head)) != null) {
        out.add(r);
      }
      return out;
    }
  }

  /** One response from {@code in} (null at end of stream); HEAD responses have no body. */
  static Resp read(InputStream in, boolean head) throws IOException {
    String status = line(in);
    if (status == null) {
      return null;
    }
    Map<String, String> headers = new LinkedHashMap<>();
    String l;
    while (!(l = line(in)).isEmpty()) {
      int c = l.indexOf(':');
      headers.merge(l.substring(0, c).trim().toLowerCase(Locale.ROOT), l.substring(c + 1).trim(), (a, b) -> a + ", " + b);
    }
    int code = Integer.parseInt(status.split(" ")[1]);
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    if (head || code == 204 || code == 304 || code < 200) {
      // no body
    } else if ("chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
      while (true) {
        int n = Integer.parseInt(line(in).split(";")[0].trim(), 16);
        if (n == 0) {
          while (!line(in).isEmpty()) {
            // trailers
          }
          break;
        }
        body.write(in.readNBytes(n));
        line(in);
      }
    } else if (headers.containsKey("content-length")) {
      body.write(in.readNBytes(Integer.parseInt(headers.get("content-length"))));
    } else {
      body.write(in.readAllBytes());
    }
    return new Resp(code, headers, body.toString(StandardCharsets.UTF_8));
  }

  static String line(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    int b;
    while ((b = in.read()) != '\n') {
      if (b < 0) {
        return sb.isEmpty() ? null : sb.toString();
      }
      if (b != '\r') {
        sb.append((char) b);
      }
    }
    return sb.toString();
  }

  @Test
  void keepsConnectionsAliveAndAnswersPipelinedRequestsInOrder() throws Exception {
    try (Socket s = new Socket("127.0.0.1", fx.port())) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      InputStream in = s.getInputStream();
      // One after another on the same connection.
      for (int i = 0; i < 3; i++) {
        out.write(("GET /?n=" + i + " HTTP/1.1\r\nHost: " + HOST + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
        Resp r = read(in, false);
        assertThat(r.status()).isEqualTo(200);
        assertThat(r.body()).isEqualTo("h1-app");
        assertThat(r.header("connection")).isNull();
        assertThat(r.header("keep-alive")).as("hop-by-hop from the app").isNull();
      }
      // Pipelined: three requests in one write (the middle one with a body), answered in order.
      out.write(("GET /headers HTTP/1.1\r\nHost: " + HOST + "\r\nX-N: 1\r\n\r\n"
          + "POST /echo HTTP/1.1\r\nHost: " + HOST + "\r\nContent-Length: 5\r\n\r\nhello"
          + "GET / HTTP/1.1\r\nHost: " + HOST + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      Resp a = read(in, false);
      Resp b = read(in, false);
      Resp c = read(in, false);
      assertThat(a.body()).contains("x-n: 1\n");
      assertThat(b.body()).isEqualTo("hello");
      assertThat(c.body()).isEqualTo("h1-app");
    }
    // The JDK's client reuses its connection for sequential requests.
    java.net.http.HttpClient jdk = java.net.http.HttpClient.newBuilder().version(java.net.http.HttpClient.Version.HTTP_1_1).build();
    int before = app.requests.get();
    for (int i = 0; i < 5; i++) {
      HttpResponse<String> r = jdk.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + fx.port() + "/")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).isEqualTo(200);
      assertThat(r.body()).isEqualTo("h1-app");
    }
    assertThat(app.requests.get() - before).isEqualTo(5);
  }

  @Test
  void streamsChunkedRequestBodiesAndChunkedResponses() throws Exception {
    // Raw chunked request with an extension and a trailer.
    List<Resp> rs = exchange("POST /echo HTTP/1.1\r\nHost: " + HOST + "\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "6;ext=1\r\nhello \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n"
        + "GET / HTTP/1.1\r\nHost: " + HOST + "\r\nConnection: close\r\n\r\n");
    assertThat(rs).hasSize(2);
    assertThat(rs.get(0).body()).isEqualTo("hello world");
    assertThat(rs.get(1).body()).isEqualTo("h1-app");
    // The JDK client sends a body of unknown length chunked.
    java.net.http.HttpClient jdk = java.net.http.HttpClient.newBuilder().version(java.net.http.HttpClient.Version.HTTP_1_1).build();
    byte[] big = "0123456789".repeat(50_000).getBytes(StandardCharsets.ISO_8859_1);
    HttpResponse<String> r = jdk.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + fx.port() + "/echo"))
        .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(big))).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).hasSize(big.length).isEqualTo(new String(big, StandardCharsets.ISO_8859_1));
    // A response of unknown length: chunked to HTTP/1.1 clients, close-delimited to HTTP/1.0.
    Resp chunked = exchange("GET /chunked HTTP/1.1\r\nHost: " + HOST + "\r\n\r\n").get(0);
    assertThat(chunked.header("transfer-encoding")).isEqualTo("chunked");
    assertThat(chunked.body()).isEqualTo("one,two,three");
    List<Resp> old = exchange("GET /chunked HTTP/1.0\r\nHost: " + HOST + "\r\n\r\n");
    assertThat(old).hasSize(1);
    assertThat(old.get(0).header("transfer-encoding")).isNull();
    assertThat(old.get(0).header("connection")).isEqualTo("close");
    assertThat(old.get(0).body()).isEqualTo("one,two,three");
  }

  @Test
  void answersExpect100ContinueBeforeTheBody() throws Exception {
    try (Socket s = new Socket("127.0.0.1", fx.port())) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      InputStream in = s.getInputStream();
      out.write(("POST /echo HTTP/1.1\r\nHost: " + HOST + "\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n")
          .getBytes(StandardCharsets.ISO_8859_1));
      assertThat(line(in)).isEqualTo("HTTP/1.1 100 Continue");
      assertThat(line(in)).isEmpty();
      out.write("body".getBytes(StandardCharsets.ISO_8859_1));
      Resp r = read(in, false);
      assertThat(r.status()).isEqualTo(200);
      assertThat(r.body()).isEqualTo("body");
    }
    // A 404 without reading the body: no 100, and the connection closes (the body is never
    // taken for a request).
    List<Resp> rs = exchange("POST /echo HTTP/1.1\r\nHost: nowhere.default.localhost\r\nExpect: 100-continue\r\n"
        + "Content-Length: 100000\r\n\r\n");
    assertThat(rs).hasSize(1);
    assertThat(rs.get(0).status()).isEqualTo(404);
    assertThat(rs.get(0).header("connection")).isEqualTo("close");
    // curl sends Expect: 100-continue for bodies over 1 KiB and waits for the 100.
    String body = "y".repeat(5000);
    Process p = new ProcessBuilder("curl", "-sS", "-H", "Host: " + HOST, "--expect100-timeout", "30",
        "--data-binary", body, "-H", "Content-Type: text/plain", "-w", "\n%{http_code}",
        "http://127.0.0.1:" + fx.port() + "/echo").redirectErrorStream(true).start();
    String outText = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(outText).isEqualTo(body + "\n200");
  }

  @Test
  void headResponsesHaveNoBodyAndConnectionCloseCloses() throws Exception {
    try (Socket s = new Socket("127.0.0.1", fx.port())) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      InputStream in = s.getInputStream();
      out.write(("HEAD / HTTP/1.1\r\nHost: " + HOST + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      Resp h = read(in, true);
      assertThat(h.status()).isEqualTo(200);
      // The next response starts right after the head: no body bytes were sent for HEAD.
      out.write(("GET / HTTP/1.1\r\nHost: " + HOST + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
      Resp g = read(in, false);
      assertThat(g.status()).isEqualTo(200);
      assertThat(g.body()).isEqualTo("h1-app");
      assertThat(g.header("connection")).isEqualTo("close");
      assertThat(in.read()).as("closed after Connection: close").isEqualTo(-1);
    }
    // curl -I (HEAD).
    Process p = new ProcessBuilder("curl", "-sS", "-I", "-H", "Host: " + HOST, "http://127.0.0.1:" + fx.port() + "/")
        .redirectErrorStream(true).start();
    String head = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(head).startsWith("HTTP/1.1 200").containsIgnoringCase("x-app: h1-app");
    // HTTP/1.0 keeps the connection only when asked to.
    List<Resp> rs = exchange("GET / HTTP/1.0\r\nHost: " + HOST + "\r\n\r\nGET / HTTP/1.0\r\nHost: " + HOST + "\r\n\r\n");
    assertThat(rs).hasSize(1);
    rs = exchange("GET / HTTP/1.0\r\nHost: " + HOST + "\r\nConnection: keep-alive\r\n\r\n"
        + "GET / HTTP/1.0\r\nHost: " + HOST + "\r\n\r\n");
    assertThat(rs).hasSize(2);
    assertThat(rs.get(0).header("connection")).isEqualToIgnoringCase("keep-alive");
  }

  @Test
  void refusesMalformedRequests() throws Exception {
    for (String bad : List.of(
        "GET /\r\n\r\n", // no version
        "G@T / HTTP/1.1\r\nHost: " + HOST + "\r\n\r\n", // not a token
        "GET / HTTP/1.7\r\nHost: " + HOST + "\r\n\r\n", // unknown version
        "GET  / HTTP/1.1\r\nHost: " + HOST + "\r\n\r\n", // two spaces
        "GET / HTTP/1.1\r\n\r\n", // no Host
        "GET / HTTP/1.1\r\nHost: " + HOST + "\r\nBad Name: x\r\n\r\n", // space in a field name
        "GET / HTTP/1.1\r\nHost: " + HOST + "\r\nX: a\r\n folded\r\n\r\n", // obsolete line folding
        "POST /echo HTTP/1.1\r\nHost: " + HOST + "\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
        "POST /echo HTTP/1.1\r\nHost: " + HOST + "\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
        "POST /echo HTTP/1.1\r\nHost: " + HOST + "\r\nTransfer-Encoding: gzip\r\n\r\n")) {
      List<Resp> rs = exchange(bad);
      assertThat(rs).as(bad).hasSize(1);
      assertThat(rs.get(0).status()).as(bad).isEqualTo(400);
      assertThat(rs.get(0).header("connection")).as(bad).isEqualTo("close");
    }
    int before = app.requests.get();
    List<Resp> big = exchange("GET / HTTP/1.1\r\nHost: " + HOST + "\r\nX-Big: " + "z".repeat(20_000) + "\r\n\r\n");
    assertThat(big).hasSize(1);
    assertThat(big.get(0).status()).isEqualTo(431);
    assertThat(exchange("GET / HTTP/1.1\r\nHost: " + HOST + "\r\nExpect: something\r\n\r\n").get(0).status()).isEqualTo(417);
    assertThat(app.requests.get()).as("nothing reached the app").isEqualTo(before);
    // A server that refused a request still serves new connections.
    assertThat(exchange("GET / HTTP/1.1\r\nHost: " + HOST + "\r\nConnection: close\r\n\r\n").get(0).body()).isEqualTo("h1-app");
    // Leading empty lines are ignored; an absolute-form target routes by its authority.
    assertThat(exchange("\r\n\r\nGET http://" + HOST + "/headers HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n")
        .get(0).status()).isEqualTo(200);
  }

  @Test
  void handsH2cConnectionsToJettyAndTunnelsWebSockets() throws Exception {
    // Prior knowledge, Jetty's client.
    HttpClient h2 = new HttpClient(new HttpClientTransportOverHTTP2(new HTTP2Client()));
    h2.start();
    try {
      ContentResponse r = h2.newRequest("127.0.0.1", fx.port()).path("/headers")
          .headers(h -> h.put(HttpHeader.HOST, HOST)).timeout(30, TimeUnit.SECONDS).send();
      assertThat(r.getVersion()).isEqualTo(HttpVersion.HTTP_2);
      // The PROXY protocol line gave Jetty the client's address (not just any loopback port).
      assertThat(r.getContentAsString()).contains("x-forwarded-for: 127.0.0.1\n");
    } finally {
      h2.stop();
    }
    // Prior knowledge, curl.
    Process p = new ProcessBuilder("curl", "-sS", "--http2-prior-knowledge", "-w", "\n%{http_version}",
        "http://127.0.0.1:" + fx.port() + "/").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(out).isEqualTo("h1-app\n2");
    // Upgrade: h2c, curl (101, then the answer over HTTP/2).
    p = new ProcessBuilder("curl", "-sS", "--http2", "-H", "Host: " + HOST, "-w", "\n%{http_version}",
        "http://127.0.0.1:" + fx.port() + "/").redirectErrorStream(true).start();
    out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    assertThat(out).isEqualTo("h1-app\n2");
    // WebSocket: the 101 and then frames both ways, with a frame sent right behind the request.
    TestApp.WebSocketEcho ws = new TestApp.WebSocketEcho();
    try {
      fx.revision("wsx-00001", 0, 300, Map.of());
      fx.pod("wsx-pod", "wsx-00001", ws.port(), "user-port", true);
      fx.route("wsx", "http://wsx.default.localhost", List.of(traffic("wsx-00001", 100, null, null)));
      assertThat(ServingFixture.until(Duration.ofSeconds(10), () -> fx.gateway.view().lookup("wsx.default.localhost") != null)).isTrue();
      try (Socket s = new Socket("127.0.0.1", fx.port())) {
        s.setSoTimeout(10_000);
        OutputStream o = s.getOutputStream();
        byte[] payload = "early".getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream frame = new ByteArrayOutputStream();
        frame.write(new byte[] {(byte) 0x81, (byte) (0x80 | payload.length), 0, 0, 0, 0});
        frame.write(payload); // zero mask
        byte[] req = ("GET /chat HTTP/1.1\r\nHost: wsx.default.localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        all.write(req);
        all.write(frame.toByteArray());
        o.write(all.toByteArray());
        InputStream in = s.getInputStream();
        String head = TestApp.WebSocketEcho.readHead(in);
        assertThat(head).startsWith("HTTP/1.1 101").containsIgnoringCase("sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assertThat(in.read()).isEqualTo(0x81);
        int len = in.read();
        assertThat(new String(in.readNBytes(len), StandardCharsets.UTF_8)).isEqualTo("echo: early");
      }
    } finally {
      ws.close();
    }
  }
}
