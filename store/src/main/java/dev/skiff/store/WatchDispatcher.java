package dev.skiff.store;

import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers a store's changes to its watches on one dispatcher thread.
 *
 * <p>Why one thread that pulls: writers only bump the published revision and {@link #signal()};
 * they never call listeners, so a slow listener cannot stall commits. The dispatcher reads
 * events back from the store's history ({@link Source#read}) in chunks, materializing each event
 * at most once per chunk for all watches, and hands every watch the matching events with
 * revision {@code >= next}. A new watch is just a watch whose {@code next} is old: replay of kept
 * history and live streaming are the same code path, so there is no hand-over gap.
 *
 * <p>Calls to one listener are never concurrent (there is one thread) and are in revision order.
 */
final class WatchDispatcher {
  private static final Logger log = LoggerFactory.getLogger(WatchDispatcher.class);
  /** Revisions per chunk: bounds the memory a catching-up watch costs. */
  static final int CHUNK_REVISIONS = 1024;

  /** Where the events come from. */
  interface Source {
    /** The latest published revision: every revision up to it can be read. */
    long currentRevision();

    /**
     * Events with revision in {@code [from, to]} whose key passes {@code keyFilter}, in revision
     * order. The source may stop early (bounded memory); {@link Chunk#through()} says up to which
     * revision the answer is complete.
     *
     * @throws CompactedException if revision {@code from} is no longer kept
     */
    Chunk read(long from, long to, Predicate<String> keyFilter);
  }

  /** Events of revisions up to and including {@code through}, filtered. */
  record Chunk(List<WatchEvent> events, long through) {}

  private final Source source;
  private final Thread thread;
  private final Queue<WatchImpl> added = new ConcurrentLinkedQueue<>();
  private final List<WatchImpl> active = new ArrayList<>(); // dispatcher thread only
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition wake = lock.newCondition();
  private boolean signalled; // guarded by lock
  private volatile boolean stopped;

  WatchDispatcher(Source source, String name) {
    this.source = source;
    this.thread = Thread.ofPlatform().daemon().name(name).unstarted(this::run);
    thread.start();
  }

  /** Registers a watch for keys starting with {@code prefix}, changes after {@code afterRevision}. */
  KeyValueStore.Watch register(String prefix, long afterRevision, WatchListener listener) {
    WatchImpl w = new WatchImpl(prefix, afterRevision + 1, listener);
    if (stopped) {
      throw new StoreException("store is closed");
    }
    added.add(w);
    signal();
    return w;
  }

  /** New revisions were published (or a watch was added): the dispatcher has work. */
  void signal() {
    lock.lock();
    try {
      signalled = true;
      wake.signal();
    } finally {
      lock.unlock();
    }
  }

  /** Stops the thread and ends every open watch with {@code cause}. */
  void close(Throwable cause) {
    stopped = true;
    signal();
    if (Thread.currentThread() != thread) {
      try {
        thread.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    List<WatchImpl> all = new ArrayList<>(active);
    for (WatchImpl w; (w = added.poll()) != null; ) {
      all.add(w);
    }
    for (WatchImpl w : all) {
      w.end(cause);
    }
  }

  private void run() {
    while (!stopped) {
      lock.lock();
      try {
        while (!signalled && !stopped) {
          wake.awaitUninterruptibly();
        }
        signalled = false;
      } finally {
        lock.unlock();
      }
      try {
        dispatch();
      } catch (RuntimeException e) {
        // A bug or an I/O error reading history: end the watches rather than spin.
        log.error("watch dispatch failed, ending all watches: {}", e.toString());
        for (WatchImpl w : active) {
          w.end(e);
        }
        active.clear();
      }
    }
  }

  private void dispatch() {
    long target = source.currentRevision();
    while (!stopped) {
      for (WatchImpl w; (w = added.poll()) != null; ) {
        active.add(w);
      }
      active.removeIf(w -> w.closed);
      long from = Long.MAX_VALUE;
      List<String> prefixes = new ArrayList<>();
      for (WatchImpl w : active) {
        if (w.next <= target) {
          from = Math.min(from, w.next);
          prefixes.add(w.prefix);
        }
      }
      if (from == Long.MAX_VALUE) {
        return;
      }
      Chunk chunk;
      try {
        chunk = source.read(from, Math.min(target, from + CHUNK_REVISIONS - 1), anyPrefix(prefixes));
      } catch (CompactedException e) {
        for (WatchImpl w : active) {
          if (w.next <= e.compactRevision()) {
            w.end(e);
          }
        }
        continue;
      }
      for (WatchImpl w : active) {
        if (w.next <= chunk.through()) {
          deliver(w, chunk);
        }
      }
    }
  }

  private static Predicate<String> anyPrefix(List<String> prefixes) {
    if (prefixes.contains("")) {
      return k -> true;
    }
    if (prefixes.size() == 1) {
      String p = prefixes.get(0);
      return k -> k.startsWith(p);
    }
    return k -> {
      for (String p : prefixes) {
        if (k.startsWith(p)) {
          return true;
        }
      }
      return false;
    };
  }

  private void deliver(WatchImpl w, Chunk chunk) {
    List<WatchEvent> mine = new ArrayList<>();
    for (WatchEvent e : chunk.events()) {
      if (e.revision() >= w.next && e.kv().key().startsWith(w.prefix)) {
        mine.add(e);
      }
    }
    w.next = chunk.through() + 1;
    if (mine.isEmpty()) {
      return;
    }
    w.lock.lock();
    try {
      if (!w.closed) {
        w.listener.onEvents(List.copyOf(mine));
      }
    } catch (RuntimeException e) {
      log.warn("watch listener on prefix '{}' threw, closing the watch: {}", w.prefix, e.toString());
      w.closed = true;
      safeOnClose(w, e);
    } finally {
      w.lock.unlock();
    }
  }

  private static void safeOnClose(WatchImpl w, Throwable cause) {
    try {
      w.listener.onClose(cause);
    } catch (RuntimeException e) {
      log.warn("watch listener onClose threw: {}", e.toString());
    }
  }

  private final class WatchImpl implements KeyValueStore.Watch {
    final String prefix;
    final WatchListener listener;
    /** Next revision this watch has not seen yet. Dispatcher thread only. */
    long next;
    /** Held while the listener runs, so close() can promise that no call starts afterwards. */
    final ReentrantLock lock = new ReentrantLock();
    volatile boolean closed;

    WatchImpl(String prefix, long next, WatchListener listener) {
      this.prefix = prefix;
      this.next = next;
      this.listener = listener;
    }

    /** Ends the watch because of {@code cause}, telling the listener once. */
    void end(Throwable cause) {
      lock.lock();
      try {
        if (!closed) {
          closed = true;
          safeOnClose(this, cause);
        }
      } finally {
        lock.unlock();
      }
    }

    @Override
    public void close() {
      // From inside a listener the lock is already ours (reentrant); from elsewhere this waits for
      // a running delivery to finish, so none is in progress or starts once close() returns.
      lock.lock();
      try {
        closed = true;
      } finally {
        lock.unlock();
      }
    }
  }
}
