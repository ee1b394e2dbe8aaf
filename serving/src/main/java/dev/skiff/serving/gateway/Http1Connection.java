package dev.skiff.serving.gateway;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection of the gateway's HTTP/1.1 server ({@link Http1Server}), served by one
 * virtual thread with blocking socket I/O: read a request head into a reusable buffer, parse it
 * in place, run the shared request path ({@link RoutingProxy}) with this connection as the
 * {@link ClientExchange}, write the response (head and a small body in one write), and loop for
 * the next request. No selector and no per-request wake-up: when the next request's bytes are
 * already there, nothing parks at all.
 *
 * <p>HTTP/1.1 rules kept (RFC 9112): keep-alive by default (HTTP/1.0 only with
 * {@code Connection: keep-alive}), {@code Connection: close}, chunked and Content-Length request
 * bodies (both at once is refused: request smuggling), {@code Expect: 100-continue} (the 100 is
 * sent when the body is first read, as Jetty does), HEAD, 204 and 304 without a body, chunked
 * responses of unknown length (close-delimited for HTTP/1.0 clients). Pipelined requests are
 * served one after another from the buffer. A response that starts before the request body was
 * read closes the connection (unless the rest is small and readable), so a body is never taken
 * for the next request. Malformed request lines and headers get 400, a head over
 * {@value #MAX_HEAD} bytes 431, a missing Host 400, an unsupported {@code Expect} 417, all with
 * {@code Connection: close}. HTTP/2 prior knowledge ({@code PRI * HTTP/2.0}) and
 * {@code Upgrade: h2c} connections are handed whole to Jetty's h2c connector ({@link Http1Server}).
 *
 * <p>Not thread-safe: used by its connection's thread only (and a tunnel's threads after an
 * upgrade).
 */
final class Http1Connection implements ClientExchange {
  private static final Logger log = LoggerFactory.getLogger(Http1Connection.class);
  /** The largest request head (request line and headers); larger ones get 431. */
  static final int MAX_HEAD = 16 * 1024;
  /** A request body up to this size that the response did not need is read and dropped, to keep the connection. */
  private static final int DISCARDABLE_BODY = 64 * 1024;
  private static final byte[] CRLF = {'\r', '\n'};
  private static final byte[] CONTINUE = "HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
  private static final byte[] LAST_CHUNK = "0\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);

  private final Http1Server server;
  private final Socket socket;
  /** The channel while an {@link Http1EventLoop} serves the connection (null: a thread from the start). */
  final java.nio.channels.SocketChannel channel;
  /** The event loop that serves it when it is not on a thread (null: a thread from the start). */
  Http1EventLoop loop;
  /** On a thread taken over from the loop: an exchange was served (the next goes back to the loop). */
  private boolean servedOne;
  /** Given back to the event loop: the thread ends without closing the connection. */
  /** True while the event loop serves it: output goes to the non-blocking channel. */
  boolean inLoop;
  /** Output the non-blocking channel did not take yet (event loop only). */
  ByteBuffer pendingOut;
  private final InputStream in;
  private final OutputStream out;
  private final InetSocketAddress remote;
  private final String remoteHost;
  /** While waiting for a request head: since when ({@link System#nanoTime}); 0 while busy. */
  volatile long idleSince;

  // Input: bytes [pos, lim) of buf are read and not yet consumed.
  private final byte[] buf = new byte[MAX_HEAD + 2];
  private int pos;
  private int lim;
  // Output: head and small bodies gather here, one socket write per flush.
  private final byte[] obuf = new byte[16 * 1024];
  private int olen;

  // The current request.
  private int headStart;
  private String method;
  private String pathQuery;
  private String path;
  private String absoluteAuthority;
  private final HttpFields.Mutable headers = HttpFields.build(32);
  private boolean http10;
  private boolean persistent;
  private long contentLength;
  private boolean chunkedBody;
  private boolean expect100;
  private boolean sent100;
  private boolean bodyDone;
  /** Set once {@link #copyBody} began: a body it did not finish cannot be skipped any more. */
  private boolean bodyStarted;
  private long bodyLeft;

  // The current response.
  private int status;
  private final HttpFields.Mutable responseHeaders = HttpFields.build(32);
  private boolean committed;
  private boolean noBody;
  private boolean chunkedResponse;
  private boolean responseDone;
  private boolean upgraded;
  private boolean broken;

  Http1Connection(Http1Server server, Socket socket) throws IOException {
    this(server, socket, null);
  }

