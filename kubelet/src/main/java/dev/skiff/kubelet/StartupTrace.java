package dev.skiff.kubelet;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Where a pod's start spends its time, for the pod-startup benchmark: when {@link #enable()}d,
 * the agent records the first {@link System#nanoTime()} at which each pod ({@code ns/name})
 * reaches each stage; disabled (the default) a mark is one volatile read. Stages, in order:
 *
 * <ol>
 *   <li>{@code informer}: the pod's ADD arrived from the watch;
 *   <li>{@code sync}: its worker's first sync began;
 *   <li>{@code sandbox}: the pod sandbox (network namespace, directories) is ready;
 *   <li>{@code config}: env and mounts computed, before the container is created;
 *   <li>{@code created}: the container is created;
 *   <li>{@code spawned}: its process is spawned;
 *   <li>{@code started}: its namespace setup finished (the runtime reports it running);
 *   <li>{@code status-queued}: the Running status was handed to the status manager;
 *   <li>{@code status-written}: the API server acknowledged that status write.
 * </ol>
 *
 * <p>Process-wide (a benchmark runs one agent), never cleared by the agent. Thread-safe.
 */
public final class StartupTrace {
  private static volatile boolean enabled;
  private static final Map<String, Map<String, Long>> MARKS = new ConcurrentHashMap<>();

  private StartupTrace() {}

  /** Starts recording (for benchmarks; the marks are kept until {@link #clear()}). */
  public static void enable() {
    enabled = true;
  }

  /** Records that pod {@code namespace/name} reached {@code stage} now, unless it did before. */
  public static void mark(String namespace, String name, String stage) {
    if (enabled) {
      MARKS.computeIfAbsent(namespace + "/" + name, k -> new ConcurrentHashMap<>()).putIfAbsent(stage, System.nanoTime());
    }
  }

  /** Pod ({@code ns/name}) -> stage -> nanoTime. A live view. */
  public static Map<String, Map<String, Long>> marks() {
    return MARKS;
  }

  public static void clear() {
    MARKS.clear();
  }
}
