package dev.skiff.serving.gateway;

import java.io.BufferedOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpStatus;

/**
 * The gateway's HTTP/1.1 path to a pod: pooled keep-alive sockets per pod and a plain blocking
 * exchange on the request's virtual thread. It replaces Jetty's HttpClient on this path, whose
 * per-request machinery (request and conversation objects, destination lookup, URI parsing,
 * listener chains, a hop to the client's executor) cost as much CPU as the whole app on the
 * 2-core benchmark; here a request is one head write, one read of the response, and one write
 * back to the client (head and a small body together).
 *
 * <p>Semantics kept from the Jetty path: the request body streams (Content-Length, else chunked);
 * the response head must arrive within the revision's deadline, else the exchange is aborted and
 * the client gets 504 "request timeout" (queue-proxy's timeout.go first-byte rule); once it has
 * started the response is never cut; hop-by-hop response headers (and those named in
 * Connection) are dropped; a failure before the response started is 502. A pooled connection the
 * pod closed meanwhile is retried once on a new connection when no response byte came back and
 * the request had no body (nothing was consumed), as HTTP clients do for idempotent retries.
 *
 * <p>Thread-safe: a connection is owned by one exchange at a time (taken from and returned to a
 * lock-free deque).
 */
final class Http1Upstream {
  /** Idle connections kept per pod; more are closed when returned. */
  static final int MAX_IDLE = 256;
  private static final int SMALL_BODY = 64 * 1024;
  private static final byte[] CRLF = {'\r', '\n'};

  private Http1Upstream() {}

  static final boolean YIELD_BEFORE_READ = !Boolean.getBoolean("skiff.gateway.noYield");

  /**
   * Every open connection, for the deadline sweeper. A connection joins once when opened and
   * leaves when closed, so a request only flips {@link Conn#awaiting} (adding each exchange to a
   * set and removing it again showed in the profile).
   */
  private static final java.util.Set<Conn> OPEN = java.util.concurrent.ConcurrentHashMap.newKeySet();
  /** How often the sweeper looks; deadlines are whole seconds (timeoutSeconds), so 20 ms is fine. */
  static final long SWEEP_MS = 20;

  static {
    Thread t = new Thread(Http1Upstream::sweep, "gateway-deadlines");
    t.setDaemon(true);
    t.start();
  }

  private static void sweep() {
    while (true) {
      try {
        Thread.sleep(SWEEP_MS);
      } catch (InterruptedException e) {
        return;
      }
      long now = System.nanoTime();
      for (Conn c : OPEN) {
        if (c.awaiting && now - c.deadline >= 0) {
          c.timedOut = true;
          c.close(); // the blocked read fails at once
        }
      }
    }
  }

  /** One pooled connection to a pod. */
  static final class Conn {
    final Socket socket;
    final Reader in;
    final OutputStream out;
    boolean reused;
    /** While awaiting the response head: its deadline ({@link System#nanoTime}). */
    volatile long deadline;
    /** True while awaiting the response head (the sweeper's cue). */
    volatile boolean awaiting;
    /** Set by the sweeper when it closed the socket at the deadline. */
    volatile boolean timedOut;

    /**
     * A connection the event loop ({@link Http1EventLoop}) hands over mid-response: {@code socket}
     * is blocking again and {@code read} holds the bytes of the response read so far.
     */
    Conn(Socket socket, byte[] read, int n, boolean reused) throws IOException {
      this(socket);
      this.reused = reused;
      in.prefill(read, n);
    }

    Conn(Socket socket) throws IOException {
      this.socket = socket;
      this.in = new Reader(socket.getInputStream());
      this.out = new BufferedOutputStream(socket.getOutputStream(), 8 * 1024);
      OPEN.add(this);
    }

    void close() {
      OPEN.remove(this);
      try {
        socket.close();
      } catch (IOException ignored) {
        // closing
      }
    }
  }

  /**
   * A buffered reader over the socket without BufferedInputStream's per-call locking (a
   * connection is used by one thread at a time).
   */
  static final class Reader extends InputStream {
    private final InputStream raw;
    private final byte[] buf = new byte[16 * 1024];
    private int pos;
    private int lim;

    Reader(InputStream raw) {
      this.raw = raw;
    }

    @Override
    public int read() throws IOException {
      if (pos == lim && !fill()) {
        return -1;
      }
      return buf[pos++] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      if (len == 0) {
        return 0;
      }
      if (pos == lim) {
        if (len >= buf.length) {
          return raw.read(b, off, len);
        }
        if (!fill()) {
          return -1;
        }
      }
      int n = Math.min(len, lim - pos);
      System.arraycopy(buf, pos, b, off, n);
      pos += n;
      return n;
    }

