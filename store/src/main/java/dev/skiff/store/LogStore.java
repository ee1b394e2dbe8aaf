package dev.skiff.store;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentNavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.locks.ReentrantLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Predicate;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded, durable {@link KeyValueStore}: one append-only log file plus an in-memory index.
 *
 * <h2>Layout</h2>
 * A data directory holds {@code store.log} (format in {@link LogFormat}) and a {@code LOCK} file
 * that keeps a second process from opening the same store. Every successful write appends one
 * record. On {@link #open}, the log is replayed into the index; a torn or corrupt record at the
 * tail (a crash in the middle of an append) and everything after it is truncated away. Only
 * acknowledged writes are guaranteed to survive: they were fsynced before their call returned.
 *
 * <h2>Values live in the file, not on the heap</h2>
 * The index holds, per key, only the record's offset and lengths and the revisions (about 100
 * bytes with the key). Values are read back with a positional read, served by the OS page cache.
 * The API server already keeps every object in its watch cache and serves lists and watches from
 * there, so a second on-heap copy here would double the memory of the cluster's state for reads
 * that hardly ever happen (start-up, conflicts, re-lists). A 1 KiB get from the page cache costs a
 * few microseconds, which is noise next to an HTTP request.
 *
 * <h2>Group commit</h2>
 * Writers hand their operation to one committer thread and block until it completes. The committer
 * takes every queued operation, checks its condition against the index plus the earlier
 * operations of the same batch (so checks are linearizable, in revision order), encodes the
 * successful ones into one buffer, writes it, calls {@code force(false)} once for the whole batch,
 * then publishes the batch to the index and history and completes the callers. With N concurrent
 * writers one fdatasync is shared by up to N writes.
 *
 * <h2>History, watches, compaction</h2>
 * History is an in-memory list, one small entry per revision after the compacted revision,
 * pointing at records in the file; a dispatcher thread reads events back from it for the watches,
 * never on a writer's thread. {@link #compact} drops history at and below a revision; once the
 * file holds enough garbage it is rewritten (the state at the compacted revision, then the history
 * after it) into a temporary file that is fsynced and renamed over the log (then the directory is
 * fsynced), so the file stays proportional to the live data plus the kept history.
 *
 * <p>Thread-safety: all public methods are thread-safe. Reads are linearizable with respect to
 * writes that have returned.
 */
public final class LogStore implements KeyValueStore {
  private static final Logger log = LoggerFactory.getLogger(LogStore.class);
  static final String LOG_FILE = "store.log";
  static final String COMPACT_FILE = "store.log.compacting";
  static final String LOCK_FILE = "LOCK";
  /** A batch stops growing here, so one batch's buffer and latency stay bounded. */
  private static final int MAX_BATCH_BYTES = 8 << 20;
  /** Default garbage a compaction must be able to reclaim before it rewrites the file. */
  static final long DEFAULT_MIN_REWRITE_BYTES = 4 << 20;
  /** The dispatcher materializes at most this many value bytes per chunk. */
  private static final long MAX_CHUNK_BYTES = 8 << 20;

  private final Path dir;
  private final long minRewriteBytes;
  private final FileChannel lockChannel;
  private final FileLock dirLock;

  /**
   * Held shared by every reader of the file and exclusively while a compaction swaps the file and
   * remaps offsets: an {@link Entry}'s offset is valid only under this lock.
   */
  private final ReentrantReadWriteLock fileLock = new ReentrantReadWriteLock();
  /** Makes a batch (index + history + revision) appear at once to range and watch reads. */
  private final ReentrantReadWriteLock publishLock = new ReentrantReadWriteLock();
  /** Keeps writes from being queued behind the committer's stop marker. */
  private final ReentrantReadWriteLock closeLock = new ReentrantReadWriteLock();
  private final ReentrantLock compactionLock = new ReentrantLock();