  /**
   * A connection accepted as {@code channel} (non-blocking, served first by an
   * {@link Http1EventLoop}); {@code socket} is its adaptor, used once the loop hands it over.
   */
  Http1Connection(Http1Server server, Socket socket, java.nio.channels.SocketChannel channel) throws IOException {
    this.server = server;
    this.socket = socket;
    this.channel = channel;
    this.inLoop = channel != null;
    this.in = socket.getInputStream();
    this.out = socket.getOutputStream();
    this.remote = socket.getRemoteSocketAddress() instanceof InetSocketAddress i ? i : null;
    this.remoteHost = ClientExchange.super.remoteHost();
  }

  /** Serves the connection's requests until it closes. */
  void run() {
    serve(null);
  }

  /**
   * Serves the connection on this (virtual) thread after the event loop handed it over, the
   * channel blocking again: {@code rest} (null: none) finishes the request the loop started, then
   * the requests already buffered and later ones are served as in {@link #run}.
   */
  void resume(Runnable rest) {
    inLoop = false;
    if (hasPendingOutput()) {
      try {
        out.write(pendingOut.array(), pendingOut.arrayOffset() + pendingOut.position(), pendingOut.remaining());
        pendingOut.position(pendingOut.limit());
      } catch (IOException e) {
        close();
        server.closed(this);
        return;
      }
    }
    servedOne = false;
    serve(rest);
  }

  private void serve(Runnable rest) {
    // Decided by this thread alone: once the connection is back on its loop, the loop may hand
    // the next request to another thread at once, and this thread must then not close it (a
    // field shared with that next thread was reset under it: clients got EOF, 1 run in ~10).
    boolean givenBack = false;
    try {
      while (true) {
        if (rest != null) {
          Runnable r = rest;
          rest = null;
          r.run();
          servedOne = true;
          if (!afterExchange()) {
            return;
          }
          continue;
        }
        if (loop != null && servedOne) {
          // Born on an event loop: the exchange it handed over is done, the loop serves the rest.
          channel.configureBlocking(false);
          inLoop = true;
          givenBack = true;
          loop.adopt(this);
          return;
        }
        servedOne = true;
        if (pos == lim && Http1Upstream.YIELD_BEFORE_READ) {
          // As before the upstream read: let other connections run first, so the client's next
          // request is often there when this thread reads (no park, no poller registration).
          Thread.yield();
        }
        idleSince = System.nanoTime();
        int headEnd = readHead();
        idleSince = 0;
        if (headEnd < 0) {
          return; // closed between requests
        }
        if (!parse(headEnd)) {
          return; // answered 400/417 or handed to Jetty
        }
        server.proxy.handle(this);
        if (!afterExchange()) {
          return;
        }
      }
    } catch (RequestError e) {
      if (!committed) {
        persistent = false;
        try {
          sendError(e.status, e.getMessage());
          lingeringClose();
        } catch (RuntimeException ignored) {
          // the client is gone
        }
      }
    } catch (IOException e) {
      log.debug("gateway connection from {} ended: {}", remote, e.toString());
    } catch (RuntimeException e) {
      log.warn("gateway connection from {} failed", remote, e);
    } finally {
      if (!givenBack) {
        if (!upgraded) {
          close();
        }
        server.closed(this);
      }
    }
  }

  /** After an exchange: whether the connection can serve another request. */
  boolean afterExchange() {
    if (upgraded) {
      return false; // the tunnel owns the socket now
    }
    if (!committed) {
      sendError(HttpStatus.INTERNAL_SERVER_ERROR_500, "no response");
    }
    return !(broken || !persistent || !responseDone || (!bodyDone && !discardBody()));
  }

  /**
   * After an error answer: stops writing and reads what the client still sends for a moment
   * before closing, so that a close with unread input (a TCP reset) does not destroy the answer
   * before the client read it.
   */
  private void lingeringClose() {
    try {
      socket.shutdownOutput();
      socket.setSoTimeout(1000);
      byte[] b = new byte[8192];
      long total = 0;
      int n;
      while (total < 1 << 20 && (n = in.read(b)) >= 0) {
        total += n;
      }
    } catch (IOException ignored) {
      // closing anyway
    }
  }

  void close() {
    try {
      socket.close();
    } catch (IOException ignored) {
      // closing
    }
  }

  /** A request the server refuses with {@code status} (and closes the connection). */
  static final class RequestError extends IOException {
    final int status;

    RequestError(int status, String message) {
      super(message);
      this.status = status;
    }
  }

