package dev.skiff.kubelet.cri;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.GZIPOutputStream;

/**
 * Container log rotation as the kubelet's ContainerLogManager does it
 * (pkg/kubelet/logs/container_log_manager.go; KubeletConfiguration containerLogMaxSize 10Mi,
 * containerLogMaxFiles 5): once a container's CRI log reaches {@code maxSizeBytes} it is renamed
 * to {@code <log>.<timestamp>} and a new log is started; rotated logs other than the newest are
 * gzipped ({@code .gz}), and the oldest are removed so that at most {@code maxFiles} files
 * (the current log included) remain.
 *
 * <p>Here the writer of the log (the {@link CriLogCopier}) rotates it itself, between two
 * writes, so no line is split, lost or written twice. The timestamp is upstream's
 * {@code 20060102-150405} with microseconds added, since small test sizes rotate several times
 * a second. {@code maxSizeBytes <= 0} turns rotation off. Immutable.
 */
public record LogRotation(long maxSizeBytes, int maxFiles) {
  public static final LogRotation DEFAULT = new LogRotation(10L << 20, 5);
  private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss.SSSSSS", Locale.ROOT);
  private static final Pattern QUANTITY = Pattern.compile("(\\d+)\\s*(Ki|Mi|Gi|K|M|G|k)?");

  public LogRotation {
    if (maxFiles < 2) {
      throw new IllegalArgumentException("containerLogMaxFiles must be at least 2, got " + maxFiles);
    }
  }

  /**
   * From the agent's options {@code container-log-max-size} (a quantity: {@code 10Mi},
   * {@code 512Ki}, {@code 1000}) and {@code container-log-max-files}; null keeps the default.
   */
  public static LogRotation parse(String maxSize, String maxFiles) {
    long size = DEFAULT.maxSizeBytes;
    if (maxSize != null && !maxSize.isBlank()) {
      Matcher m = QUANTITY.matcher(maxSize.trim());
      if (!m.matches()) {
        throw new IllegalArgumentException("container-log-max-size: not a quantity: " + maxSize);
      }
      long unit = switch (m.group(2) == null ? "" : m.group(2)) {
        case "Ki" -> 1L << 10;
        case "Mi" -> 1L << 20;
        case "Gi" -> 1L << 30;
        case "K", "k" -> 1000L;
        case "M" -> 1000_000L;
        case "G" -> 1000_000_000L;
        default -> 1L;
      };
      size = Long.parseLong(m.group(1)) * unit;
    }
    int files = maxFiles == null || maxFiles.isBlank() ? DEFAULT.maxFiles : Integer.parseInt(maxFiles.trim());
    return new LogRotation(size, files);
  }

  /** The name a log rotated now gets (not taken yet). */
  static Path rotatedName(Path log) {
    ZonedDateTime now = ZonedDateTime.now(ZoneOffset.UTC);
    while (true) {
      Path p = log.resolveSibling(log.getFileName() + "." + STAMP.format(now));
      if (!Files.exists(p) && !Files.exists(p.resolveSibling(p.getFileName() + ".gz"))) {
        return p;
      }
      now = now.plusNanos(1000);
    }
  }

  /** The rotated logs of {@code log}, oldest first (compressed or not). */
  public static List<Path> rotated(Path log) throws IOException {
    List<Path> out = new ArrayList<>();
    Pattern name = Pattern.compile(Pattern.quote(log.getFileName().toString()) + "\\.\\d{8}-\\d{6}(\\.\\d+)?(\\.gz)?");
    if (!Files.isDirectory(log.getParent())) {
      return out;
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(log.getParent())) {
      for (Path p : ds) {
        if (name.matcher(p.getFileName().toString()).matches()) {
          out.add(p);
        }
      }
    }
    out.sort((a, b) -> stem(a).compareTo(stem(b)));
    return out;
  }

  private static String stem(Path p) {
    String n = p.getFileName().toString();
    return n.endsWith(".gz") ? n.substring(0, n.length() - 3) : n;
  }

  /**
   * After a rotation: gzips every rotated log but the newest (upstream compressLog: to a
   * {@code .tmp}, then renamed, then the original removed) and removes the oldest beyond
   * {@code maxFiles - 1}. Leftover {@code .tmp} files of an interrupted run are removed first.
   */
  void cleanUp(Path log) throws IOException {
    if (!Files.isDirectory(log.getParent())) {
      return; // the container was removed meanwhile
    }
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(log.getParent(), log.getFileName() + ".*.tmp")) {
      for (Path p : ds) {
        Files.deleteIfExists(p);
      }
    }
    List<Path> logs = rotated(log);
    for (int i = 0; i < logs.size() - 1; i++) {
      Path p = logs.get(i);
      if (!p.getFileName().toString().endsWith(".gz")) {
        Path gz = p.resolveSibling(p.getFileName() + ".gz");
        Path tmp = p.resolveSibling(gz.getFileName() + ".tmp");
        try (InputStream in = Files.newInputStream(p); OutputStream out = new GZIPOutputStream(Files.newOutputStream(tmp))) {
          in.transferTo(out);
        }
        Files.move(tmp, gz, StandardCopyOption.ATOMIC_MOVE);
        Files.delete(p);
        logs.set(i, gz);
      }
    }
    for (int i = 0; i < logs.size() - (maxFiles - 1); i++) {
      Files.deleteIfExists(logs.get(i));
    }
  }

  /** Removes a log's rotated files (the container is removed). */
  static void deleteRotated(Path log) throws IOException {
    for (Path p : rotated(log)) {
      Files.deleteIfExists(p);
    }
  }
}
