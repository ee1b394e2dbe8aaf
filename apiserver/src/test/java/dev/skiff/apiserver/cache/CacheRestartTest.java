package dev.skiff.apiserver.cache;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.store.KeyValueStore;
import dev.skiff.store.LogStore;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A watch from a resourceVersion seen before a restart resumes from the store's history. */
class CacheRestartTest {
  private static byte[] cm(String name) {
    return ("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" + name + "\"}}").getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void watchResumesAcrossRestartWithoutGapOrRepeat() throws Exception {
    Path dir = Files.createTempDirectory("cache-restart");
    long seen;
    try (KeyValueStore store = LogStore.open(dir)) {
      store.create("/registry/core/configmaps/default/a", cm("a"));
      seen = store.create("/registry/core/configmaps/default/b", cm("b")).revision();
      store.create("/registry/core/configmaps/default/c", cm("c"));
      var cur = store.get("/registry/core/configmaps/default/a");
      store.update("/registry/core/configmaps/default/a", cm("a"), cur.modRevision());
    }
    try (KeyValueStore store = LogStore.open(dir); CacheHub hub = new CacheHub(store)) {
      WatchCache cache = hub.register("/registry/core/configmaps/", true, o -> Map.of());
      hub.start();
      store.delete("/registry/core/configmaps/default/b", 0);
      hub.awaitCurrent();
      try (Watcher w = cache.watch(WatchFilter.ALL, seen, false).watcher()) {
        assertThat(next(w)).isEqualTo("ADDED c");
        assertThat(next(w)).isEqualTo("MODIFIED a");
        assertThat(next(w)).isEqualTo("DELETED b");
        assertThat(w.poll(50_000_000L)).isNull();
      }
    }
  }

  @Test
  void watchFromBeforeTheRetainedHistoryIsExpired() {
    try (dev.skiff.store.MemoryStore store = new dev.skiff.store.MemoryStore(); CacheHub hub = new CacheHub(store)) {
      store.create("/registry/core/configmaps/default/a", cm("a"));
      store.create("/registry/core/configmaps/default/b", cm("b"));
      long third = store.create("/registry/core/configmaps/default/c", cm("c")).revision();
      store.compact(third - 1);
      WatchCache cache = hub.register("/registry/core/configmaps/", true, o -> Map.of());
      hub.start();
      org.assertj.core.api.Assertions.assertThatThrownBy(() -> cache.watch(WatchFilter.ALL, 1, false))
          .isInstanceOfSatisfying(dev.skiff.apiserver.api.ApiException.class, e -> {
            assertThat(e.code()).isEqualTo(410);
            assertThat(e.reason()).isEqualTo("Expired");
            assertThat(e.getMessage()).isEqualTo("too old resource version: 1 (" + third + ")");
          });
    }
  }

  private static String next(Watcher w) throws InterruptedException {
    Watcher.Item i = w.poll(2_000_000_000L);
    return i == null ? "nothing" : i.type() + " " + i.object().name();
  }
}