  private FileChannel channel; // replaced under fileLock write
  private final ConcurrentSkipListMap<String, Entry> index = new ConcurrentSkipListMap<>(KeyOrder.COMPARATOR);
  private final History history = new History(); // guarded by publishLock
  private volatile long revision; // published revision
  private volatile long compactedRevision; // written under publishLock
  private long publishedEnd; // guarded by publishLock
  private int generation; // file generation, bumped on swap (under fileLock write)

  // Committer-owned state.
  private long end; // end of the file
  private ByteBuffer batchBuffer = ByteBuffer.allocateDirect(1 << 20);
  private final LinkedBlockingQueue<Op> queue = new LinkedBlockingQueue<>();
  private final Thread committer;
  private volatile StoreException failure;
  private volatile boolean closed;

  private final WatchDispatcher dispatcher;

  /** Opens (creating if needed) the store in {@code dir}, recovering from a crash if there was one. */
  public static LogStore open(Path dir) {
    return open(dir, DEFAULT_MIN_REWRITE_BYTES);
  }

  static LogStore open(Path dir, long minRewriteBytes) {
    try {
      return new LogStore(dir, minRewriteBytes);
    } catch (IOException e) {
      throw new StoreException("cannot open store in " + dir + ": " + e, e);
    }
  }

  private LogStore(Path dir, long minRewriteBytes) throws IOException {
    this.dir = dir;
    this.minRewriteBytes = minRewriteBytes;
    Files.createDirectories(dir);
    lockChannel = FileChannel.open(dir.resolve(LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
    FileLock l;
    try {
      l = lockChannel.tryLock();
    } catch (java.nio.channels.OverlappingFileLockException e) {
      l = null; // held by this JVM
    } catch (IOException | RuntimeException e) {
      lockChannel.close();
      throw e;
    }
    if (l == null) {
      lockChannel.close();
      throw new IOException("store in " + dir + " is in use by another process");
    }
    dirLock = l;
    try {
      Files.deleteIfExists(dir.resolve(COMPACT_FILE)); // a compaction that crashed before its rename
      Path file = dir.resolve(LOG_FILE);
      if (!Files.exists(file)) {
        createEmpty(file);
      }
      channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
      recover();
    } catch (IOException | RuntimeException e) {
      if (channel != null) {
        channel.close();
      }
      dirLock.release();
      lockChannel.close();
      throw e;
    }
    committer = Thread.ofPlatform().daemon().name("skiff-store-committer").unstarted(this::runCommitter);
    committer.start();
    dispatcher = new WatchDispatcher(new Source(), "skiff-store-watch");
  }

  private void createEmpty(Path file) throws IOException {
    Path tmp = dir.resolve(COMPACT_FILE);
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      LogFormat.writeFully(ch, LogFormat.header(0, 0), 0);
      ch.force(true);
    }
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
    syncDirectory();
  }

  private void recover() throws IOException {
    long[] header = LogFormat.readHeader(channel);
    long rev = header[0];
    long compacted = header[1];
    LogFormat.Scanner scanner = new LogFormat.Scanner(channel, LogFormat.HEADER_SIZE);
    int records = 0;
    for (LogFormat.Decoded d; (d = scanner.next()) != null; records++) {
      rev = Math.max(rev, d.revision());
      Entry prev = index.get(d.key());
      Entry e;
      if (d.type() == LogFormat.PUT) {
        e = new Entry(d.offset(), d.length(), d.valueLength(), d.createRevision(), d.revision(), d.version());
        index.put(d.key(), e);
      } else {
        e = Entry.tombstone(d.offset(), d.length(), d.revision());
        index.remove(d.key());
      }
      if (d.revision() > compacted) {
        if (!history.isEmpty() && d.revision() != history.last() + 1) {
          // Cannot happen with files we write; if it does, keep serving and forget older history.
          log.warn("revision gap in store log at {} (after {}), dropping earlier history", d.revision(), history.last());
          compacted = d.revision() - 1;
          history.dropThrough(compacted);
        }
        history.append(new HistoryEntry(d.key(), e, prev, d.type() == LogFormat.DELETE));
      }
    }
    long good = scanner.position();
    if (good < scanner.size()) {
      log.warn("store log {} has {} bytes of torn or corrupt tail after offset {}; truncating",
          dir.resolve(LOG_FILE), scanner.size() - good, good);
      channel.truncate(good);
      channel.force(true);
    }
    // Watches may start only where the history is complete: after the last revision whose record
    // is no longer an event in the file.
    compacted = history.isEmpty() ? rev : Math.max(compacted, history.first() - 1);
    end = good;
    publishedEnd = good;
    revision = rev;
    compactedRevision = Math.min(compacted, rev);
    log.info("opened store {}: {} records, {} keys, revision {}, compacted {}", dir, records, index.size(), rev, compactedRevision);
  }

  // ---- reads ------------------------------------------------------------------------------

  @Override
  public long currentRevision() {
    return revision;
  }

  @Override
  public long compactedRevision() {
    return compactedRevision;
  }

  @Override
  public KeyValue get(String key) {
    ensureOpen();
    fileLock.readLock().lock();
    try {
      Entry e = index.get(key);
      return e == null ? null : e.toKeyValue(key, readValue(e));
    } finally {
      fileLock.readLock().unlock();
    }
  }

  @Override
  public RangeResult range(String prefix, String startAfter, int limit) {
    ensureOpen();
    fileLock.readLock().lock();
    try {
      List<String> keys = new ArrayList<>();
      List<Entry> entries = new ArrayList<>();
      boolean more = false;
      long rev;
      publishLock.readLock().lock();
      try {
        rev = revision;
        ConcurrentNavigableMap<String, Entry> tail = startAfter != null && KeyOrder.compare(startAfter, prefix) >= 0
            ? index.tailMap(startAfter, false)
            : index.tailMap(prefix, true);
        for (Map.Entry<String, Entry> e : tail.entrySet()) {
          if (!e.getKey().startsWith(prefix)) {
            break;
          }
          if (limit > 0 && keys.size() == limit) {
            more = true;
            break;
          }
          keys.add(e.getKey());
          entries.add(e.getValue());
        }
      } finally {
        publishLock.readLock().unlock();
      }
      // Values are read outside the publish lock (commits may publish meanwhile) but under the
      // file lock, which keeps the collected offsets valid.
      KeyValue[] kvs = new KeyValue[keys.size()];
      for (int i = 0; i < kvs.length; i++) {
        Entry e = entries.get(i);
        kvs[i] = e.toKeyValue(keys.get(i), readValue(e));
      }
      return new RangeResult(List.of(kvs), rev, more);
    } finally {
      fileLock.readLock().unlock();
    }
  }

  /** Caller holds the file lock (or is the committer, which is the only thread that swaps files). */
  private byte[] readValue(Entry e) {
    byte[] v = new byte[e.valueLength];
    if (v.length > 0) {
      try {
        LogFormat.readFully(channel, ByteBuffer.wrap(v), e.offset + e.length - e.valueLength);
      } catch (IOException ex) {
        throw new StoreException("cannot read store file: " + ex, ex);
      }
    }
    return v;
  }

  // ---- writes -----------------------------------------------------------------------------

  @Override
  public TxnResult create(String key, byte[] value) {
    return submit(new Write(Kind.CREATE, key, value.clone(), 0));
  }

  @Override
  public TxnResult update(String key, byte[] value, long expectedModRevision) {
    return submit(new Write(Kind.UPDATE, key, value.clone(), expectedModRevision));
  }

  @Override
  public TxnResult delete(String key, long expectedModRevision) {
    return submit(new Write(Kind.DELETE, key, null, expectedModRevision));
  }

  private TxnResult submit(Write w) {
    MemoryStore.checkKey(w.key);
    enqueue(w);
    try {
      return w.result.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw e;
    }
  }

  private void enqueue(Op op) {
    closeLock.readLock().lock();
    try {
      ensureOpen();
      queue.add(op);
    } finally {
      closeLock.readLock().unlock();
    }
  }

  private void runCommitter() {
    List<Write> batch = new ArrayList<>();
    Op carry = null;
    while (true) {
      Op op;
      if (carry != null) {
        op = carry;
        carry = null;
      } else {
        try {
          op = queue.take();
        } catch (InterruptedException e) {
          continue; // only close() stops the committer
        }
      }
      if (op instanceof Stop) {
        break;
      }
      if (op instanceof Swap s) {
        swap(s);
        continue;
      }
      Write first = (Write) op;
      batch.add(first);
      long bytes = first.estimate();
      while (bytes < MAX_BATCH_BYTES) {
        Op next = queue.poll();
        if (next == null) {
          break;
        }
        if (!(next instanceof Write w)) {
          carry = next;
          break;
        }
        batch.add(w);
        bytes += w.estimate();
      }
      commit(batch, bytes);
      batch.clear();
    }
    StoreException closedEx = new StoreException("store is closed");
    for (Op op; (op = queue.poll()) != null; ) {
      op.fail(closedEx);
    }
  }

  /** State of a key within the batch being built: {@code entry} null means deleted. */
  private record Pending(Entry entry, byte[] value) {}

  private void commit(List<Write> batch, long bytes) {
    if (failure != null) {
      batch.forEach(w -> w.fail(failure));
      return;
    }
    if (batchBuffer.capacity() < bytes) {
      batchBuffer = ByteBuffer.allocateDirect((int) Math.min(Integer.MAX_VALUE - 8, Long.highestOneBit(bytes) << 1));
    }
    ByteBuffer buf = batchBuffer.clear();
    Map<String, Pending> overlay = new HashMap<>();
    List<HistoryEntry> events = new ArrayList<>();
    TxnResult[] results = new TxnResult[batch.size()];
    long rev = revision;
    try {
      for (int i = 0; i < results.length; i++) {
        Write w = batch.get(i);
        Pending p = overlay.get(w.key);
        Entry cur = p != null ? p.entry : index.get(w.key);
        byte[] curValue = p != null ? p.value : null;
        boolean ok = switch (w.kind) {
          case CREATE -> cur == null;
          case UPDATE -> cur != null && cur.modRevision == w.expected;
          case DELETE -> cur != null && (w.expected <= 0 || cur.modRevision == w.expected);
        };
        if (!ok) {
          results[i] = TxnResult.failed(rev, cur == null ? null
              : cur.toKeyValue(w.key, curValue != null ? curValue : readValue(cur)));
          continue;
        }
        rev++;
        byte[] keyBytes = w.key.getBytes(StandardCharsets.UTF_8);
        long offset = end + buf.position();
        if (w.kind == Kind.DELETE) {
          int len = LogFormat.encode(buf, rev, LogFormat.DELETE, 0, 0, keyBytes, new byte[0]);
          Entry tomb = Entry.tombstone(offset, len, rev);
          overlay.put(w.key, new Pending(null, null));
          events.add(new HistoryEntry(w.key, tomb, cur, true));
          results[i] = TxnResult.ok(rev, cur.toKeyValue(w.key, curValue != null ? curValue : readValue(cur)));
        } else {
          long createRev = cur == null ? rev : cur.createRevision;
          long version = cur == null ? 1 : cur.version + 1;
          int len = LogFormat.encode(buf, rev, LogFormat.PUT, createRev, version, keyBytes, w.value);
          Entry e = new Entry(offset, len, w.value.length, createRev, rev, version);
          overlay.put(w.key, new Pending(e, w.value));
          events.add(new HistoryEntry(w.key, e, cur, false));
          results[i] = TxnResult.ok(rev, e.toKeyValue(w.key, w.value));
        }
      }
      int written = buf.position();
      if (written > 0) {
        buf.flip();
        LogFormat.writeFully(channel, buf, end);
        channel.force(false);
      }
      publishLock.writeLock().lock();
      try {
        for (HistoryEntry h : events) {
          if (h.delete) {
            index.remove(h.key);
          } else {
            index.put(h.key, h.rec);
          }
          history.append(h);
        }
        end += written;
        publishedEnd = end;
        revision = rev;
      } finally {
        publishLock.writeLock().unlock();
      }
    } catch (IOException | RuntimeException e) {
      // After a failed write or fsync the file's state is unknown: refuse further writes (the
      // next open recovers to the last good record) rather than risk acknowledging lost data.
      failure = new StoreException("store write failed, store is now read-only: " + e, e);
      log.error("store write failed; further writes will fail: {}", e.toString());
      batch.forEach(w -> w.fail(failure));
      return;
    }
    for (int i = 0; i < results.length; i++) {
      batch.get(i).result.complete(results[i]);
    }
    if (!events.isEmpty()) {
      dispatcher.signal();
    }
  }

  // ---- watch ------------------------------------------------------------------------------

  @Override
  public Watch watch(String prefix, long afterRevision, WatchListener listener) {
    ensureOpen();
    publishLock.readLock().lock();
    try {
      if (afterRevision < compactedRevision) {
        throw new CompactedException(afterRevision + 1, compactedRevision);
      }
      return dispatcher.register(prefix, afterRevision, listener);
    } finally {
      publishLock.readLock().unlock();
    }
  }

  private final class Source implements WatchDispatcher.Source {
    @Override
    public long currentRevision() {
      return revision;
    }

    @Override
    public WatchDispatcher.Chunk read(long from, long to, Predicate<String> keyFilter) {
      fileLock.readLock().lock();
      try {
        HistoryEntry[] hs;
        publishLock.readLock().lock();
        try {
          if (from <= compactedRevision) {
            throw new CompactedException(from, compactedRevision);
          }
          hs = history.copy(from, Math.min(to, revision));
        } finally {
          publishLock.readLock().unlock();
        }
        List<WatchEvent> out = new ArrayList<>();
        long through = from - 1;
        long bytes = 0;
        for (HistoryEntry h : hs) {
          if (keyFilter.test(h.key)) {
            WatchEvent e = toEvent(h);
            out.add(e);
            bytes += e.kv().value().length + (e.prev() == null ? 0 : e.prev().value().length);
          }
          through = h.rec.modRevision;
          if (bytes > MAX_CHUNK_BYTES) {
            break;
          }
        }
        return new WatchDispatcher.Chunk(out, through);
      } finally {
        fileLock.readLock().unlock();
      }
    }

    private WatchEvent toEvent(HistoryEntry h) {
      KeyValue prev = h.prev == null ? null : h.prev.toKeyValue(h.key, readValue(h.prev));
      if (h.delete) {
        return new WatchEvent(WatchEvent.Type.DELETE, new KeyValue(h.key, new byte[0], 0, h.rec.modRevision, 0), prev);
      }
      return new WatchEvent(WatchEvent.Type.PUT, h.rec.toKeyValue(h.key, readValue(h.rec)), prev);
    }
  }

  // ---- compaction -------------------------------------------------------------------------

  /**
   * Drops history at and below {@code rev}. If that leaves enough garbage in the file (at least
   * half the size of what must be kept, and at least a minimum), the file is rewritten: the state
   * at {@code rev}, then every record after it; writes continue during the rewrite and are
   * paused only while the tail written meanwhile is copied and the file is swapped.
   *
   * @throws IllegalArgumentException if {@code rev} is above the current revision
   */
  @Override
  public void compact(long rev) {
    ensureOpen();
    compactionLock.lock();
    try {
      Plan plan;
      publishLock.writeLock().lock();
      try {
        if (rev > revision) {
          throw new IllegalArgumentException("cannot compact to future revision " + rev + " (current " + revision + ")");
        }
        if (rev <= compactedRevision) {
          return;
        }
        plan = plan(rev);
        history.dropThrough(rev);
        compactedRevision = rev;
      } finally {
        publishLock.writeLock().unlock();
      }
      long garbage = plan.snapshotEnd - plan.newSize();
      if (garbage < minRewriteBytes || garbage < plan.newSize() / 2) {
        return;
      }
      rewrite(plan);
    } catch (IOException e) {
      throw new StoreException("compaction failed: " + e, e);
    } finally {
      compactionLock.unlock();
    }
  }

  /** What a rewrite copies. Built under the publish lock, so it is one consistent snapshot. */
  private final class Plan {
    final long compactRevision;
    final long snapshotRevision;
    final long snapshotEnd;
    /** First record with revision > compactRevision: from here the file is copied verbatim. */
    final long suffixStart;
    /** Records holding the state at compactRevision that lie before suffixStart, by offset. */
    final long[] baseOffsets;
    final int[] baseLengths;
    final long baseBytes;
    long[] newBaseOffsets;
    long newSuffixStart;
    FileChannel target;
    long targetEnd;

    Plan(long compactRevision, List<Entry> base) {
      this.compactRevision = compactRevision;
      this.snapshotRevision = revision;
      this.snapshotEnd = publishedEnd;
      HistoryEntry firstKept = history.get(compactRevision + 1);
      this.suffixStart = firstKept == null ? publishedEnd : firstKept.rec.offset;
      base.sort(Comparator.comparingLong(e -> e.offset));
      baseOffsets = new long[base.size()];
      baseLengths = new int[base.size()];
      long sum = 0;
      for (int i = 0; i < baseOffsets.length; i++) {
        baseOffsets[i] = base.get(i).offset;
        baseLengths[i] = base.get(i).length;
        sum += baseLengths[i];
      }
      baseBytes = sum;
    }

    long newSize() {
      return LogFormat.HEADER_SIZE + baseBytes + (snapshotEnd - suffixStart);
    }

    long remap(long offset) {
      if (offset >= suffixStart) {
        return offset - suffixStart + newSuffixStart;
      }
      int i = Arrays.binarySearch(baseOffsets, offset);
      if (i < 0) {
        throw new IllegalStateException("compaction lost the record at offset " + offset);
      }
      return newBaseOffsets[i];
    }
  }

  /** Caller holds the publish lock. */
  private Plan plan(long rev) {
    // The state at rev: keys untouched since rev as they are now; for keys changed after rev, the
    // value before their first later change (if they existed then).
    List<Entry> base = new ArrayList<>();
    Set<String> changed = new HashSet<>();
    for (long r = rev + 1; r <= history.last(); r++) {
      HistoryEntry h = history.get(r);
      if (changed.add(h.key) && h.prev != null) {
        base.add(h.prev);
      }
    }
    for (Entry e : index.values()) {
      if (e.modRevision <= rev) {
        base.add(e);
      }
    }
    return new Plan(rev, base);
  }

  private void rewrite(Plan plan) throws IOException {
    Path tmp = dir.resolve(COMPACT_FILE);
    FileChannel target = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.READ, StandardOpenOption.WRITE);
    boolean handedOver = false;
    try {
      // No lock needed to read the old file: only a compaction swaps it and we hold compactionLock,
      // and the committer only appends beyond snapshotEnd.
      LogFormat.writeFully(target, LogFormat.header(plan.snapshotRevision, plan.compactRevision), 0);
      long pos = LogFormat.HEADER_SIZE;
      plan.newBaseOffsets = new long[plan.baseOffsets.length];
      for (int i = 0; i < plan.baseOffsets.length; i++) {
        plan.newBaseOffsets[i] = pos;
        pos += copy(channel, plan.baseOffsets[i], plan.baseLengths[i], target, pos);
      }
      plan.newSuffixStart = pos;
      pos += copy(channel, plan.suffixStart, plan.snapshotEnd - plan.suffixStart, target, pos);
      target.force(false);
      plan.target = target;
      plan.targetEnd = pos;
      Swap swap = new Swap(plan, new CompletableFuture<>());
      enqueue(swap);
      handedOver = true;
      swap.done.join();
      log.info("compacted store to revision {}: file {} -> {} bytes", plan.compactRevision, plan.snapshotEnd, plan.targetEnd);
    } catch (CompletionException e) {
      throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
    } finally {
      if (!handedOver) {
        target.close();
        Files.deleteIfExists(tmp);
      }
    }
  }

