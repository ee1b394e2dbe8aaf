package dev.skiff.kubelet.sandbox;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Empty directories and files made ahead of a burst of pod starts and renamed into place when a
 * pod needs one, so that the burst pays a {@code rename(2)} (a few µs) instead of an inode
 * allocation.
 *
 * <p><b>Why.</b> A pod start creates about 17 inodes in the agent's data directory (the pod's and
 * its container's directories, their log directories, sandbox and container state files, the
 * raw stdout/stderr files, resolv.conf and hosts, the CRI log, the setup's fstab). On a
 * file system that allocates inodes slowly, these dominated the agent's CPU in a burst: on the
 * benchmark machine (ext4 without a journal, where the allocator skips every inode freed in the
 * last minute, and builds and benchmarks free thousands) a {@code mkdir} or {@code open(O_CREAT)}
 * costs 0.1–0.6 ms of CPU against ~10 µs for a rename; JFR's CPU-time sampler put half of the
 * JVM's CPU of the pod-startup benchmark's warm round into those two calls. The spares are made
 * by a background thread while no pod has taken one for a second (as the sandbox pool refills),
 * so the cost moves out of the burst, not away.
 *
 * <p><b>Use.</b> The static helpers ({@link #createDirectories}, {@link #write},
 * {@link #writeAtomically}, {@link #createFile}) take a spare from the open instance whose base
 * directory holds the path, and fall back to creating the inode directly when
 * there is none, it is empty, or the rename fails (another file system below the base, say a
 * pod's tmpfs volume). Their results are the same either way, except the times of a directory
 * or file taken from the spares (made earlier), which nothing here reads.
 *
 * <p>Thread-safe: any number of threads may take spares at once (a lock-free queue; each spare
 * has one name and is renamed away by one taker).
 */
public final class SpareInodes implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SpareInodes.class);
  /** Spares per pod of the sandbox pool: a pod start uses about 6 directories and 10 files. */
  public static final int DIRS_PER_POD = 8;
  public static final int FILES_PER_POD = 12;
  /** No refill while spares were taken within this long (never compete with a burst). */
  private static final long QUIET_NANOS = TimeUnit.SECONDS.toNanos(1);
  private static final List<SpareInodes> OPEN = new CopyOnWriteArrayList<>();

  private final Path dir;
  private final Path base;
  private final int dirTarget;
  private final int fileTarget;
  private final Queue<Path> dirs = new ConcurrentLinkedQueue<>();
  private final Queue<Path> files = new ConcurrentLinkedQueue<>();
  private final AtomicLong seq = new AtomicLong();
  private volatile long lastTake = System.nanoTime() - QUIET_NANOS;
  private final Thread filler;
  private volatile boolean closed;

  private SpareInodes(Path dir, Path base, int dirTarget, int fileTarget) {
    this.dir = dir;
    this.base = base.toAbsolutePath().normalize();
    this.dirTarget = dirTarget;
    this.fileTarget = fileTarget;
    this.filler = Thread.ofPlatform().daemon().name("kubelet-spare-inodes").unstarted(this::fill);
  }

  /**
   * Keeps {@code dirTarget} empty directories and {@code fileTarget} empty files in {@code dir}
   * (re-adopting those an earlier agent left there) for paths below {@code base}, which must be
   * on {@code dir}'s file system. Refilled in the background; {@link #close()} stops that and
   * leaves the spares for the next agent.
   */
  public static SpareInodes open(Path dir, Path base, int dirTarget, int fileTarget) throws IOException {
    Files.createDirectories(dir);
    SpareInodes s = new SpareInodes(dir, base, dirTarget, fileTarget);
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
      for (Path p : ds) {
        String n = p.getFileName().toString();
        // Only what the filler makes: an empty directory or an empty file (a spare must be new).
        if (n.startsWith("d") && Files.isDirectory(p, java.nio.file.LinkOption.NOFOLLOW_LINKS) && isEmptyDir(p)) {
          s.dirs.add(p);
        } else if (n.startsWith("f") && Files.isRegularFile(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)
            && Files.size(p) == 0) {
          s.files.add(p);
        } else {
          deleteTreeQuietly(p);
        }
      }
    }
    s.seq.set(System.nanoTime()); // names never collide with re-adopted ones
    OPEN.add(s);
    s.filler.start();
    return s;
  }

  /** Spare directories and files on hand now. */
  public int[] available() {
    return new int[] {dirs.size(), files.size()};
  }

  /** True when both kinds are at their target. */
  public boolean full() {
    return dirs.size() >= dirTarget && files.size() >= fileTarget;
  }

  @Override
  public void close() {
    closed = true;
    OPEN.remove(this);
    filler.interrupt();
    try {
      filler.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** As {@link Files#createDirectories}, each missing level from a spare directory when one is on hand. */
  public static void createDirectories(Path p) throws IOException {
    if (Files.isDirectory(p)) {
      return;
    }
    SpareInodes s = of(p);
    if (s == null) {
      Files.createDirectories(p);
      return;
    }
    Path parent = p.toAbsolutePath().getParent();
    if (parent != null && !Files.isDirectory(parent)) {
      createDirectories(parent);
    }
    Path spare = s.take(s.dirs);
    if (spare != null && s.moveInto(spare, p)) {
      return;
    }
    try {
      Files.createDirectory(p);
    } catch (FileAlreadyExistsException e) {
      if (!Files.isDirectory(p)) {
        throw e;
      }
    }
  }

  /** Makes sure the regular file {@code f} exists (empty when new), as for an O_APPEND open. */
  public static void createFile(Path f) throws IOException {
    if (Files.exists(f)) {
      return;
    }
    SpareInodes s = of(f);
    Path spare = s == null ? null : s.take(s.files);
    if (spare != null && s.moveInto(spare, f)) {
      return;
    }
    try {
      Files.createFile(f);
    } catch (FileAlreadyExistsException e) {
      // made meanwhile
    }
  }

  /** As {@link Files#write(Path, byte[], java.nio.file.OpenOption...)}: creates or truncates {@code f}. */
  public static void write(Path f, byte[] data) throws IOException {
    if (!Files.exists(f)) {
      SpareInodes s = of(f);
      Path spare = s == null ? null : s.take(s.files);
      if (spare != null && s.replace(spare, f)) {
        // Empty already: no O_TRUNC, which on ext4 (auto_da_alloc) would make the close flush
        // the file's data to disk, as for a file truncated and rewritten.
        Files.write(f, data, StandardOpenOption.WRITE);
        return;
      }
    }
    Files.write(f, data);
  }

  /** Writes {@code data} to {@code <f>.tmp} and renames that over {@code f}. */
  public static void writeAtomically(Path f, byte[] data) throws IOException {
    Path tmp = f.resolveSibling(f.getFileName() + ".tmp");
    write(tmp, data);
    Files.move(tmp, f, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  private static SpareInodes of(Path p) {
    if (OPEN.isEmpty()) {
      return null;
    }
    Path a = p.toAbsolutePath().normalize();
    for (SpareInodes s : OPEN) {
      if (a.startsWith(s.base) && !s.closed) {
        return s;
      }
    }
    return null;
  }

  private Path take(Queue<Path> q) {
    Path p = q.poll();
    if (p != null) {
      lastTake = System.nanoTime();
    }
    return p;
  }

  /** Renames a spare to {@code target} unless that exists; false when it could not (then the spare is dropped). */
  private boolean moveInto(Path spare, Path target) {
    if (Files.exists(target)) {
      deleteQuietly(spare);
      return true; // what the caller wanted is there (made meanwhile)
    }
    return replace(spare, target);
  }

  private boolean replace(Path spare, Path target) {
    try {
      Files.move(spare, target, StandardCopyOption.ATOMIC_MOVE);
      return true;
    } catch (AtomicMoveNotSupportedException | NoSuchFileException e) {
      deleteQuietly(spare); // another file system below the base, or the parent vanished
      return false;
    } catch (IOException e) {
      deleteQuietly(spare);
      return false;
    }
  }

  private static boolean isEmptyDir(Path d) throws IOException {
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(d)) {
      return !ds.iterator().hasNext();
    }
  }

  private static void deleteTreeQuietly(Path p) {
    try (java.util.stream.Stream<Path> s = Files.walk(p)) {
      for (Path q : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
        deleteQuietly(q);
      }
    } catch (IOException | java.io.UncheckedIOException ignored) {
      // gone meanwhile
    }
  }

  private static void deleteQuietly(Path p) {
    try {
      Files.deleteIfExists(p);
    } catch (IOException ignored) {
      // a directory someone wrote into: leave it
    }
  }

  private void fill() {
    while (!closed) {
      try {
        long idle = System.nanoTime() - lastTake;
        if (idle < QUIET_NANOS) {
          Thread.sleep(TimeUnit.NANOSECONDS.toMillis(QUIET_NANOS - idle) + 1);
          continue;
        }
        if (dirs.size() >= dirTarget && files.size() >= fileTarget) {
          Thread.sleep(200);
          continue;
        }
        // Small batches, re-checking for a burst between them.
        for (int i = 0; i < 32 && !closed && System.nanoTime() - lastTake >= QUIET_NANOS; i++) {
          if (dirs.size() < dirTarget) {
            Path d = dir.resolve("d" + seq.incrementAndGet());
            Files.createDirectory(d);
            dirs.add(d);
          }
          if (files.size() < fileTarget) {
            Path f = dir.resolve("f" + seq.incrementAndGet());
            Files.createFile(f);
            files.add(f);
          }
        }
      } catch (InterruptedException e) {
        return;
      } catch (IOException | RuntimeException e) {
        log.debug("making spare inodes in {}: {}", dir, e.toString());
        try {
          Thread.sleep(1000);
        } catch (InterruptedException ie) {
          return;
        }
      }
    }
  }
}
