package dev.skiff.controllers.network;

import dev.skiff.runtime.Lister;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Writes a sync's EndpointSlice changes (creates, then updates, then deletes, so endpoints never
 * vanish in between) and remembers them until the informer's cache shows them, as upstream's
 * endpointSliceTracker does: a sync that would act on a stale view of its own slices waits
 * instead (their informer events bring the key back). A write still unseen after 5 s is
 * forgotten (someone else changed or deleted the slice meanwhile). Thread-safe.
 */
final class SliceWriter {
  static final long STALE_LIMIT_NANOS = 5_000_000_000L;

  private final KubernetesClient client;
  private final Lister<EndpointSlice> slices;
  /** Per owner key: slice name -> {resourceVersion the cache must reach (-1: must be gone), write time}. */
  private final Map<String, Map<String, long[]>> written = new ConcurrentHashMap<>();

  SliceWriter(KubernetesClient client, Lister<EndpointSlice> slices) {
    this.client = client;
    this.slices = slices;
  }

  /** True when the cache reflects every slice write made for {@code key}. */
  boolean caughtUp(String key, String namespace) {
    Map<String, long[]> track = written.get(key);
    if (track == null) {
      return true;
    }
    track.entrySet().removeIf(e -> {
      if (System.nanoTime() - e.getValue()[1] > STALE_LIMIT_NANOS) {
        return true;
      }
      EndpointSlice cached = slices.get(namespace, e.getKey());
      if (e.getValue()[0] < 0) {
        return cached == null;
      }
      return cached != null && rv(cached) >= e.getValue()[0];
    });
    return track.isEmpty();
  }

  void forget(String key) {
    written.remove(key);
  }

  void apply(String key, String ns, List<EndpointSlice> create, List<EndpointSlice> update, List<EndpointSlice> delete) {
    Map<String, long[]> track = written.computeIfAbsent(key, k -> new ConcurrentHashMap<>());
    for (EndpointSlice s : create) {
      EndpointSlice created = client.discovery().v1().endpointSlices().inNamespace(ns).resource(s).create();
      track.put(created.getMetadata().getName(), new long[] {rv(created), System.nanoTime()});
    }
    for (EndpointSlice s : update) {
      EndpointSlice updated = client.discovery().v1().endpointSlices().inNamespace(ns).resource(s).update();
      track.put(updated.getMetadata().getName(), new long[] {rv(updated), System.nanoTime()});
    }
    for (EndpointSlice s : delete) {
      try {
        client.discovery().v1().endpointSlices().inNamespace(ns).withName(s.getMetadata().getName()).delete();
      } catch (KubernetesClientException e) {
        if (e.getCode() != 404) {
          throw e;
        }
      }
      track.put(s.getMetadata().getName(), new long[] {-1L, System.nanoTime()});
    }
  }

  private static long rv(EndpointSlice s) {
    try {
      return Long.parseLong(s.getMetadata().getResourceVersion());
    } catch (RuntimeException e) {
      return Long.MAX_VALUE; // opaque versions: never wait on them
    }
  }
}
