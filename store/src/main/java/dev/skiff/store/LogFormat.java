package dev.skiff.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * The on-disk format of {@link LogStore}'s file.
 *
 * <pre>
 * file   := header record*
 * header := magic "SKIFFKV1" (8) | revision (8) | compactRevision (8) | crc32c of the 24 bytes before (4) | 0 (4)
 * record := length (4) | crc32c of body (4) | body
 * body   := revision (8) | type (1: 1=PUT, 2=DELETE) | createRevision (8) | version (8)
 *           | keyLength (4) | key (UTF-8) | valueLength (4) | value
 * </pre>
 *
 * The header is written only into a fresh file that is then renamed into place, so it is never
 * torn; {@code revision} is the store revision when the file was written, which keeps the revision
 * counter alive when every record up to it has been compacted away. Records are appended; the value
 * is last in a record so a read of the value is one positional read at
 * {@code offset + recordLength - valueLength}.
 */
final class LogFormat {
  static final byte[] MAGIC = "SKIFFKV1".getBytes(StandardCharsets.US_ASCII);
  static final int HEADER_SIZE = 32;
  static final int RECORD_PREFIX = 8;
  static final int FIXED_BODY = 8 + 1 + 8 + 8 + 4 + 4;
  /** Larger than any sane record (etcd's limit is 1.5 MiB); a bigger length means a torn/garbage tail. */
  static final int MAX_BODY = 64 << 20;
  static final byte PUT = 1;
  static final byte DELETE = 2;

  private LogFormat() {}

  static ByteBuffer header(long revision, long compactRevision) {
    ByteBuffer b = ByteBuffer.allocate(HEADER_SIZE);
    b.put(MAGIC).putLong(revision).putLong(compactRevision);
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, 24);
    b.putInt((int) crc.getValue()).putInt(0);
    return b.flip();
  }

  /** Reads and checks the header: {revision, compactRevision}. */
  static long[] readHeader(FileChannel ch) throws IOException {
    ByteBuffer b = ByteBuffer.allocate(HEADER_SIZE);
    readFully(ch, b, 0);
    byte[] magic = new byte[8];
    b.flip().get(magic);
    CRC32C crc = new CRC32C();
    crc.update(b.array(), 0, 24);
    if (!java.util.Arrays.equals(magic, MAGIC) || b.getInt(24) != (int) crc.getValue()) {
      throw new IOException("not a skiff store file or corrupt header");
    }
    return new long[] {b.getLong(8), b.getLong(16)};
  }

  static int recordLength(int keyLength, int valueLength) {
    return RECORD_PREFIX + FIXED_BODY + keyLength + valueLength;
  }

  /** Appends one record to {@code buf} (which must have room); returns the record length. */
  static int encode(ByteBuffer buf, long revision, byte type, long createRevision, long version, byte[] key, byte[] value) {
    int start = buf.position();
    int bodyLength = FIXED_BODY + key.length + value.length;
    buf.putInt(bodyLength).putInt(0);
    buf.putLong(revision).put(type).putLong(createRevision).putLong(version);
    buf.putInt(key.length).put(key).putInt(value.length).put(value);
    CRC32C crc = new CRC32C();
    crc.update(buf.slice(start + RECORD_PREFIX, bodyLength));
    buf.putInt(start + 4, (int) crc.getValue());
    return RECORD_PREFIX + bodyLength;
  }

  static void readFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
    long pos = position;
    while (b.hasRemaining()) {
      int n = ch.read(b, pos);
      if (n < 0) {
        throw new IOException("unexpected end of store file at " + pos);
      }
      pos += n;
    }
  }

  static void writeFully(FileChannel ch, ByteBuffer b, long position) throws IOException {
    long pos = position;
    while (b.hasRemaining()) {
      pos += ch.write(b, pos);
    }
  }

  /** One decoded record; {@code offset} is where the record starts in the file. */
  record Decoded(long offset, int length, long revision, byte type, long createRevision, long version,
                 String key, int valueLength) {}

  /**
   * Reads records sequentially through a large buffer (one syscall per megabyte, not two per
   * record) and stops at the first record that is incomplete or fails its CRC: that is where a
   * crash interrupted an append, and everything from there on is garbage.
   */
  static final class Scanner {
    private final FileChannel ch;
    private final long size;
    private ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20).limit(0);
    private long bufStart;
    private long pos;
    private final CRC32C crc = new CRC32C();

    Scanner(FileChannel ch, long start) throws IOException {
      this.ch = ch;
      this.size = ch.size();
      this.pos = start;
      this.bufStart = start;
    }

    /** Offset just after the last good record returned. */
    long position() {
      return pos;
    }

    long size() {
      return size;
    }

    /** The next good record, or null at the end of the good part of the file. */
    Decoded next() throws IOException {
      if (!ensure(RECORD_PREFIX)) {
        return null;
      }
      int at = (int) (pos - bufStart);
      int bodyLength = buf.getInt(at);
      int expectedCrc = buf.getInt(at + 4);
      if (bodyLength < FIXED_BODY || bodyLength > MAX_BODY || !ensure(RECORD_PREFIX + bodyLength)) {
        return null;
      }
      at = (int) (pos - bufStart);
      crc.reset();
      crc.update(buf.slice(at + RECORD_PREFIX, bodyLength));
      if ((int) crc.getValue() != expectedCrc) {
        return null;
      }
      int b = at + RECORD_PREFIX;
      long revision = buf.getLong(b);
      byte type = buf.get(b + 8);
      long createRevision = buf.getLong(b + 9);
      long version = buf.getLong(b + 17);
      int keyLength = buf.getInt(b + 25);
      if (keyLength < 0 || keyLength > bodyLength - FIXED_BODY || (type != PUT && type != DELETE)) {
        return null;
      }
      byte[] key = new byte[keyLength];
      buf.get(b + 29, key);
      int valueLength = buf.getInt(b + 29 + keyLength);
      if (valueLength != bodyLength - FIXED_BODY - keyLength) {
        return null;
      }
      Decoded d = new Decoded(pos, RECORD_PREFIX + bodyLength, revision, type, createRevision, version,
          new String(key, StandardCharsets.UTF_8), valueLength);
      pos += RECORD_PREFIX + bodyLength;
      return d;
    }

    /** Makes {@code n} bytes from {@code pos} available in the buffer; false if the file is shorter. */
    private boolean ensure(int n) throws IOException {
      if (pos + n > size) {
        return false;
      }
      if (pos + n <= bufStart + buf.limit()) {
        return true;
      }
      if (n > buf.capacity()) {
        buf = ByteBuffer.allocateDirect(Integer.highestOneBit(n) << 1);
      }
      buf.clear();
      bufStart = pos;
      int want = (int) Math.min(buf.capacity(), size - pos);
      buf.limit(want);
      readFully(ch, buf, pos);
      buf.flip();
      return true;
    }
  }
}
