package dev.skiff.kubelet.cri;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How a command runs "inside" a running process container (CRI ExecSync / Exec): with the
 * container's environment ({@code /proc/<pid>/environ}), in its working directory
 * ({@code /proc/<pid>/cwd}) and, when the container's network or mount namespace differs from
 * the agent's, inside those namespaces through {@code nsenter}. The process whose view is taken
 * is the container's main process (the shim's child), else the shim. Stateless; thread-safe.
 */
public final class ContainerExec {
  /** The command line, environment and directory to start; {@code nsenter} is set when namespaces are entered. */
  public record Spec(List<String> command, Map<String, String> env, Path workingDir, boolean nsenter) {}

  private ContainerExec() {}

  /**
   * Builds the way to run {@code argv} in the container whose shim is {@code shimPid}.
   *
   * @throws IOException when the container's process is gone
   */
  public static Spec spec(long shimPid, List<String> argv) throws IOException {
    long pid = mainProcess(shimPid);
    Map<String, String> env = environment(pid);
    Path cwd;
    try {
      cwd = Files.readSymbolicLink(Path.of("/proc/" + pid + "/cwd"));
    } catch (IOException e) {
      cwd = Path.of("/");
    }
    List<String> ns = new ArrayList<>();
    if (differs(pid, "net")) {
      ns.add("-n");
    }
    if (differs(pid, "mnt")) {
      ns.add("-m");
      // The sandbox may also chroot a container (a top-level mountPath that is not on the
      // host); -r takes the target's root directory too.
      ns.add("-r");
    }
    if (differs(pid, "uts")) {
      ns.add("-u");
    }
    if (ns.isEmpty()) {
      return new Spec(List.copyOf(argv), env, Files.isDirectory(cwd) ? cwd : Path.of("/"), false);
    }
    // nsenter -w: the working directory is the target's, resolved inside its mount namespace.
    List<String> cmd = new ArrayList<>(List.of("nsenter", "-t", Long.toString(pid)));
    cmd.addAll(ns);
    cmd.add("-w");
    cmd.add("--");
    cmd.addAll(argv);
    return new Spec(cmd, env, Path.of("/"), true);
  }

  /** A ProcessBuilder for {@link #spec} with only the container's environment. */
  public static ProcessBuilder processBuilder(long shimPid, List<String> argv) throws IOException {
    Spec s = spec(shimPid, argv);
    ProcessBuilder pb = new ProcessBuilder(s.command()).directory(s.workingDir().toFile());
    pb.environment().clear();
    pb.environment().putAll(s.env());
    return pb;
  }

  /** The shim's only child (the container's command) if there is one, else the shim itself. */
  static long mainProcess(long shimPid) {
    try {
      String children = Files.readString(Path.of("/proc/" + shimPid + "/task/" + shimPid + "/children")).trim();
      if (!children.isEmpty() && !children.contains(" ")) {
        return Long.parseLong(children);
      }
    } catch (IOException | NumberFormatException e) {
      // no children file (old kernel) or the shim is gone: use the shim
    }
    return shimPid;
  }

  static Map<String, String> environment(long pid) throws IOException {
    byte[] raw = Files.readAllBytes(Path.of("/proc/" + pid + "/environ"));
    Map<String, String> env = new LinkedHashMap<>();
    for (String kv : new String(raw, StandardCharsets.UTF_8).split("\0")) {
      int eq = kv.indexOf('=');
      if (eq > 0) {
        env.put(kv.substring(0, eq), kv.substring(eq + 1));
      }
    }
    if (!env.containsKey("PATH")) {
      env.put("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
    }
    return env;
  }

  private static boolean differs(long pid, String ns) {
    try {
      Path self = Files.readSymbolicLink(Path.of("/proc/self/ns/" + ns));
      Path other = Files.readSymbolicLink(Path.of("/proc/" + pid + "/ns/" + ns));
      return !self.equals(other);
    } catch (IOException | UnsupportedOperationException e) {
      return false; // unreadable (not root): nothing we could enter anyway
    }
  }
}
