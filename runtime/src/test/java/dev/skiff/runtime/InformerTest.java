package dev.skiff.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.TestServer;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Informers through fabric8 against a real in-process API server. */
class InformerTest extends ClusterTest {



  static void namespace(String ns) {
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
  }

  static ConfigMap cm(String ns, String name, Map<String, String> data) {
    return new ConfigMapBuilder().withNewMetadata().withNamespace(ns).withName(name).endMetadata().withData(data).build();
  }

  @Test
  void clientTalksToTheServer() {
    assertThat(client.getKubernetesVersion().getGitVersion()).isNotEmpty();
    namespace("plain");
    client.configMaps().inNamespace("plain").resource(cm("plain", "a", Map.of("k", "v"))).create();
    assertThat(client.configMaps().inNamespace("plain").withName("a").get().getData()).containsEntry("k", "v");
    assertThat(client.configMaps().inNamespace("plain").list().getItems()).hasSize(1);
  }

  @Test
  void informerSeesAddsUpdatesAndDeletesInOrder() throws Exception {
    namespace("inf");
    client.configMaps().inNamespace("inf").resource(cm("inf", "before", Map.of("n", "0"))).create();
    try (SharedInformers informers = new SharedInformers(client)) {
      Informer<ConfigMap> informer = informers.informerFor(ConfigMap.class);
      assertThat(informers.informerFor(ConfigMap.class)).as("one informer per type").isSameAs(informer);
      informer.addIndexer(Indexers.byLabel("app"), Indexers.label("app"));
      informer.addIndexer(Indexers.BY_OWNER_UID, Indexers.ownerUid());
      List<String> seen = new CopyOnWriteArrayList<>();
      informer.addHandler(new EventHandler<ConfigMap>() {
        @Override
        public void onAdd(ConfigMap obj) {
          if ("inf".equals(obj.getMetadata().getNamespace())) {
            seen.add("add " + obj.getMetadata().getName() + " " + obj.getData().get("n"));
          }
        }

        @Override
        public void onUpdate(ConfigMap oldObj, ConfigMap newObj) {
          if ("inf".equals(newObj.getMetadata().getNamespace())) {
            seen.add("update " + newObj.getMetadata().getName() + " " + oldObj.getData().get("n") + "->" + newObj.getData().get("n"));
          }
        }

        @Override
        public void onDelete(ConfigMap obj, boolean finalStateUnknown) {
          if ("inf".equals(obj.getMetadata().getNamespace())) {
            seen.add("delete " + obj.getMetadata().getName());
          }
        }
      });
      informers.start();
      assertThat(informers.waitForCacheSync(Duration.ofSeconds(10))).isTrue();
      assertThat(informer.hasSynced()).isTrue();
      assertThat(informer.lister().get("inf", "before")).isNotNull();

      var cms = client.configMaps().inNamespace("inf");
      ConfigMap a = cms.resource(new ConfigMapBuilder(cm("inf", "a", Map.of("n", "1")))
          .editMetadata().withLabels(Map.of("app", "web"))
          .withOwnerReferences(new OwnerReferenceBuilder().withApiVersion("v1").withKind("ConfigMap")
              .withName("before").withUid("owner-uid-1").withController(true).build())
          .endMetadata().build()).create();
      for (int i = 2; i <= 5; i++) {
        a = cms.resource(new ConfigMapBuilder(a).withData(Map.of("n", String.valueOf(i))).build()).update();
      }
      cms.withName("a").delete();
      cms.withName("before").delete();
      List<String> expected = List.of("add before 0", "add a 1", "update a 1->2", "update a 2->3", "update a 3->4",
          "update a 4->5", "delete a", "delete before");
      assertThat(Poll.until(Duration.ofSeconds(10), () -> seen.size() >= expected.size())).as(seen.toString()).isTrue();
      assertThat(seen).containsExactlyElementsOf(expected);
      assertThat(informer.lister().list("inf")).isEmpty();

      cms.resource(new ConfigMapBuilder(cm("inf", "b", Map.of("n", "1")))
          .editMetadata().withLabels(Map.of("app", "db")).endMetadata().build()).create();
      assertThat(Poll.until(Duration.ofSeconds(10), () -> informer.lister().get("inf", "b") != null)).isTrue();
      assertThat(informer.lister().byIndex(Indexers.byLabel("app"), "db")).extracting(c -> c.getMetadata().getName())
          .containsExactly("b");
      assertThat(informer.lister().getByKey("inf/b")).isNotNull();
      assertThat(informer.lister().list()).extracting(c -> c.getMetadata().getName()).contains("b");
    }
  }

  @Test
  void ownerIndexFindsChildren() throws Exception {
    namespace("own");
    var cms = client.configMaps().inNamespace("own");
    for (int i = 0; i < 3; i++) {
      cms.resource(new ConfigMapBuilder(cm("own", "child-" + i, Map.of())).editMetadata()
          .withOwnerReferences(new OwnerReferenceBuilder().withApiVersion("apps/v1").withKind("ReplicaSet")
              .withName("rs").withUid(i < 2 ? "uid-a" : "uid-b").withController(true).build())
          .endMetadata().build()).create();
    }
    try (SharedInformers informers = new SharedInformers(client)) {
      Informer<ConfigMap> informer = informers.informerFor(ConfigMap.class)
          .addIndexer(Indexers.BY_OWNER_UID, Indexers.ownerUid());
      informers.start();
      assertThat(informers.waitForCacheSync(Duration.ofSeconds(10))).isTrue();
      assertThat(informer.lister().byIndex(Indexers.BY_OWNER_UID, "uid-a")).hasSize(2);
      assertThat(informer.lister().byIndex(Indexers.BY_OWNER_UID, "uid-b")).hasSize(1);
    }
  }
}
