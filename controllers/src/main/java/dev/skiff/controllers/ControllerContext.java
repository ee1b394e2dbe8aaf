package dev.skiff.controllers;

import dev.skiff.runtime.Clock;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.SharedInformers;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * What each controller gets from the {@link ControllerManager} when the manager becomes leader:
 * the client, the informers shared by every controller of this manager (one list+watch per type),
 * the event recorder of the controller manager, a clock (fake in tests) and the component options
 * ({@code --set controllers.key=value}). Immutable; its parts are thread-safe.
 *
 * @param client the API client
 * @param informers shared informers; controllers create theirs before {@link SharedInformers#start()}
 * @param recorder records core/v1 Events as component {@code controller-manager}-style names
 * @param clock time source for expectations, deadlines and requeues
 * @param options component options
 * @param startHooks what {@link #afterAllCreated(Runnable)} registered
 */
public record ControllerContext(KubernetesClient client, SharedInformers informers, EventRecorder recorder,
    Clock clock, Map<String, String> options, List<Runnable> startHooks) {

  public ControllerContext(KubernetesClient client, SharedInformers informers, EventRecorder recorder, Clock clock,
      Map<String, String> options) {
    this(client, informers, recorder, clock, options, new CopyOnWriteArrayList<>());
  }

  /**
   * Runs {@code start} once every controller of the manager has been constructed. Controllers
   * start their workers (which starts the shared informers) here, so that any controller can
   * still add indexers to a shared informer in its constructor: indexers must be added before
   * the informer runs.
   */
  public void afterAllCreated(Runnable start) {
    startHooks.add(start);
  }

  /** Runs the hooks registered so far, in order (the manager calls this once). */
  void runStartHooks() {
    for (Runnable r : startHooks) {
      r.run();
    }
  }

  /** Integer option {@code key}, or {@code def} when absent or malformed. */
  public int intOption(String key, int def) {
    String v = options.get(key);
    if (v == null) {
      return def;
    }
    try {
      return Integer.parseInt(v.trim());
    } catch (NumberFormatException e) {
      return def;
    }
  }
}
