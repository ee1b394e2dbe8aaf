package dev.skiff.apiserver.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.cache.CacheHub;
import dev.skiff.apiserver.cache.WatchCache;
import dev.skiff.apiserver.cache.WatchFilter;
import dev.skiff.apiserver.cache.Watcher;
import dev.skiff.store.MemoryStore;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Object semantics of the generic registry over the in-memory store. */
class ResourceStoreTest {
  private MemoryStore kv;
  private CacheHub hub;
  private ResourceStore deployments;
  private ResourceStore configmaps;
  private ResourceStore namespaces;

  @BeforeEach
  void setUp() {
    kv = new MemoryStore();
    hub = new CacheHub(kv);
    ResourceRegistry registry = new ResourceRegistry(kv, hub, Clock.systemUTC(), new dev.skiff.apiserver.BuiltInStrategy());
    for (ResourceDescriptor d : BuiltInResources.all()) {
      registry.add(d);
    }
    hub.start();
    namespaces = registry.storeForKind("", "Namespace");
    registry.addAdmission(new NamespaceLifecycle(namespaces));
    deployments = registry.storeForKind("apps", "Deployment");
    configmaps = registry.storeForKind("", "ConfigMap");
    namespaces.create(null, obj("{\"metadata\":{\"name\":\"default\"},\"spec\":{\"finalizers\":[\"kubernetes\"]}}"), w());
  }

  @AfterEach
  void tearDown() {
    hub.close();
    kv.close();
  }

  private static ObjectNode obj(String json) {
    return Json.parseObject(json.getBytes());
  }

  private static WriteOptions w() {
    return WriteOptions.internal("test");
  }

  private ObjectNode deployment(String name, int replicas) {
    return obj("{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"" + name
        + "\"},\"spec\":{\"replicas\":" + replicas + ",\"selector\":{\"matchLabels\":{\"app\":\"a\"}},"
        + "\"template\":{\"metadata\":{\"labels\":{\"app\":\"a\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}},"
        + "\"status\":{\"replicas\":7}}");
  }

  @Test
  void createAssignsIdentityAndClearsStatus() {
    ObjectNode d = deployments.create("default", deployment("web", 1), w());
    assertThat(Meta.uid(d)).isNotEmpty();
    assertThat(d.path("metadata").path("generation").asLong()).isEqualTo(1);
    assertThat(d.path("metadata").path("creationTimestamp").asText()).endsWith("Z");
    assertThat(d.has("status")).isFalse();
    assertThat(Long.parseLong(Meta.resourceVersion(d))).isPositive();
    ObjectNode read = deployments.getObject("default", "web");
    assertThat(Meta.resourceVersion(read)).isEqualTo(Meta.resourceVersion(d));
    assertThat(read.path("metadata").path("managedFields").get(0).path("manager").asText()).isEqualTo("test");
  }

  @Test
  void readModifyWriteRacingAnotherWriteIsRetriedUnlessItNamesAResourceVersion() {
    configmaps.create("default", obj("{\"metadata\":{\"name\":\"race\"},\"data\":{\"a\":\"1\"}}"), w());
    int[] calls = {0};
    // A patch (inheriting the current resourceVersion) whose first write loses to a concurrent one.
    ObjectNode out = configmaps.guaranteedUpdate("default", "race", 0, cur -> {
      if (calls[0]++ == 0) {
        ObjectNode other = configmaps.getObject("default", "race");
        ((ObjectNode) other.path("data")).put("b", "2");
        configmaps.update("default", "race", other, w());
      }
      ((ObjectNode) cur.path("data")).put("c", "3");
      return cur;
    }, w(), false);
    assertThat(calls[0]).isEqualTo(2);
    assertThat(out.path("data").path("b").asText()).isEqualTo("2");
    assertThat(out.path("data").path("c").asText()).isEqualTo("3");
    // A change that names a now-stale resourceVersion is a conflict.
    String stale = Meta.resourceVersion(out);
    ObjectNode cm = configmaps.getObject("default", "race");
    ((ObjectNode) cm.path("data")).put("d", "4");
    configmaps.update("default", "race", cm, w());
    assertThatThrownBy(() -> configmaps.guaranteedUpdate("default", "race", 0, cur -> {
      ((ObjectNode) cur.path("metadata")).put("resourceVersion", stale);
      return cur;
    }, w(), false)).isInstanceOf(ApiException.class);
  }

  @Test
  void createTwiceIsAlreadyExists() {
    deployments.create("default", deployment("web", 1), w());
    assertThatThrownBy(() -> deployments.create("default", deployment("web", 1), w()))
        .isInstanceOfSatisfying(ApiException.class, e -> {
          assertThat(e.code()).isEqualTo(409);
          assertThat(e.getMessage()).isEqualTo("deployments.apps \"web\" already exists");
        });
  }

