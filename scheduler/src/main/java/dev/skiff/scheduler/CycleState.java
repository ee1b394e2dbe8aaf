package dev.skiff.scheduler;

import java.util.HashMap;
import java.util.Map;

/**
 * Per-scheduling-cycle data shared between a plugin's extension points, keyed by plugin-scoped
 * keys (upstream's {@code framework.CycleState}). Used by the one scheduling thread only; not
 * thread-safe.
 */
public final class CycleState {
  private final Map<String, Object> data = new HashMap<>();

  public void write(String key, Object value) {
    data.put(key, value);
  }

  @SuppressWarnings("unchecked")
  public <T> T read(String key) {
    return (T) data.get(key);
  }
}
