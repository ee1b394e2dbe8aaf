package dev.skiff.apiserver;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.TestServer;
import java.net.URI;
import java.net.http.WebSocket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Watches upgraded to WebSocket, one event per message (fabric8's default way to watch). */
class WebSocketWatchTest {
  static TestServer s;

  @BeforeAll
  static void start() throws Exception {
    s = TestServer.start();
  }

  @AfterAll
  static void stop() throws Exception {
    s.close();
  }

  private static WebSocket open(String path, String subprotocol, BlockingQueue<String> messages) throws Exception {
    WebSocket.Builder b = s.http().newWebSocketBuilder();
    if (subprotocol != null) {
      b.subprotocols(subprotocol);
    }
    return b.buildAsync(URI.create(s.url().replace("https", "wss") + path), new WebSocket.Listener() {
      private final StringBuilder text = new StringBuilder();

      @Override
      public CompletionStage<?> onText(WebSocket ws, CharSequence data, boolean last) {
        text.append(data);
        if (last) {
          messages.add("text:" + text);
          text.setLength(0);
        }
        ws.request(1);
        return null;
      }

      @Override
      public CompletionStage<?> onBinary(WebSocket ws, ByteBuffer data, boolean last) {
        byte[] b = new byte[data.remaining()];
        data.get(b);
        messages.add("binary:" + new String(b, StandardCharsets.UTF_8));
        ws.request(1);
        return null;
      }
    }).get(10, TimeUnit.SECONDS);
  }

  @Test
  void eventsArriveAsTextMessages() throws Exception {
    s.request("POST", "/api/v1/namespaces/default/configmaps", "application/json",
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"before\",\"labels\":{\"t\":\"text\"}}}");
    BlockingQueue<String> got = new LinkedBlockingQueue<>();
    WebSocket ws = open("/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=0&labelSelector=t%3Dtext", null, got);
    assertThat(got.poll(10, TimeUnit.SECONDS)).startsWith("text:{\"type\":\"ADDED\"").contains("\"name\":\"before\"");
    s.request("POST", "/api/v1/namespaces/default/configmaps", "application/json",
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"after\",\"labels\":{\"t\":\"text\"}}}");
    assertThat(got.poll(10, TimeUnit.SECONDS)).startsWith("text:{\"type\":\"ADDED\"").contains("\"name\":\"after\"");
    ws.sendClose(WebSocket.NORMAL_CLOSURE, "").get(5, TimeUnit.SECONDS);
  }

  @Test
  void binarySubprotocolGivesBinaryFrames() throws Exception {
    s.request("POST", "/api/v1/namespaces/default/configmaps", "application/json",
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"bin\"}}");
    BlockingQueue<String> got = new LinkedBlockingQueue<>();
    WebSocket ws = open("/api/v1/namespaces/default/configmaps?watch=true&fieldSelector=metadata.name%3Dbin", "binary.k8s.io", got);
    assertThat(ws.getSubprotocol()).isEqualTo("binary.k8s.io");
    assertThat(got.poll(10, TimeUnit.SECONDS)).startsWith("binary:{\"type\":\"ADDED\"").contains("\"name\":\"bin\"");
    ws.abort();
  }
}
