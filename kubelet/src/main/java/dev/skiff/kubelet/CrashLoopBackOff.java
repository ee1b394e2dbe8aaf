package dev.skiff.kubelet;

import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Restart backoff per container (pkg/kubelet/kuberuntime/kuberuntime_manager.go doBackOff and
 * client-go flowcontrol.Backoff): the first restart is immediate; after that a container that
 * exited waits 10 s, 20 s, 40 s, ... capped at 300 s, counted from when it finished; a container
 * that ran at least 10 minutes starts over at 10 s. Thread-safe.
 */
final class CrashLoopBackOff {
  static final Duration INITIAL = Duration.ofSeconds(10);
  static final Duration MAX = Duration.ofSeconds(300);
  static final Duration RESET_AFTER_RUNNING = Duration.ofMinutes(10);

  private final Map<String, Duration> delays = new ConcurrentHashMap<>();

  /**
   * Asks whether the container (key) that ran from {@code startedAt} to {@code finishedAt} may be
   * restarted at {@code now}. Returns null if so (and records the restart), else how long is left.
   */
  Duration check(String key, Instant startedAt, Instant finishedAt, Instant now) {
    Duration delay = delays.get(key);
    if (delay != null && startedAt != null && finishedAt != null
        && Duration.between(startedAt, finishedAt).compareTo(RESET_AFTER_RUNNING) >= 0) {
      delay = null; // ran long enough: the crash loop is over
    }
    if (delay == null) {
      delays.put(key, INITIAL);
      return null;
    }
    Instant readyAt = (finishedAt == null ? now : finishedAt).plus(delay);
    if (now.isBefore(readyAt)) {
      return Duration.between(now, readyAt);
    }
    Duration next = delay.multipliedBy(2);
    delays.put(key, next.compareTo(MAX) > 0 ? MAX : next);
    return null;
  }

  /** The current delay of a container in backoff (for the waiting message), or INITIAL. */
  Duration current(String key) {
    return delays.getOrDefault(key, INITIAL);
  }

  void forgetPrefix(String prefix) {
    delays.keySet().removeIf(k -> k.startsWith(prefix));
  }
}
