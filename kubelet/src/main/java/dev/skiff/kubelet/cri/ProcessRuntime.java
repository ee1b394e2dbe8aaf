package dev.skiff.kubelet.cri;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;
import dev.skiff.kubelet.sandbox.Cgroups;
import dev.skiff.kubelet.sandbox.Mounts;
import dev.skiff.kubelet.sandbox.NamespaceLauncher;
import dev.skiff.kubelet.sandbox.SpareInodes;
import dev.skiff.kubelet.sandbox.PodNetwork;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The process runtime: a container is a host process tree in its own session and process group,
 * started in the pod's directory ({@code <root>/pods/<uid>/}); {@code image} is recorded, not
 * pulled. Each container runs under a tiny {@code /bin/sh} shim (the process group leader) that
 * outlives the agent and writes the container's exit code to a file when it ends, so an exit
 * that happens while the agent is down is reported with its real code afterwards.
 *
 * <p>stdout and stderr go straight to regular files (O_APPEND), never to a pipe or FIFO whose
 * reader is the agent; {@link CriLogCopier} turns them into the CRI log. State is on disk:
 * {@code containers/<name>.<attempt>/} holds {@code pid} ("pid starttime startedAtNanos"),
 * {@code exit}, {@code stdout}, {@code stderr}. A new runtime over the same root re-adopts
 * running containers, guarding against PID reuse with the start time from /proc/pid/stat.
 *
 * <p>Thread-safe.
 */
public final class ProcessRuntime implements ContainerRuntime {
  private static final Logger log = LoggerFactory.getLogger(ProcessRuntime.class);
  public static final String VERSION = "skiff-process://0.1";
  /** The shim: $0 is the exit file; TERM/INT/HUP are caught (reset to default in the container). */
  private static final String SHIM = "trap : TERM INT HUP; \"$@\"; c=$?; echo $c > \"$0.tmp\"; mv \"$0.tmp\" \"$0\"";
  /** kubelet's minimumGracePeriodInSeconds (pkg/kubelet/kuberuntime/kuberuntime_container.go). */
  static final long MIN_GRACE_SECONDS = 2;

  private final Path root;
  /** Pod networks (null: pods share the host's network, podIP = node IP). */
  private final PodNetwork network;
  private final NamespaceLauncher.Mode mountMode;
  private final Map<String, Ctr> containers = new ConcurrentHashMap<>();
  private volatile Cgroups cgroups;
  private volatile boolean cgroupsProbed;
  private final Map<String, Properties> sandboxes = new ConcurrentHashMap<>();
  private final List<Consumer<String>> listeners = new CopyOnWriteArrayList<>();
  private volatile boolean closed;
  private volatile LogRotation logRotation = LogRotation.DEFAULT;

  /** Opens the runtime over {@code root} (the agent's data directory), re-adopting what it finds. */
  public ProcessRuntime(Path root) throws IOException {
    this(root, null, NamespaceLauncher.detect());
  }

  /**
   * Opens the runtime with pod networks from {@code network} (null: host network) and mount
   * namespaces as {@code mountMode} allows.
   */
  public ProcessRuntime(Path root, PodNetwork network, NamespaceLauncher.Mode mountMode) throws IOException {
    this.root = root;
    this.network = network;
    this.mountMode = mountMode;
    Files.createDirectories(root.resolve("pods"));
    Files.createDirectories(root.resolve("logs"));
    adopt();
  }

  /**
   * Stops and removes every pod sandbox kept under {@code root}: processes, network namespaces,
   * veths, mounts, and then the bridge. The agent never kills pods when it stops (they outlive
   * an agent restart); tests and benchmarks that are done with a node call this instead.
   */
  public static void removeAll(Path root) throws IOException, InterruptedException {
    try (ProcessRuntime rt = new ProcessRuntime(root)) {
      List<Thread> stops = new java.util.ArrayList<>();
      for (String sb : rt.listPodSandboxes()) {
        stops.add(Thread.ofVirtual().start(() -> rt.stopPodSandbox(sb, 0)));
      }
      for (Thread t : stops) {
        t.join();
      }
      for (String sb : rt.listPodSandboxes()) {
        rt.removePodSandbox(sb);
      }
      deleteTree(root.resolve("spare")); // the agent's spare inodes (SpareInodes)
    }
  }

  @Override
  public String version() {
    return VERSION;
  }