  private static long copy(FileChannel from, long position, long count, FileChannel to, long toPosition) throws IOException {
    long done = 0;
    while (done < count) {
      long n = from.transferTo(position + done, count - done, to.position(toPosition + done));
      if (n <= 0) {
        throw new IOException("short copy from store file at " + (position + done));
      }
      done += n;
    }
    return count;
  }

  /** On the committer thread, between batches: everything written is published. */
  private void swap(Swap s) {
    Plan plan = s.plan;
    FileChannel target = plan.target;
    try {
      if (failure != null) {
        throw failure;
      }
      long tail = end - plan.snapshotEnd;
      copy(channel, plan.snapshotEnd, tail, target, plan.targetEnd);
      long newEnd = plan.targetEnd + tail;
      target.force(true);
      // Rename before taking the locks: readers keep using the old channel (the old inode stays
      // readable while open) and the committer, which is us, writes nothing meanwhile.
      Files.move(dir.resolve(COMPACT_FILE), dir.resolve(LOG_FILE), StandardCopyOption.ATOMIC_MOVE,
          StandardCopyOption.REPLACE_EXISTING);
      syncDirectory();
      FileChannel old;
      fileLock.writeLock().lock();
      publishLock.writeLock().lock();
      try {
        int gen = ++generation;
        for (Entry e : index.values()) {
          e.remap(plan, gen);
        }
        history.forEach(h -> {
          h.rec.remap(plan, gen);
          if (h.prev != null) {
            h.prev.remap(plan, gen);
          }
        });
        old = channel;
        channel = target;
        end = newEnd;
        publishedEnd = newEnd;
      } finally {
        publishLock.writeLock().unlock();
        fileLock.writeLock().unlock();
      }
      old.close();
      s.done.complete(null);
    } catch (IOException | RuntimeException e) {
      // Nothing was swapped in memory; if the rename happened, the new file holds everything the
      // old one did, so the store is still consistent on disk. Stop writing to be safe if so.
      if (!Files.exists(dir.resolve(COMPACT_FILE)) && failure == null) {
        failure = new StoreException("compaction swap failed, store is now read-only: " + e, e);
      }
      try {
        target.close();
        Files.deleteIfExists(dir.resolve(COMPACT_FILE));
      } catch (IOException ignored) {
        // best effort
      }
      s.done.completeExceptionally(e);
    }
  }

