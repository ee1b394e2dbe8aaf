package dev.skiff.serving.gateway;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.io.AbstractConnection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.HttpStream;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.FutureCallback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTP/1.1 {@code Upgrade} (WebSocket) pass-through: the upgrade request goes to the pod over a
 * fresh socket as sent (plus the forwarding headers); if the pod answers 101, the same 101 goes
 * to the client and both connections become a byte tunnel until either side closes, so the app
 * speaks WebSocket (or any upgraded protocol) end to end. Any other answer is relayed as a plain
 * response. The pod slot is held for the tunnel's lifetime (Knative counts a hijacked connection
 * as in flight). The client side is Jetty's endpoint, taken over through
 * {@link HttpStream#UPGRADE_CONNECTION_ATTRIBUTE}; the pod side is a blocking socket read by a
 * virtual thread.
 */
final class UpgradeTunnel extends AbstractConnection {
  private static final Logger log = LoggerFactory.getLogger(UpgradeTunnel.class);
  private static final long TUNNEL_IDLE_MS = TimeUnit.HOURS.toMillis(1);

  private final Socket pod;
  private final byte[] early;
  private final Runnable done;
  private final AtomicInteger openHalves = new AtomicInteger(2);
  private final ByteBuffer in = BufferUtil.allocate(16 * 1024); // Jetty flush mode: data in [position, limit)

  private UpgradeTunnel(EndPoint client, java.util.concurrent.Executor executor, Socket pod, byte[] early, Runnable done) {
    super(client, executor);
    this.pod = pod;
    this.early = early;
    this.done = done;
  }

  /** Sends the upgrade request to the pod and relays its answer; {@code done} runs once at the end. */
  static void start(ClientExchange ex, RevisionBackend.Endpoint ep, HttpFields headers, long deadlineNanos,
      Runnable done) {
    Socket s = new Socket();
    try {
      int timeoutMs = (int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime()));
      s.connect(new InetSocketAddress(ep.host.replace("[", "").replace("]", ""), ep.port), Math.min(timeoutMs, 10_000));
      s.setTcpNoDelay(true);
      s.setSoTimeout(timeoutMs); // the response must start within the revision's timeout
      StringBuilder head = new StringBuilder();
      head.append(ex.method()).append(' ').append(ex.pathQuery()).append(" HTTP/1.1\r\n");
      for (HttpField f : headers) {
        head.append(f.getName()).append(": ").append(f.getValue()).append("\r\n");
      }
      head.append("\r\n");
      OutputStream out = s.getOutputStream();
      out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream inStream = s.getInputStream();
      ByteArrayOutputStream buf = new ByteArrayOutputStream();
      int headerEnd = -1;
      byte[] chunk = new byte[8192];
      while (headerEnd < 0) {
        int n = inStream.read(chunk);
        if (n < 0) {
          throw new IOException("the pod closed the connection before answering the upgrade");
        }
        buf.write(chunk, 0, n);
        headerEnd = indexOfHeaderEnd(buf.toByteArray());
      }
      byte[] all = buf.toByteArray();
      String[] lines = new String(all, 0, headerEnd, StandardCharsets.ISO_8859_1).split("\r\n");
      String[] statusLine = lines[0].split(" ", 3);
      int status = Integer.parseInt(statusLine[1]);
      byte[] rest = java.util.Arrays.copyOfRange(all, headerEnd + 4, all.length);
      HttpFields.Mutable respHeaders = HttpFields.build();
      for (int i = 1; i < lines.length; i++) {
        int colon = lines[i].indexOf(':');
        if (colon > 0) {
          String name = lines[i].substring(0, colon).trim();
          String value = lines[i].substring(colon + 1).trim();
          if (status != HttpStatus.SWITCHING_PROTOCOLS_101 && RoutingProxy.isHopByHop(name)) {
            continue;
          }
          respHeaders.add(name, value);
        }
      }
      if (status != HttpStatus.SWITCHING_PROTOCOLS_101) {
        // Not upgraded: relay what the pod sent with its head, then close the pod socket.
        s.setSoTimeout(1000);
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.write(rest);
        String cl = respHeaders.get("Content-Length");
        long want = cl == null ? -1 : Long.parseLong(cl.trim());
        while (want >= 0 && body.size() < want) {
          int n = inStream.read(chunk);
          if (n < 0) {
            break;
          }
          body.write(chunk, 0, n);
        }
        s.close();
        done.run();
        ex.setStatus(status);
        ex.responseHeaders().add(respHeaders);
        ex.write(true, ByteBuffer.wrap(body.toByteArray()));
        ex.succeeded();
        return;
      }
      s.setSoTimeout(0);
      ex.upgrade(status, respHeaders, s, rest, done);
    } catch (IOException | RuntimeException e) {
      closeQuietly(s);
      done.run();
      int status = e instanceof java.net.SocketTimeoutException ? HttpStatus.GATEWAY_TIMEOUT_504 : HttpStatus.BAD_GATEWAY_502;
      ex.sendError(status, "upgrade to the pod failed: " + e.getMessage());
    }
  }

  /**
   * Jetty's side of {@link ClientExchange#upgrade}: {@code resp} carries the 101 and the
   * endpoint passes to a tunnel connection once Jetty has written it.
   */
  static void takeOver(Request req, Response resp, Callback cb, int status, HttpFields headers, Socket pod, byte[] early,
      Runnable done) {
    resp.setStatus(status);
    resp.getHeaders().add(headers);
    EndPoint client = req.getConnectionMetaData().getConnection().getEndPoint();
    client.setIdleTimeout(TUNNEL_IDLE_MS);
    UpgradeTunnel tunnel = new UpgradeTunnel(client, req.getComponents().getExecutor(), pod, early, done);
    req.setAttribute(HttpStream.UPGRADE_CONNECTION_ATTRIBUTE, tunnel);
    cb.succeeded(); // Jetty writes the 101 and hands the endpoint to the tunnel
  }

  private static int indexOfHeaderEnd(byte[] b) {
    for (int i = 0; i + 3 < b.length; i++) {
      if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n') {
        return i;
      }
    }
    return -1;
  }

  @Override
  public void onOpen() {
    super.onOpen();
    Thread.ofVirtual().name("gateway-tunnel").start(this::podToClient);
    fillInterested();
  }

  /** Pod -> client, on a virtual thread with blocking writes into the client endpoint. */
  private void podToClient() {
    try {
      if (early.length > 0) {
        writeToClient(ByteBuffer.wrap(early));
      }
      InputStream podIn = pod.getInputStream();
      byte[] b = new byte[16 * 1024];
      int n;
      while ((n = podIn.read(b)) >= 0) {
        if (n > 0) {
          writeToClient(ByteBuffer.wrap(b, 0, n));
        }
      }
      getEndPoint().shutdownOutput();
    } catch (Exception e) {
      log.debug("tunnel pod->client ended: {}", e.toString());
      getEndPoint().close();
    } finally {
      halfClosed();
    }
  }

  private void writeToClient(ByteBuffer buf) throws Exception {
    FutureCallback f = new FutureCallback();
    getEndPoint().write(f, buf);
    f.get();
  }

  /** Client -> pod, driven by Jetty's fill interest. */
  @Override
  public void onFillable() {
    try {
      while (true) {
        BufferUtil.clear(in);
        int n = getEndPoint().fill(in);
        if (n > 0) {
          pod.getOutputStream().write(in.array(), in.arrayOffset() + in.position(), in.remaining());
        } else if (n == 0) {
          fillInterested();
          return;
        } else {
          pod.shutdownOutput();
          halfClosed();
          return;
        }
      }
    } catch (IOException e) {
      log.debug("tunnel client->pod ended: {}", e.toString());
      closeQuietly(pod);
      getEndPoint().close();
      halfClosed();
    }
  }

  @Override
  public void onClose(Throwable cause) {
    super.onClose(cause);
    closeQuietly(pod);
    done.run();
  }

  private void halfClosed() {
    if (openHalves.decrementAndGet() <= 0) {
      closeQuietly(pod);
      getEndPoint().close();
      done.run();
    }
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException ignored) {
      // closing
    }
  }
}