  /**
   * Reads until a whole request head is in the buffer (leading empty lines skipped, RFC 9112
   * §2.2); returns the index just after its blank line, or -1 on a clean close before any byte.
   */
  private int readHead() throws IOException {
    if (pos == lim) {
      pos = 0;
      lim = 0;
    }
    int scan = pos;
    while (true) {
      while (pos < lim && (buf[pos] == '\r' || buf[pos] == '\n')) {
        pos++; // empty lines before a request are ignored
      }
      if (scan < pos) {
        scan = pos;
      }
      for (int i = scan; i < lim; i++) {
        if (buf[i] == '\n' && i > pos) {
          if (buf[i - 1] == '\n' || (buf[i - 1] == '\r' && i - 2 >= pos && buf[i - 2] == '\n')) {
            return i + 1;
          }
        }
      }
      scan = lim;
      if (lim - pos >= MAX_HEAD) {
        throw new RequestError(HttpStatus.REQUEST_HEADER_FIELDS_TOO_LARGE_431, "request header too large");
      }
      if (pos > 0 && buf.length - lim < 1024) {
        System.arraycopy(buf, pos, buf, 0, lim - pos);
        scan -= pos;
        lim -= pos;
        pos = 0;
      }
      int n = in.read(buf, lim, buf.length - lim);
      if (n < 0) {
        if (lim == pos) {
          return -1;
        }
        throw new EOFException("the client closed the connection mid-request");
      }
      lim += n;
    }
  }

  /** Parses the head in [pos, headEnd); false when the request was answered or handed over. */
  private boolean parse(int headEnd) throws IOException {
    return parse(headEnd, true);
  }

  /** Thrown by {@link #parse(int, boolean)} instead of handing the connection to Jetty. */
  static final RequestError NEEDS_THREAD = new RequestError(0, "h2c: served by a thread");