  private void syncDirectory() throws IOException {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    }
  }

  /** Current size of the log file in bytes (for tests and metrics). */
  long fileSize() {
    fileLock.readLock().lock();
    try {
      return channel.size();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } finally {
      fileLock.readLock().unlock();
    }
  }

  // ---- lifecycle --------------------------------------------------------------------------

  /** Stops accepting writes, waits for queued ones to commit, ends all watches, releases files. */
  @Override
  public void close() {
    closeLock.writeLock().lock();
    try {
      if (closed) {
        return;
      }
      closed = true;
      queue.add(new Stop());
    } finally {
      closeLock.writeLock().unlock();
    }
    boolean interrupted = false;
    while (true) {
      try {
        committer.join();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    dispatcher.close(new StoreException("store closed"));
    compactionLock.lock(); // let a running compaction finish reading the old file
    fileLock.writeLock().lock();
    try {
      channel.close();
      dirLock.release();
      lockChannel.close();
    } catch (IOException e) {
      log.warn("closing store {}: {}", dir, e.toString());
    } finally {
      fileLock.writeLock().unlock();
      compactionLock.unlock();
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }

  private void ensureOpen() {
    if (closed) {
      throw new StoreException("store is closed");
    }
  }

  // ---- internals --------------------------------------------------------------------------

  /**
   * One record in the file as the index and history know it. Immutable except for
   * {@code offset}, which a compaction swap rewrites under the file lock; shared between the index
   * and the history so a record costs one object however many places refer to it.
   */
  static final class Entry {
    long offset;
    final int length;
    final int valueLength;
    final long createRevision;
    final long modRevision;
    final long version;
    private int generation;

    Entry(long offset, int length, int valueLength, long createRevision, long modRevision, long version) {
      this.offset = offset;
      this.length = length;
      this.valueLength = valueLength;
      this.createRevision = createRevision;
      this.modRevision = modRevision;
      this.version = version;
    }

    static Entry tombstone(long offset, int length, long revision) {
      return new Entry(offset, length, 0, 0, revision, 0);
    }

    KeyValue toKeyValue(String key, byte[] value) {
      return new KeyValue(key, value, createRevision, modRevision, version);
    }

    void remap(Plan plan, int gen) {
      if (generation != gen) {
        offset = plan.remap(offset);
        generation = gen;
      }
    }
  }

  /** The change at one revision: {@code rec} is the written record, {@code prev} the state before. */
  record HistoryEntry(String key, Entry rec, Entry prev, boolean delete) {}

  /** Entries for consecutive revisions, in a growable ring. Guarded by the publish lock. */
  static final class History {
    private HistoryEntry[] ring = new HistoryEntry[1024];
    private int head;
    private int size;
    private long first = 1; // revision of the entry at head

    boolean isEmpty() {
      return size == 0;
    }

    long first() {
      return first;
    }

    long last() {
      return first + size - 1;
    }

    void append(HistoryEntry h) {
      if (size == 0) {
        first = h.rec.modRevision;
      }
      if (size == ring.length) {
        HistoryEntry[] bigger = new HistoryEntry[ring.length * 2];
        for (int i = 0; i < size; i++) {
          bigger[i] = ring[(head + i) % ring.length];
        }
        ring = bigger;
        head = 0;
      }
      ring[(head + size) % ring.length] = h;
      size++;
    }

    HistoryEntry get(long rev) {
      if (size == 0 || rev < first || rev > last()) {
        return null;
      }
      return ring[(int) ((head + (rev - first)) % ring.length)];
    }

    /** Entries from {@code from} to {@code to} inclusive (clipped to what is kept). */
    HistoryEntry[] copy(long from, long to) {
      long lo = Math.max(from, first);
      long hi = Math.min(to, last());
      if (size == 0 || hi < lo) {
        return new HistoryEntry[0];
      }
      HistoryEntry[] out = new HistoryEntry[(int) (hi - lo + 1)];
      for (int i = 0; i < out.length; i++) {
        out[i] = get(lo + i);
      }
      return out;
    }

    void dropThrough(long rev) {
      while (size > 0 && first <= rev) {
        ring[head] = null;
        head = (head + 1) % ring.length;
        size--;
        first++;
      }
      if (size == 0) {
        first = rev + 1;
      }
    }

    void forEach(java.util.function.Consumer<HistoryEntry> c) {
      for (int i = 0; i < size; i++) {
        c.accept(ring[(head + i) % ring.length]);
      }
    }
  }

  private enum Kind { CREATE, UPDATE, DELETE }

  private sealed interface Op permits Write, Swap, Stop {
    void fail(StoreException e);
  }

  private static final class Write implements Op {
    final Kind kind;
    final String key;
    final byte[] value;
    final long expected;
    final CompletableFuture<TxnResult> result = new CompletableFuture<>();

    Write(Kind kind, String key, byte[] value, long expected) {
      this.kind = kind;
      this.key = key;
      this.value = value;
      this.expected = expected;
    }

    long estimate() {
      return LogFormat.recordLength(key.length() * 3, value == null ? 0 : value.length);
    }

    @Override
    public void fail(StoreException e) {
      result.completeExceptionally(e);
    }
  }

  private record Swap(Plan plan, CompletableFuture<Void> done) implements Op {
    @Override
    public void fail(StoreException e) {
      done.completeExceptionally(e);
    }
  }

  private record Stop() implements Op {
    @Override
    public void fail(StoreException e) {}
  }
}