  Path podDir(String uid) {
    return root.resolve("pods").resolve(uid);
  }

  @Override
  public String runPodSandbox(PodSandboxConfig config) throws IOException {
    Path dir = podDir(config.uid());
    Path meta = dir.resolve("sandbox.properties");
    Properties p = new Properties();
    if (Files.exists(meta)) {
      try (var in = Files.newInputStream(meta)) {
        p.load(in);
      }
    }
    boolean changed = !Files.exists(meta);
    if (changed) {
      SpareInodes.createDirectories(dir.resolve("containers"));
      p.setProperty("namespace", config.namespace());
      p.setProperty("name", config.name());
      if (config.hostname() != null && !config.hostNetwork()) {
        p.setProperty("hostname", config.hostname());
      }
    }
    if (network != null && !config.hostNetwork() && (changed
        || (p.getProperty("netns") != null && !Files.exists(Path.of("/run/netns", p.getProperty("netns")))))) {
      // attach is idempotent; it also rebuilds a namespace the host lost (with the same IP)
      PodNetwork.Attachment a = network.attach(config.uid());
      if (!a.ip().equals(p.getProperty("ip")) || !a.netnsName().equals(p.getProperty("netns"))) {
        p.setProperty("netns", a.netnsName());
        p.setProperty("ip", a.ip());
        changed = true;
      }
    }
    if (changed) {
      writeAtomically(meta, props(p));
    }
    sandboxes.put(config.uid(), p);
    SpareInodes.createDirectories(logDir(config.uid()));
    return config.uid();
  }

  private Path logDir(String uid) throws IOException {
    Properties p = sandbox(uid); // cached: no re-read of sandbox.properties per container
    if (p == null) {
      throw new java.nio.file.NoSuchFileException(podDir(uid).resolve("sandbox.properties").toString());
    }
    return root.resolve("logs").resolve(p.getProperty("namespace") + "_" + p.getProperty("name") + "_" + uid);
  }

  @Override
  public void stopPodSandbox(String sandboxId, long gracePeriodSeconds) {
    List<CompletableFuture<Void>> stops = new ArrayList<>();
    for (ContainerStatus s : listContainers(sandboxId)) {
      if (s.state() == ContainerStatus.State.RUNNING) {
        stops.add(CompletableFuture.runAsync(() -> stopContainer(s.id(), gracePeriodSeconds),
            r -> Thread.ofVirtual().start(r)));
      }
    }
    stops.forEach(CompletableFuture::join);
  }

  /** The agent's cgroups (as root), probed at the first container with limits; null when none. */
  private Cgroups cgroups() {
    if (!cgroupsProbed) {
      synchronized (this) {
        if (!cgroupsProbed) {
          cgroups = mountMode == NamespaceLauncher.Mode.ROOT
              ? Cgroups.detect(Integer.toHexString(root.toAbsolutePath().normalize().toString().hashCode())) : null;
          cgroupsProbed = true;
        }
      }
    }
    return cgroups;
  }

  /** The pod's IP when it has its own network namespace, else null (host network). */
  @Override
  public String podSandboxIp(String sandboxId) {
    Properties p = sandbox(sandboxId);
    return p == null ? null : p.getProperty("ip");
  }

  private Properties sandbox(String uid) {
    return sandboxes.computeIfAbsent(uid, u -> {
      Path meta = podDir(u).resolve("sandbox.properties");
      Properties p = new Properties();
      try (var in = Files.newInputStream(meta)) {
        p.load(in);
        return p;
      } catch (IOException e) {
        return null;
      }
    });
  }

  @Override
  public void removePodSandbox(String sandboxId) throws IOException {
    Path logs = Files.exists(podDir(sandboxId).resolve("sandbox.properties")) ? logDir(sandboxId) : null;
    for (ContainerStatus s : listContainers(sandboxId)) {
      removeContainer(s.id());
    }
    Properties p = sandbox(sandboxId);
    if (p != null && p.getProperty("netns") != null) {
      if (network != null) {
        network.detach(sandboxId); // also frees the address in the open network's table
      } else {
        PodNetwork.detach(root.resolve("network"), sandboxId);
      }
    }
    // Volumes the agent mounted on the host (emptyDir medium Memory) go before their directory.
    Mounts.unmountBelow(podDir(sandboxId));
    deleteTree(podDir(sandboxId));
    sandboxes.remove(sandboxId);
    if (logs != null) {
      deleteTree(logs);
    }
  }

