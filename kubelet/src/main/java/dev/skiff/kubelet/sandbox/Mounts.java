package dev.skiff.kubelet.sandbox;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Mounts the agent makes in the host's own mount namespace, always below its state directory
 * (tmpfs for emptyDir medium Memory, shared by the pod's containers), and their removal.
 * Stateless: the truth is /proc/self/mountinfo. Thread-safe.
 */
public final class Mounts {
  private Mounts() {}

  /** Mount points at or below {@code dir}, deepest first. */
  public static List<String> below(Path dir) {
    String base = dir.toAbsolutePath().normalize().toString();
    List<String> out = new ArrayList<>();
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"), StandardCharsets.UTF_8)) {
        String[] f = line.split(" ");
        if (f.length > 4) {
          String mp = unescape(f[4]);
          if (mp.equals(base) || mp.startsWith(base + "/")) {
            out.add(mp);
          }
        }
      }
    } catch (IOException e) {
      return List.of();
    }
    out.sort(Comparator.comparingInt(String::length).reversed());
    return out;
  }

  /** Whether {@code dir} is a mount point. */
  public static boolean isMountPoint(Path dir) {
    return below(dir).contains(dir.toAbsolutePath().normalize().toString());
  }

  /** Mounts a tmpfs on {@code dir} ({@code sizeBytes} 0: the kernel's default, half of RAM). */
  public static void mountTmpfs(Path dir, long sizeBytes) throws IOException {
    mountTmpfs(dir, sizeBytes, "0777");
  }

  /** Mounts a tmpfs with the given octal mode on its root. */
  public static void mountTmpfs(Path dir, long sizeBytes, String mode) throws IOException {
    List<String> cmd = new ArrayList<>(List.of("/usr/bin/mount", "-t", "tmpfs", "-o",
        "mode=" + mode + (sizeBytes > 0 ? ",size=" + sizeBytes : ""), "tmpfs", dir.toString()));
    run(cmd);
  }

  /** Lazily unmounts everything at or below {@code dir} (one umount process), if anything. */
  public static void unmountBelow(Path dir) throws IOException {
    List<String> mps = below(dir);
    if (mps.isEmpty()) {
      return;
    }
    List<String> cmd = new ArrayList<>(List.of("/usr/bin/umount", "-l"));
    cmd.addAll(mps);
    run(cmd);
  }

  private static void run(List<String> cmd) throws IOException {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IOException(String.join(" ", cmd) + " failed: " + out.trim());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  private static String unescape(String s) {
    return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\");
  }
}
