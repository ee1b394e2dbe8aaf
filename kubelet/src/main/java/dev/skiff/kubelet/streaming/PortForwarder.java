package dev.skiff.kubelet.streaming;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The port-forward stream protocol on a SPDY session (kubelet
 * pkg/kubelet/cri/streaming/portforward/httpstream.go), whichever transport carries it: for each
 * local connection the client opens an {@code error} stream and a {@code data} stream with the
 * same {@code requestid} and a {@code port} header. The data stream is joined to a TCP
 * connection to podIP:port (bytes both ways, the client's FIN as a half-close); when the pod's
 * side ends, the data and error streams are finished (the client waits for the error stream's
 * end). A failure to connect is written to the error stream. Thread-safe.
 */
final class PortForwarder implements SpdyConnection.Handler {
  private static final Logger log = LoggerFactory.getLogger(PortForwarder.class);
  private final StreamTarget target;
  /** requestid -> error stream, to report on and finish with the data stream. */
  private final Map<String, SpdyConnection.Stream> errorStreams = new ConcurrentHashMap<>();
  private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();

  PortForwarder(StreamTarget target) {
    this.target = target;
  }

  @Override
  public void onStream(SpdyConnection.Stream s) {
    String requestId = s.header("requestid");
    switch (s.header("streamtype")) {
      case "error" -> errorStreams.put(requestId, s);
      case "data" -> Thread.ofVirtual().name("portforward-" + s.header("port")).start(() -> forward(s, requestId));
      default -> s.finish();
    }
  }

  @Override
  public void onClose() {
    sockets.forEach(PortForwarder::closeQuietly);
    sockets.clear();
  }

  private void forward(SpdyConnection.Stream data, String requestId) {
    String portHeader = data.header("port");
    int port;
    try {
      port = Integer.parseInt(portHeader);
    } catch (NumberFormatException e) {
      fail(data, requestId, "invalid port \"" + portHeader + "\"");
      return;
    }
    Socket socket = new Socket();
    try {
      // With its own network namespace the pod's IP is routable from the node; else it is the node's.
      socket.connect(new InetSocketAddress(target.podIp(), port), 5000);
      socket.setTcpNoDelay(true);
    } catch (IOException e) {
      closeQuietly(socket);
      fail(data, requestId, "an error occurred forwarding " + port + " -> " + port + ": error forwarding port " + port
          + " to pod " + target.containerId() + ": dial tcp " + target.podIp() + ":" + port + ": " + e.getMessage());
      return;
    }
    sockets.add(socket);
    Thread.ofVirtual().name("portforward-in-" + port).start(() -> {
      // client to pod; the client's FIN is a half-close
      byte[] buf = new byte[32 * 1024];
      try (InputStream in = data.input()) {
        OutputStream out = socket.getOutputStream();
        int n;
        while ((n = in.read(buf)) >= 0) {
          out.write(buf, 0, n);
          out.flush();
        }
        socket.shutdownOutput();
      } catch (IOException e) {
        closeQuietly(socket);
      }
    });
    byte[] buf = new byte[32 * 1024];
    try (InputStream in = socket.getInputStream()) {
      int n;
      while ((n = in.read(buf)) >= 0) {
        if (n > 0) {
          data.write(buf, 0, n);
        }
      }
    } catch (IOException e) {
      // reset by either side, or the session ended
    } finally {
      sockets.remove(socket);
      closeQuietly(socket);
      data.finish();
      SpdyConnection.Stream err = errorStreams.remove(requestId);
      if (err != null) {
        err.finish();
      }
    }
  }

  private void fail(SpdyConnection.Stream data, String requestId, String message) {
    log.debug("port-forward: {}", message);
    SpdyConnection.Stream err = errorStreams.remove(requestId);
    if (err != null) {
      byte[] m = message.getBytes(StandardCharsets.UTF_8);
      try {
        err.write(m, 0, m.length);
      } catch (IOException e) {
        // the session is gone
      }
      err.finish();
    }
    data.finish();
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // closing anyway
    }
  }
}
