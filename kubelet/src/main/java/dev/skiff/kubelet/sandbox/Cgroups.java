package dev.skiff.kubelet.sandbox;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Memory and CPU limits of process containers through cgroups, v1 or v2, whichever the host has
 * (as root only). One cgroup per container instance below a per-agent group:
 *
 * <ul>
 *   <li>v1: in the memory and cpu hierarchies, <i>relative</i> to the agent's own cgroup there
 *       (on hosts that give each process its own memory cgroup, an absolute path would escape
 *       it): {@code memory.limit_in_bytes}, {@code cpu.cfs_quota_us}/{@code cpu.cfs_period_us},
 *       {@code cpu.shares}; an OOM kill shows in {@code memory.oom_control} ({@code oom_kill}).
 *   <li>v2: {@code /sys/fs/cgroup/skiff-<hash>/...} (a group without processes of its own, so its
 *       controllers can be enabled for the children): {@code memory.max}, {@code cpu.max},
 *       {@code cpu.weight}; OOM kills in {@code memory.events}.
 * </ul>
 * The container's shim joins its cgroups (writes its pid to each {@code cgroup.procs}) before
 * anything else runs. oom_score_adj is never touched (no CAP_SYS_RESOURCE on some hosts).
 * Thread-safe (stateless apart from the paths).
 */
public final class Cgroups {
  private static final Logger log = LoggerFactory.getLogger(Cgroups.class);
  private static final Path ROOT = Path.of("/sys/fs/cgroup");
  private static final long PERIOD_US = 100_000;

  private final boolean v2;
  private final Path memoryBase;
  private final Path cpuBase;

  private Cgroups(boolean v2, Path memoryBase, Path cpuBase) {
    this.v2 = v2;
    this.memoryBase = memoryBase;
    this.cpuBase = cpuBase;
  }

  /** The cgroups this agent can use, or null (not root, or no memory controller). */
  public static Cgroups detect(String agentHash) {
    if (!"root".equals(System.getProperty("user.name"))) {
      return null;
    }
    try {
      if (Files.exists(ROOT.resolve("cgroup.controllers"))) {
        String ctl = Files.readString(ROOT.resolve("cgroup.controllers"));
        if (!ctl.contains("memory")) {
          return null;
        }
        Path base = ROOT.resolve("skiff-" + agentHash);
        Files.createDirectories(base);
        write(ROOT.resolve("cgroup.subtree_control"), "+memory" + (ctl.contains("cpu") ? " +cpu" : ""), false);
        write(base.resolve("cgroup.subtree_control"), "+memory" + (ctl.contains("cpu") ? " +cpu" : ""), false);
        return new Cgroups(true, base, base);
      }
      Path mem = v1(ROOT.resolve("memory"), "memory", agentHash);
      Path cpu = v1(ROOT.resolve("cpu"), "cpu", agentHash);
      return mem == null ? null : new Cgroups(false, mem, cpu);
    } catch (IOException | RuntimeException e) {
      log.info("cgroups unavailable, resource limits are not enforced: {}", e.toString());
      return null;
    }
  }

  /** v1: the agent's group below its own cgroup in that hierarchy (from /proc/self/cgroup). */
  private static Path v1(Path mount, String controller, String agentHash) throws IOException {
    if (!Files.isDirectory(mount)) {
      return null;
    }
    String own = "/";
    for (String line : Files.readAllLines(Path.of("/proc/self/cgroup"))) {
      String[] f = line.split(":", 3);
      if (f.length == 3 && List.of(f[1].split(",")).contains(controller)) {
        own = f[2];
      }
    }
    Path base = mount.resolve(own.substring(1)).resolve("skiff-" + agentHash);
    Files.createDirectories(base);
    return base;
  }