    void prefill(byte[] b, int n) {
      System.arraycopy(b, 0, buf, 0, n);
      pos = 0;
      lim = n;
    }

    /** Puts back the byte {@link #read()} just returned. */
    void unread() {
      pos--;
    }

    /**
     * One CRLF- (or LF-) terminated line, without its end, cut out of the buffer in one piece
     * (the response head is parsed line by line; byte-wise reads showed in the profile).
     */
    String line() throws IOException {
      StringBuilder sb = null;
      while (true) {
        for (int i = pos; i < lim; i++) {
          if (buf[i] == '\n') {
            int end = i > pos && buf[i - 1] == '\r' ? i - 1 : i;
            String s = new String(buf, pos, end - pos, StandardCharsets.ISO_8859_1);
            pos = i + 1;
            if (sb == null) {
              return s;
            }
            sb.append(s);
            int n = sb.length();
            return n > 0 && sb.charAt(n - 1) == '\r' ? sb.substring(0, n - 1) : sb.toString();
          }
        }
        if (sb == null) {
          sb = new StringBuilder(128);
        }
        sb.append(new String(buf, pos, lim - pos, StandardCharsets.ISO_8859_1));
        pos = lim;
        if (sb.length() > 65536) {
          throw new IOException("response header line too long");
        }
        if (!fill()) {
          throw new EOFException("the pod closed the connection");
        }
      }
    }

    private boolean fill() throws IOException {
      int n = raw.read(buf, 0, buf.length);
      if (n <= 0) {
        return false;
      }
      pos = 0;
      lim = n;
      return true;
    }
  }

  /** The idle connections of one pod. */
  static final class Pool {
    private final ConcurrentLinkedDeque<Conn> idle = new ConcurrentLinkedDeque<>();
    private final AtomicInteger size = new AtomicInteger();
    private volatile boolean closed;

    Conn take() {
      Conn c = idle.pollFirst();
      if (c != null) {
        size.decrementAndGet();
      }
      return c;
    }

    void give(Conn c) {
      if (closed || size.incrementAndGet() > MAX_IDLE) {
        size.decrementAndGet();
        c.close();
        return;
      }
      c.reused = true;
      idle.offerFirst(c); // LIFO: the hottest connection next
      if (closed) {
        closeIdle();
      }
    }

    boolean closed() {
      return closed;
    }

    /** Closes the idle connections; connections returned later are closed too. */
    void close() {
      closed = true;
      closeIdle();
    }

    private void closeIdle() {
      Conn c;
      while ((c = take()) != null) {
        c.close();
      }
    }
  }

  /**
   * Sends {@code req} (with {@code fields} as its headers) to {@code ep} and relays the response
   * to {@code resp}; completes {@code cb} and runs {@code done} (once the pod's part is over).
   * Blocks the calling (virtual) thread.
   */
  static void exchange(ClientExchange ex, RevisionBackend.Endpoint ep, HttpFields fields,
      boolean hasBody, long deadlineNanos, Runnable done) {
    byte[] head = head(ex, fields, hasBody);
    boolean head_ = "HEAD".equals(ex.method());
    Conn c = null;
    boolean started = false;
    try {
      for (int attempt = 0; ; attempt++) {
        c = ep.pool.take();
        if (c == null) {
          c = connect(ep, deadlineNanos);
        }
        try {
          c.out.write(head);
          if (hasBody) {
            ex.copyBody(c.out, ex.contentLength() < 0);
          }
          c.out.flush();
          if (deadlineNanos - System.nanoTime() <= 0) {
            throw new SocketTimeoutException();
          }
          // The first-byte deadline is enforced by the sweeper closing the socket, not by
          // SO_TIMEOUT: a timed read parks the virtual thread with a timer, which cost ~5 us of
          // the ForkJoinPool's delay scheduler per request in the profile.
          c.deadline = deadlineNanos;
          c.awaiting = true;
          if (YIELD_BEFORE_READ) {
            // Let the carrier run other requests first: the pod has often answered by the time
            // this thread runs again, and the read then needs no poller registration and wake-up.
            Thread.yield();
          }
          int first;
          try {
            first = c.in.read();
          } catch (IOException e) {
            if (c.timedOut) {
              throw new SocketTimeoutException("no response within the revision's timeoutSeconds");
            }
            throw e;
          } finally {
            c.awaiting = false;
          }
          if (first < 0) {
            if (c.timedOut) {
              throw new SocketTimeoutException("no response within the revision's timeoutSeconds");
            }
            throw new EOFException("the pod closed the connection");
          }
          started = true; // from here on never cut (timeout.go)
          relay(first, c, ex, head_, ep);
          c = null; // given back or closed by relay
          done.run();
          ex.succeeded();
          return;
        } catch (SocketTimeoutException e) {
          throw e;
        } catch (IOException e) {
          if (!started && c.reused && !hasBody && attempt == 0) {
            c.close(); // a stale pooled connection: once more on a new one
            c = null;
            continue;
          }
          throw e;
        }
      }
    } catch (SocketTimeoutException e) {
      close(c);
      done.run();
      if (!ex.committed()) {
        ex.responseHeaders().clear();
        ex.sendError(HttpStatus.GATEWAY_TIMEOUT_504, "request timeout");
      } else {
        ex.failed(e);
      }
    } catch (Throwable e) {
      podFailed(c, ex, done, e);
    }
  }