  /**
   * {@link #parse(int)}; without {@code mayHandOver} an h2c connection throws
   * {@link #NEEDS_THREAD} instead (the event loop hands it to a thread, which parses again).
   */
  boolean parse(int headEnd, boolean mayHandOver) throws IOException {
    headStart = pos;
    headers.clear();
    responseHeaders.clear();
    status = 200;
    committed = false;
    responseDone = false;
    noBody = false;
    chunkedResponse = false;
    absoluteAuthority = null;
    sent100 = false;
    expect100 = false;
    bodyStarted = false;
    int p = pos;
    // Request line: method SP request-target SP HTTP-version.
    int sp1 = p;
    while (sp1 < headEnd && buf[sp1] != ' ') {
      if (!tokenChar(buf[sp1])) {
        throw new RequestError(HttpStatus.BAD_REQUEST_400, "bad request line");
      }
      sp1++;
    }
    if (sp1 == p || sp1 >= headEnd) {
      throw new RequestError(HttpStatus.BAD_REQUEST_400, "bad request line");
    }
    int sp2 = sp1 + 1;
    while (sp2 < headEnd && buf[sp2] != ' ') {
      if (buf[sp2] <= ' ' || buf[sp2] == 0x7f) {
        throw new RequestError(HttpStatus.BAD_REQUEST_400, "bad request target");
      }
      sp2++;
    }
    int eol = sp2;
    while (eol < headEnd && buf[eol] != '\n') {
      eol++;
    }
    int vEnd = eol > 0 && buf[eol - 1] == '\r' ? eol - 1 : eol;
    if (sp2 == sp1 + 1 || sp2 >= vEnd || vEnd - (sp2 + 1) != 8) {
      throw new RequestError(HttpStatus.BAD_REQUEST_400, "bad request line");
    }
    method = ascii(p, sp1 - p);
    String target = ascii(sp1 + 1, sp2 - sp1 - 1);
    if (startsWith(sp2 + 1, "HTTP/1.1")) {
      http10 = false;
    } else if (startsWith(sp2 + 1, "HTTP/1.0")) {
      http10 = true;
    } else if (startsWith(sp2 + 1, "HTTP/2.0") && method.equals("PRI") && target.equals("*")) {
      if (!mayHandOver) {
        throw NEEDS_THREAD;
      }
      server.handToJetty(this, socket, buf, headStart, lim);
      upgraded = true;
      return false;
    } else {
      throw new RequestError(HttpStatus.BAD_REQUEST_400, "unsupported HTTP version");
    }
    persistent = !http10;
    // Header fields.
    p = eol + 1;
    long length = -1;
    boolean te = false;
    boolean h2cUpgrade = false;
    int hosts = 0;
    while (p < headEnd) {
      int e = p;
      while (e < headEnd && buf[e] != '\n') {
        e++;
      }
      int end = e > p && buf[e - 1] == '\r' ? e - 1 : e;
      if (end == p) {
        break; // the blank line
      }
      if (buf[p] == ' ' || buf[p] == '\t') {
        throw new RequestError(HttpStatus.BAD_REQUEST_400, "obsolete line folding");
      }
      int colon = p;
      while (colon < end && buf[colon] != ':') {
        if (!tokenChar(buf[colon])) {
          throw new RequestError(HttpStatus.BAD_REQUEST_400, "bad header name");
        }
        colon++;
      }
      if (colon == p || colon == end) {
        throw new RequestError(HttpStatus.BAD_REQUEST_400, "bad header");
      }
      int vs = colon + 1;
      while (vs < end && (buf[vs] == ' ' || buf[vs] == '\t')) {
        vs++;
      }
      int ve = end;
      while (ve > vs && (buf[ve - 1] == ' ' || buf[ve - 1] == '\t')) {
        ve--;
      }
      HttpHeader known = knownHeader(p, colon - p);
      String value = ascii(vs, ve - vs);
      HttpField f = known != null ? new HttpField(known, value) : new HttpField(ascii(p, colon - p), value);
      headers.add(f);
      if (known != null) {
        switch (known) {
          case HOST -> hosts++;
          case CONTENT_LENGTH -> {
            long l = parseLength(value);
            if (length >= 0 && l != length) {
              throw new RequestError(HttpStatus.BAD_REQUEST_400, "conflicting Content-Length");
            }
            length = l;
          }
          case TRANSFER_ENCODING -> {
            String v = value.toLowerCase(Locale.ROOT);
            te = true;
            // The final coding must be chunked (RFC 9112 §6.3); anything else cannot be framed.
            chunkedBody = v.endsWith("chunked") && (v.length() == 7 || v.charAt(v.length() - 8) == ' ' || v.charAt(v.length() - 8) == ',');
            if (!chunkedBody) {
              throw new RequestError(HttpStatus.BAD_REQUEST_400, "unsupported Transfer-Encoding");
            }
          }
          case CONNECTION -> {
            String v = value.toLowerCase(Locale.ROOT);
            if (v.contains("close")) {
              persistent = false;
            } else if (http10 && v.contains("keep-alive")) {
              persistent = true;
            }
          }
          case EXPECT -> {
            if (!value.equalsIgnoreCase("100-continue")) {
              throw new RequestError(HttpStatus.EXPECTATION_FAILED_417, "unsupported expectation");
            }
            expect100 = !http10;
          }
          case UPGRADE -> h2cUpgrade = value.equalsIgnoreCase("h2c");
          default -> { }
        }
      }
      p = e + 1;
    }
    if (te && length >= 0) {
      // RFC 9112 §6.1: a server may refuse both at once; it is how requests are smuggled.
      throw new RequestError(HttpStatus.BAD_REQUEST_400, "both Transfer-Encoding and Content-Length");
    }
    if (!te) {
      chunkedBody = false;
    }
    if (!http10 && hosts != 1) {
      throw new RequestError(HttpStatus.BAD_REQUEST_400, hosts == 0 ? "no Host" : "several Host fields");
    }
    // The request target (RFC 9112 §3.2): origin form, absolute form, or * for OPTIONS.
    if (target.charAt(0) == '/') {
      pathQuery = target;
    } else if (target.regionMatches(true, 0, "http://", 0, 7) || target.regionMatches(true, 0, "https://", 0, 8)) {
      int a = target.indexOf("//") + 2;
      int s = a;
      while (s < target.length() && target.charAt(s) != '/' && target.charAt(s) != '?') {
        s++;
      }
      absoluteAuthority = target.substring(a, s);
      pathQuery = s == target.length() ? "/" : target.charAt(s) == '?' ? "/" + target.substring(s) : target.substring(s);
    } else if (target.equals("*") && method.equals("OPTIONS")) {
      pathQuery = "*";
    } else {
      throw new RequestError(HttpStatus.BAD_REQUEST_400, "bad request target");
    }
    int q = pathQuery.indexOf('?');
    path = q < 0 ? pathQuery : pathQuery.substring(0, q);
    contentLength = te ? -1 : Math.max(length, 0);
    bodyLeft = contentLength;
    bodyDone = !te && contentLength == 0;
    pos = headEnd;
    if (h2cUpgrade && !http10) {
      if (!mayHandOver) {
        pos = headStart;
        throw NEEDS_THREAD;
      }
      // Upgrade: h2c (RFC 7540 §3.2): Jetty's h2c connector answers 101 and speaks HTTP/2.
      server.handToJetty(this, socket, buf, headStart, lim);
      upgraded = true;
      return false;
    }
    return true;
  }

