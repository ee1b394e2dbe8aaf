package dev.skiff.serving.gateway;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Blocker;
import org.eclipse.jetty.util.Callback;

/** A {@link ClientExchange} over a Jetty request, response and callback (see {@link ProxyHandler}). */
final class JettyExchange implements ClientExchange {
  private static final byte[] CRLF = {'\r', '\n'};
  private final Request req;
  private final Response resp;
  private final Callback cb;

  JettyExchange(Request req, Response resp, Callback cb) {
    this.req = req;
    this.resp = resp;
    this.cb = cb;
  }

  @Override
  public String method() {
    return req.getMethod();
  }

  @Override
  public String pathQuery() {
    String pq = req.getHttpURI().getPathQuery();
    return pq == null || pq.isEmpty() ? "/" : pq;
  }

  @Override
  public String path() {
    return req.getHttpURI().getPath();
  }

  @Override
  public String authority() {
    String a = req.getHttpURI().getAuthority();
    return a != null ? a : Request.getServerName(req);
  }

  @Override
  public HttpFields headers() {
    return req.getHeaders();
  }

  @Override
  public boolean http1() {
    return req.getConnectionMetaData().getHttpVersion() != HttpVersion.HTTP_2;
  }

  @Override
  public InetSocketAddress remote() {
    return req.getConnectionMetaData().getRemoteSocketAddress() instanceof InetSocketAddress i ? i : null;
  }

  @Override
  public long contentLength() {
    return req.getLength();
  }

  @Override
  public boolean hasBody() {
    long len = req.getLength();
    if (len >= 0) {
      return len > 0;
    }
    if (req.getHeaders().contains(HttpHeader.TRANSFER_ENCODING)) {
      return true;
    }
    // HTTP/2 without content-length: a body is possible unless the method never has one.
    if (req.getConnectionMetaData().getHttpVersion() == HttpVersion.HTTP_2) {
      String m = req.getMethod();
      return !(m.equals("GET") || m.equals("HEAD") || m.equals("DELETE") || m.equals("OPTIONS"));
    }
    return false;
  }

  @Override
  public void copyBody(OutputStream out, boolean chunked) throws IOException {
    while (true) {
      Content.Chunk chunk = req.read();
      if (chunk == null) {
        try (Blocker.Runnable r = Blocker.runnable()) {
          req.demand(r);
          r.block();
        }
        continue;
      }
      try {
        if (Content.Chunk.isFailure(chunk)) {
          throw new IOException("reading the request body failed", chunk.getFailure());
        }
        ByteBuffer b = chunk.getByteBuffer();
        int n = b.remaining();
        if (n > 0) {
          if (chunked) {
            out.write(Integer.toHexString(n).getBytes(StandardCharsets.ISO_8859_1));
            out.write(CRLF);
          }
          if (b.hasArray()) {
            out.write(b.array(), b.arrayOffset() + b.position(), n);
          } else {
            byte[] copy = new byte[n];
            b.get(copy);
            out.write(copy);
          }
          if (chunked) {
            out.write(CRLF);
          }
        }
        if (chunk.isLast()) {
          if (chunked) {
            out.write(new byte[] {'0', '\r', '\n', '\r', '\n'});
          }
          return;
        }
      } finally {
        chunk.release();
      }
    }
  }

  @Override
  public void setStatus(int status) {
    resp.setStatus(status);
  }

  @Override
  public HttpFields.Mutable responseHeaders() {
    return resp.getHeaders();
  }

  @Override
  public void write(boolean last, ByteBuffer content) throws IOException {
    try (Blocker.Callback b = Blocker.callback()) {
      resp.write(last, content, b);
      b.block();
    }
  }

  @Override
  public boolean committed() {
    return resp.isCommitted();
  }

  @Override
  public void succeeded() {
    cb.succeeded();
  }

  @Override
  public void failed(Throwable cause) {
    if (!resp.isCommitted()) {
      sendError(HttpStatus.BAD_GATEWAY_502, cause.getMessage());
    } else {
      cb.failed(cause);
    }
  }

  @Override
  public void sendError(int status, String message) {
    Response.writeError(req, resp, cb, status, message);
  }

  @Override
  public void upgrade(int status, HttpFields headers, Socket pod, byte[] early, Runnable done) {
    UpgradeTunnel.takeOver(req, resp, cb, status, headers, pod, early, done);
  }
}