  /**
   * Finishes an exchange the event loop started but cannot complete without blocking (a chunked,
   * large or close-delimited response, an interim response): the response has started, so as in
   * {@link #exchange} it is relayed to its end and never cut for time. Blocks the calling thread.
   */
  static void continueResponse(Conn c, ClientExchange ex, boolean headRequest, RevisionBackend.Endpoint ep,
      Runnable done) {
    try {
      relay(c.in.read(), c, ex, headRequest, ep);
      c = null;
      done.run();
      ex.succeeded();
    } catch (Throwable e) {
      podFailed(c, ex, done, e);
    }
  }

  /** The pod failed the exchange: 502 if nothing was sent to the client yet, else a cut connection. */
  private static void podFailed(Conn c, ClientExchange ex, Runnable done, Throwable e) {
    close(c);
    done.run();
    if (!ex.committed()) {
      ex.responseHeaders().clear();
      ex.sendError(HttpStatus.BAD_GATEWAY_502, "the revision's pod failed: " + e.getMessage());
    } else {
      ex.failed(e);
    }
  }

  private static void close(Conn c) {
    if (c != null) {
      c.close();
    }
  }

  private static Conn connect(RevisionBackend.Endpoint ep, long deadlineNanos) throws IOException {
    Socket s = new Socket();
    s.setTcpNoDelay(true);
    long left = TimeUnit.NANOSECONDS.toMillis(deadlineNanos - System.nanoTime());
    s.connect(new InetSocketAddress(ep.host.replace("[", "").replace("]", ""), ep.port),
        (int) Math.max(1, Math.min(10_000, left)));
    return new Conn(s);
  }

  /** The request line and headers, with the body's framing. */
  static byte[] head(ClientExchange ex, HttpFields fields, boolean hasBody) {
    StringBuilder sb = new StringBuilder(256);
    String pq = ex.pathQuery();
    sb.append(ex.method()).append(' ').append(pq == null || pq.isEmpty() ? "/" : pq).append(" HTTP/1.1\r\n");
    for (HttpField f : fields) {
      sb.append(f.getName()).append(": ").append(f.getValue()).append("\r\n");
    }
    if (hasBody) {
      long len = ex.contentLength();
      if (len >= 0) {
        sb.append("Content-Length: ").append(len).append("\r\n");
      } else {
        sb.append("Transfer-Encoding: chunked\r\n");
      }
    }
    sb.append("\r\n");
    return sb.toString().getBytes(StandardCharsets.ISO_8859_1);
  }

