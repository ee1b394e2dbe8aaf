package dev.skiff.network;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A link that holds this proxy instance's ClusterIPs as /32 local addresses, so that sockets can
 * bind them and the host (and pods in other network namespaces, whose traffic the host routes)
 * reach them: the approach of kube-proxy's IPVS mode, whose {@code kube-ipvs0} dummy link holds
 * every ClusterIP (pkg/proxy/ipvs/proxier.go). The link is {@code type dummy} when the kernel
 * has it, else an empty bridge, which behaves the same for local addresses.
 *
 * <p>Its name is unique per instance, {@code sksvc<pid 6 hex><n 2 hex>} (13 characters), so
 * several servers and test JVMs on one host never share a link. A watchdog child process deletes
 * the link if the JVM dies without closing it; {@link #removeStale()} (run by every new instance)
 * deletes links whose JVM is gone, as a second net. Requires root and the {@code ip} tool.
 * Thread-safe.
 */
final class ClusterIpInterface implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ClusterIpInterface.class);
  static final String PREFIX = "sksvc";
  private static final Pattern NAME = Pattern.compile(PREFIX + "([0-9a-f]{6})([0-9a-f]{2})");
  private static final AtomicInteger COUNTER = new AtomicInteger();

  private final String name;
  private final Set<String> addresses = ConcurrentHashMap.newKeySet();
  private final Process watchdog; // null if it could not start

  private ClusterIpInterface(String name, Process watchdog) {
    this.name = name;
    this.watchdog = watchdog;
  }

  /** True when this process can manage links: root on Linux with {@code ip} on the PATH. */
  static boolean supported() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("Uid:")) {
          String[] f = line.split("\\s+");
          if (!f[2].equals("0")) { // effective uid
            return false;
          }
          ip("-V"); // throws when the tool is missing
          return true;
        }
      }
    } catch (IOException e) {
      return false;
    }
    return false;
  }

  /** Creates and brings up a new link for this instance. */
  static ClusterIpInterface create() throws IOException {
    removeStale();
    String name = "%s%06x%02x".formatted(PREFIX, ProcessHandle.current().pid() & 0xffffff, COUNTER.getAndIncrement() & 0xff);
    try {
      ip("link", "add", name, "type", "dummy");
    } catch (IOException e) {
      // No dummy driver (e.g. a minimal VM kernel): an empty bridge holds local addresses too.
      ip("link", "add", name, "type", "bridge");
    }
    try {
      ip("link", "set", name, "up");
    } catch (IOException e) {
      deleteQuietly(name);
      throw e;
    }
    log.info("ClusterIPs live on link {}", name);
    return new ClusterIpInterface(name, watchdog(name));
  }

  /**
   * A child shell that deletes the link when this JVM dies, however it dies: it waits for EOF
   * on its stdin, a pipe from this JVM that the kernel closes when the JVM exits (SIGKILL
   * included). It ignores the terminal's signals so a Ctrl-C to the process group cannot kill it
   * before it has cleaned up.
   */
  private static Process watchdog(String link) {
    try {
      return new ProcessBuilder("sh", "-c", "trap '' INT TERM HUP; read _; exec ip link del " + link + " 2>/dev/null")
          .redirectOutput(ProcessBuilder.Redirect.DISCARD)
          .redirectError(ProcessBuilder.Redirect.DISCARD)
          .start();
    } catch (IOException e) {
      log.warn("no clean-up watchdog for link {} (a killed JVM leaves it to the next proxy): {}", link, e.toString());
      return null;
    }
  }

  /** The watchdog process (tests). */
  Process watchdog() {
    return watchdog;
  }

  String name() {
    return name;
  }

  /** Adds {@code ip}/32 (idempotent). */
  void add(String address) throws IOException {
    if (addresses.contains(address)) {
      return;
    }
    try {
      ip("addr", "add", address + "/32", "dev", name);
    } catch (IOException e) {
      if (!e.getMessage().contains("File exists")) {
        throw e;
      }
    }
    addresses.add(address);
  }

  /** Removes {@code ip}/32 if present. */
  void remove(String address) {
    if (addresses.remove(address)) {
      try {
        ip("addr", "del", address + "/32", "dev", name);
      } catch (IOException e) {
        log.warn("cannot remove {} from {}: {}", address, name, e.getMessage());
      }
    }
  }

  Set<String> addresses() {
    return Set.copyOf(addresses);
  }

  /** Deletes the link and with it every address; the watchdog then exits. */
  @Override
  public void close() {
    deleteQuietly(name);
    addresses.clear();
    if (watchdog != null) {
      TcpForwarder.closeQuietly(watchdog.getOutputStream());
    }
  }

  /** Deletes {@code sksvc*} links left by JVMs that no longer run (killed without cleanup). */
  static void removeStale() {
    List<String> stale = new ArrayList<>();
    try {
      for (String line : ip("-o", "link", "show").split("\n")) {
        String[] f = line.split(":\\s+");
        if (f.length < 2) {
          continue;
        }
        String link = f[1].split("@")[0].trim();
        Matcher m = NAME.matcher(link);
        if (m.matches()) {
          long pid = Long.parseLong(m.group(1), 16);
          if (pid != (ProcessHandle.current().pid() & 0xffffff) && ProcessHandle.of(pid).isEmpty()) {
            stale.add(link);
          }
        }
      }
    } catch (IOException e) {
      return;
    }
    stale.forEach(l -> {
      log.info("removing stale ClusterIP link {}", l);
      deleteQuietly(l);
    });
  }

  static boolean exists(String link) {
    try {
      ip("link", "show", link);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private static void deleteQuietly(String link) {
    try {
      ip("link", "del", link);
    } catch (IOException e) {
      log.debug("cannot delete link {}: {}", link, e.getMessage());
    }
  }

  /** Runs {@code ip ARGS}; returns stdout, throws with the output on a non-zero exit. */
  static String ip(String... args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add("ip");
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException("ip " + String.join(" ", args) + ": timed out");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
    if (p.exitValue() != 0) {
      throw new IOException("ip " + String.join(" ", args) + ": " + out.trim());
    }
    return out;
  }
}
