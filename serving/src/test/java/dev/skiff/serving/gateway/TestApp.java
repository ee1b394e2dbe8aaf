package dev.skiff.serving.gateway;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A local HTTP app standing in for a pod: answers {@code <name>} (or, on {@code /headers}, the
 * request headers it received, one {@code name: value} a line; on {@code /echo}, the body; on
 * {@code /chunked}, {@code one,two,three} without a length; with {@code ?size=n}, n bytes),
 * sleeps {@code ?sleep=ms} before answering, and counts requests and the maximum in flight.
 */
final class TestApp implements AutoCloseable {
  final String name;
  final HttpServer server;
  final AtomicInteger requests = new AtomicInteger();
  final AtomicInteger inFlight = new AtomicInteger();
  final AtomicInteger maxInFlight = new AtomicInteger();

  TestApp(String name) throws IOException {
    this.name = name;
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 1024);
    server.setExecutor(Executors.newVirtualThreadPerTaskExecutor());
    server.createContext("/", ex -> {
      boolean done = false;
      int now = inFlight.incrementAndGet();
      maxInFlight.accumulateAndGet(now, Math::max);
      requests.incrementAndGet();
      try {
        String q = ex.getRequestURI().getQuery();
        if (q != null && q.startsWith("sleep=")) {
          Thread.sleep(Long.parseLong(q.substring(6)));
        }
        byte[] body;
        String path = ex.getRequestURI().getPath();
        if (path.equals("/headers")) {
          StringBuilder sb = new StringBuilder();
          for (Map.Entry<String, List<String>> e : ex.getRequestHeaders().entrySet()) {
            for (String v : e.getValue()) {
              sb.append(e.getKey().toLowerCase()).append(": ").append(v).append('\n');
            }
          }
          body = sb.toString().getBytes(StandardCharsets.UTF_8);
        } else if (path.equals("/echo")) {
          body = ex.getRequestBody().readAllBytes();
        } else if (path.equals("/chunked")) {
          // A response of unknown length (chunked to HTTP/1.1 clients): three pieces.
          ex.sendResponseHeaders(200, 0);
          try (OutputStream out = ex.getResponseBody()) {
            for (String piece : List.of("one,", "two,", "three")) {
              out.write(piece.getBytes(StandardCharsets.UTF_8));
              out.flush();
            }
            done = true;
            inFlight.decrementAndGet();
          }
          return;
        } else if (q != null && q.startsWith("size=")) {
          body = "x".repeat(Integer.parseInt(q.substring(5))).getBytes(StandardCharsets.UTF_8);
        } else {
          body = name.getBytes(StandardCharsets.UTF_8);
        }
        ex.getResponseHeaders().add("Keep-Alive", "timeout=5");
        ex.getResponseHeaders().add("X-App", name);
        ex.sendResponseHeaders(200, body.length == 0 ? -1 : body.length);
        try (OutputStream out = ex.getResponseBody()) {
          out.write(body);
          // Done just before the response leaves (close flushes it): decrementing after close
          // raced with the next request, which the proxy may send the moment it has this
          // response, and showed 2 in flight under containerConcurrency 1 on a loaded machine.
          done = true;
          inFlight.decrementAndGet();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } finally {
        if (!done) {
          inFlight.decrementAndGet();
        }
      }
    });
    server.start();
  }

  int port() {
    return server.getAddress().getPort();
  }

  @Override
  public void close() {
    server.stop(0);
  }

  /** A WebSocket echo server written against RFC 6455 directly (text frames, unmasked replies). */
  static final class WebSocketEcho implements AutoCloseable {
    final ServerSocket socket;

    WebSocketEcho() throws IOException {
      socket = new ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress());
      Thread.ofVirtual().start(() -> {
        while (!socket.isClosed()) {
          try {
            Socket s = socket.accept();
            Thread.ofVirtual().start(() -> serve(s));
          } catch (IOException e) {
            return;
          }
        }
      });
    }

    int port() {
      return socket.getLocalPort();
    }

    private static void serve(Socket s) {
      try (s) {
        InputStream in = s.getInputStream();
        String head = readHead(in);
        String key = null;
        for (String line : head.split("\r\n")) {
          if (line.toLowerCase().startsWith("sec-websocket-key:")) {
            key = line.substring(line.indexOf(':') + 1).trim();
          }
        }
        String accept = Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-1")
            .digest((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").getBytes(StandardCharsets.ISO_8859_1)));
        OutputStream out = s.getOutputStream();
        out.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "
            + accept + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
        out.flush();
        while (true) {
          int b0 = in.read();
          if (b0 < 0) {
            return;
          }
          int b1 = in.read();
          int len = b1 & 0x7f;
          if (len == 126) {
            len = (in.read() << 8) | in.read();
          }
          byte[] mask = in.readNBytes(4);
          byte[] payload = in.readNBytes(len);
          for (int i = 0; i < len; i++) {
            payload[i] ^= mask[i % 4];
          }
          int opcode = b0 & 0x0f;
          if (opcode == 8) {
            out.write(new byte[] {(byte) 0x88, 0});
            return;
          }
          byte[] reply = ("echo: " + new String(payload, StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8);
          out.write(new byte[] {(byte) 0x81, (byte) reply.length});
          out.write(reply);
          out.flush();
        }
      } catch (Exception e) {
        // connection ended
      }
    }

    static String readHead(InputStream in) throws IOException {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      int state = 0;
      while (state < 4) {
        int c = in.read();
        if (c < 0) {
          throw new IOException("eof in head");
        }
        b.write(c);
        state = (c == '\r' && (state == 0 || state == 2)) || (c == '\n' && (state == 1 || state == 3)) ? state + 1 : 0;
      }
      return b.toString(StandardCharsets.ISO_8859_1);
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }
  }
}
