package dev.skiff.apiserver.http;

import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.Fields;

/**
 * One HTTP exchange as the API handlers see it: query parameters, the body (with kube-apiserver's
 * 3 MiB limit), and ways to answer — a JSON body (gzipped when large and the client accepts it, as
 * kube-apiserver does above 128 KiB), a Status error, or a stream. Every exchange is answered
 * exactly once.
 */
public final class Exchange {
  static final int MAX_BODY = 3 * 1024 * 1024;
  private static final int GZIP_THRESHOLD = 128 * 1024;

  final Request request;
  final Response response;
  final Callback callback;
  final Fields query;
  private final List<String> warnings = new ArrayList<>();
  /** The authenticated user (null only on the unauthenticated health endpoints). */
  public dev.skiff.apiserver.auth.UserInfo user;
  private boolean answered;
  int status;

  Exchange(Request request, Response response, Callback callback) {
    this.request = request;
    this.response = response;
    this.callback = callback;
    this.query = Request.extractQueryParameters(request);
  }

  public String param(String name) {
    Fields.Field f = query.get(name);
    return f == null ? null : f.getValue();
  }

  public List<String> params(String name) {
    Fields.Field f = query.get(name);
    return f == null ? List.of() : f.getValues();
  }

  public boolean flag(String name) {
    String v = param(name);
    return v != null && (v.equals("true") || v.equals("1"));
  }

  public String header(String name) {
    return request.getHeaders().get(name);
  }

  /** Every value of a header (repeated headers, in order). */
  public List<String> headers(String name) {
    return request.getHeaders().getValuesList(name);
  }

  public String method() {
    return request.getMethod();
  }

  /** Adds a {@code Warning: 299 - "text"} header, the way kubectl expects warnings. */
  public void warn(String text) {
    warnings.add(text);
  }

  private boolean bodyRead;

  public byte[] body() {
    bodyRead = true;
    try (InputStream in = Content.Source.asInputStream(request)) {
      byte[] b = in.readNBytes(MAX_BODY + 1);
      if (b.length > MAX_BODY) {
        throw ApiException.tooLarge("Request entity too large: limit is " + MAX_BODY);
      }
      return b;
    } catch (IOException e) {
      throw ApiException.badRequest("unable to read request body: " + e.getMessage());
    }
  }

  public void json(int code, byte[] body) {
    send(code, "application/json", body);
  }

  /**
   * Reads and drops a request body nobody read (an early 401/403/415): over HTTP/2 Jetty otherwise
   * resets the stream to stop the upload, and some clients (the JDK's) then report the reset
   * instead of the answer. Bodies over the limit are left to the reset.
   */
  private void drainUnreadBody() {
    if (bodyRead) {
      return;
    }
    bodyRead = true;
    try (InputStream in = Content.Source.asInputStream(request)) {
      in.skipNBytes(0);
      byte[] buf = new byte[8192];
      long total = 0;
      int n;
      while (total <= MAX_BODY && (n = in.read(buf)) >= 0) {
        total += n;
      }
    } catch (IOException | RuntimeException e) {
      // the client went away or sent too much; the answer goes out regardless
    }
  }

  public void send(int code, String contentType, byte[] body) {
    if (answered) {
      return;
    }
    if (code >= 400) {
      drainUnreadBody();
    }
    begin(code, contentType);
    String ae = header("Accept-Encoding");
    if (body.length > GZIP_THRESHOLD && ae != null && ae.contains("gzip")) {
      body = gzip(body);
      response.getHeaders().put(HttpHeader.CONTENT_ENCODING, "gzip");
    }
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, body.length);
    response.write(true, ByteBuffer.wrap(body), callback);
  }

  /**
   * Answers {@code head}, the {@code items} separated by commas, then {@code tail}, streaming the
   * parts as they are: with Content-Length when not compressed, gzipped (like {@link #send}) when
   * the whole is over the threshold and the client accepts gzip.
   */
  public void jsonParts(int code, byte[] head, List<byte[]> items, byte[] tail) {
    long total = head.length + tail.length + Math.max(0, items.size() - 1);
    for (byte[] b : items) {
      total += b.length;
    }
    if (total <= GZIP_THRESHOLD) {
      ByteArrayOutputStream all = new ByteArrayOutputStream((int) total);
      all.writeBytes(head);
      for (int i = 0; i < items.size(); i++) {
        if (i > 0) {
          all.write(',');
        }
        all.writeBytes(items.get(i));
      }
      all.writeBytes(tail);
      json(code, all.toByteArray());
      return;
    }
    begin(code, "application/json");
    String ae = header("Accept-Encoding");
    boolean gzip = ae != null && ae.contains("gzip");
    if (gzip) {
      response.getHeaders().put(HttpHeader.CONTENT_ENCODING, "gzip");
    } else {
      response.getHeaders().put(HttpHeader.CONTENT_LENGTH, total);
    }
    try {
      OutputStream raw = Content.Sink.asOutputStream(response);
      OutputStream out = gzip ? new GZIPOutputStream(raw, 64 * 1024) {
        {
          def.setLevel(Deflater.BEST_SPEED);
        }
      } : new java.io.BufferedOutputStream(raw, 256 * 1024);
      out.write(head);
      for (int i = 0; i < items.size(); i++) {
        if (i > 0) {
          out.write(',');
        }
        out.write(items.get(i));
      }
      out.write(tail);
      out.close();
      callback.succeeded();
    } catch (IOException e) {
      callback.failed(e);
    }
  }

  /**
   * Status and the headers every answer carries: errors must never be cached by a browser or a
   * proxy (the console's users hit exactly that, seed 001), and warnings travel as kubectl expects.
   */
  private void begin(int code, String contentType) {
    answered = true;
    status = code;
    response.setStatus(code);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, contentType);
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-cache, private");
    for (String w : warnings) {
      response.getHeaders().add("Warning", "299 - \"" + w.replace("\"", "\\\"") + "\"");
    }
  }

  public void error(ApiException e) {
    json(e.code(), Json.bytes(e.status()));
  }

  /** Starts a streamed (chunked) answer; the caller writes and must {@link #endStream} it. */
  public OutputStream stream(int code, String contentType) {
    begin(code, contentType);
    return Content.Sink.asOutputStream(response);
  }

  public void endStream(OutputStream out) {
    try {
      out.close();
      callback.succeeded();
    } catch (IOException e) {
      callback.failed(e);
    }
  }

  /**
   * Runs {@code r} when the client goes away while the handler still runs (a reset stream, a
   * closed in-process watch), so a stream that waits for events rather than writes can stop.
   */
  public void onClientGone(Runnable r) {
    try {
      request.addFailureListener(t -> r.run());
    } catch (RuntimeException e) {
      // no failure notification on this request: the stream ends at its next write
    }
  }

  /** The response was taken over (a protocol upgrade) and is completed elsewhere. */
  void markStreamed(int code) {
    answered = true;
    status = code;
    bodyRead = true;
  }

  boolean answered() {
    return answered;
  }

  private static byte[] gzip(byte[] body) {
    ByteArrayOutputStream bos = new ByteArrayOutputStream(body.length / 4);
    try (GZIPOutputStream gz = new GZIPOutputStream(bos, 64 * 1024) {
      {
        def.setLevel(Deflater.BEST_SPEED);
      }
    }) {
      gz.write(body);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return bos.toByteArray();
  }
}