  private HttpHeader knownHeader(int off, int len) {
    // The common request headers, matched without building a String.
    return switch (len) {
      case 4 -> eq(off, len, "host") ? HttpHeader.HOST : null;
      case 6 -> eq(off, len, "expect") ? HttpHeader.EXPECT : eq(off, len, "accept") ? HttpHeader.ACCEPT : null;
      case 7 -> eq(off, len, "upgrade") ? HttpHeader.UPGRADE : null;
      case 10 -> eq(off, len, "connection") ? HttpHeader.CONNECTION : eq(off, len, "user-agent") ? HttpHeader.USER_AGENT : null;
      case 12 -> eq(off, len, "content-type") ? HttpHeader.CONTENT_TYPE : null;
      case 14 -> eq(off, len, "content-length") ? HttpHeader.CONTENT_LENGTH : null;
      case 15 -> eq(off, len, "x-forwarded-for") ? HttpHeader.X_FORWARDED_FOR : eq(off, len, "accept-encoding") ? HttpHeader.ACCEPT_ENCODING : null;
      case 17 -> eq(off, len, "transfer-encoding") ? HttpHeader.TRANSFER_ENCODING : null;
      case 9 -> eq(off, len, "forwarded") ? HttpHeader.FORWARDED : null;
      default -> null;
    };
  }

