package dev.skiff.kubelet.cri;

import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Reads the complete lines appended to a container's CRI log, following it across rotations
 * ({@link LogRotation}) as the kubelet's log reader does (pkg/kubelet/kuberuntime/logs/logs.go:
 * at the end of the file it checks whether the path now names another file and reopens it).
 * Because the copier renames the log only after its last write to it, the rest of the old file
 * is read before the new one. For {@code kubectl logs -f} and attach. Not thread-safe.
 */
public final class CriLogFollower implements AutoCloseable {
  private static final int MAX_READ = 64 << 20;
  private final Path path;
  private RandomAccessFile file;
  private Object key;
  private long pos;

  /** Follows {@code path} from its beginning, or from its current end with {@code fromEnd}. */
  public CriLogFollower(Path path, boolean fromEnd) throws IOException {
    this.path = path;
    if (open() && fromEnd) {
      pos = file.length();
    }
  }

  /** The complete lines (without their newline) written since the last call; empty if none. */
  public List<byte[]> poll() throws IOException {
    List<byte[]> lines = new ArrayList<>();
    if (file == null && !open()) {
      return lines;
    }
    read(lines);
    if (lines.isEmpty()) {
      Object now = key(path);
      if (now != null && !now.equals(key)) {
        read(lines); // what was written just before the rename
        file.close();
        file = null;
        pos = 0;
        if (open()) {
          read(lines);
        }
      }
    }
    return lines;
  }

  private void read(List<byte[]> into) throws IOException {
    long len = file.length();
    if (len <= pos) {
      return;
    }
    byte[] buf = new byte[(int) Math.min(len - pos, MAX_READ)];
    file.seek(pos);
    file.readFully(buf);
    int start = 0;
    for (int i = 0; i < buf.length; i++) {
      if (buf[i] == '\n') {
        into.add(Arrays.copyOfRange(buf, start, i));
        start = i + 1;
      }
    }
    pos += start;
  }

  /** Opens the file the path names now (retrying if it is rotated meanwhile); false if there is none. */
  private boolean open() throws IOException {
    for (int i = 0; i < 10; i++) {
      Object before = key(path);
      if (before == null) {
        return false;
      }
      RandomAccessFile f;
      try {
        f = new RandomAccessFile(path.toFile(), "r");
      } catch (FileNotFoundException e) {
        return false;
      }
      if (before.equals(key(path))) {
        file = f;
        key = before;
        return true;
      }
      f.close();
    }
    return false;
  }

  private static Object key(Path p) throws IOException {
    try {
      return Files.readAttributes(p, BasicFileAttributes.class).fileKey();
    } catch (NoSuchFileException e) {
      return null;
    }
  }

  @Override
  public void close() throws IOException {
    if (file != null) {
      file.close();
    }
  }
}
