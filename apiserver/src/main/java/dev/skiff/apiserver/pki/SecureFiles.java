package dev.skiff.apiserver.pki;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.Set;

/** Atomic, permission-aware file writes for keys, certificates and kubeconfigs. */
public final class SecureFiles {
  private static final boolean POSIX =
      FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
  static final Set<PosixFilePermission> OWNER_ONLY = PosixFilePermissions.fromString("rw-------");
  static final Set<PosixFilePermission> WORLD_READABLE = PosixFilePermissions.fromString("rw-r--r--");

  private SecureFiles() {}

  /**
   * Writes {@code content} to {@code file} through a temporary file and a rename, so a crash never
   * leaves a half-written key behind. Secret files are created 0600 from the start (not chmod-ed
   * afterwards), so there is no window in which another user could open them.
   *
   * @return false if the file already had exactly this content (nothing was written)
   */
  public static boolean write(Path file, byte[] content, boolean secret) throws IOException {
    Set<PosixFilePermission> perms = secret ? OWNER_ONLY : WORLD_READABLE;
    if (Files.isRegularFile(file) && Arrays.equals(Files.readAllBytes(file), content)) {
      // Same bytes: only tighten permissions if someone loosened them.
      if (POSIX && secret && !Files.getPosixFilePermissions(file).equals(perms)) {
        Files.setPosixFilePermissions(file, perms);
      }
      return false;
    }
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    FileAttribute<?>[] attrs = POSIX
        ? new FileAttribute<?>[] {PosixFilePermissions.asFileAttribute(perms)}
        : new FileAttribute<?>[0];
    Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp", attrs);
    try {
      Files.write(tmp, content);
      if (POSIX) Files.setPosixFilePermissions(tmp, perms); // createTempFile honours umask
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
    return true;
  }
}
