package dev.skiff.network;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.util.Iterator;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A few selector threads (event loops) that copy bytes between the two sockets of each proxied
 * TCP connection, with non-blocking reads and writes: one epoll wake-up serves every connection
 * that has data, instead of a thread wake-up per read. Back-pressure: while a side's data waits
 * for its peer to become writable, that side is not read. EOF is propagated as a half-close;
 * the pair closes when both directions ended or on any error. Thread-safe.
 */
final class NioLoops implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(NioLoops.class);
  private static final int BUFFER = 16 * 1024;

  private final Loop[] loops;
  private final AtomicInteger next = new AtomicInteger();

  NioLoops(int threads) throws IOException {
    loops = new Loop[threads];
    for (int i = 0; i < threads; i++) {
      loops[i] = new Loop("proxy-loop-" + i);
    }
  }

  /**
   * Hands a connected pair (both made non-blocking here) to a loop; {@code onClose} runs once
   * when the pair is closed.
   */
  void add(SocketChannel a, SocketChannel b, Runnable onClose) throws IOException {
    a.configureBlocking(false);
    b.configureBlocking(false);
    loops[Math.floorMod(next.getAndIncrement(), loops.length)].add(a, b, onClose);
  }

  @Override
  public void close() {
    for (Loop l : loops) {
      l.close();
    }
  }

  private static final class Side {
    final SocketChannel ch;
    final ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER); // read from ch, to be written to peer
    final AtomicBoolean closed;
    final Runnable onClose;
    Side peer;
    SelectionKey key;
    boolean pending; // buf holds data not yet written to peer
    boolean eof; // ch reached end of stream

    Side(SocketChannel ch, AtomicBoolean closed, Runnable onClose) {
      this.ch = ch;
      this.closed = closed;
      this.onClose = onClose;
    }

    void interest() {
      int ops = (!eof && !pending ? SelectionKey.OP_READ : 0) | (peer.pending ? SelectionKey.OP_WRITE : 0);
      if (key.isValid() && key.interestOps() != ops) {
        key.interestOps(ops);
      }
    }

    void closePair() {
      if (closed.compareAndSet(false, true)) {
        TcpForwarder.closeQuietly(ch);
        TcpForwarder.closeQuietly(peer.ch);
        onClose.run();
      }
    }
  }

  private static final class Loop implements AutoCloseable {
    private final Selector selector;
    private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private volatile boolean closed;

    Loop(String name) throws IOException {
      selector = Selector.open();
      Thread.ofPlatform().name(name).daemon().start(this::run);
    }

    void add(SocketChannel a, SocketChannel b, Runnable onClose) {
      tasks.add(() -> {
        AtomicBoolean pairClosed = new AtomicBoolean();
        Side sa = new Side(a, pairClosed, onClose);
        Side sb = new Side(b, pairClosed, onClose);
        sa.peer = sb;
        sb.peer = sa;
        try {
          sa.key = a.register(selector, SelectionKey.OP_READ, sa);
          sb.key = b.register(selector, SelectionKey.OP_READ, sb);
        } catch (IOException e) {
          sa.closePair();
        }
      });
      selector.wakeup();
    }

    private void run() {
      try {
        loop();
      } finally {
        for (SelectionKey k : selector.keys()) {
          if (k.attachment() instanceof Side s) {
            s.closePair();
          }
        }
        TcpForwarder.closeQuietly(selector);
      }
    }

    private void loop() {
      while (!closed) {
        try {
          selector.select();
        } catch (IOException e) {
          log.warn("proxy loop: select failed: {}", e.toString());
          return;
        }
        Runnable t;
        while ((t = tasks.poll()) != null) {
          t.run();
        }
        Iterator<SelectionKey> it = selector.selectedKeys().iterator();
        while (it.hasNext()) {
          SelectionKey k = it.next();
          it.remove();
          Side s = (Side) k.attachment();
          try {
            if (k.isValid() && k.isReadable()) {
              read(s);
            }
            if (k.isValid() && k.isWritable()) {
              write(s);
            }
          } catch (IOException | RuntimeException e) {
            s.closePair();
          }
        }
      }
    }

    /** s.ch has data: read it and pass it on at once; if the peer cannot take it all, wait. */
    private static void read(Side s) throws IOException {
      int n = s.ch.read(s.buf);
      if (n < 0) {
        s.eof = true;
        if (s.peer.eof) {
          s.closePair();
          return;
        }
        s.peer.ch.shutdownOutput();
        s.interest();
        return;
      }
      if (n == 0) {
        return;
      }
      s.buf.flip();
      s.peer.ch.write(s.buf);
      if (s.buf.hasRemaining()) {
        s.pending = true;
        s.interest();
        s.peer.interest();
      } else {
        s.buf.clear();
      }
    }

    /** p.ch can take more of its peer's pending data. */
    private static void write(Side p) throws IOException {
      Side src = p.peer;
      if (!src.pending) { // stale readiness: nothing waits for p
        p.interest();
        return;
      }
      p.ch.write(src.buf);
      if (!src.buf.hasRemaining()) {
        src.buf.clear();
        src.pending = false;
        p.interest();
        src.interest();
      }
    }

    @Override
    public void close() {
      closed = true; // the loop thread closes its connections and the selector on its way out
      selector.wakeup();
    }
  }
}
