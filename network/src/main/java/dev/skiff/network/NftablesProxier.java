package dev.skiff.network;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The kernel data path of the service proxy: programs nftables DNAT for ClusterIPs, external
 * IPs and NodePorts (on local, non-loopback addresses) in a table of its own,
 * {@code ip skiff-proxy-<pid 6 hex><n 2 hex>}, as kube-proxy's nftables mode does
 * (pkg/proxy/nftables/proxier.go; the ruleset is {@link NftRuleset}). Other tables are never
 * touched.
 *
 * <p>{@link #update} records a Service's desired ports and returns at once; one sync thread
 * turns the desired state into one atomic {@code nft -f -} transaction, at most once per
 * {@code minSyncPeriod} (kube-proxy's BoundedFrequencyRunner: a change after a quiet period is
 * applied at once, a burst is batched). Nothing is read back from the kernel. If a transaction
 * fails, each changed Service is checked alone ({@code nft -c} on a scratch copy), the ones the
 * kernel refuses are reported through {@link Failures} and left out, and the rest is applied: a
 * bad Service never stops the others.
 *
 * <p>Clean-up: {@link #close()} deletes the table; a watchdog child deletes it if the JVM dies
 * without closing (same idea as {@link ClusterIpInterface}), and {@link #start} deletes tables of
 * proxies whose JVM is gone. Thread-safe.
 */
final class NftablesProxier implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(NftablesProxier.class);
  static final String PREFIX = "skiff-proxy-";
  private static final Pattern NAME = Pattern.compile(Pattern.quote(PREFIX) + "([0-9a-f]{6})([0-9a-f]{2})");
  private static final AtomicInteger COUNTER = new AtomicInteger();
  private static final Path IP_FORWARD = Path.of("/proc/sys/net/ipv4/ip_forward");
  private static final Path BRIDGE_NF = Path.of("/proc/sys/net/bridge/bridge-nf-call-iptables");
  private static final long RETRY_NANOS = TimeUnit.SECONDS.toNanos(1);
  static final String NFT = Files.isExecutable(Path.of("/usr/sbin/nft")) ? "/usr/sbin/nft" : "nft";

  /** Runs an nft script; {@code checkOnly}: {@code nft -c} (validated by the kernel, not applied). */
  interface Nft {
    void run(String script, boolean checkOnly) throws IOException;
  }

  /** Told, on the sync thread, that a Service's rules could not be programmed. */
  interface Failures {
    void report(String serviceKey, String message);
  }

  private final String table;
  private final Nft nft;
  private final String clusterCidr; // null: masquerade every proxied connection
  private final NftRuleset.Balance balance;
  private final long minSyncNanos;
  private final Failures failures;
  private final Thread syncer;
  private Process watchdog;

  // Guarded by this.
  private final Map<String, List<NftRuleset.Port>> desired = new TreeMap<>();
  private long requested;
  private long applied;
  private boolean closed;
  // Sync thread only.
  private NftRuleset.State state = NftRuleset.State.EMPTY;
  private boolean fresh = true;
  private final Map<String, List<NftRuleset.Port>> lastApplied = new HashMap<>();
  private final Map<String, List<NftRuleset.Port>> refused = new HashMap<>();
  private long lastSyncNanos = System.nanoTime() - Long.MAX_VALUE / 4;

  NftablesProxier(String table, Nft nft, String clusterCidr, NftRuleset.Balance balance, Duration minSyncPeriod,
      Failures failures) {
    this.table = table;
    this.balance = balance;
    this.nft = nft;
    this.clusterCidr = clusterCidr;
    this.minSyncNanos = minSyncPeriod.toNanos();
    this.failures = failures;
    this.syncer = Thread.ofPlatform().daemon().name("service-proxy-nft-sync").unstarted(this::syncLoop);
  }

  /** True when this process can program nftables: root, and the {@code nft} tool runs. */
  static boolean supported() {
    if (!ClusterIpInterface.supported()) {
      return false; // not root
    }
    try {
      exec(List.of(NFT, "--version"), null);
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  /**
   * Creates this instance's table (replacing a leftover of a dead proxy), sets the sysctls the
   * path needs, and starts syncing. Throws when the kernel or the tool refuses the base table, so
   * the caller can fall back to the user-space path.
   *
   * @param clusterCidr the pod network (connections from outside it are masqueraded)
   */
  static NftablesProxier start(String clusterCidr, NftRuleset.Balance balance, Duration minSyncPeriod, Failures failures)
      throws IOException {
    removeStale();
    String name = "%s%06x%02x".formatted(PREFIX, ProcessHandle.current().pid() & 0xffffff, COUNTER.getAndIncrement() & 0xff);
    // Both stay set on stop, as on any Kubernetes node: writing ip_forward back to 0 would also
    // reset the forwarding flag of every interface, the pod bridges of running agents included.
    // Pods on one bridge reach each other through a Service only if the reply, bridged straight
    // back, passes conntrack (br_netfilter) to be un-DNATed; without it every proxied connection
    // is masqueraded instead, so the reply comes back through the host.
    boolean bridgeNf = ensureSysctl(BRIDGE_NF, true);
    // NodePort traffic from other hosts is forwarded to pods (pod bridges enable forwarding on
    // their own interface already).
    ensureSysctl(IP_FORWARD, false);
    SpareNft runner = new SpareNft();
    NftablesProxier p = new NftablesProxier(name, runner, bridgeNf ? clusterCidr : null, balance, minSyncPeriod, failures);
    try {
      p.syncOnce(Map.of()); // the base table: fails here if nf_tables is unusable
    } catch (IOException e) {
      runner.close();
      throw e;
    }
    p.watchdog = watchdog(name);
    p.syncer.start();
    log.info("service proxy: kernel data path in nftables table ip {}{}", name, bridgeNf ? "" : " (no br_netfilter: masquerading all)");
    return p;
  }

  /** Starts the sync thread of an instance made with the constructor (tests). */
  NftablesProxier startSyncing() {
    syncer.start();
    return this;
  }

  String table() {
    return table;
  }

  /** The watchdog process (tests), or null. */
  Process watchdog() {
    return watchdog;
  }

  /**
   * Sets the ports of Service {@code serviceKey} ("ns/name"); an empty list removes it. The
   * kernel follows asynchronously; {@link #generation()} and {@link #appliedGeneration()} tell
   * when.
   */
  synchronized void update(String serviceKey, List<NftRuleset.Port> ports) {
    List<NftRuleset.Port> old = ports.isEmpty() ? desired.remove(serviceKey) : desired.put(serviceKey, List.copyOf(ports));
    if (!ports.equals(old == null ? List.of() : old)) {
      requested++;
      notifyAll();
    }
  }

  /** Bumped by every {@link #update} that changed something. */
  synchronized long generation() {
    return requested;
  }

  /** The generation the kernel has (or that was given up on after a failure, reported). */
  synchronized long appliedGeneration() {
    return applied;
  }

  private void syncLoop() {
    while (true) {
      long gen;
      Map<String, List<NftRuleset.Port>> snapshot;
      synchronized (this) {
        while (!closed && applied == requested) {
          try {
            wait();
          } catch (InterruptedException e) {
            return;
          }
        }
        if (closed) {
          return;
        }
      }
      synchronized (this) {
        // At most one sync per minSyncPeriod: what arrives meanwhile is batched into the next.
        for (long wait; !closed && (wait = lastSyncNanos + minSyncNanos - System.nanoTime()) > 0; ) {
          try {
            TimeUnit.NANOSECONDS.timedWait(this, wait);
          } catch (InterruptedException e) {
            return;
          }
        }
        if (closed) {
          return;
        }
        gen = requested;
        snapshot = new TreeMap<>(desired);
      }
      lastSyncNanos = System.nanoTime();
      boolean failed = false;
      try {
        syncOnce(snapshot);
      } catch (IOException | RuntimeException e) {
        // The kernel still has the last good state (a transaction is all or nothing); retry
        // the whole table in a second, as kube-proxy does after a failed sync.
        log.error("nftables sync failed, rewriting the whole table in 1 s: {}", e.getMessage());
        fresh = true;
        failed = true;
        lastSyncNanos = System.nanoTime() + RETRY_NANOS - minSyncNanos;
      }
      synchronized (this) {
        applied = Math.max(applied, gen);
        if (failed && applied == requested) {
          requested++; // waiters see this generation as given up; the retry is a new one
        }
        notifyAll();
      }
    }
  }

  /** Applies {@code snapshot}: one transaction; per-Service checks only if it fails. */
  void syncOnce(Map<String, List<NftRuleset.Port>> snapshot) throws IOException {
    Map<String, List<NftRuleset.Port>> good = new TreeMap<>();
    for (Map.Entry<String, List<NftRuleset.Port>> e : snapshot.entrySet()) {
      List<NftRuleset.Port> ports = e.getValue();
      if (ports.equals(refused.get(e.getKey()))) {
        continue; // refused before and unchanged: stays out until it changes
      }
      refused.remove(e.getKey());
      String invalid = ports.stream().map(NftRuleset::validate).filter(m -> m != null).findFirst().orElse(null);
      if (invalid != null) {
        refuse(e.getKey(), ports, invalid);
      } else {
        good.put(e.getKey(), ports);
      }
    }
    refused.keySet().retainAll(snapshot.keySet());
    try {
      apply(good);
      return;
    } catch (IOException e) {
      log.warn("nftables transaction failed, checking Services one by one: {}", e.getMessage());
    }
    // Which Services does the kernel refuse? Only changed ones can be new culprits.
    for (var it = good.entrySet().iterator(); it.hasNext(); ) {
      var e = it.next();
      if (e.getValue().equals(lastApplied.get(e.getKey()))) {
        continue;
      }
      try {
        nft.run(NftRuleset.check(table + "-check", clusterCidr, balance, e.getValue()), true);
      } catch (IOException ex) {
        refuse(e.getKey(), e.getValue(), "nft refused the rules: " + ex.getMessage());
        it.remove();
      }
    }
    apply(good); // throws again when the failure was not one Service's: the caller logs it
  }

  private void apply(Map<String, List<NftRuleset.Port>> good) throws IOException {
    List<NftRuleset.Port> all = new ArrayList<>();
    good.values().forEach(all::addAll);
    NftRuleset.Transaction tx = NftRuleset.transaction(table, fresh, state, clusterCidr, balance, all);
    nft.run(tx.script(), false);
    state = tx.next();
    fresh = false;
    lastApplied.clear();
    lastApplied.putAll(good);
  }

  private void refuse(String key, List<NftRuleset.Port> ports, String message) {
    refused.put(key, ports);
    synchronized (this) {
      if (closed) {
        return;
      }
    }
    log.warn("service {}: not programmed in nftables: {}", key, message);
    try {
      failures.report(key, message);
    } catch (RuntimeException e) {
      log.debug("cannot report the failure of {}: {}", key, e.toString());
    }
  }

  /** Stops syncing and deletes the table (the sysctls set by {@link #start} stay). */
  @Override
  public void close() {
    synchronized (this) {
      closed = true;
      notifyAll();
    }
    try { // a sync under way finishes (milliseconds): interrupting it would leave the kernel half-known
      syncer.join(5000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    try {
      nft.run("delete table ip " + table + "\n", false);
    } catch (IOException e) {
      log.debug("cannot delete table {}: {}", table, e.getMessage());
    }
    if (watchdog != null) {
      TcpForwarder.closeQuietly(watchdog.getOutputStream());
    }
    if (nft instanceof SpareNft spare) {
      spare.close();
    }
  }

  /** Deletes {@code skiff-proxy-*} tables left by JVMs that no longer run (killed without clean-up). */
  static void removeStale() {
    for (String t : tables()) {
      Matcher m = NAME.matcher(t);
      if (m.matches()) {
        long pid = Long.parseLong(m.group(1), 16);
        if (pid != (ProcessHandle.current().pid() & 0xffffff) && ProcessHandle.of(pid).isEmpty()) {
          log.info("removing stale nftables table ip {}", t);
          try {
            runNft("delete table ip " + t + "\n", false);
          } catch (IOException e) {
            log.debug("cannot delete table {}: {}", t, e.getMessage());
          }
        }
      }
    }
  }

  /** Names of the host's {@code ip} family tables. */
  static List<String> tables() {
    List<String> out = new ArrayList<>();
    try {
      for (String line : exec(List.of(NFT, "list", "tables", "ip"), null).split("\n")) {
        String[] f = line.trim().split("\\s+");
        if (f.length == 3 && f[0].equals("table")) {
          out.add(f[2]);
        }
      }
    } catch (IOException e) {
      log.debug("nft list tables: {}", e.getMessage());
    }
    return out;
  }

  static boolean exists(String table) {
    return tables().contains(table);
  }

  /**
   * Makes {@code sysctl} 1 if it is 0; returns whether it is 1 now. {@code bridge}: load
   * br_netfilter first when the file is missing.
   */
  private static boolean ensureSysctl(Path sysctl, boolean bridge) {
    try {
      if (bridge && !Files.exists(sysctl)) {
        try {
          exec(List.of("modprobe", "br_netfilter"), null);
        } catch (IOException e) {
          log.debug("modprobe br_netfilter: {}", e.getMessage());
        }
      }
      if (!Files.exists(sysctl)) {
        return false;
      }
      if (Files.readString(sysctl).trim().equals("0")) {
        Files.writeString(sysctl, "1");
        log.info("set {} = 1 for the service proxy", sysctl);
      }
      return Files.readString(sysctl).trim().equals("1");
    } catch (IOException e) {
      log.warn("cannot set {}: {}", sysctl, e.getMessage());
      return false;
    }
  }

  /**
   * A child shell that deletes the table when this JVM dies, however it dies: it waits for EOF on
   * its stdin, a pipe from this JVM that the kernel closes when the JVM exits.
   */
  private static Process watchdog(String table) {
    try {
      return new ProcessBuilder("sh", "-c", "trap '' INT TERM HUP; read _; exec " + NFT + " delete table ip " + table + " 2>/dev/null")
          .redirectOutput(ProcessBuilder.Redirect.DISCARD)
          .redirectError(ProcessBuilder.Redirect.DISCARD)
          .start();
    } catch (IOException e) {
      log.warn("no clean-up watchdog for table {} (a killed JVM leaves it to the next proxy): {}", table, e.toString());
      return null;
    }
  }

  /** {@code nft [-c] -f -} with the script on stdin. */
  static void runNft(String script, boolean checkOnly) throws IOException {
    exec(checkOnly ? List.of(NFT, "-c", "-f", "-") : List.of(NFT, "-f", "-"), script);
  }

  /**
   * The real {@link Nft}: {@code nft -f -}, with the next process started ahead, waiting on its
   * stdin, so a sync does not wait for a process launch (several milliseconds on a loaded
   * machine, most of a sync's latency). A spare left when the JVM dies reads EOF, applies
   * nothing and exits. Thread-safe.
   */
  static final class SpareNft implements Nft, AutoCloseable {
    private static final List<String> CMD = List.of(NFT, "-f", "-");
    private Process spare;
    private boolean closed;

    @Override
    public synchronized void run(String script, boolean checkOnly) throws IOException {
      if (checkOnly) {
        runNft(script, true);
        return;
      }
      Process p = spare;
      spare = null;
      if (p == null || !p.isAlive()) {
        p = new ProcessBuilder(CMD).redirectErrorStream(true).start();
      }
      try {
        finish(p, CMD, script);
      } finally {
        if (!closed) {
          try {
            spare = new ProcessBuilder(CMD).redirectErrorStream(true).start();
          } catch (IOException e) {
            log.debug("no spare nft: {}", e.getMessage());
          }
        }
      }
    }

    @Override
    public synchronized void close() {
      closed = true;
      if (spare != null) {
        spare.destroy(); // killed before reading EOF: applies nothing
        spare = null;
      }
    }
  }

  static String exec(List<String> cmd, String input) throws IOException {
    return finish(new ProcessBuilder(cmd).redirectErrorStream(true).start(), cmd, input);
  }

  private static String finish(Process p, List<String> cmd, String input) throws IOException {
    try (var in = p.getOutputStream()) {
      if (input != null) {
        in.write(input.getBytes(StandardCharsets.UTF_8));
      }
    }
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    try {
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(String.join(" ", cmd) + ": timed out");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
    if (p.exitValue() != 0) {
      throw new IOException(String.join(" ", cmd) + ": " + out.trim());
    }
    return out;
  }
}
