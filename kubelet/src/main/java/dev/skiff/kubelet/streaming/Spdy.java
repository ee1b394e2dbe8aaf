package dev.skiff.kubelet.streaming;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.DataFormatException;
import java.util.zip.Deflater;
import java.util.zip.Inflater;

/**
 * The part of SPDY/3.1 (draft-mbelshe-httpbis-spdy-00) that port-forward needs: frame reading
 * and writing, and the header blocks, zlib-compressed with the SPDY dictionary in one
 * compression context per direction for the whole session. One instance per session; not
 * thread-safe (the reader and the writer each use their own half under the session's locks).
 */
final class Spdy {
  static final int SYN_STREAM = 1, SYN_REPLY = 2, RST_STREAM = 3, SETTINGS = 4, PING = 6, GOAWAY = 7, HEADERS = 8,
      WINDOW_UPDATE = 9;
  static final int FLAG_FIN = 0x01;

  /** A frame: control frames have a type, data frames a stream id; {@code payload} follows the 8-byte header. */
  record Frame(boolean control, int type, int streamId, int flags, byte[] payload) {}

  private final Inflater inflater = new Inflater();
  private final Deflater deflater = new Deflater();

  Spdy() {
    deflater.setDictionary(DICTIONARY);
  }

  static Frame read(DataInputStream in) throws IOException {
    int w0 = in.readInt();
    int w1 = in.readInt();
    int flags = (w1 >>> 24) & 0xff;
    int len = w1 & 0xffffff;
    byte[] payload = new byte[len];
    in.readFully(payload);
    if ((w0 & 0x80000000) != 0) {
      return new Frame(true, w0 & 0xffff, 0, flags, payload);
    }
    return new Frame(false, 0, w0 & 0x7fffffff, flags, payload);
  }

  static byte[] data(int streamId, int flags, byte[] data, int off, int len) {
    byte[] f = new byte[8 + len];
    putInt(f, 0, streamId & 0x7fffffff);
    putInt(f, 4, (flags << 24) | len);
    System.arraycopy(data, off, f, 8, len);
    return f;
  }

  static byte[] control(int type, int flags, byte[] payload) {
    byte[] f = new byte[8 + payload.length];
    putInt(f, 0, 0x80030000 | type);
    putInt(f, 4, (flags << 24) | payload.length);
    System.arraycopy(payload, 0, f, 8, payload.length);
    return f;
  }

  static byte[] ints(int... values) {
    byte[] b = new byte[values.length * 4];
    for (int i = 0; i < values.length; i++) {
      putInt(b, i * 4, values[i]);
    }
    return b;
  }

  static int getInt(byte[] b, int off) {
    return ((b[off] & 0xff) << 24) | ((b[off + 1] & 0xff) << 16) | ((b[off + 2] & 0xff) << 8) | (b[off + 3] & 0xff);
  }

  /** The header block of a SYN_STREAM (offset 10) or SYN_REPLY/HEADERS (offset 4); names lower-cased. */
  Map<String, String> headers(byte[] payload, int offset) throws IOException {
    inflater.setInput(payload, offset, payload.length - offset);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buf = new byte[4096];
    try {
      while (true) {
        int n = inflater.inflate(buf);
        if (n == 0) {
          if (inflater.needsDictionary()) {
            inflater.setDictionary(DICTIONARY);
            continue;
          }
          if (inflater.needsInput() || inflater.finished()) {
            break;
          }
        }
        out.write(buf, 0, n);
      }
    } catch (DataFormatException e) {
      throw new IOException("bad SPDY header block: " + e.getMessage());
    }
    byte[] nv = out.toByteArray();
    Map<String, String> h = new LinkedHashMap<>();
    int n = getInt(nv, 0);
    int p = 4;
    for (int i = 0; i < n; i++) {
      int kl = getInt(nv, p);
      String k = new String(nv, p + 4, kl, StandardCharsets.UTF_8);
      p += 4 + kl;
      int vl = getInt(nv, p);
      String v = new String(nv, p + 4, vl, StandardCharsets.UTF_8);
      p += 4 + vl;
      h.put(k.toLowerCase(java.util.Locale.ROOT), v);
    }
    return h;
  }

  /** A compressed header block (sync-flushed, continuing this session's zlib stream). */
  byte[] encodeHeaders(Map<String, String> headers) {
    ByteArrayOutputStream nv = new ByteArrayOutputStream();
    nv.writeBytes(ints(headers.size()));
    headers.forEach((k, v) -> {
      byte[] kb = k.getBytes(StandardCharsets.UTF_8);
      byte[] vb = v.getBytes(StandardCharsets.UTF_8);
      nv.writeBytes(ints(kb.length));
      nv.writeBytes(kb);
      nv.writeBytes(ints(vb.length));
      nv.writeBytes(vb);
    });
    deflater.setInput(nv.toByteArray());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] buf = new byte[1024];
    int n;
    do {
      n = deflater.deflate(buf, 0, buf.length, Deflater.SYNC_FLUSH);
      out.write(buf, 0, n);
    } while (n == buf.length);
    return out.toByteArray();
  }

  private static void putInt(byte[] b, int off, int v) {
    b[off] = (byte) (v >>> 24);
    b[off + 1] = (byte) (v >>> 16);
    b[off + 2] = (byte) (v >>> 8);
    b[off + 3] = (byte) v;
  }

  /** The SPDY/3 header compression dictionary (spec section 2.6.10.1): length-prefixed words, then text. */
  static final byte[] DICTIONARY = dictionary();

  private static byte[] dictionary() {
    String[] words = {"options", "head", "post", "put", "delete", "trace", "accept", "accept-charset",
        "accept-encoding", "accept-language", "accept-ranges", "age", "allow", "authorization", "cache-control",
        "connection", "content-base", "content-encoding", "content-language", "content-length", "content-location",
        "content-md5", "content-range", "content-type", "date", "etag", "expect", "expires", "from", "host",
        "if-match", "if-modified-since", "if-none-match", "if-range", "if-unmodified-since", "last-modified",
        "location", "max-forwards", "pragma", "proxy-authenticate", "proxy-authorization", "range", "referer",
        "retry-after", "server", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "vary", "via",
        "warning", "www-authenticate", "method", "get", "status", "200 OK", "version", "HTTP/1.1", "url", "public",
        "set-cookie", "keep-alive", "origin"};
    String tail = "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
        + "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
        + "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
        + "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
        + "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
        + "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.";
    ByteArrayOutputStream d = new ByteArrayOutputStream();
    for (String w : words) {
      d.writeBytes(ints(w.length()));
      d.writeBytes(w.getBytes(StandardCharsets.US_ASCII));
    }
    d.writeBytes(tail.getBytes(StandardCharsets.US_ASCII));
    return d.toByteArray();
  }
}
