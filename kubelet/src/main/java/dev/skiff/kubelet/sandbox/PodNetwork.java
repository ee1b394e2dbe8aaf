package dev.skiff.kubelet.sandbox;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pod networking for the process runtime, without CNI: one network namespace per pod sandbox
 * ({@code /run/netns/<name>}), a veth pair whose host end is enslaved to a per-agent Linux bridge
 * and whose pod end is {@code eth0} with an address from the agent's /24, the bridge's {@code .1}
 * as gateway and default route, and {@code lo} up (what the reference "bridge" CNI plugin plus
 * host-local IPAM do).
 *
 * <p>Names are unique per agent instance: the bridge is {@code skb<8 hex>} from a hash of the
 * state directory, so several agents (test servers) on one host never share or delete each
 * other's bridge. The subnet is the Node's podCIDR when no other interface routes it, else the
 * first 10.42.N.0/24 no interface or route on the host uses; the choice is made under a host-wide
 * file lock so agents starting together cannot pick the same one.
 *
 * <p>Everything is persisted under the state directory ({@code subnet}, {@code ips/<ip>} holding
 * the pod uid): a new agent over the same directory re-adopts the bridge, the namespaces and the
 * addresses; running pods are never touched. A sandbox costs two {@code ip -batch} launches.
 *
 * <p><b>Warm pool.</b> Creating a namespace is slow on the pod's critical path (about 15 ms on a
 * quiet machine, and namespace creations serialize in the kernel, so a burst of 100 pods waits
 * seconds). With {@link #startPool(int)} a background thread keeps that many sandboxes ready
 * (namespace, veth on the bridge, address, routes) before pods arrive; {@link #attach} hands one
 * out by writing one file. Pooled namespaces are named {@code skiff-<hash>-pool-<ip>} and hold
 * {@code -} in {@code ips/<ip>}; a new agent re-adopts them, {@link #close()} deletes them.
 *
 * <p>Thread-safe.
 */
public final class PodNetwork {
  private static final Logger log = LoggerFactory.getLogger(PodNetwork.class);
  private static final Path HOST_LOCK = Path.of("/run/lock/skiff-pod-subnets.lock");
  private static final Object JVM_LOCK = new Object(); // FileLock is per JVM, not per thread
  /** Kubernetes' pod CIDR for this platform (CONTRACTS.md): a /24 per node out of 10.42.0.0/16. */
  public static final String CLUSTER_POD_PREFIX = "10.42.";

  /** A pod's network: the namespace to run its containers in, and its address. */
  public record Attachment(String netnsName, String ip) {
    /** The bind-mounted namespace file that {@code nsenter --net=} takes. */
    public String netnsPath() {
      return "/run/netns/" + netnsName;
    }
  }

  private final Path dir;
  private final String hash;
  private final String bridge;
  private String prefix; // "10.42.N." (a /24)
  /** ip -> uid (or {@link #POOLED}), mirrored in {@code ips/<ip>} files. New entries are made under this. */
  private final java.util.Map<String, String> ips = new java.util.concurrent.ConcurrentHashMap<>();
  /** How long after the last take the pool starts refilling. */
  static final java.time.Duration REFILL_QUIET = java.time.Duration.ofSeconds(1);
  /** The owner recorded for a pooled (ready, unassigned) sandbox's address. */
  static final String POOLED = "-";
  /**
   * Addresses of pooled sandboxes ready to hand out. Taken without a lock: with one monitor, a
   * burst of 100 workers spent a fifth of the agent's CPU contending for it.
   */
  private final java.util.concurrent.ConcurrentLinkedQueue<String> ready = new java.util.concurrent.ConcurrentLinkedQueue<>();
  /** Pooled sandboxes being built (guarded by this). */
  private int building;
  private int poolTarget;
  private volatile long lastTake = System.nanoTime() - 1_000_000_000L;
  private Thread filler;
  private boolean closed;

  private PodNetwork(Path dir) {
    this.dir = dir;
    this.hash = hash(dir.toAbsolutePath().normalize().toString()).substring(0, 8);
    this.bridge = "skb" + hash;
  }

  /**
   * True when this process can build pod networks: root, with {@code ip}, {@code nsenter} and
   * {@code unshare} installed.
   */
  public static boolean supported() {
    return "root".equals(System.getProperty("user.name")) && Files.isExecutable(Path.of(Ip.IP))
        && Files.isExecutable(Path.of("/usr/bin/nsenter")) && Files.isExecutable(Path.of("/usr/bin/unshare"));
  }

  /**
   * Opens (or re-adopts) the network kept in {@code dir}: makes sure the bridge exists, is up and
   * holds the gateway address of the subnet.
   *
   * @param podCidr the Node's spec.podCIDR (a /24 ending in ".0/24"), or null
   */
  public static PodNetwork open(Path dir, String podCidr) throws IOException {
    PodNetwork n = new PodNetwork(dir);
    Files.createDirectories(dir.resolve("ips"));
    n.setUpBridge(podCidr);
    try (Stream<Path> s = Files.list(dir.resolve("ips"))) {
      for (Path p : s.toList()) {
        if (p.getFileName().toString().endsWith(".tmp")) {
          Files.deleteIfExists(p);
        } else {
          String ip = p.getFileName().toString();
          String owner = Files.readString(p).trim();
          if (POOLED.equals(owner) && !Files.exists(Path.of("/run/netns", n.poolNs(ip)))) {
            Files.deleteIfExists(p); // the host lost it (a reboot): build a fresh one instead
            continue;
          }
          n.ips.put(ip, owner);
          if (POOLED.equals(owner)) {
            n.ready.add(ip);
          }
        }
      }
    }
    return n;
  }

  /** Whether the state directory holds a network (a bridge may exist) - for cleanup without opening. */
  public static boolean exists(Path dir) {
    return Files.exists(dir.resolve("subnet"));
  }

  /** The bridge's name (at most 15 characters, as Linux requires). */
  public String bridge() {
    return bridge;
  }

  /** The pod subnet, e.g. {@code 10.42.3.0/24}. */
  public synchronized String subnet() {
    return prefix + "0/24";
  }

  /** The gateway (the bridge's address). */
  public synchronized String gateway() {
    return prefix + "1";
  }

  private void setUpBridge(String podCidr) throws IOException {
    synchronized (JVM_LOCK) {
      Files.createDirectories(HOST_LOCK.getParent());
      try (FileChannel ch = new RandomAccessFile(HOST_LOCK.toFile(), "rw").getChannel(); FileLock ignored = ch.lock()) {
        Path subnetFile = dir.resolve("subnet");
        String chosen = Files.exists(subnetFile) ? Files.readString(subnetFile).trim() : null;
        List<String> used = usedPrefixes();
        if (chosen == null || (used.contains(chosen) && !bridgeHas(chosen))) {
          chosen = null;
          String wanted = podCidr != null && podCidr.matches("\\d+\\.\\d+\\.\\d+\\.0/24")
              ? podCidr.substring(0, podCidr.length() - "0/24".length()) : null;
          if (wanted != null && !used.contains(wanted)) {
            chosen = wanted;
          }
          for (int i = 0; chosen == null && i < 256; i++) {
            if (!used.contains(CLUSTER_POD_PREFIX + i + ".")) {
              chosen = CLUSTER_POD_PREFIX + i + ".";
            }
          }
          if (chosen == null) {
            throw new IOException("no free pod subnet in " + CLUSTER_POD_PREFIX + "0.0/16 on this host");
          }
        }
        prefix = chosen;
        // -force: "File exists" for a bridge or address that is already there is not an error.
        Ip.batch(null, true, List.of(
            "link add " + bridge + " type bridge",
            "addr add " + chosen + "1/24 dev " + bridge,
            "link set " + bridge + " up"));
        if (!bridgeHas(chosen)) {
          throw new IOException("bridge " + bridge + " did not get address " + chosen + "1");
        }
        // Packets from pods may be routed on (to another agent's bridge, or back onto this one
        // after a service DNAT): forwarding for what arrives on this bridge only. The host's
        // global ip_forward stays as it is, and the setting goes with the bridge.
        Path fwd = Path.of("/proc/sys/net/ipv4/conf", bridge, "forwarding");
        if (Files.exists(fwd)) {
          Files.writeString(fwd, "1");
        }
        write(subnetFile, chosen);
      }
    }
    log.info("pod network: bridge {} with subnet {}0/24", bridge, prefix);
  }

  private boolean bridgeHas(String prefix) throws IOException {
    return Ip.run("-4", "-o", "addr", "show", "dev", bridge).contains(" " + prefix + "1/24");
  }

  /** "a.b.c." of every /24 in 10.42/16 (or the podCIDR) that an address or route on the host overlaps. */
  private static List<String> usedPrefixes() throws IOException {
    List<String> out = new ArrayList<>();
    String text = Ip.run("-4", "-o", "addr") + "\n" + Ip.run("-4", "route", "show", "table", "all");
    for (String tok : text.split("\\s+")) {
      if (!tok.matches("\\d+\\.\\d+\\.\\d+\\.\\d+(/\\d+)?")) {
        continue;
      }
      String[] a = tok.split("/");
      int len = a.length > 1 ? Integer.parseInt(a[1]) : 32;
      String[] o = a[0].split("\\.");
      if (len >= 24) {
        out.add(o[0] + "." + o[1] + "." + o[2] + ".");
      } else if (len > 0) {
        // A wider route (say a /16) covers every /24 inside it; list the 10.42 ones it covers.
        long net = ipToLong(a[0]) & (0xffffffffL << (32 - len));
        for (int i = 0; i < 256; i++) {
          long candidate = ipToLong(CLUSTER_POD_PREFIX + i + ".0");
          if ((candidate & (0xffffffffL << (32 - len))) == net) {
            out.add(CLUSTER_POD_PREFIX + i + ".");
          }
        }
      }
    }
    return out;
  }

  private static long ipToLong(String ip) {
    long v = 0;
    for (String p : ip.split("\\.")) {
      v = (v << 8) | Integer.parseInt(p);
    }
    return v;
  }

  /**
   * Gives the sandbox {@code uid} its namespace and address, or returns the ones it already has
   * (after an agent restart the namespace is still there; if the host lost it, say after a
   * reboot, it is rebuilt with the same address).
   */
  public Attachment attach(String uid) throws IOException {
    String ns = "skiff-" + hash + "-" + uid;
    String ip;
    String gw;
    // One pod's syncs never overlap, so nothing else attaches this uid meanwhile.
    ip = ipOf(uid);
    if (ip != null && Files.exists(Path.of("/run/netns", ns))) {
      return new Attachment(ns, ip);
    }
    if (ip != null && Files.exists(Path.of("/run/netns", poolNs(ip)))) {
      return new Attachment(poolNs(ip), ip); // taken from the pool before a restart
    }
    if (ip == null) {
      String pooled = ready.poll(); // lock-free: the filler builds replacements after the burst
      if (pooled != null) {
        ips.put(pooled, uid);
        lastTake = System.nanoTime();
        write(dir.resolve("ips").resolve(pooled), uid);
        return new Attachment(poolNs(pooled), pooled);
      }
    }
    // Only the allocation is serialized: the ip launches of different pods run in parallel
    // (their names differ).
    synchronized (this) {
      if (ip == null) {
        ip = allocate(uid);
      }
      gw = gateway();
    }
    build(ns, vethName(uid), ip, gw);
    return new Attachment(ns, ip);
  }

  /** Builds a namespace with its veth on the bridge and address {@code ip}; frees the address on failure. */
  private void build(String ns, String veth, String ip, String gw) throws IOException {
    try {
      if (Files.exists(Path.of("/run/netns", ns))) {
        Ip.batch(null, true, List.of("link del " + veth, "netns del " + ns)); // leftovers of a half-made sandbox
      }
      Ip.batch(null, false, List.of(
          "netns add " + ns,
          "link add " + veth + " type veth peer name eth0 netns " + ns,
          "link set " + veth + " master " + bridge + " up"));
      Ip.batch(ns, false, List.of(
          "addr add " + ip + "/24 dev eth0",
          "link set lo up",
          "link set eth0 up",
          "route add default via " + gw));
    } catch (IOException e) {
      Ip.batch(null, true, List.of("link del " + veth, "netns del " + ns));
      synchronized (this) {
        Files.deleteIfExists(dir.resolve("ips").resolve(ip));
        ips.remove(ip);
      }
      throw e;
    }
  }

  /**
   * Keeps {@code size} sandboxes ready in the background (0: no pool). The pool is refilled only
   * after {@link #REFILL_QUIET} without a take, so that building it (two process launches per
   * sandbox) does not compete for CPU with a burst of pod starts.
   */
  public void startPool(int size) {
    synchronized (this) {
      poolTarget = Math.max(0, size);
      if (poolTarget == 0 || filler != null || closed) {
        return;
      }
      filler = Thread.ofPlatform().name("pod-network-pool").daemon().start(this::fill);
    }
  }

  /** The number of pooled sandboxes ready now. */
  public int pooled() {
    return ready.size();
  }

  private void fill() {
    long failures = 0;
    while (true) {
      String ip;
      String gw;
      synchronized (this) {
        try {
          while (!closed && (ready.size() + building >= poolTarget || System.nanoTime() - lastTake < REFILL_QUIET.toNanos())) {
            wait(ready.size() + building >= poolTarget ? 200 : 50); // takes do not notify
          }
        } catch (InterruptedException e) {
          return;
        }
        if (closed) {
          return;
        }
        try {
          ip = allocate(POOLED);
        } catch (IOException e) {
          ip = null; // the subnet is full: wait for a release
        }
        if (ip == null) {
          try {
            wait(1000);
          } catch (InterruptedException e) {
            return;
          }
          continue;
        }
        building++;
        gw = gateway();
      }
      boolean ok = false;
      try {
        build(poolNs(ip), vethName(POOLED + ip), ip, gw);
        ok = true;
        failures = 0;
      } catch (IOException e) {
        failures++;
        log.warn("building a pooled pod sandbox failed: {}", e.toString());
      }
      synchronized (this) {
        building--;
        if (ok) {
          if (closed) {
            discard(List.of(ip));
          } else {
            ready.add(ip);
          }
        }
      }
      if (!ok) {
        try {
          Thread.sleep(Math.min(100L << Math.min(failures, 6), 10_000L));
        } catch (InterruptedException e) {
          return;
        }
      }
    }
  }

  /** Deletes pooled sandboxes (one {@code ip -batch}) and frees their addresses; holds this. */
  private void discard(List<String> pooledIps) {
    if (pooledIps.isEmpty()) {
      return;
    }
    List<String> lines = new ArrayList<>();
    for (String ip : pooledIps) {
      lines.add("netns del " + poolNs(ip));
      lines.add("link del " + vethName(POOLED + ip));
    }
    try {
      Ip.batch(null, true, lines);
      for (String ip : pooledIps) {
        Files.deleteIfExists(dir.resolve("ips").resolve(ip));
        ips.remove(ip);
      }
    } catch (IOException e) {
      log.warn("removing pooled pod sandboxes: {}", e.toString());
    }
  }

  /**
   * Stops the pool and deletes its ready sandboxes (pods' sandboxes stay: they outlive the agent).
   * With {@code keep}, as after a crash, the pooled sandboxes stay for the next agent to re-adopt.
   */
  public void close(boolean keep) {
    Thread t;
    synchronized (this) {
      closed = true;
      notifyAll();
      t = filler;
    }
    if (t != null) {
      try {
        t.join(30_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    synchronized (this) {
      if (!keep) {
        List<String> drained = new ArrayList<>();
        for (String ip = ready.poll(); ip != null; ip = ready.poll()) {
          drained.add(ip); // poll, not copy-then-clear: a late attach may take one meanwhile
        }
        discard(drained);
      }
    }
  }

  private String poolNs(String ip) {
    return "skiff-" + hash + "-pool-" + ip;
  }

  /** The address held by the sandbox, or null. */
  public String ipOf(String uid) throws IOException {
    for (var e : ips.entrySet()) {
      if (e.getValue().equals(uid)) {
        return e.getKey();
      }
    }
    return null;
  }

  private String allocate(String uid) throws IOException {
    for (int i = 2; i < 255; i++) {
      Path f = dir.resolve("ips").resolve(prefix + i);
      if (!ips.containsKey(prefix + i) && !Files.exists(f)) {
        write(f, uid);
        ips.put(prefix + i, uid);
        return prefix + i;
      }
    }
    throw new IOException("pod subnet " + subnet() + " is full");
  }

  /** Removes the sandbox's namespace and veth pair and frees its address. Idempotent. */
  public synchronized void detach(String uid) throws IOException {
    detach(dir, uid);
    ips.values().removeIf(uid::equals);
    notifyAll();
  }

  /**
   * {@link #detach(String)} over a state directory without opening the network (cleanup by a
   * runtime that did not set the network up).
   */
  public static void detach(Path dir, String uid) throws IOException {
    PodNetwork n = new PodNetwork(dir);
    Path ips = dir.resolve("ips");
    if (!Files.isDirectory(ips)) {
      return;
    }
    String ns = "skiff-" + n.hash + "-" + uid;
    if (Files.exists(Path.of("/run/netns", ns))) {
      Ip.batch(null, true, List.of("netns del " + ns, "link del " + n.vethName(uid)));
    }
    try (Stream<Path> s = Files.list(ips)) {
      for (Path p : s.toList()) {
        if (!p.getFileName().toString().endsWith(".tmp") && Files.readString(p).trim().equals(uid)) {
          String ip = p.getFileName().toString();
          if (Files.exists(Path.of("/run/netns", n.poolNs(ip)))) { // it came from the pool
            Ip.batch(null, true, List.of("netns del " + n.poolNs(ip), "link del " + n.vethName(POOLED + ip)));
          }
          Files.deleteIfExists(p);
        }
      }
    }
  }

  /** The sandboxes holding an address. */
  public synchronized List<String> attached() throws IOException {
    return attached(dir);
  }

  private static List<String> attached(Path dir) throws IOException {
    List<String> out = new ArrayList<>();
    Path ips = dir.resolve("ips");
    if (Files.isDirectory(ips)) {
      try (Stream<Path> s = Files.list(ips)) {
        for (Path p : s.toList()) {
          String owner = p.getFileName().toString().endsWith(".tmp") ? POOLED : Files.readString(p).trim();
          if (!POOLED.equals(owner)) {
            out.add(owner);
          }
        }
      }
    }
    return out;
  }

  /**
   * Removes the bridge and forgets the subnet if no sandbox holds an address any more (the
   * agent is stopping); otherwise leaves everything for the next agent. Returns whether it did.
   */
  public static boolean removeIfUnused(Path dir) throws IOException {
    if (!exists(dir) || !attached(dir).isEmpty()) {
      return false;
    }
    PodNetwork n = new PodNetwork(dir);
    List<String> pooled = new ArrayList<>();
    try (Stream<Path> s = Files.list(dir.resolve("ips"))) {
      for (Path p : s.toList()) {
        if (!p.getFileName().toString().endsWith(".tmp") && POOLED.equals(Files.readString(p).trim())) {
          pooled.add(p.getFileName().toString());
        }
      }
    }
    synchronized (n) {
      n.discard(pooled); // left by an agent that stopped abruptly
    }
    Ip.batch(null, true, List.of("link del " + n.bridge));
    Files.deleteIfExists(dir.resolve("subnet"));
    return true;
  }

  private String vethName(String uid) {
    return "skv" + hash(hash + uid).substring(0, 11);
  }

  private static void write(Path f, String s) throws IOException {
    SpareInodes.writeAtomically(f, (s + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  static String hash(String s) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The {@code ip} tool: one process per batch. */
  static final class Ip {
    static final String IP = "/usr/sbin/ip";

    private Ip() {}

    static String run(String... args) throws IOException {
      List<String> cmd = new ArrayList<>(List.of(IP));
      cmd.addAll(List.of(args));
      return exec(cmd, null);
    }

    /** Runs the lines in one {@code ip -batch -} (inside {@code netns} when not null). */
    static void batch(String netns, boolean force, List<String> lines) throws IOException {
      List<String> cmd = new ArrayList<>(List.of(IP));
      if (netns != null) {
        cmd.addAll(List.of("-n", netns));
      }
      if (force) {
        cmd.add("-force");
      }
      cmd.addAll(List.of("-batch", "-"));
      try {
        exec(cmd, String.join("\n", lines) + "\n");
      } catch (IOException e) {
        if (!force) {
          throw e;
        }
      }
    }

    private static String exec(List<String> cmd, String input) throws IOException {
      Process p = ProcessLauncher.start(new ProcessBuilder(cmd).redirectErrorStream(true));
      if (input != null) {
        try (var in = p.getOutputStream()) {
          in.write(input.getBytes(StandardCharsets.UTF_8));
        }
      } else {
        p.getOutputStream().close();
      }
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      try {
        if (!p.waitFor(30, TimeUnit.SECONDS)) {
          p.destroyForcibly();
          throw new IOException(String.join(" ", cmd) + " timed out");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted", e);
      }
      if (p.exitValue() != 0) {
        throw new IOException(String.join(" ", cmd) + " failed (" + p.exitValue() + "): " + out.trim()
            + (input == null ? "" : " [batch: " + input.trim().replace('\n', ';') + "]"));
      }
      return out;
    }
  }
}
