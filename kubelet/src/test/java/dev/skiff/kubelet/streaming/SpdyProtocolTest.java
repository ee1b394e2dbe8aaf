package dev.skiff.kubelet.streaming;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The streaming server's plain SPDY side with a minimal client built on the same codec: version
 * negotiation (403 without a common version) and the error stream's content per version - v4 a
 * Status JSON, v2 the failure's text and nothing on success (what kubectl never picks today).
 */
class SpdyProtocolTest {
  static StreamingServer server;

  @BeforeAll
  static void start() throws Exception {
    long self = ProcessHandle.current().pid(); // "the container" is this process: exec runs beside it
    StreamTarget target = new StreamTarget("c1", self, Path.of("/dev/null"), null, "127.0.0.1");
    server = new StreamingServer(0, (ns, pod, c) -> target, id -> self);
  }

  @AfterAll
  static void stop() {
    server.close();
  }

  @Test
  void noCommonVersionIsForbidden() throws Exception {
    try (Socket s = new Socket("127.0.0.1", server.port())) {
      s.setSoTimeout(20_000);
      String head = upgrade(s, "v9.channel.k8s.io", "sh", "-c", "true");
      assertThat(head).startsWith("HTTP/1.1 403");
      java.util.regex.Matcher len = java.util.regex.Pattern.compile("(?i)content-length: (\\d+)").matcher(head);
      assertThat(len.find()).as(head).isTrue();
      String body = new String(s.getInputStream().readNBytes(Integer.parseInt(len.group(1))), StandardCharsets.UTF_8);
      assertThat(body).contains("unable to negotiate protocol");
    }
  }

  @Test
  void v4SendsAStatusAndV2TheFailuresText() throws Exception {
    Map<String, String> v4 = exec("v4.channel.k8s.io", "echo out; echo err >&2; exit 3");
    assertThat(v4.get("stdout")).isEqualTo("out\n");
    assertThat(v4.get("stderr")).isEqualTo("err\n");
    assertThat(v4.get("error")).contains("\"reason\":\"NonZeroExitCode\"").contains("\"message\":\"3\"");
    assertThat(exec("v4.channel.k8s.io", "true").get("error")).contains("\"status\":\"Success\"");

    Map<String, String> v2 = exec("v2.channel.k8s.io", "echo out; exit 3");
    assertThat(v2.get("stdout")).isEqualTo("out\n");
    assertThat(v2.get("error")).startsWith("command terminated with non-zero exit code").doesNotContain("{");
    assertThat(exec("v2.channel.k8s.io", "true").get("error")).isEmpty();
  }

  /** Runs {@code sh -c script} over SPDY; returns each stream's bytes by streamType. */
  private static Map<String, String> exec(String version, String script) throws Exception {
    try (Socket s = new Socket("127.0.0.1", server.port())) {
      s.setSoTimeout(20_000); // a hang fails the test instead of the build
      String head = upgrade(s, version, "sh", "-c", script);
      assertThat(head).startsWith("HTTP/1.1 101").containsIgnoringCase("X-Stream-Protocol-Version: " + version);
      Spdy spdy = new Spdy();
      OutputStream out = s.getOutputStream();
      Map<Integer, String> types = new HashMap<>();
      int id = 1;
      for (String type : List.of("error", "stdout", "stderr")) {
        Map<String, String> h = new LinkedHashMap<>();
        h.put("streamtype", type);
        byte[] block = spdy.encodeHeaders(h);
        byte[] payload = new byte[10 + block.length];
        System.arraycopy(Spdy.ints(id, 0), 0, payload, 0, 8); // stream id, associated id; priority 0
        System.arraycopy(block, 0, payload, 10, block.length);
        out.write(Spdy.control(Spdy.SYN_STREAM, Spdy.FLAG_FIN, payload)); // the client writes nothing on them
        types.put(id, type);
        id += 2;
      }
      out.flush();
      Map<String, ByteArrayOutputStream> data = new HashMap<>();
      types.values().forEach(t -> data.put(t, new ByteArrayOutputStream()));
      int finished = 0;
      DataInputStream in = new DataInputStream(s.getInputStream());
      while (finished < 3) {
        Spdy.Frame f = Spdy.read(in);
        if (!f.control()) {
          data.get(types.get(f.streamId())).writeBytes(f.payload());
          if ((f.flags() & Spdy.FLAG_FIN) != 0) {
            finished++;
          }
        }
      }
      Map<String, String> result = new HashMap<>();
      data.forEach((k, v) -> result.put(k, v.toString(StandardCharsets.UTF_8)));
      return result;
    }
  }

  private static String upgrade(Socket s, String version, String... command) throws IOException {
    StringBuilder q = new StringBuilder("stdout=1&stderr=1");
    for (String c : command) {
      q.append("&command=").append(URLEncoder.encode(c, StandardCharsets.UTF_8));
    }
    String req = "POST /exec/default/pod/c?" + q + " HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
        + "X-Stream-Protocol-Version: " + version + "\r\nContent-Length: 0\r\n\r\n";
    s.getOutputStream().write(req.getBytes(StandardCharsets.ISO_8859_1));
    s.getOutputStream().flush();
    InputStream in = s.getInputStream();
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int last4 = 0;
    while (last4 != 0x0d0a0d0a) {
      int c = in.read();
      if (c < 0) {
        break;
      }
      head.write(c);
      last4 = (last4 << 8) | c;
    }
    return head.toString(StandardCharsets.ISO_8859_1);
  }
}
