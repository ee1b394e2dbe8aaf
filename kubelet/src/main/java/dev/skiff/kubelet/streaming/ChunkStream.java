package dev.skiff.kubelet.streaming;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Chunks handed over by a transport's receiving thread (WebSocket messages, SPDY DATA frames),
 * read by one consumer as a single byte stream. At most {@code capacity} chunks wait unread, so a
 * slow reader holds the sender back; {@link #end()} never blocks, and the reader sees EOF once
 * the chunks before it are read. Safe for one producer thread and one reader thread.
 */
final class ChunkStream extends InputStream {
  /** Told how many bytes the reader just took (SPDY flow control grants that much again). */
  @FunctionalInterface
  interface Consumed {
    void bytes(int n) throws IOException;
  }

  private static final byte[] EOF = new byte[0];
  private final BlockingQueue<byte[]> queue;
  private final Consumed consumed;
  private volatile boolean ended;
  private byte[] current = new byte[0];
  private int pos;

  ChunkStream(int capacity, Consumed consumed) {
    this.queue = new ArrayBlockingQueue<>(capacity);
    this.consumed = consumed;
  }

  /** Queues a chunk, waiting while the reader is {@code capacity} chunks behind; ignored after {@link #end()}. */
  void put(byte[] chunk) throws InterruptedException {
    if (!ended && chunk.length > 0) {
      queue.put(chunk);
    }
  }

  /** No more chunks. A full queue is fine: the reader sees EOF through {@code ended} once it drained. */
  void end() {
    if (!ended) {
      ended = true;
      queue.offer(EOF);
    }
  }

  boolean ended() {
    return ended;
  }

  @Override
  public int read() throws IOException {
    byte[] one = new byte[1];
    return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    while (pos >= current.length) {
      if (current == EOF) {
        return -1;
      }
      try {
        byte[] next = queue.poll();
        if (next == null) {
          next = ended && queue.isEmpty() ? EOF : queue.poll(1, TimeUnit.SECONDS);
        }
        if (next == null) {
          continue;
        }
        current = next;
        pos = 0;
        if (next.length > 0) {
          consumed.bytes(next.length);
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException();
      }
    }
    int n = Math.min(len, current.length - pos);
    System.arraycopy(current, pos, b, off, n);
    pos += n;
    return n;
  }
}