  @Override
  public String createContainer(String sandboxId, ContainerConfig config) throws IOException {
    if (config.argv().isEmpty()) {
      throw new ContainerConfigException("RunContainerError", "container \"" + config.name()
          + "\" has no command: the process runtime runs host processes and does not pull images (image "
          + config.image() + " is only recorded); set command (and args) in the container spec");
    }
    Path wd = config.workingDir() == null || config.workingDir().isEmpty() ? podDir(sandboxId) : Path.of(config.workingDir());
    if (!Files.isDirectory(wd)) {
      throw new ContainerConfigException("CreateContainerError", "workingDir " + wd + " does not exist on the node");
    }
    String id = sandboxId + "." + config.name() + "." + config.attempt();
    Path dir = podDir(sandboxId).resolve("containers").resolve(config.name() + "." + config.attempt());
    if (Files.exists(dir)) {
      deleteTree(dir); // a half-created instance from before a crash
    }
    SpareInodes.createDirectories(dir);
    Path logDir = logDir(sandboxId).resolve(config.name());
    SpareInodes.createDirectories(logDir);
    Properties sb = sandbox(sandboxId);
    List<String> prefix = NamespaceLauncher.prefix(mountMode, sb == null || sb.getProperty("netns") == null ? null
        : "/run/netns/" + sb.getProperty("netns"), config.mounts(), wd, dir.resolve("setup"), dir.resolve("exit"),
        sb == null ? null : sb.getProperty("hostname"));
    List<Path> cgroupProcs = List.of();
    var res = config.resources();
    if ((res.memoryLimitBytes() > 0 || res.cpuLimitMillis() > 0) && cgroups() != null) {
      try {
        cgroupProcs = cgroups().create(id, res.memoryLimitBytes(), res.cpuLimitMillis(), res.cpuRequestMillis());
      } catch (IOException e) {
        throw new ContainerConfigException("CreateContainerError", "setting resource limits: " + e.getMessage());
      }
    }
    Properties p = new Properties();
    p.setProperty("cgroups", String.join(",", cgroupProcs.stream().map(Path::toString).toList()));
    p.setProperty("image", config.image() == null ? "" : config.image());
    p.setProperty("createdAt", Instant.now().toString());
    writeAtomically(dir.resolve("container.properties"), props(p));
    Ctr c = new Ctr(id, sandboxId, config.name(), config.attempt(), config.image(), Instant.now(), dir,
        logDir.resolve(config.attempt() + ".log"));
    c.config = config;
    c.workingDir = wd;
    c.prefix = prefix;
    c.cgroupProcs = cgroupProcs;
    containers.put(id, c);
    return id;
  }

