package dev.skiff.serving.gateway;

import static dev.skiff.serving.gateway.ServingFixture.traffic;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Stopping the gateway closes every client connection its event loop serves: an idle keep-alive
 * one and one whose request is in flight to the pod (and releases that request's slot).
 */
class Http1EventLoopStopTest {
  @Test
  void stoppingTheGatewayClosesIdleAndBusyLoopConnections() throws Exception {
    try (ServingFixture fx = new ServingFixture(Map.of(), Map.of("gateway.frontend", "loop")); TestApp app = new TestApp("stop-app")) {
      fx.revision("stop-00001", 0, 300, Map.of());
      fx.pod("stop-00001-pod", "stop-00001", app.port(), "user-port", true);
      fx.route("stop", "http://stop.default.localhost", List.of(traffic("stop-00001", 100, null, null)));
      String get = "GET / HTTP/1.1\r\nHost: stop.default.localhost\r\n\r\n";
      assertThat(ServingFixture.until(Duration.ofSeconds(10), () -> {
        try (Socket s = connect(fx)) {
          s.getOutputStream().write(get.getBytes(StandardCharsets.ISO_8859_1));
          return Http1ServerTest.read(s.getInputStream(), false).status() == 200;
        } catch (IOException e) {
          return false;
        }
      })).isTrue();
      try (Socket idle = connect(fx); Socket busy = connect(fx)) {
        idle.getOutputStream().write(get.getBytes(StandardCharsets.ISO_8859_1));
        assertThat(Http1ServerTest.read(idle.getInputStream(), false).body()).isEqualTo("stop-app");
        long served = fx.gateway.front().loopCounts()[0];
        busy.getOutputStream().write("GET /?sleep=5000 HTTP/1.1\r\nHost: stop.default.localhost\r\n\r\n"
            .getBytes(StandardCharsets.ISO_8859_1));
        assertThat(ServingFixture.until(Duration.ofSeconds(10), () -> app.inFlight.get() == 1)).isTrue();
        RevisionBackend b = fx.gateway.view().existingBackend("default", "stop-00001");
        assertThat(b.inFlight()).isEqualTo(1);
        fx.gateway.close();
        fx.gateway = null;
        assertThat(endOfStream(idle.getInputStream())).as("idle connection closed").isTrue();
        assertThat(endOfStream(busy.getInputStream())).as("busy connection closed").isTrue();
        assertThat(b.inFlight()).as("the slot of the request in flight released").isZero();
        assertThat(served).isGreaterThanOrEqualTo(1);
      }
    }
  }

  static Socket connect(ServingFixture fx) throws IOException {
    Socket s = new Socket("127.0.0.1", fx.port());
    s.setSoTimeout(10_000);
    return s;
  }

  /** True when the server closed the connection (end of stream, or a reset). */
  static boolean endOfStream(InputStream in) {
    try {
      return in.read() < 0;
    } catch (IOException e) {
      return !(e instanceof java.net.SocketTimeoutException);
    }
  }
}
