package dev.skiff.serving.gateway;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The idle timeout on connections the event loop serves: one that never sent a byte and one
 * that stopped in the middle of a request head are closed by the server's sweeper (no request
 * reaches the request path, so none is routed).
 */
class Http1EventLoopIdleTest {
  @Test
  void closesConnectionsIdleLongerThanTheTimeout() throws Exception {
    RoutingProxy proxy = new RoutingProxy(null, null, null, b -> { }, true);
    Http1Server server = new Http1Server(proxy, new InetSocketAddress("127.0.0.1", 1), 300, 1);
    int port = server.start(List.of("127.0.0.1"), 0);
    try (Socket silent = new Socket("127.0.0.1", port); Socket partial = new Socket("127.0.0.1", port)) {
      silent.setSoTimeout(15_000);
      partial.setSoTimeout(15_000);
      partial.getOutputStream().write("GET / HTTP/1.1\r\nHost: x\r\n".getBytes(StandardCharsets.ISO_8859_1));
      assertThat(Http1EventLoopStopTest.endOfStream(silent.getInputStream())).as("silent connection closed").isTrue();
      assertThat(Http1EventLoopStopTest.endOfStream(partial.getInputStream())).as("half-sent head closed").isTrue();
      assertThat(server.loopCounts()).containsExactly(0, 0);
    } finally {
      server.close();
    }
  }
}