  /**
   * Reads the response head (the first byte already read), copies it to {@code resp}, relays
   * the body, and gives the connection back when it can carry another exchange.
   */
  private static void relay(int first, Conn c, ClientExchange resp, boolean headRequest, RevisionBackend.Endpoint ep)
      throws IOException {
    c.in.unread();
    String status = c.in.line();
    int code;
    while (true) {
      // "HTTP/1.1 200 OK"
      int sp = status.indexOf(' ');
      if (sp < 0 || !status.startsWith("HTTP/")) {
        throw new IOException("bad status line from the pod: " + status);
      }
      int end = status.indexOf(' ', sp + 1);
      code = Integer.parseInt(end < 0 ? status.substring(sp + 1).trim() : status.substring(sp + 1, end));
      if (code >= 100 && code < 200 && code != 101) {
        // 100 Continue and other interim responses: skip their (empty) header block.
        while (!c.in.line().isEmpty()) {
          // skip
        }
        status = c.in.line();
        continue;
      }
      break;
    }
    boolean http10 = status.startsWith("HTTP/1.0");
    HttpFields.Mutable out = resp.responseHeaders();
    long contentLength = -1;
    boolean chunked = false;
    boolean close = http10;
    java.util.List<String[]> fields = new java.util.ArrayList<>(16);
    String connection = null;
    while (true) {
      String l = c.in.line();
      if (l.isEmpty()) {
        break;
      }
      int colon = l.indexOf(':');
      if (colon <= 0) {
        continue;
      }
      String name = l.substring(0, colon).trim();
      String value = l.substring(colon + 1).trim();
      if (name.equalsIgnoreCase("content-length")) {
        contentLength = Long.parseLong(value);
      } else if (name.equalsIgnoreCase("transfer-encoding")) {
        chunked = value.toLowerCase(java.util.Locale.ROOT).endsWith("chunked");
      } else if (name.equalsIgnoreCase("connection")) {
        connection = connection == null ? value : connection + "," + value;
        if (value.toLowerCase(java.util.Locale.ROOT).contains("close")) {
          close = true;
        } else if (http10 && value.toLowerCase(java.util.Locale.ROOT).contains("keep-alive")) {
          close = false;
        }
      }
      fields.add(new String[] {name, value});
    }
    java.util.Set<String> tokens = connection == null ? java.util.Set.of() : tokens(connection);
    resp.setStatus(code);
    for (String[] f : fields) {
      if (!RoutingProxy.isHopByHop(f[0]) && (tokens.isEmpty() || !tokens.contains(f[0].toLowerCase(java.util.Locale.ROOT)))) {
        out.add(f[0], f[1]);
      }
    }
    boolean noBody = headRequest || code == 204 || code == 304;
    if (noBody) {
      write(resp, true, org.eclipse.jetty.util.BufferUtil.EMPTY_BUFFER);
    } else if (chunked) {
      out.remove(org.eclipse.jetty.http.HttpHeader.CONTENT_LENGTH);
      relayChunked(c, resp);
    } else if (contentLength >= 0) {
      if (contentLength <= SMALL_BODY) {
        byte[] body = c.in.readNBytes((int) contentLength);
        if (body.length < contentLength) {
          throw new EOFException("the pod closed the connection mid-body");
        }
        write(resp, true, ByteBuffer.wrap(body));
      } else {
        byte[] buf = new byte[16 * 1024];
        long left = contentLength;
        while (left > 0) {
          int n = c.in.read(buf, 0, (int) Math.min(buf.length, left));
          if (n < 0) {
            throw new EOFException("the pod closed the connection mid-body");
          }
          left -= n;
          write(resp, left == 0, ByteBuffer.wrap(buf, 0, n));
        }
      }
    } else {
      // Delimited by the connection's close.
      close = true;
      byte[] buf = new byte[16 * 1024];
      int n;
      while ((n = c.in.read(buf)) >= 0) {
        if (n > 0) {
          write(resp, false, ByteBuffer.wrap(buf, 0, n));
        }
      }
      write(resp, true, org.eclipse.jetty.util.BufferUtil.EMPTY_BUFFER);
    }
    if (close) {
      c.close();
    } else {
      ep.pool.give(c);
    }
  }

  private static void relayChunked(Conn c, ClientExchange resp) throws IOException {
    byte[] buf = new byte[16 * 1024];
    while (true) {
      String size = c.in.line();
      int semi = size.indexOf(';');
      long n = Long.parseLong((semi < 0 ? size : size.substring(0, semi)).trim(), 16);
      if (n == 0) {
        while (!c.in.line().isEmpty()) {
          // trailers are dropped (hop-by-hop "Trailer" semantics are not relayed)
        }
        write(resp, true, org.eclipse.jetty.util.BufferUtil.EMPTY_BUFFER);
        return;
      }
      long left = n;
      while (left > 0) {
        int r = c.in.read(buf, 0, (int) Math.min(buf.length, left));
        if (r < 0) {
          throw new EOFException("the pod closed the connection mid-chunk");
        }
        left -= r;
        // Copy: the client write is asynchronous underneath the blocking wait, but buf is reused.
        write(resp, false, ByteBuffer.wrap(buf, 0, r));
      }
      c.in.line(); // the chunk's CRLF
    }
  }

  private static void write(ClientExchange resp, boolean last, ByteBuffer b) throws IOException {
    resp.write(last, b);
  }

  private static java.util.Set<String> tokens(String connection) {
    java.util.Set<String> out = new java.util.HashSet<>();
    for (String t : connection.split(",")) {
      out.add(t.trim().toLowerCase(java.util.Locale.ROOT));
    }
    return out;
  }
}
