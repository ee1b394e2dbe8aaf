package dev.skiff.kubelet.sandbox;

import dev.skiff.kubelet.cri.ContainerConfigException;
import dev.skiff.kubelet.cri.Mount;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * Puts a container process into its pod's network namespace and its own mount namespace, and
 * mounts its volumes there, before the process runtime's shim runs: it computes the command
 * prefix {@code nsenter --net=<ns> unshare --mount --propagation slave /bin/sh -c <setup>} that
 * ends by exec-ing the shim (the same pid throughout, so the runtime's pid bookkeeping holds).
 *
 * <p><b>Mount paths that do not exist on the host.</b> Process pods see the host's file system,
 * and a mount point must exist. The setup never creates anything in the host's real directories:
 * for the deepest existing ancestor {@code E} of such a path it builds a <i>shadow</i> of E in
 * the new namespace only: a tmpfs holding one bind mount per entry of E (rbind for directories,
 * so everything below, including submounts, is the host's own and writes go to the host as
 * before) and copies of E's symlinks, plus the missing directories; the shadow is then bound
 * over E. When E is {@code /}, the shadow becomes the container's root (chroot), since a mount
 * on {@code /} is not seen by path lookups of a process whose root is the old one. An overlay
 * was rejected because it turns every write below E into a private copy-up, and submounts of E
 * vanish from it.
 *
 * <p><b>Propagation.</b> The namespace is a <i>slave</i> of the host's: mounts made inside never
 * leak out, but unmounts on the host (say {@code ip netns del} of another pod's namespace file)
 * do reach it, so no container pins another pod's network namespace after its removal.
 *
 * <p>Process launches are kept low (pod start latency): all mounts of a step go through one
 * {@code mount -a -T <fstab>}, all directories through one {@code mkdir -p}.
 *
 * <p>Stateless; thread-safe.
 */
public final class NamespaceLauncher {
  /** What this host lets the runtime do for mount namespaces. */
  public enum Mode {
    /** Root: mount namespaces with full mount rights. */
    ROOT,
    /** Not root, but unprivileged user namespaces work ({@code unshare -U -r -m}). */
    USER_NAMESPACE,
    /** Neither: a container with mounts cannot run. */
    NONE
  }

  private static final String MOUNT = bin("mount");
  private static final String MKDIR = bin("mkdir");
  private static final String CP = bin("cp");
  private static final String CHROOT = bin("chroot");
  private static final String MV = bin("mv");

  /**
   * The file in the stage directory that the setup writes (one newline) when it is done, just
   * before the shim runs; it exists empty before that (see {@link #setupDone}).
   */
  public static final String STARTED = "started";

  /** Whether the setup of the container whose started marker is {@code started} has finished. */
  public static boolean setupDone(Path started) {
    try {
      return Files.size(started) > 0;
    } catch (IOException e) {
      return false;
    }
  }

  private NamespaceLauncher() {}

  /** Probes the host once (root, else a user namespace via {@code unshare -U -r -m true}). */
  public static Mode detect() {
    if ("root".equals(System.getProperty("user.name")) && Files.isExecutable(Path.of("/usr/bin/unshare"))) {
      return Mode.ROOT;
    }
    try {
      Process p = new ProcessBuilder("unshare", "-U", "-r", "-m", "true").redirectErrorStream(true).start();
      p.getInputStream().readAllBytes();
      if (p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0) {
        return Mode.USER_NAMESPACE;
      }
    } catch (IOException e) {
      // no unshare
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return Mode.NONE;
  }

  /**
   * The command to put before the shim's argv.
   *
   * @param netnsPath the pod's network namespace file, or null for the host's network
   * @param mounts the container's mounts (may be empty)
   * @param workDir the directory the container starts in
   * @param stage a private directory of this container instance for the setup's files
   * @param exitFile the shim's exit file: a failed setup writes 126 there
   * @throws ContainerConfigException (CreateContainerError) when there are mounts and no way to
   *     make a mount namespace
   */
  public static List<String> prefix(Mode mode, String netnsPath, List<Mount> mounts, Path workDir, Path stage,
      Path exitFile) throws IOException {
    return prefix(mode, netnsPath, mounts, workDir, stage, exitFile, null);
  }

  /**
   * As above; with a {@code hostname}, the container also gets its own UTS namespace with that
   * host name (the pod's), when it gets a mount namespace.
   */
  public static List<String> prefix(Mode mode, String netnsPath, List<Mount> mounts, Path workDir, Path stage,
      Path exitFile, String hostname) throws IOException {
    List<String> cmd = new ArrayList<>();
    if (netnsPath != null) {
      cmd.addAll(List.of("/usr/bin/nsenter", "--net=" + netnsPath));
    }
    if (mounts.isEmpty()) {
      return cmd;
    }
    if (mode == Mode.NONE) {
      throw new ContainerConfigException("CreateContainerError", "the container has volume mounts ("
          + mounts.stream().map(Mount::containerPath).toList() + ") but this node can make no mount namespace"
          + " (not root, and unprivileged user namespaces are disabled); run the agent as root or enable"
          + " kernel.unprivileged_userns_clone");
    }
    cmd.add("/usr/bin/unshare");
    if (mode == Mode.USER_NAMESPACE) {
      cmd.addAll(List.of("--user", "--map-root-user"));
    }
    String script = script(mounts, workDir, stage, exitFile);
    if (hostname != null && hostname.matches("[a-z0-9]([-a-z0-9.]*[a-z0-9])?")) {
      cmd.add("--uts");
      // a shell builtin: no process launch (the new UTS namespace is ours to rename)
      script = "echo " + hostname + " > /proc/sys/kernel/hostname || { echo 'skiff: cannot set the host name' >&2; exit 126; }\n"
          + script;
    }
    cmd.addAll(List.of("--mount", "--propagation", "slave", "/bin/sh", "-c", script, "skiff-setup"));
    return cmd;
  }

  private sealed interface Op permits MountLine, Mkdir, Touch, CopyLinks {}

  private record MountLine(String line) implements Op {}

  private record Mkdir(String path) implements Op {}

  private record Touch(String path) implements Op {}

  private record CopyLinks(List<String> links, String dest) implements Op {}

  /** The setup script; its "$@" is the shim's argv. Package-private for tests. */
  static String script(List<Mount> mounts, Path workDir, Path stage, Path exitFile) throws IOException {
    SpareInodes.createDirectories(stage);
    // Made here, written by the setup (an inode the runtime has spare; see setupDone).
    SpareInodes.createFile(stage.resolve(STARTED));
    List<Mount> sorted = new ArrayList<>(mounts);
    sorted.sort(Comparator.comparingInt(m -> depth(Path.of(m.containerPath()).normalize())));
    // Where each mount lands (a real path, no symlinks: those would resolve against the host's
    // root before the chroot), and the existing directories that need a shadow.
    Map<String, Path> targets = new LinkedHashMap<>();
    Map<String, Boolean> create = new LinkedHashMap<>();
    TreeMap<String, Path> shadows = new TreeMap<>(Comparator.comparingInt((String s) -> depth(Path.of(s)))
        .thenComparing(Comparator.naturalOrder()));
    for (Mount m : sorted) {
      Path p = Path.of(m.containerPath()).normalize();
      if (!p.isAbsolute()) {
        throw new ContainerConfigException("CreateContainerError", "mountPath " + m.containerPath() + " is not absolute");
      }
      Path inside = null;
      for (var e : targets.entrySet()) {
        Path q = Path.of(e.getKey());
        if (p.startsWith(q) && !p.equals(q)) {
          inside = e.getValue().resolve(q.relativize(p)); // created inside that volume once mounted
        }
      }
      if (inside != null) {
        targets.put(p.toString(), inside);
        create.put(p.toString(), true);
        continue;
      }
      Path existing = p;
      while (existing.getParent() != null && !Files.exists(existing)) {
        existing = existing.getParent();
      }
      Path real = existing.toRealPath();
      if (existing.equals(p)) {
        targets.put(p.toString(), real);
        create.put(p.toString(), false);
      } else {
        shadows.put(real.toString(), real);
        targets.put(p.toString(), real.resolve(existing.relativize(p)));
        create.put(p.toString(), true);
      }
    }
    String root = shadows.containsKey("/") ? stage.resolve("root").toString() : "";
    List<Op> ops = new ArrayList<>();
    List<Op> entryOps = new ArrayList<>();
    List<Op> entryMounts = new ArrayList<>();
    int n = 0;
    for (Path e : shadows.values()) {
      String dir = e.toString().equals("/") ? root : stage.resolve("shadow-" + n++).toString();
      Files.createDirectories(Path.of(dir)); // in the stage directory: the tmpfs's mount point
      ops.add(new MountLine(fstab("tmpfs", dir, "tmpfs", "mode=755")));
      List<String> links = new ArrayList<>();
      List<Path> entries;
      try (Stream<Path> s = Files.list(e)) {
        entries = s.sorted().toList();
      }
      for (Path entry : entries) {
        String to = dir + "/" + entry.getFileName();
        if (Files.isSymbolicLink(entry)) {
          links.add(entry.toString());
        } else if (Files.isDirectory(entry, LinkOption.NOFOLLOW_LINKS)) {
          entryOps.add(new Mkdir(to));
          entryMounts.add(new MountLine(fstab(entry.toString(), to, "none", "rbind")));
        } else {
          entryOps.add(new Touch(to));
          entryMounts.add(new MountLine(fstab(entry.toString(), to, "none", "bind")));
        }
      }
      if (!links.isEmpty()) {
        entryOps.add(new CopyLinks(links, dir));
      }
      if (!e.toString().equals("/")) {
        entryMounts.add(new MountLine(fstab(dir, root + e, "none", "rbind")));
      }
    }
    ops.addAll(entryOps);
    ops.addAll(entryMounts);
    List<Op> volumeOps = new ArrayList<>();
    for (Mount m : sorted) {
      String key = Path.of(m.containerPath()).normalize().toString();
      String target = root + targets.get(key);
      Path src = Path.of(m.hostPath());
      boolean dir = Files.isDirectory(src);
      List<Op> make = new ArrayList<>();
      if (create.get(key)) {
        if (dir) {
          make.add(new Mkdir(target));
        } else {
          make.add(new Mkdir(Path.of(target).getParent().toString()));
          make.add(new Touch(target));
        }
      }
      boolean nested = isNested(key, targets); // made inside another volume: only once that is mounted
      (nested ? volumeOps : ops).addAll(make);
      volumeOps.add(new MountLine(fstab(src.toString(), target, "none", (dir ? "rbind" : "bind") + (m.readOnly() ? ",ro" : ""))));
    }
    ops.addAll(volumeOps);
    return render(ops, workDir, stage, exitFile, root);
  }

  private static boolean isNested(String key, Map<String, Path> targets) {
    Path p = Path.of(key);
    return targets.keySet().stream().map(Path::of).anyMatch(q -> p.startsWith(q) && !p.equals(q));
  }

  private static String render(List<Op> ops, Path workDir, Path stage, Path exitFile, String root) throws IOException {
    StringBuilder sb = new StringBuilder();
    sb.append("fail() { echo \"skiff: container setup failed: $1\" >&2; echo 126 > ").append(q(exitFile + ".tmp"))
        .append(" && ").append(MV).append(" -f ").append(q(exitFile + ".tmp")).append(' ').append(q(exitFile.toString()))
        .append("; exit 126; }\n");
    int fstabs = 0;
    for (int i = 0; i < ops.size(); ) {
      Op op = ops.get(i);
      int j = i;
      switch (op) {
        case MountLine ignored -> {
          StringBuilder tab = new StringBuilder();
          while (j < ops.size() && ops.get(j) instanceof MountLine l) {
            tab.append(l.line()).append('\n');
            j++;
          }
          Path f = stage.resolve("fstab." + fstabs++);
          SpareInodes.write(f, tab.toString().getBytes(StandardCharsets.UTF_8));
          sb.append(MOUNT).append(" -a -T ").append(q(f.toString())).append(" || fail 'mount -a -T ").append(f).append("'\n");
        }
        case Mkdir ignored -> {
          sb.append(MKDIR).append(" -p");
          while (j < ops.size() && ops.get(j) instanceof Mkdir d) {
            sb.append(' ').append(q(d.path()));
            j++;
          }
          sb.append(" || fail mkdir\n");
        }
        case Touch t -> {
          sb.append(": > ").append(q(t.path())).append(" || fail ").append(q("create " + t.path())).append('\n');
          j++;
        }
        case CopyLinks c -> {
          sb.append(CP).append(" -P -t ").append(q(c.dest()));
          c.links().forEach(l -> sb.append(' ').append(q(l)));
          sb.append(" || fail 'copy symlinks'\n");
          j++;
        }
      }
      i = j;
    }
    // Tells the runtime the mounts are done (it reports the container running only then).
    sb.append("echo > ").append(q(stage.resolve(STARTED).toString())).append(" || fail 'started marker'\n");
    if (root.isEmpty()) {
      sb.append("cd ").append(q(workDir.toString())).append(" || fail 'cd ").append(workDir).append("'\n");
      sb.append("exec \"$@\"\n");
    } else {
      sb.append("exec ").append(CHROOT).append(' ').append(q(root))
          .append(" /bin/sh -c 'cd \"$0\" || exit 126; exec \"$@\"' ").append(q(workDir.toString())).append(" \"$@\"\n");
    }
    return sb.toString();
  }

  private static String fstab(String source, String target, String type, String options) {
    return esc(source) + " " + esc(target) + " " + type + " " + options + " 0 0";
  }

  /** fstab(5) escapes octal for white space and backslashes. */
  private static String esc(String s) {
    return s.replace("\\", "\\134").replace(" ", "\\040").replace("\t", "\\011").replace("\n", "\\012");
  }

  static String q(String s) {
    return "'" + s.replace("'", "'\\''") + "'";
  }

  private static int depth(Path p) {
    return p.getNameCount();
  }

  private static String bin(String name) {
    for (String d : new String[] {"/usr/bin/", "/bin/", "/usr/sbin/", "/sbin/"}) {
      if (Files.isExecutable(Path.of(d + name))) {
        return d + name;
      }
    }
    return name;
  }
}
