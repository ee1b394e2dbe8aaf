package dev.skiff.kubelet.prober;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The few HTTP/2 (h2c, prior knowledge) frames of one unary grpc.health.v1.Health/Check call,
 * encoded by hand: the agent needs nothing else of HTTP/2 or protobuf, so it carries no gRPC
 * stack. Request: preface, empty SETTINGS, HEADERS (HPACK literals without Huffman coding),
 * DATA with the HealthCheckRequest. Reply: the server's frames are read until stream 1 ends;
 * SETTINGS and PING are acknowledged; the DATA payload is a HealthCheckResponse whose field 1
 * is the status enum (1 = SERVING). Response headers are not decoded (that would need HPACK's
 * Huffman table); a call that ends without a message is reported as a gRPC error.
 */
final class GrpcHealth {
  private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
  private static final int DATA = 0, HEADERS = 1, RST_STREAM = 3, SETTINGS = 4, PING = 6, GOAWAY = 7;
  private static final int END_STREAM = 0x1, END_HEADERS = 0x4, ACK = 0x1, PADDED = 0x8;

  /** status: HealthCheckResponse.status (-1 when no message came); grpcError: why no message came. */
  record Reply(int status, String grpcError) {}

  private GrpcHealth() {}

  static byte[] request(String authority, String service) {
    ByteArrayOutputStream hpack = new ByteArrayOutputStream();
    hpack.write(0x83); // :method POST (static table 3)
    hpack.write(0x86); // :scheme http (6)
    literal(hpack, 4, "/grpc.health.v1.Health/Check"); // :path (4)
    literal(hpack, 1, authority); // :authority (1)
    literal(hpack, 31, "application/grpc"); // content-type (31)
    hpack.write(0x00); // te: trailers, a new name
    string(hpack, "te");
    string(hpack, "trailers");
    literal(hpack, 58, "kube-probe/1.32"); // user-agent (58)
    byte[] svc = service == null ? new byte[0] : service.getBytes(StandardCharsets.UTF_8);
    ByteArrayOutputStream msg = new ByteArrayOutputStream();
    if (svc.length > 0) {
      msg.write(0x0a); // field 1 (service), wire type 2
      varint(msg, svc.length);
      msg.writeBytes(svc);
    }
    ByteArrayOutputStream data = new ByteArrayOutputStream();
    data.write(0); // not compressed
    int n = msg.size();
    data.write(n >>> 24);
    data.write(n >>> 16);
    data.write(n >>> 8);
    data.write(n);
    data.writeBytes(msg.toByteArray());
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.writeBytes(PREFACE);
    frame(out, SETTINGS, 0, 0, new byte[0]);
    frame(out, HEADERS, END_HEADERS, 1, hpack.toByteArray());
    frame(out, DATA, END_STREAM, 1, data.toByteArray());
    return out.toByteArray();
  }

  static Reply readReply(DataInputStream in, OutputStream out) throws IOException {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    while (true) {
      int len = (in.readUnsignedByte() << 16) | (in.readUnsignedByte() << 8) | in.readUnsignedByte();
      int type = in.readUnsignedByte();
      int flags = in.readUnsignedByte();
      int stream = in.readInt() & 0x7fffffff;
      if (len > 1 << 20) {
        throw new IOException("HTTP/2 frame too large: " + len);
      }
      byte[] payload = new byte[len];
      in.readFully(payload);
      switch (type) {
        case SETTINGS -> {
          if ((flags & ACK) == 0) {
            frame(out, SETTINGS, ACK, 0, new byte[0]);
            out.flush();
          }
        }
        case PING -> {
          if ((flags & ACK) == 0) {
            frame(out, PING, ACK, 0, payload);
            out.flush();
          }
        }
        case GOAWAY -> {
          return new Reply(-1, "connection closed by server (GOAWAY)");
        }
        case RST_STREAM -> {
          if (stream == 1) {
            return new Reply(-1, "stream reset by server");
          }
        }
        case DATA -> {
          if (stream == 1) {
            int off = 0;
            int end = len;
            if ((flags & PADDED) != 0) {
              off = 1;
              end = len - (payload[0] & 0xff);
            }
            body.write(payload, off, end - off);
            if ((flags & END_STREAM) != 0) {
              return parse(body.toByteArray());
            }
          }
        }
        case HEADERS -> {
          if (stream == 1 && (flags & END_STREAM) != 0) {
            return parse(body.toByteArray()); // trailers end the call
          }
        }
        default -> { } // WINDOW_UPDATE, PRIORITY, CONTINUATION...: nothing to do for one small call
      }
    }
  }

  private static Reply parse(byte[] body) {
    if (body.length < 5) {
      return new Reply(-1, "rpc error: no HealthCheckResponse (the server answered with an error status)");
    }
    int status = 0; // proto3 default: UNKNOWN
    int i = 5;
    while (i < body.length) {
      int key = body[i++] & 0xff;
      if (key == 0x08) { // field 1, varint
        int v = 0;
        int shift = 0;
        int b;
        do {
          b = body[i++] & 0xff;
          v |= (b & 0x7f) << shift;
          shift += 7;
        } while ((b & 0x80) != 0 && i < body.length);
        status = v;
      } else {
        break; // unknown field: status was already read or is the default
      }
    }
    return new Reply(status, null);
  }

  static String statusName(int s) {
    return switch (s) {
      case 0 -> "UNKNOWN";
      case 1 -> "SERVING";
      case 2 -> "NOT_SERVING";
      case 3 -> "SERVICE_UNKNOWN";
      default -> Integer.toString(s);
    };
  }

  private static void frame(ByteArrayOutputStream out, int type, int flags, int stream, byte[] payload) {
    out.write(payload.length >>> 16);
    out.write(payload.length >>> 8);
    out.write(payload.length);
    out.write(type);
    out.write(flags);
    out.write(stream >>> 24);
    out.write(stream >>> 16);
    out.write(stream >>> 8);
    out.write(stream);
    out.writeBytes(payload);
  }

  private static void frame(OutputStream out, int type, int flags, int stream, byte[] payload) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    frame(b, type, flags, stream, payload);
    out.write(b.toByteArray());
  }

  /** Literal header field without indexing, indexed name (RFC 7541 6.2.2: 4-bit prefix). */
  private static void literal(ByteArrayOutputStream out, int nameIndex, String value) {
    integer(out, 0x00, 4, nameIndex);
    string(out, value);
  }

  private static void string(ByteArrayOutputStream out, String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    integer(out, 0x00, 7, b.length); // H = 0: no Huffman coding
    out.writeBytes(b);
  }

  /** RFC 7541 5.1 integer with an N-bit prefix. */
  private static void integer(ByteArrayOutputStream out, int high, int bits, int v) {
    int max = (1 << bits) - 1;
    if (v < max) {
      out.write(high | v);
      return;
    }
    out.write(high | max);
    v -= max;
    while (v >= 128) {
      out.write((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    out.write(v);
  }

  private static void varint(ByteArrayOutputStream out, int v) {
    while ((v & ~0x7f) != 0) {
      out.write((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    out.write(v);
  }
}
