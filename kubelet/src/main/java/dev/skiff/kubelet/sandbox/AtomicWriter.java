package dev.skiff.kubelet.sandbox;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * Writes a volume's files so that a reader never sees a half-updated set, as upstream's
 * pkg/volume/util/atomic_writer.go does: the payload goes into a fresh hidden directory
 * {@code ..<timestamp>}, the symlink {@code ..data} is swapped to it with one rename, and each
 * user-visible top-level name is a symlink {@code name -> ..data/name}. A payload equal to the
 * current one (content and mode) writes nothing.
 *
 * <p>Not thread-safe per directory: the caller (one pod worker per pod) serializes writes.
 */
public final class AtomicWriter {
  private static final String DATA = "..data";
  private static final DateTimeFormatter TS = DateTimeFormatter.ofPattern("yyyy_MM_dd_HH_mm_ss");
  private static final AtomicLong SEQ = new AtomicLong();

  /** A file of the payload: its bytes and its permission bits (e.g. 0644). */
  public record File(byte[] data, int mode) {}

  private AtomicWriter() {}

  /**
   * Makes {@code dir} hold exactly {@code payload} (relative path -> file). Returns whether
   * anything changed.
   */
  public static boolean write(Path dir, Map<String, File> payload) throws IOException {
    Files.createDirectories(dir);
    Path data = dir.resolve(DATA);
    if (Files.isSymbolicLink(data) && same(data.toRealPath(), payload)) {
      return false;
    }
    Path old = Files.isSymbolicLink(data) ? dir.resolve(Files.readSymbolicLink(data)) : null;
    String name = ".." + LocalDateTime.now().format(TS) + "." + ProcessHandle.current().pid() + "_" + SEQ.incrementAndGet();
    Path ts = dir.resolve(name);
    Files.createDirectory(ts);
    for (var e : payload.entrySet()) {
      Path f = ts.resolve(e.getKey()).normalize();
      if (!f.startsWith(ts) || e.getKey().startsWith("..")) {
        throw new IOException("invalid volume file path " + e.getKey());
      }
      Files.createDirectories(f.getParent());
      Files.write(f, e.getValue().data());
      Files.setPosixFilePermissions(f, perms(e.getValue().mode()));
    }
    Files.setPosixFilePermissions(ts, PosixFilePermissions.fromString("rwxr-xr-x"));
    Path tmp = dir.resolve(DATA + "_tmp");
    Files.deleteIfExists(tmp);
    Files.createSymbolicLink(tmp, Path.of(name));
    Files.move(tmp, data, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    Set<String> top = new HashSet<>();
    payload.keySet().forEach(k -> top.add(Path.of(k).getName(0).toString()));
    for (String t : top) {
      Path link = dir.resolve(t);
      if (!Files.exists(link, LinkOption.NOFOLLOW_LINKS)) {
        Files.createSymbolicLink(link, Path.of(DATA, t));
      }
    }
    try (Stream<Path> s = Files.list(dir)) {
      for (Path p : s.toList()) {
        String n = p.getFileName().toString();
        if (!n.startsWith("..") && !top.contains(n) && Files.isSymbolicLink(p)) {
          Files.delete(p);
        }
      }
    }
    if (old != null && !old.equals(ts)) {
      deleteTree(old);
    }
    return true;
  }

  private static boolean same(Path current, Map<String, File> payload) throws IOException {
    int count;
    try (Stream<Path> s = Files.walk(current)) {
      count = (int) s.filter(Files::isRegularFile).count();
    }
    if (count != payload.size()) {
      return false;
    }
    for (var e : payload.entrySet()) {
      Path f = current.resolve(e.getKey());
      if (!Files.isRegularFile(f) || !Arrays.equals(Files.readAllBytes(f), e.getValue().data())
          || !Files.getPosixFilePermissions(f).equals(perms(e.getValue().mode()))) {
        return false;
      }
    }
    return true;
  }

  static Set<PosixFilePermission> perms(int mode) {
    String bits = "rwxrwxrwx";
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < 9; i++) {
      sb.append((mode & (1 << (8 - i))) != 0 ? bits.charAt(i) : '-');
    }
    return PosixFilePermissions.fromString(sb.toString());
  }

  private static void deleteTree(Path dir) throws IOException {
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