  @Override
  public void startContainer(String containerId) throws IOException {
    Ctr c = require(containerId);
    if (c.config == null || c.pid != 0) {
      throw new IOException("container " + containerId + " is not in state CREATED");
    }
    List<String> cmd = new ArrayList<>(List.of("/usr/bin/setsid"));
    if (c.config.stdin()) {
      cmd.addAll(ContainerStdin.create(c.dir, c.config.stdinOnce()));
    }
    if (!c.cgroupProcs.isEmpty()) {
      // joins its cgroups before anything of the container runs (the same pid all along)
      StringBuilder join = new StringBuilder();
      for (Path procs : c.cgroupProcs) {
        join.append("echo $$ > '").append(procs).append("' || exit 126; ");
      }
      cmd.addAll(List.of("/bin/sh", "-c", join + "exec \"$@\"", "skiff-cgroup"));
    } else if (c.config.resources().memoryLimitBytes() > 0) {
      // No cgroups (not root): the memory limit as RLIMIT_DATA (heap and anonymous mappings,
      // Linux >= 4.7); an allocation beyond it fails instead of being OOM-killed. CPU stays unlimited.
      cmd.addAll(List.of("/bin/sh", "-c", "ulimit -d " + Math.max(1, c.config.resources().memoryLimitBytes() / 1024)
          + " || exit 126; exec \"$@\"", "skiff-rlimit"));
    }
    cmd.addAll(c.prefix); // into the pod's network namespace and the container's mount namespace
    cmd.addAll(List.of("/bin/sh", "-c", SHIM, c.dir.resolve("exit").toString()));
    cmd.addAll(c.config.tty() ? ContainerTty.wrap(c.config.argv()) : c.config.argv());
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(c.workingDir.toFile());
    pb.environment().clear();
    pb.environment().putAll(c.config.env());
    if (c.config.tty()) {
      pb.environment().putIfAbsent("TERM", "xterm"); // as containerd's oci.WithTTY
    }
    pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    SpareInodes.createFile(c.dir.resolve("stdout"));
    SpareInodes.createFile(c.dir.resolve("stderr"));
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(c.dir.resolve("stdout").toFile()));
    pb.redirectError(ProcessBuilder.Redirect.appendTo(c.dir.resolve("stderr").toFile()));
    Process p = dev.skiff.kubelet.sandbox.ProcessLauncher.start(pb);
    Properties sbp = sandbox(c.sandboxId);
    if (sbp != null) {
      dev.skiff.kubelet.StartupTrace.mark(sbp.getProperty("namespace"), sbp.getProperty("name"), "spawned");
    }
    c.pid = p.pid();
    // -1: already gone and reaped (a container that exits at once); its exit file tells the rest
    c.startTicks = startTicksOrMinus(c.pid);
    if (c.prefix.contains("/usr/bin/unshare")) {
      awaitSetup(c.dir.resolve("setup"), p);
    }
    c.startedAt = Instant.now();
    writeAtomically(c.dir.resolve("pid"), (c.pid + " " + c.startTicks + " " + nanos(c.startedAt) + "\n").getBytes(StandardCharsets.UTF_8));
    c.config = null; // env may hold secrets; nothing needs it any more
    watch(c, p.toHandle());
    p.onExit().thenRun(() -> reap(c));
  }

  /**
   * Waits (up to 10 s) until the container's namespace setup has made its mounts, so that it is
   * reported running only with its volumes in place (and a next init container starts after it).
   * A failed setup ends the process with 126 and its reason on stderr.
   */
  private static void awaitSetup(Path stage, Process p) {
    Path started = stage.resolve(NamespaceLauncher.STARTED);
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    long sleep = 1;
    try {
      while (!NamespaceLauncher.setupDone(started) && p.isAlive() && System.nanoTime() < deadline) {
        Thread.sleep(sleep);
        // Setup takes ~5-20 ms and is the start latency, so poll finely, but not so finely that
        // 100 workers starting at once spend the agent's CPU on polling (1, 2, 4, 8, 8... ms).
        sleep = Math.min(sleep * 2, 8);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void watch(Ctr c, ProcessHandle h) {
    c.handle = h;
    // The copier also notices a dead process when idle: exit notification must not depend on
    // one mechanism alone (onExit of a process that is not our child is polled by the JDK).
    // The copier polls this every few ms; isAlive reads /proc, so it is asked at most every
    // 200 ms (onExit reports a child's exit at once; this is the safety net). Copier thread only.
    long[] nextAliveCheck = {System.nanoTime()};
    c.copier = new CriLogCopier(c.dir.resolve("stdout"), c.dir.resolve("stderr"), c.logPath, () -> {
      long now = System.nanoTime();
      if (!c.exited && now - nextAliveCheck[0] >= 0) {
        nextAliveCheck[0] = now + TimeUnit.MILLISECONDS.toNanos(200);
        if (!h.isAlive()) {
          reap(c);
        }
      }
      return c.exited;
    }, () -> logRotation);
    c.copier.start(c.id);
    h.onExit().thenRun(() -> reap(c));
  }

  /** Records the exit (from the shim's exit file) and tells the listeners. */
  private void reap(Ctr c) {
    synchronized (c) {
      if (c.exited) {
        return;
      }
      ContainerStdin.release(c.dir);
      Path exit = c.dir.resolve("exit");
      if (!Files.exists(exit) && c.killed) {
        // SIGKILL took the shim too: the agent writes what the runtime would report (128+9).
        try {
          writeAtomically(exit, "137\n".getBytes(StandardCharsets.UTF_8));
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      }
      readExit(c);
      if (c.exitCode == 137 && Cgroups.oomKilled(c.cgroupProcs)) {
        c.reason = "OOMKilled";
      }
      c.exited = true;
      c.notifyAll();
    }
    if (!closed) {
      listeners.forEach(l -> l.accept(c.id));
    }
  }

  private static void readExit(Ctr c) {
    Path exit = c.dir.resolve("exit");
    try {
      if (Files.exists(exit)) {
        c.exitCode = Integer.parseInt(Files.readString(exit).trim());
        c.finishedAt = Files.getLastModifiedTime(exit).toInstant();
        c.reason = c.exitCode == 0 ? "Completed" : "Error";
      } else {
        // The process vanished without its shim recording an exit (containerd reports this as
        // Unknown with 255, pkg/cri/server/helpers.go).
        c.exitCode = 255;
        c.finishedAt = Instant.now();
        c.reason = "Unknown";
      }
    } catch (IOException | NumberFormatException e) {
      c.exitCode = 255;
      c.finishedAt = Instant.now();
      c.reason = "Unknown";
    }
  }

  @Override
  public void stopContainer(String containerId, long timeoutSeconds) {
    Ctr c = containers.get(containerId);
    if (c == null || c.pid == 0 || c.exited) {
      return;
    }
    long grace = Math.max(timeoutSeconds, MIN_GRACE_SECONDS);
    signalGroup(c.pid, "TERM");
    if (awaitExit(c, TimeUnit.SECONDS.toMillis(grace))) {
      return;
    }
    // Grace expired: SIGKILL the process group, then anything of the tree that left the group.
    c.killed = true;
    List<ProcessHandle> tree = c.handle.descendants().toList();
    signalGroup(c.pid, "KILL");
    tree.forEach(ProcessHandle::destroyForcibly);
    c.handle.destroyForcibly();
    if (!awaitExit(c, 10_000)) {
      log.warn("container {} (pid {}) did not exit after SIGKILL", containerId, c.pid);
    }
    // Stopped means the whole tree is gone, not just the shim.
    long deadline = System.currentTimeMillis() + 5_000;
    while (tree.stream().anyMatch(ProcessRuntime::running) && System.currentTimeMillis() < deadline) {
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

  private boolean awaitExit(Ctr c, long millis) {
    long deadline = System.currentTimeMillis() + millis;
    synchronized (c) {
      while (!c.exited) {
        long left = deadline - System.currentTimeMillis();
        if (left <= 0) {
          return false;
        }
        try {
          c.wait(Math.min(left, 50));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return c.exited;
        }
        if (!c.handle.isAlive()) {
          // onExit may lag for processes that are not our children
          Thread.ofVirtual().start(() -> reap(c));
        }
      }
      return true;
    }
  }

  private static void signalGroup(long pgid, String signal) {
    try {
      Process k = new ProcessBuilder("/bin/kill", "-s", signal, "--", "-" + pgid).redirectErrorStream(true).start();
      k.getInputStream().readAllBytes();
      k.waitFor(5, TimeUnit.SECONDS);
    } catch (IOException e) {
      log.warn("kill -{} -{}: {}", signal, pgid, e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void removeContainer(String containerId) throws IOException {
    Ctr c = containers.get(containerId);
    if (c == null) {
      return;
    }
    if (c.pid != 0 && !c.exited) {
      throw new IOException("container " + containerId + " is running");
    }
    if (c.copier != null) {
      c.copier.close();
    }
    containers.remove(containerId);
    Cgroups.remove(c.cgroupProcs);
    deleteTree(c.dir);
    Files.deleteIfExists(c.logPath);
    LogRotation.deleteRotated(c.logPath);
    Files.deleteIfExists(CriLogCopier.offsetsFile(c.logPath));
  }

  /** Sets how container logs rotate (the kubelet's containerLogMaxSize/MaxFiles); applies to running copiers too. */
  public void setLogRotation(LogRotation rotation) {
    this.logRotation = rotation;
  }

  @Override
  public ContainerStatus containerStatus(String containerId) {
    Ctr c = containers.get(containerId);
    return c == null ? null : c.status();
  }

  /**
   * A writer to a running container's stdin for attach ({@link ContainerStdin#open}), or null
   * when it has none (no {@code stdin: true}, or {@code stdinOnce} and already attached once).
   */
  public java.io.OutputStream openStdin(String containerId) throws IOException {
    Ctr c = containers.get(containerId);
    return c == null || c.exited ? null : ContainerStdin.open(c.dir);
  }

  /** The terminal of a running container started with {@code tty}, for attach. */
  public ContainerTty tty(String containerId, long pid) {
    Ctr c = containers.get(containerId);
    return c == null ? null : new ContainerTty(c.dir.resolve("stdout"), pid);
  }

  /**
   * The pid of a running container's shim (its process group leader), or 0 when the container
   * is unknown or not running. For exec, attach and probes ({@link ContainerExec}).
   */
  public long pid(String containerId) {
    Ctr c = containers.get(containerId);
    return c == null || c.exited ? 0 : c.pid;
  }

  @Override
  public List<ContainerStatus> listContainers(String sandboxId) {
    List<ContainerStatus> out = new ArrayList<>();
    for (Ctr c : containers.values()) {
      if (sandboxId == null || c.sandboxId.equals(sandboxId)) {
        out.add(c.status());
      }
    }
    out.sort(Comparator.comparing(ContainerStatus::name).thenComparingInt(ContainerStatus::attempt));
    return out;
  }

  @Override
  public List<String> listPodSandboxes() {
    try (Stream<Path> s = Files.list(root.resolve("pods"))) {
      return s.filter(p -> Files.exists(p.resolve("sandbox.properties"))).map(p -> p.getFileName().toString()).toList();
    } catch (IOException e) {
      return List.of();
    }
  }

  @Override
  public void onContainerExit(Consumer<String> listener) {
    listeners.add(listener);
  }

  @Override
  public boolean awaitLogComplete(String containerId, long millis) throws InterruptedException {
    Ctr c = containers.get(containerId);
    if (c != null && !c.exited) {
      return false;
    }
    return c == null || c.copier == null || c.copier.awaitDrained(millis);
  }

  @Override
  public void close() {
    closed = true;
    for (Ctr c : containers.values()) {
      if (c.copier != null) {
        c.copier.close();
      }
    }
    if (network != null) {
      network.close(false); // the pooled sandboxes that no pod took
    }
    try {
      // The bridge goes with the last pod: the agent stopped and nothing needs it.
      if (listPodSandboxes().isEmpty()) {
        PodNetwork.removeIfUnused(root.resolve("network"));
        Cgroups cg = cgroups();
        if (cg != null) {
          cg.removeIfEmpty();
        }
      }
    } catch (IOException e) {
      log.warn("removing the pod network: {}", e.toString());
    }
  }

  /**
   * Drops everything at once, as if the agent process were SIGKILLed: copiers stop mid-write,
   * nothing is flushed or recorded; containers keep running. For crash tests.
   */
  public void abandon() {
    closed = true;
    if (network != null) {
      network.close(true); // its pooled sandboxes stay for the next agent, as after a crash
    }
    for (Ctr c : containers.values()) {
      if (c.copier != null) {
        c.copier.kill();
      }
    }
  }

  /** Rebuilds the container table from disk: running containers are re-adopted, exits read. */
  private void adopt() throws IOException {
    for (String uid : listPodSandboxes()) {
      Path cdir = podDir(uid).resolve("containers");
      if (!Files.isDirectory(cdir)) {
        continue;
      }
      List<Path> dirs;
      try (Stream<Path> s = Files.list(cdir)) {
        dirs = s.toList();
      }
      Path logDir = logDir(uid);
      for (Path dir : dirs) {
        String base = dir.getFileName().toString();
        int dot = base.lastIndexOf('.');
        Path pidFile = dir.resolve("pid");
        if (dot < 0 || !Files.exists(pidFile)) {
          deleteTree(dir); // created but never started before the crash
          continue;
        }
        String name = base.substring(0, dot);
        int attempt = Integer.parseInt(base.substring(dot + 1));
        Properties p = new Properties();
        try (var in = Files.newInputStream(dir.resolve("container.properties"))) {
          p.load(in);
        }
        Ctr c = new Ctr(uid + "." + name + "." + attempt, uid, name, attempt, p.getProperty("image"),
            Instant.parse(p.getProperty("createdAt")), dir, logDir.resolve(name).resolve(attempt + ".log"));
        String[] f = Files.readString(pidFile).trim().split(" ");
        c.pid = Long.parseLong(f[0]);
        c.startTicks = Long.parseLong(f[1]);
        long n = Long.parseLong(f[2]);
        c.startedAt = Instant.ofEpochSecond(n / 1_000_000_000L, n % 1_000_000_000L);
        String cg = p.getProperty("cgroups", "");
        c.cgroupProcs = cg.isEmpty() ? List.of() : java.util.Arrays.stream(cg.split(",")).map(Path::of).toList();
        containers.put(c.id, c);
        var handle = ProcessHandle.of(c.pid);
        // PID reuse guard: the same pid with another start time is another process.
        if (!Files.exists(dir.resolve("exit")) && handle.isPresent() && startTicksOrMinus(c.pid) == c.startTicks) {
          watch(c, handle.get());
        } else {
          readExit(c);
          if (c.exitCode == 137 && Cgroups.oomKilled(c.cgroupProcs)) {
            c.reason = "OOMKilled";
          }
          c.exited = true;
          // Output written while the agent was down still has to reach the log.
          c.copier = new CriLogCopier(dir.resolve("stdout"), dir.resolve("stderr"), c.logPath, () -> true,
              () -> logRotation);
          c.copier.start(c.id);
        }
      }
    }
  }

  /** Alive and not a zombie (an orphan is reaped by whatever PID 1 the machine has, maybe late). */
  static boolean running(ProcessHandle h) {
    try {
      String stat = Files.readString(Path.of("/proc/" + h.pid() + "/stat"));
      return stat.charAt(stat.lastIndexOf(')') + 2) != 'Z';
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /** Field 22 of /proc/pid/stat (starttime in clock ticks since boot). */
  static long startTicks(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    return Long.parseLong(f[19]);
  }

  private static long startTicksOrMinus(long pid) {
    try {
      return startTicks(pid);
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  private Ctr require(String id) throws IOException {
    Ctr c = containers.get(id);
    if (c == null) {
      throw new IOException("no container " + id);
    }
    return c;
  }

  private static long nanos(Instant t) {
    return t.getEpochSecond() * 1_000_000_000L + t.getNano();
  }

  /**
   * {@code p} in the format {@link Properties#load} reads, as {@link Properties#store} writes it
   * but without its date comment: formatting the date was ~7% of a pod worker's CPU in a burst.
   */
  static byte[] props(Properties p) {
    StringBuilder sb = new StringBuilder();
    for (String k : new java.util.TreeSet<>(p.stringPropertyNames())) {
      escape(sb, k, true);
      sb.append('=');
      escape(sb, p.getProperty(k), false);
      sb.append('\n');
    }
    return sb.toString().getBytes(StandardCharsets.ISO_8859_1);
  }

  /** Properties.saveConvert: escapes what load would read differently; non-ASCII as \\uXXXX. */
  private static void escape(StringBuilder sb, String s, boolean key) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case ' ' -> sb.append(i == 0 || key ? "\\ " : " ");
        case '\t' -> sb.append("\\t");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\f' -> sb.append("\\f");
        case '=', ':', '#', '!', '\\' -> sb.append('\\').append(c);
        default -> {
          if (c < 0x20 || c > 0x7e) {
            sb.append(String.format("\\u%04X", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
  }

  static void writeAtomically(Path file, byte[] data) throws IOException {
    SpareInodes.writeAtomically(file, data);
  }

  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> s = Files.walk(dir)) {
      for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }

  /** A container's mutable record; fields guarded by the Ctr's monitor where it matters. */
  private static final class Ctr {
    final String id;
    final String sandboxId;
    final String name;
    final int attempt;
    final String image;
    final Instant createdAt;
    final Path dir;
    final Path logPath;
    ContainerConfig config;
    Path workingDir;
    List<String> prefix = List.of();
    volatile List<Path> cgroupProcs = List.of();
    volatile long pid;
    long startTicks;
    volatile Instant startedAt;
    volatile boolean exited;
    volatile boolean killed;
    volatile int exitCode;
    volatile Instant finishedAt;
    volatile String reason;
    ProcessHandle handle;
    CriLogCopier copier;

    Ctr(String id, String sandboxId, String name, int attempt, String image, Instant createdAt, Path dir, Path logPath) {
      this.id = id;
      this.sandboxId = sandboxId;
      this.name = name;
      this.attempt = attempt;
      this.image = image;
      this.createdAt = createdAt;
      this.dir = dir;
      this.logPath = logPath;
    }

    synchronized ContainerStatus status() {
      ContainerStatus.State state = exited ? ContainerStatus.State.EXITED
          : pid != 0 ? ContainerStatus.State.RUNNING : ContainerStatus.State.CREATED;
      return new ContainerStatus(id, sandboxId, name, attempt, state, image, createdAt, startedAt,
          exited ? finishedAt : null, exited ? exitCode : 0, exited ? reason : null, logPath);
    }
  }
}