  private boolean eq(int off, int len, String lower) {
    for (int i = 0; i < len; i++) {
      int c = buf[off + i];
      if (c >= 'A' && c <= 'Z') {
        c += 32;
      }
      if (c != lower.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  private boolean startsWith(int off, String s) {
    for (int i = 0; i < s.length(); i++) {
      if (buf[off + i] != s.charAt(i)) {
        return false;
      }
    }
    return true;
  }

  private String ascii(int off, int len) {
    return new String(buf, off, len, StandardCharsets.ISO_8859_1);
  }

  private static long parseLength(String v) throws RequestError {
    if (v.isEmpty() || v.length() > 18) {
      throw new RequestError(HttpStatus.BAD_REQUEST_400, "bad Content-Length");
    }
    long l = 0;
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c < '0' || c > '9') {
        throw new RequestError(HttpStatus.BAD_REQUEST_400, "bad Content-Length");
      }
      l = l * 10 + (c - '0');
    }
    return l;
  }

  /** RFC 9110 tchar. */
  private static boolean tokenChar(byte b) {
    return (b >= 'a' && b <= 'z') || (b >= 'A' && b <= 'Z') || (b >= '0' && b <= '9')
        || (b > ' ' && b < 0x7f && "!#$%&'*+-.^_`|~".indexOf(b) >= 0);
  }

  // ---- The event loop's side (Http1EventLoop): non-blocking reads and the fast-path checks ----

  /**
   * Reads what the non-blocking channel has into the input buffer (compacting it first when
   * short of room); returns the bytes read, 0 when none or the buffer is full, -1 at the end.
   */
  int loopRead() throws IOException {
    if (pos == lim) {
      pos = 0;
      lim = 0;
    } else if (pos > 0 && buf.length - lim < 1024) {
      System.arraycopy(buf, pos, buf, 0, lim - pos);
      lim -= pos;
      pos = 0;
    }
    if (lim == buf.length) {
      return 0;
    }
    if (inBuf == null) {
      inBuf = ByteBuffer.wrap(buf);
    }
    inBuf.limit(buf.length).position(lim);
    int n = channel.read(inBuf);
    if (n > 0) {
      lim += n;
    }
    return n;
  }

  private ByteBuffer inBuf;

  /** Whether the input buffer is full (the loop stops reading until the request is served). */
  boolean inputFull() {
    return lim == buf.length && pos == 0;
  }

  /**
   * The end of a complete request head in the buffer (leading empty lines skipped), -1 when
   * more bytes are needed, -2 when the head is too large (a thread answers 431).
   */
  int loopHeadEnd() {
    while (pos < lim && (buf[pos] == '\r' || buf[pos] == '\n')) {
      pos++;
    }
    for (int i = pos; i < lim; i++) {
      if (buf[i] == '\n' && i > pos) {
        if (buf[i - 1] == '\n' || (buf[i - 1] == '\r' && i - 2 >= pos && buf[i - 2] == '\n')) {
          return i + 1;
        }
      }
    }
    return lim - pos >= MAX_HEAD ? -2 : -1;
  }

  /** Puts the parsed head back, for a thread to parse and serve it as {@link #run} does. */
  void rewind() {
    pos = headStart;
  }

  /** Whether bytes of a further request are buffered. */
  boolean hasBufferedInput() {
    return pos < lim;
  }

  /**
   * Whether the event loop can serve the request parsed last without blocking: no upgrade, no
   * {@code Expect}, no drain hook, and no body or a small Content-Length body already buffered.
   */
  boolean loopEligible() {
    if (expect100 || chunkedBody || headers.get(HttpHeader.UPGRADE) != null || headers.get(Gateway.DRAIN_HEADER) != null) {
      return false;
    }
    return contentLength == 0 || (contentLength <= LOOP_BODY && contentLength <= lim - pos);
  }

  /** The largest request body the event loop forwards itself (it must be buffered already). */
  static final int LOOP_BODY = 8 * 1024;

  /** Takes the buffered request body ({@link #loopEligible}); null when there is none. */
  byte[] takeBody() {
    if (contentLength == 0) {
      return null;
    }
    byte[] b = java.util.Arrays.copyOfRange(buf, pos, pos + (int) contentLength);
    pos += (int) contentLength;
    bodyLeft = 0;
    bodyDone = true;
    return b;
  }

  /** Whether output is waiting for the channel to become writable. */
  boolean hasPendingOutput() {
    return pendingOut != null && pendingOut.hasRemaining();
  }

  /** Writes pending output; true when all of it went out. */
  boolean flushPending() throws IOException {
    channel.write(pendingOut);
    return !pendingOut.hasRemaining();
  }

  // ---- ClientExchange: the request ----

  @Override
  public String method() {
    return method;
  }

  @Override
  public String pathQuery() {
    return pathQuery;
  }

  @Override
  public String path() {
    return path;
  }

  @Override
  public String authority() {
    return absoluteAuthority != null ? absoluteAuthority : headers.get(HttpHeader.HOST);
  }

  @Override
  public HttpFields headers() {
    return headers;
  }

  @Override
  public boolean http1() {
    return true;
  }

  @Override
  public InetSocketAddress remote() {
    return remote;
  }

  @Override
  public String remoteHost() {
    return remoteHost;
  }

  @Override
  public long contentLength() {
    return contentLength;
  }

  @Override
  public boolean hasBody() {
    return chunkedBody || contentLength > 0;
  }

  @Override
  public void copyBody(OutputStream to, boolean chunked) throws IOException {
    if (bodyDone) {
      if (chunked) {
        to.write(LAST_CHUNK);
      }
      return;
    }
    bodyStarted = true;
    if (expect100 && !sent100 && !committed) {
      sent100 = true;
      out.write(CONTINUE);
      out.flush();
    }
    if (!chunkedBody) {
      copyBytes(to, bodyLeft, chunked);
      bodyLeft = 0;
    } else {
      while (true) {
        String line = line();
        int semi = line.indexOf(';');
        long size;
        try {
          size = Long.parseLong((semi < 0 ? line : line.substring(0, semi)).trim(), 16);
        } catch (NumberFormatException e) {
          broken = true;
          throw new IOException("bad chunk size from the client: " + line);
        }
        if (size < 0) {
          broken = true;
          throw new IOException("bad chunk size from the client: " + line);
        }
        if (size == 0) {
          while (!line().isEmpty()) {
            // trailer fields are dropped
          }
          break;
        }
        copyBytes(to, size, chunked);
        if (!line().isEmpty()) {
          broken = true;
          throw new IOException("bad chunk end from the client");
        }
      }
    }
    if (chunked) {
      to.write(LAST_CHUNK);
    }
    bodyDone = true;
  }

  /** Copies {@code n} body bytes (as one chunk when {@code chunked}). */
  private void copyBytes(OutputStream to, long n, boolean chunked) throws IOException {
    if (chunked && n > 0) {
      to.write(Long.toHexString(n).getBytes(StandardCharsets.ISO_8859_1));
      to.write(CRLF);
    }
    long left = n;
    while (left > 0) {
      if (pos == lim) {
        pos = 0;
        lim = 0;
        int r = in.read(buf, 0, buf.length);
        if (r < 0) {
          broken = true;
          throw new EOFException("the client closed the connection mid-body");
        }
        lim = r;
      }
      int k = (int) Math.min(left, lim - pos);
      to.write(buf, pos, k);
      pos += k;
      left -= k;
    }
    if (chunked && n > 0) {
      to.write(CRLF);
    }
  }

  /** One CRLF- (or LF-) terminated line of the chunked framing. */
  private String line() throws IOException {
    int scan = pos;
    while (true) {
      for (int i = scan; i < lim; i++) {
        if (buf[i] == '\n') {
          int end = i > pos && buf[i - 1] == '\r' ? i - 1 : i;
          String s = ascii(pos, end - pos);
          pos = i + 1;
          return s;
        }
      }
      if (lim - pos > 4096) {
        broken = true;
        throw new IOException("chunk line too long");
      }
      System.arraycopy(buf, pos, buf, 0, lim - pos);
      lim -= pos;
      pos = 0;
      scan = lim;
      int r = in.read(buf, lim, buf.length - lim);
      if (r < 0) {
        broken = true;
        throw new EOFException("the client closed the connection mid-body");
      }
      lim += r;
    }
  }

  /** Reads and drops a small unread Content-Length body, so the connection can serve the next request. */
  private boolean discardBody() {
    if (chunkedBody || bodyStarted || bodyLeft > DISCARDABLE_BODY || (expect100 && !sent100) || broken) {
      return false;
    }
    try {
      copyBytes(OutputStream.nullOutputStream(), bodyLeft, false);
      bodyLeft = 0;
      bodyDone = true;
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  // ---- ClientExchange: the response ----

  @Override
  public void setStatus(int status) {
    this.status = status;
  }

  @Override
  public HttpFields.Mutable responseHeaders() {
    return responseHeaders;
  }

  @Override
  public boolean committed() {
    return committed;
  }

  @Override
  public void write(boolean last, ByteBuffer content) throws IOException {
    if (responseDone) {
      throw new IOException("response already complete");
    }
    int n = content.remaining();
    try {
      if (!committed) {
        commit(last, n);
      }
      if (!noBody && n > 0) {
        if (chunkedResponse) {
          putAscii(Integer.toHexString(n));
          put(CRLF, 0, 2);
        }
        if (content.hasArray()) {
          put(content.array(), content.arrayOffset() + content.position(), n);
        } else {
          byte[] copy = new byte[n];
          content.duplicate().get(copy);
          put(copy, 0, n);
        }
        if (chunkedResponse) {
          put(CRLF, 0, 2);
        }
      }
      if (last) {
        if (chunkedResponse && !noBody) {
          put(LAST_CHUNK, 0, LAST_CHUNK.length);
        }
        responseDone = true;
      }
      flush();
    } catch (IOException e) {
      broken = true;
      throw e;
    }
  }

  /** Writes the status line and headers (into the output buffer) with the body's framing. */
  private void commit(boolean last, int firstLength) {
    committed = true;
    if (!bodyDone && !discardBody()) {
      persistent = false; // the unread body would be taken for the next request
    }
    noBody = "HEAD".equals(method) || status == 204 || status == 304 || (status >= 100 && status < 200);
    boolean closeDelimited = false;
    if (!noBody && !responseHeaders.contains(HttpHeader.CONTENT_LENGTH)) {
      if (last) {
        responseHeaders.put(HttpHeader.CONTENT_LENGTH, Integer.toString(firstLength));
      } else if (http10) {
        closeDelimited = true;
      } else {
        chunkedResponse = true;
      }
    }
    if (closeDelimited) {
      persistent = false;
    }
    putAscii(statusLine(status));
    for (HttpField f : responseHeaders) {
      putAscii(f.getName());
      put((byte) ':');
      put((byte) ' ');
      putAscii(f.getValue());
      put(CRLF, 0, 2);
    }
    if (chunkedResponse) {
      putAscii("Transfer-Encoding: chunked\r\n");
    }
    if (!persistent) {
      putAscii("Connection: close\r\n");
    } else if (http10) {
      putAscii("Connection: keep-alive\r\n");
    }
    put(CRLF, 0, 2);
  }

  private static final String[] STATUS_LINES = new String[600];

  private static String statusLine(int status) {
    if (status >= 100 && status < 600) {
      String s = STATUS_LINES[status];
      if (s == null) {
        String reason = HttpStatus.getMessage(status);
        s = "HTTP/1.1 " + status + " " + (reason == null ? "" : reason) + "\r\n";
        STATUS_LINES[status] = s; // racy but idempotent
      }
      return s;
    }
    return "HTTP/1.1 " + status + " \r\n";
  }

  private void putAscii(String s) {
    int n = s.length();
    if (olen + n > obuf.length) {
      flushQuietly();
      if (n > obuf.length) {
        byte[] b = s.getBytes(StandardCharsets.ISO_8859_1);
        writeQuietly(b, 0, b.length);
        return;
      }
    }
    s.getBytes(0, n, obuf, olen); // ISO-8859-1 truncation is what HTTP/1 header bytes need
    olen += n;
  }

  private void put(byte b) {
    if (olen == obuf.length) {
      flushQuietly();
    }
    obuf[olen++] = b;
  }

  private void put(byte[] b, int off, int n) {
    if (olen + n > obuf.length) {
      flushQuietly();
      if (n > obuf.length) {
        writeQuietly(b, off, n);
        return;
      }
    }
    System.arraycopy(b, off, obuf, olen, n);
    olen += n;
  }

  private IOException pending;

  private void writeQuietly(byte[] b, int off, int n) {
    if (pending != null) {
      return;
    }
    try {
      if (inLoop) {
        loopWrite(b, off, n);
        return;
      }
      out.write(b, off, n);
    } catch (IOException e) {
      pending = e;
    }
  }

  /**
   * Event loop: writes what the non-blocking channel takes now and keeps the rest in
   * {@link #pendingOut}, which the loop flushes when the channel is writable.
   */
  private void loopWrite(byte[] b, int off, int n) throws IOException {
    if (pendingOut == null || !pendingOut.hasRemaining()) {
      ByteBuffer bb = ByteBuffer.wrap(b, off, n);
      channel.write(bb);
      if (!bb.hasRemaining()) {
        return;
      }
      off = bb.position();
      n = bb.remaining();
      pendingOut = ByteBuffer.allocate(Math.max(n, 4096));
      pendingOut.flip();
    }
    pendingOut.compact();
    if (pendingOut.remaining() < n) {
      ByteBuffer bigger = ByteBuffer.allocate(pendingOut.position() + n);
      pendingOut.flip();
      bigger.put(pendingOut);
      pendingOut = bigger;
    }
    pendingOut.put(b, off, n);
    pendingOut.flip();
  }

  private void flushQuietly() {
    writeQuietly(obuf, 0, olen);
    olen = 0;
  }

  private void flush() throws IOException {
    flushQuietly();
    if (pending != null) {
      IOException e = pending;
      pending = null;
      throw e;
    }
  }

  @Override
  public void succeeded() {
    try {
      if (!committed || !responseDone) {
        write(true, ByteBuffer.allocate(0));
      }
    } catch (IOException e) {
      broken = true;
    }
  }

  @Override
  public void failed(Throwable cause) {
    if (!committed) {
      responseHeaders.clear();
      sendError(HttpStatus.BAD_GATEWAY_502, String.valueOf(cause.getMessage()));
      return;
    }
    broken = true; // a cut response: the client sees the connection close
    close();
  }

  @Override
  public void sendError(int status, String message) {
    if (committed) {
      failed(new IOException(message));
      return;
    }
    this.status = status;
    responseHeaders.clear();
    responseHeaders.put(HttpHeader.CONTENT_TYPE, "text/plain;charset=utf-8");
    try {
      write(true, ByteBuffer.wrap(((message == null ? HttpStatus.getMessage(status) : message) + "\n")
          .getBytes(StandardCharsets.UTF_8)));
    } catch (IOException e) {
      broken = true;
    }
  }

  @Override
  public void upgrade(int status, HttpFields headers, Socket pod, byte[] early, Runnable done) throws IOException {
    committed = true;
    responseDone = true;
    upgraded = true;
    putAscii(statusLine(status));
    for (HttpField f : headers) {
      putAscii(f.getName());
      putAscii(": ");
      putAscii(f.getValue());
      put(CRLF, 0, 2);
    }
    put(CRLF, 0, 2);
    try {
      flush();
    } catch (IOException e) {
      upgraded = false; // the connection loop closes the client socket
      broken = true;
      try {
        pod.close();
      } catch (IOException ignored) {
        // closing
      }
      done.run();
      throw e;
    }
    // Bytes the client sent after its upgrade request go to the pod first.
    byte[] fromClient = java.util.Arrays.copyOfRange(buf, pos, lim);
    pos = lim;
    server.tunnel(socket, fromClient, pod, early, done);
  }
}
