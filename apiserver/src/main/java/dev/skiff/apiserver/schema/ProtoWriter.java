package dev.skiff.apiserver.schema;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * A minimal protocol buffers (proto3) wire-format writer: just enough to emit gnostic's OpenAPI v2 {@code Document}
 * without code generation. Scalar writers skip proto3 default values (empty string, false, 0) as generated Go code
 * does; {@link #boolAlways} is for {@code oneof} members, whose presence is significant even when false.
 *
 * <p>Everything goes into one growing buffer; see {@link #message} for how nested lengths are filled in.
 */
final class ProtoWriter {
    private static final int VARINT = 0;
    private static final int FIXED64 = 1;
    private static final int LENGTH_DELIMITED = 2;

    private byte[] buf;
    private int size;

    ProtoWriter() {
        buf = new byte[1 << 16];
    }

    /** A string field; null and "" are omitted (proto3 default). */
    ProtoWriter string(int field, String value) {
        if (value != null && !value.isEmpty()) {
            bytes(field, value.getBytes(StandardCharsets.UTF_8));
        }
        return this;
    }

    /** One element of a repeated string field: written even when empty, since elements are positional. */
    ProtoWriter element(int field, String value) {
        bytes(field, value.getBytes(StandardCharsets.UTF_8));
        return this;
    }

    /** A bool field; false is omitted (proto3 default). */
    ProtoWriter bool(int field, boolean value) {
        return value ? boolAlways(field, true) : this;
    }

    /** A bool that is written even when false: a {@code oneof} member. */
    ProtoWriter boolAlways(int field, boolean value) {
        tag(field, VARINT);
        varint(value ? 1 : 0);
        return this;
    }

    /** An int64 field; 0 is omitted. Negative numbers take ten bytes, as in any protobuf encoder. */
    ProtoWriter int64(int field, long value) {
        if (value != 0) {
            tag(field, VARINT);
            varint(value);
        }
        return this;
    }

    /** A double field; 0 is omitted. */
    ProtoWriter dbl(int field, double value) {
        if (value != 0 || Double.doubleToRawLongBits(value) != 0) {
            tag(field, FIXED64);
            long bits = Double.doubleToRawLongBits(value);
            ensure(8);
            for (int i = 0; i < 8; i++) {
                buf[size++] = (byte) (bits >>> (8 * i));
            }
        }
        return this;
    }

    /**
     * An embedded message, written even when empty (presence of a sub-message is significant). {@code body} writes
     * the message's fields into this same writer: the length prefix is reserved as one byte and the content moved
     * up in place if it turns out longer than 127 bytes, so nesting costs no allocation.
     */
    ProtoWriter message(int field, Consumer<ProtoWriter> body) {
        tag(field, LENGTH_DELIMITED);
        ensure(1);
        int lengthAt = size++;
        int start = size;
        body.accept(this);
        int length = size - start;
        int extra = varintSize(length) - 1;
        if (extra > 0) {
            ensure(extra);
            System.arraycopy(buf, start, buf, start + extra, length);
            size += extra;
        }
        int end = size;
        size = lengthAt;
        varint(length);
        size = end;
        return this;
    }

    private static int varintSize(long value) {
        int n = 1;
        while ((value & ~0x7FL) != 0) {
            value >>>= 7;
            n++;
        }
        return n;
    }

    /** Bytes written so far. */
    int size() {
        return size;
    }

    /** A copy of the encoded message. */
    byte[] toByteArray() {
        return Arrays.copyOf(buf, size);
    }

    private void bytes(int field, byte[] value) {
        tag(field, LENGTH_DELIMITED);
        varint(value.length);
        ensure(value.length);
        System.arraycopy(value, 0, buf, size, value.length);
        size += value.length;
    }

    private void tag(int field, int wireType) {
        varint(((long) field << 3) | wireType);
    }

    private void varint(long value) {
        ensure(10);
        while ((value & ~0x7FL) != 0) {
            buf[size++] = (byte) ((value & 0x7F) | 0x80);
            value >>>= 7;
        }
        buf[size++] = (byte) value;
    }

    private void ensure(int extra) {
        if (size + extra > buf.length) {
            buf = Arrays.copyOf(buf, Math.max(buf.length * 2, size + extra));
        }
    }
}
