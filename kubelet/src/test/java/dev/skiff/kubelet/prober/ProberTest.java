package dev.skiff.kubelet.prober;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.ProbeBuilder;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http2.server.HTTP2CServerConnectionFactory;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Each probe mechanism once against real local servers and processes. */
class ProberTest {
  static HttpServer http;
  static final Map<String, String> seenHeaders = new ConcurrentHashMap<>();
  static Server grpc;
  static final AtomicInteger grpcStatus = new AtomicInteger(1);
  static final Container C = new ContainerBuilder().withName("c").addNewPort().withName("web").withContainerPort(1)
      .endPort().build();
  final Prober prober = new Prober();

  @BeforeAll
  static void servers() throws Exception {
    http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    http.createContext("/", ex -> {
      ex.getRequestHeaders().forEach((k, v) -> seenHeaders.put(k.toLowerCase(), v.get(0)));
      String path = ex.getRequestURI().getPath();
      int code = switch (path) {
        case "/ok" -> 200;
        case "/bad" -> 500;
        case "/moved" -> 302;
        case "/elsewhere" -> 301;
        default -> 404;
      };
      if (path.equals("/moved")) {
        ex.getResponseHeaders().set("Location", "/ok");
      }
      if (path.equals("/elsewhere")) {
        ex.getResponseHeaders().set("Location", "http://other.invalid/bad");
      }
      byte[] body = ("path " + path).getBytes();
      ex.sendResponseHeaders(code, body.length);
      ex.getResponseBody().write(body);
      ex.close();
    });
    http.start();
    grpc = new Server();
    ServerConnector h2c = new ServerConnector(grpc, new HTTP2CServerConnectionFactory(new HttpConfiguration()));
    h2c.setHost("127.0.0.1");
    grpc.addConnector(h2c);
    grpc.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) throws Exception {
        Content.Source.consumeAll(request);
        boolean ok = request.getHttpURI().getPath().equals("/grpc.health.v1.Health/Check");
        response.getHeaders().put("content-type", "application/grpc");
        response.setTrailersSupplier(() -> HttpFields.build().put("grpc-status", ok ? "0" : "12"));
        if (!ok) {
          response.write(true, ByteBuffer.allocate(0), callback);
          return true;
        }
        byte[] msg = {0, 0, 0, 0, 2, 0x08, (byte) grpcStatus.get()};
        response.write(true, ByteBuffer.wrap(msg), callback);
        return true;
      }
    });
    grpc.start();
  }

  @AfterAll
  static void stop() throws Exception {
    http.stop(0);
    grpc.stop();
  }

  private static Probe httpProbe(String path, Object port) {
    return new ProbeBuilder().withNewHttpGet().withPath(path).withPort(port instanceof Integer i ? new IntOrString(i)
        : new IntOrString((String) port)).addNewHttpHeader("X-Custom", "yes").endHttpGet().build();
  }

  private Prober.Result run(Probe p) {
    return prober.probe(p, new Prober.Target("127.0.0.1", C, 0));
  }

  @Test
  void httpGetSucceedsOn2xxAnd3xxFailsOtherwiseWithKubeProbeHeaders() {
    int port = http.getAddress().getPort();
    assertThat(run(httpProbe("/ok", port)).outcome()).isEqualTo(Prober.Outcome.SUCCESS);
    assertThat(seenHeaders).containsEntry("user-agent", "kube-probe/1.32").containsEntry("accept", "*/*")
        .containsEntry("x-custom", "yes");
    Prober.Result bad = run(httpProbe("/bad", port));
    assertThat(bad.outcome()).isEqualTo(Prober.Outcome.FAILURE);
    assertThat(bad.message()).contains("statuscode: 500");
    // a same-host redirect is followed (to /ok); another host is not followed and counts as success
    Prober.Result moved = run(httpProbe("/moved", port));
    assertThat(moved.outcome()).isEqualTo(Prober.Outcome.SUCCESS);
    assertThat(moved.message()).isEqualTo("path /ok");
    assertThat(run(httpProbe("/elsewhere", port)).outcome()).isEqualTo(Prober.Outcome.SUCCESS);
    assertThat(run(httpProbe("/ok", freePort())).outcome()).isEqualTo(Prober.Outcome.FAILURE);
  }

  @Test
  void namedPortsResolveFromTheContainerSpec() {
    Container c = new ContainerBuilder().withName("c").addNewPort().withName("web")
        .withContainerPort(http.getAddress().getPort()).endPort().build();
    assertThat(prober.probe(httpProbe("/ok", "web"), new Prober.Target("127.0.0.1", c, 0)).outcome())
        .isEqualTo(Prober.Outcome.SUCCESS);
  }

  @Test
  void tcpSocketSucceedsWhenThePortAccepts() throws Exception {
    try (ServerSocket ss = new ServerSocket(0, 50, java.net.InetAddress.getByName("127.0.0.1"))) {
      Probe p = new ProbeBuilder().withNewTcpSocket().withPort(new IntOrString(ss.getLocalPort())).endTcpSocket().build();
      assertThat(run(p).outcome()).isEqualTo(Prober.Outcome.SUCCESS);
    }
    Probe closed = new ProbeBuilder().withNewTcpSocket().withPort(new IntOrString(freePort())).endTcpSocket().build();
    assertThat(run(closed).outcome()).isEqualTo(Prober.Outcome.FAILURE);
  }

  @Test
  void grpcHealthCheckOverH2cIsServingOrNot() {
    int port = ((ServerConnector) grpc.getConnectors()[0]).getLocalPort();
    Probe p = new ProbeBuilder().withNewGrpc().withPort(port).endGrpc().build();
    grpcStatus.set(1);
    assertThat(run(p).outcome()).isEqualTo(Prober.Outcome.SUCCESS);
    grpcStatus.set(2);
    Prober.Result r = run(p);
    assertThat(r.outcome()).isEqualTo(Prober.Outcome.FAILURE);
    assertThat(r.message()).contains("NOT_SERVING");
    Probe closed = new ProbeBuilder().withNewGrpc().withPort(freePort()).endGrpc().build();
    assertThat(run(closed).outcome()).isEqualTo(Prober.Outcome.FAILURE);
  }

  @Test
  void execRunsWithTheContainersEnvironmentAndDirectoryAndTimesOut() throws Exception {
    ProcessBuilder pb = new ProcessBuilder("sleep", "30").directory(new java.io.File("/tmp"));
    pb.environment().put("PROBE_TEST_VAR", "from-container");
    Process container = pb.start();
    try {
      Prober.Target t = new Prober.Target("127.0.0.1", C, container.pid());
      Probe ok = new ProbeBuilder().withNewExec().withCommand("sh", "-c", "echo $PROBE_TEST_VAR $(pwd)").endExec().build();
      Prober.Result r = prober.probe(ok, t);
      assertThat(r.outcome()).isEqualTo(Prober.Outcome.SUCCESS);
      assertThat(r.message().trim()).isEqualTo("from-container /tmp");
      Probe fails = new ProbeBuilder().withNewExec().withCommand("sh", "-c", "echo nope; exit 1").endExec().build();
      Prober.Result f = prober.probe(fails, t);
      assertThat(f.outcome()).isEqualTo(Prober.Outcome.FAILURE);
      assertThat(f.message().trim()).isEqualTo("nope");
      Probe slow = new ProbeBuilder().withNewExec().withCommand("sleep", "5").endExec().withTimeoutSeconds(1).build();
      Prober.Result s = prober.probe(slow, t);
      assertThat(s.outcome()).isEqualTo(Prober.Outcome.FAILURE);
      assertThat(s.message()).contains("timed out");
    } finally {
      container.destroyForcibly();
    }
  }

  @Test
  void settingsTakeUpstreamDefaults() {
    var s = ProbeManager.Settings.of(new Probe(), ProbeManager.Kind.READINESS);
    assertThat(s.initialDelay().toSeconds()).isZero();
    assertThat(s.period().toSeconds()).isEqualTo(10);
    assertThat(s.successThreshold()).isEqualTo(1);
    assertThat(s.failureThreshold()).isEqualTo(3);
    var live = ProbeManager.Settings.of(new ProbeBuilder().withSuccessThreshold(3).build(), ProbeManager.Kind.LIVENESS);
    assertThat(live.successThreshold()).isEqualTo(1);
  }

  static int freePort() {
    try (ServerSocket ss = new ServerSocket(0)) {
      return ss.getLocalPort();
    } catch (java.io.IOException e) {
      throw new RuntimeException(e);
    }
  }
}