  @Test
  void missingNamespaceIsNotFoundAndStoresNothing() {
    long before = kv.currentRevision();
    assertThatThrownBy(() -> configmaps.create("nosuch", obj("{\"metadata\":{\"name\":\"c\"}}"), w()))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.getMessage()).isEqualTo("namespaces \"nosuch\" not found"));
    assertThat(kv.currentRevision()).isEqualTo(before);
  }

  @Test
  void invalidNameIs422() {
    assertThatThrownBy(() -> configmaps.create("default", obj("{\"metadata\":{\"name\":\"Bad_Name\"}}"), w()))
        .isInstanceOfSatisfying(ApiException.class, e -> {
          assertThat(e.code()).isEqualTo(422);
          assertThat(e.getMessage()).startsWith("ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\"");
        });
  }

  @Test
  void staleResourceVersionConflicts() {
    ObjectNode d = deployments.create("default", deployment("web", 1), w());
    ObjectNode first = d.deepCopy();
    ((ObjectNode) d.get("spec")).put("replicas", 2);
    deployments.update("default", "web", d, w());
    ((ObjectNode) first.get("spec")).put("replicas", 3);
    assertThatThrownBy(() -> deployments.update("default", "web", first, w()))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.getMessage()).isEqualTo(
            "Operation cannot be fulfilled on deployments.apps \"web\": the object has been modified; please apply your changes to the latest version and try again"));
  }

  @Test
  void generationBumpsOnSpecChangeOnly() {
    ObjectNode d = deployments.create("default", deployment("web", 1), w());
    Meta.meta(d).putObject("labels").put("x", "y");
    d = deployments.update("default", "web", d, w());
    assertThat(d.path("metadata").path("generation").asLong()).isEqualTo(1);
    ((ObjectNode) d.get("spec")).put("replicas", 4);
    d = deployments.update("default", "web", d, w());
    assertThat(d.path("metadata").path("generation").asLong()).isEqualTo(2);
  }

  @Test
  void statusIsIsolatedBehindTheSubresource() {
    ObjectNode d = deployments.create("default", deployment("web", 1), w());
    d.putObject("status").put("replicas", 9);
    d = deployments.update("default", "web", d, w());
    assertThat(d.has("status")).isFalse();
    ObjectNode s = d.deepCopy();
    s.putObject("status").put("replicas", 1);
    ((ObjectNode) s.get("spec")).put("replicas", 50);
    ObjectNode after = deployments.update("default", "web", s, new WriteOptions("ctl", false, "status", "Update"));
    assertThat(after.path("status").path("replicas").asInt()).isEqualTo(1);
    assertThat(after.path("spec").path("replicas").asInt()).isEqualTo(1);
    assertThat(after.path("metadata").path("generation").asLong()).isEqualTo(1);
  }

  @Test
  void concurrentPatchesAllLandWithoutConflicts() throws Exception {
    configmaps.create("default", obj("{\"metadata\":{\"name\":\"hot\"},\"data\":{}}"), w());
    try (var pool = java.util.concurrent.Executors.newVirtualThreadPerTaskExecutor()) {
      for (int i = 0; i < 50; i++) {
        int n = i;
        pool.submit(() -> configmaps.guaranteedUpdate("default", "hot", 0, cur -> {
          // What a merge patch does: the result carries the resourceVersion it was computed from.
          ((ObjectNode) cur.get("data")).put("k" + n, "v");
          return cur;
        }, w(), false));
      }
    }
    assertThat(configmaps.getObject("default", "hot").path("data").size()).isEqualTo(50);
  }

  @Test
  void noOpUpdateKeepsResourceVersion() {
    ObjectNode d = deployments.create("default", deployment("web", 1), w());
    ObjectNode again = deployments.update("default", "web", d.deepCopy(), w());
    assertThat(Meta.resourceVersion(again)).isEqualTo(Meta.resourceVersion(d));
  }

  @Test
  void finalizersHoldDeletionUntilRemoved() {
    configmaps.create("default", obj("{\"metadata\":{\"name\":\"held\",\"finalizers\":[\"example.com/hold\"]}}"), w());
    ResourceStore.DeleteResult r = configmaps.delete("default", "held", DeleteOptions.DEFAULT);
    assertThat(r.deleted()).isFalse();
    assertThat(Meta.deleting(r.object())).isTrue();
    ObjectNode cur = configmaps.getObject("default", "held");
    Meta.setFinalizers(cur, List.of());
    configmaps.update("default", "held", cur, w());
    assertThatThrownBy(() -> configmaps.get("default", "held")).isInstanceOf(ApiException.class);
  }

  @Test
  void watchFromResourceVersionSeesLaterChangesOnly() throws Exception {
    configmaps.create("default", obj("{\"metadata\":{\"name\":\"a\"}}"), w());
    hub.awaitCurrent();
    long rv = hub.revision();
    configmaps.create("default", obj("{\"metadata\":{\"name\":\"b\"}}"), w());
    hub.awaitCurrent();
    WatchCache.Start start = configmaps.cache().watch(WatchFilter.ALL, rv, false);
    try (Watcher watcher = start.watcher()) {
      Watcher.Item item = watcher.poll(1_000_000_000L);
      assertThat(item.type()).isEqualTo("ADDED");
      assertThat(item.object().name()).isEqualTo("b");
      assertThat(watcher.poll(50_000_000L)).isNull();
      configmaps.delete("default", "a", DeleteOptions.DEFAULT);
      Watcher.Item del = watcher.poll(1_000_000_000L);
      assertThat(del.type()).isEqualTo("DELETED");
      assertThat(del.object().name()).isEqualTo("a");
      assertThat(new String(del.frame())).startsWith("{\"type\":\"DELETED\",\"object\":{\"apiVersion\":\"v1\"");
    }
  }

  @Test
  void listShowsAConsistentRevision() {
    configmaps.create("default", obj("{\"metadata\":{\"name\":\"a\",\"labels\":{\"k\":\"v\"}}}"), w());
    configmaps.create("default", obj("{\"metadata\":{\"name\":\"b\"}}"), w());
    WatchCache.Snapshot all = configmaps.list(WatchFilter.ALL, true);
    assertThat(all.objects()).extracting(o -> o.name()).containsExactly("a", "b");
    assertThat(all.revision()).isEqualTo(kv.currentRevision());
    WatchCache.Snapshot some = configmaps.list(new WatchFilter("default",
        dev.skiff.apiserver.selector.LabelSelector.parse("k=v"), dev.skiff.apiserver.selector.FieldSelector.EVERYTHING), true);
    assertThat(some.objects()).extracting(o -> o.name()).containsExactly("a");
  }
}
