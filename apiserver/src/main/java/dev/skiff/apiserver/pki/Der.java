package dev.skiff.apiserver.pki;

import java.io.ByteArrayOutputStream;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;

/**
 * The handful of DER encodings an X.509 certificate needs. Kept deliberately tiny: it exists so that
 * issuing certificates does not load BouncyCastle's ASN.1 and operator machinery, which costs
 * ~250 ms of class loading on a cold JVM — more than the whole start-up budget.
 */
final class Der {
  static final int BOOLEAN = 0x01, INTEGER = 0x02, BIT_STRING = 0x03, OCTET_STRING = 0x04,
      NULL = 0x05, OID = 0x06, UTF8_STRING = 0x0c, IA5_STRING = 0x16, UTC_TIME = 0x17,
      GENERALIZED_TIME = 0x18, SEQUENCE = 0x30, SET = 0x31;

  private static final DateTimeFormatter UTC_FMT = DateTimeFormatter.ofPattern("yyMMddHHmmss'Z'");
  private static final DateTimeFormatter GEN_FMT = DateTimeFormatter.ofPattern("yyyyMMddHHmmss'Z'");

  private Der() {}

  static byte[] tlv(int tag, byte[]... contents) {
    int len = 0;
    for (byte[] c : contents) len += c.length;
    ByteArrayOutputStream out = new ByteArrayOutputStream(len + 6);
    out.write(tag);
    if (len < 0x80) {
      out.write(len);
    } else {
      int n = (32 - Integer.numberOfLeadingZeros(len) + 7) / 8;
      out.write(0x80 | n);
      for (int i = n - 1; i >= 0; i--) out.write(len >>> (8 * i));
    }
    for (byte[] c : contents) out.writeBytes(c);
    return out.toByteArray();
  }

  static byte[] seq(byte[]... contents) {
    return tlv(SEQUENCE, contents);
  }

  static byte[] integer(BigInteger v) {
    return tlv(INTEGER, v.toByteArray());
  }

  static byte[] bool(boolean v) {
    return tlv(BOOLEAN, new byte[] {(byte) (v ? 0xff : 0)});
  }

  static byte[] octets(byte[] v) {
    return tlv(OCTET_STRING, v);
  }

  static byte[] bitString(int unusedBits, byte[] v) {
    byte[] c = new byte[v.length + 1];
    c[0] = (byte) unusedBits;
    System.arraycopy(v, 0, c, 1, v.length);
    return tlv(BIT_STRING, c);
  }

  static byte[] utf8(String s) {
    return tlv(UTF8_STRING, s.getBytes(StandardCharsets.UTF_8));
  }

  /** RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. */
  static byte[] time(Instant t) {
    ZonedDateTime z = t.atZone(ZoneOffset.UTC);
    return z.getYear() < 2050
        ? tlv(UTC_TIME, UTC_FMT.format(z).getBytes(StandardCharsets.US_ASCII))
        : tlv(GENERALIZED_TIME, GEN_FMT.format(z).getBytes(StandardCharsets.US_ASCII));
  }

  static byte[] oid(String dotted) {
    String[] p = dotted.split("\\.");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(Integer.parseInt(p[0]) * 40 + Integer.parseInt(p[1]));
    for (int i = 2; i < p.length; i++) {
      long v = Long.parseLong(p[i]);
      int groups = Math.max(1, (64 - Long.numberOfLeadingZeros(v) + 6) / 7);
      for (int g = groups - 1; g >= 0; g--) {
        out.write((int) ((v >>> (7 * g)) & 0x7f) | (g > 0 ? 0x80 : 0));
      }
    }
    return tlv(OID, out.toByteArray());
  }

  /** Start and end offsets of the contents of the TLV at {@code pos}: {contentStart, end}. */
  static int[] contents(byte[] der, int pos) {
    int len = der[pos + 1] & 0xff;
    int start = pos + 2;
    if (len >= 0x80) {
      int n = len & 0x7f;
      len = 0;
      for (int i = 0; i < n; i++) len = (len << 8) | (der[start + i] & 0xff);
      start += n;
    }
    return new int[] {start, start + len};
  }
}
