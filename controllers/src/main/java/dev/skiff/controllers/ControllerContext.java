package dev.skiff.controllers;

import dev.skiff.runtime.Clock;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.SharedInformers;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.Map;

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
 */
public record ControllerContext(KubernetesClient client, SharedInformers informers, EventRecorder recorder,
    Clock clock, Map<String, String> options) {

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