  /**
   * Creates the cgroup(s) for a container and sets its limits; returns the {@code cgroup.procs}
   * files its shim must join (empty when nothing is limited).
   *
   * @param memoryBytes the memory limit, 0 for none
   * @param cpuMillis the CPU limit in millicores, 0 for none
   * @param cpuRequestMillis the CPU request (relative weight), 0 for the default
   */
  public List<Path> create(String name, long memoryBytes, long cpuMillis, long cpuRequestMillis) throws IOException {
    List<Path> procs = new ArrayList<>();
    if (memoryBytes <= 0 && cpuMillis <= 0) {
      return procs;
    }
    Path mem = memoryBase.resolve(name);
    Files.createDirectories(mem);
    procs.add(mem.resolve("cgroup.procs"));
    if (v2) {
      write(mem.resolve("memory.max"), memoryBytes > 0 ? Long.toString(memoryBytes) : "max", true);
      if (memoryBytes > 0 && Files.exists(mem.resolve("memory.swap.max"))) {
        write(mem.resolve("memory.swap.max"), "0", false); // the limit holds on hosts with swap (kubelet NoSwap)
      }
      if (cpuMillis > 0 && Files.exists(mem.resolve("cpu.max"))) {
        write(mem.resolve("cpu.max"), Math.max(1000, cpuMillis * PERIOD_US / 1000) + " " + PERIOD_US, true);
      }
      if (cpuRequestMillis > 0 && Files.exists(mem.resolve("cpu.weight"))) {
        // pkg/kubelet/cm: shares = millis*1024/1000, weight = 1 + ((shares-2)*9999)/262142
        long shares = Math.max(2, cpuRequestMillis * 1024 / 1000);
        write(mem.resolve("cpu.weight"), Long.toString(1 + ((shares - 2) * 9999) / 262142), true);
      }
      return procs;
    }
    if (memoryBytes > 0) {
      write(mem.resolve("memory.limit_in_bytes"), Long.toString(memoryBytes), true);
      if (Files.exists(mem.resolve("memory.memsw.limit_in_bytes"))) {
        write(mem.resolve("memory.memsw.limit_in_bytes"), Long.toString(memoryBytes), false); // no swapping past it
      }
    }
    if (cpuBase != null && (cpuMillis > 0 || cpuRequestMillis > 0)) {
      Path cpu = cpuBase.resolve(name);
      Files.createDirectories(cpu);
      procs.add(cpu.resolve("cgroup.procs"));
      if (cpuMillis > 0) {
        write(cpu.resolve("cpu.cfs_period_us"), Long.toString(PERIOD_US), true);
        write(cpu.resolve("cpu.cfs_quota_us"), Long.toString(Math.max(1000, cpuMillis * PERIOD_US / 1000)), true);
      }
      if (cpuRequestMillis > 0) {
        write(cpu.resolve("cpu.shares"), Long.toString(Math.max(2, cpuRequestMillis * 1024 / 1000)), true);
      }
    }
    return procs;
  }

  /** Whether the memory cgroup among {@code procs} saw an OOM kill. */
  public static boolean oomKilled(List<Path> procs) {
    for (Path p : procs) {
      Path dir = p.getParent();
      for (String file : new String[] {"memory.events", "memory.oom_control"}) {
        try {
          for (String line : Files.readAllLines(dir.resolve(file))) {
            String[] f = line.trim().split("\\s+");
            if (f.length == 2 && f[0].equals("oom_kill") && Long.parseLong(f[1]) > 0) {
              return true;
            }
          }
        } catch (IOException | NumberFormatException e) {
          // not this hierarchy
        }
      }
    }
    return false;
  }

  /** Removes a dead container's cgroups (rmdir; a cgroup with live processes stays). */
  public static void remove(List<Path> procs) {
    for (Path p : procs) {
      try {
        Files.deleteIfExists(p.getParent());
      } catch (IOException e) {
        log.debug("cgroup {} not removed: {}", p.getParent(), e.toString());
      }
    }
  }

  /** Removes the agent's own (empty) groups: the agent stopped and no container is left in them. */
  public void removeIfEmpty() {
    for (Path p : new Path[] {memoryBase, cpuBase}) {
      try {
        if (p != null) {
          Files.deleteIfExists(p);
        }
      } catch (IOException e) {
        log.debug("cgroup {} kept: {}", p, e.toString());
      }
    }
  }

  private static void write(Path f, String value, boolean strict) throws IOException {
    try {
      Files.writeString(f, value, StandardCharsets.US_ASCII);
    } catch (IOException e) {
      if (strict) {
        throw new IOException("writing " + value + " to " + f + ": " + e.getMessage(), e);
      }
    }
  }
}
