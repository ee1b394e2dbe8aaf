package dev.skiff.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.apiserver.testing.TestServer;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinition;
import io.fabric8.kubernetes.api.model.apiextensions.v1.CustomResourceDefinitionBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The Java ecosystem's standard client running an operator's everyday flows against Skiff (issue
 * 3's acceptance): typed CRUD, server-side apply with a field manager and its conflicts, a custom
 * resource definition with an informer on its objects, and a raw watch.
 */
class Fabric8OperatorFlowTest extends ClusterTest {
  static final ResourceDefinitionContext WIDGETS = new ResourceDefinitionContext.Builder()
      .withGroup("example.com").withVersion("v1").withPlural("widgets").withKind("Widget").withNamespaced(true).build();

  @BeforeAll
  static void start() throws Exception {
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("ops").endMetadata().build()).create();
  }


  static Deployment deployment(int replicas, String image) {
    return new DeploymentBuilder().withNewMetadata().withName("web").withNamespace("ops").endMetadata()
        .withNewSpec().withReplicas(replicas).withNewSelector().addToMatchLabels("app", "web").endSelector()
        .withNewTemplate().withNewMetadata().addToLabels("app", "web").endMetadata()
        .withNewSpec().addNewContainer().withName("web").withImage(image).endContainer().endSpec().endTemplate()
        .endSpec().build();
  }

  @Test
  void typedCrudAndServerSideApply() {
    var deployments = client.apps().deployments().inNamespace("ops");
    Deployment created = deployments.resource(deployment(1, "nginx:1.25")).create();
    assertThat(created.getMetadata().getUid()).isNotEmpty();
    assertThat(deployments.withName("web").get().getSpec().getTemplate().getSpec().getContainers().get(0).getImage())
        .isEqualTo("nginx:1.25");
    Deployment edited = deployments.withName("web").edit(d -> {
      d.getSpec().setReplicas(2);
      return d;
    });
    assertThat(edited.getSpec().getReplicas()).isEqualTo(2);
    assertThat(edited.getMetadata().getGeneration()).isEqualTo(2L);

    Deployment applied = deployments.resource(deployment(3, "nginx:1.27")).fieldManager("operator").forceConflicts().serverSideApply();
    assertThat(applied.getSpec().getReplicas()).isEqualTo(3);
    assertThat(applied.getMetadata().getManagedFields()).anySatisfy(m -> {
      assertThat(m.getManager()).isEqualTo("operator");
      assertThat(m.getOperation()).isEqualTo("Apply");
    });
    assertThatThrownBy(() -> deployments.resource(deployment(5, "nginx:1.27")).fieldManager("intruder").serverSideApply())
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> {
          assertThat(e.getCode()).isEqualTo(409);
          assertThat(e.getStatus().getDetails().getCauses()).anySatisfy(c -> {
            assertThat(c.getReason()).isEqualTo("FieldManagerConflict");
            assertThat(c.getField()).isEqualTo(".spec.replicas");
          });
        });
    assertThat(deployments.withName("web").delete()).hasSize(1);
    assertThat(deployments.withName("web").get()).isNull();
  }

  @Test
  void informerOnACustomResourceAndAWatch() throws Exception {
    CustomResourceDefinition crd = new CustomResourceDefinitionBuilder()
        .withNewMetadata().withName("widgets.example.com").endMetadata()
        .withNewSpec().withGroup("example.com").withScope("Namespaced")
        .withNewNames().withPlural("widgets").withSingular("widget").withKind("Widget").withListKind("WidgetList").endNames()
        .addNewVersion().withName("v1").withServed(true).withStorage(true)
        .withNewSchema().withNewOpenAPIV3Schema().withType("object")
        .addToProperties("spec", new io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaPropsBuilder().withType("object")
            .addToProperties("size", new io.fabric8.kubernetes.api.model.apiextensions.v1.JSONSchemaPropsBuilder().withType("string").build())
            .build())
        .endOpenAPIV3Schema().endSchema().endVersion().endSpec().build();
    client.apiextensions().v1().customResourceDefinitions().resource(crd).create();
    client.apiextensions().v1().customResourceDefinitions().withName("widgets.example.com")
        .waitUntilCondition(c -> c.getStatus() != null && c.getStatus().getConditions().stream()
            .anyMatch(x -> x.getType().equals("Established") && x.getStatus().equals("True")), 10, TimeUnit.SECONDS);

    var widgets = client.genericKubernetesResources(WIDGETS).inNamespace("ops");
    List<String> seen = new CopyOnWriteArrayList<>();
    SharedIndexInformer<GenericKubernetesResource> informer = widgets.inform(new ResourceEventHandler<>() {
      @Override
      public void onAdd(GenericKubernetesResource obj) {
        seen.add("add " + obj.getMetadata().getName());
      }

      @Override
      public void onUpdate(GenericKubernetesResource oldObj, GenericKubernetesResource newObj) {
        if (!oldObj.getMetadata().getResourceVersion().equals(newObj.getMetadata().getResourceVersion())) {
          seen.add("update " + newObj.getMetadata().getName());
        }
      }

      @Override
      public void onDelete(GenericKubernetesResource obj, boolean deletedFinalStateUnknown) {
        seen.add("delete " + obj.getMetadata().getName());
      }
    });
    List<String> watched = new CopyOnWriteArrayList<>();
    try (var watch = widgets.watch(new Watcher<>() {
      @Override
      public void eventReceived(Action action, GenericKubernetesResource resource) {
        watched.add(action + " " + resource.getMetadata().getName());
      }

      @Override
      public void onClose(WatcherException cause) {}
    })) {
      informer.run();
      GenericKubernetesResource w = new GenericKubernetesResourceBuilder().withApiVersion("example.com/v1").withKind("Widget")
          .withNewMetadata().withName("w1").withNamespace("ops").endMetadata()
          .withAdditionalProperties(Map.of("spec", Map.of("size", "S", "unknown", "pruned"))).build();
      widgets.resource(w).create();
      GenericKubernetesResource stored = widgets.withName("w1").get();
      assertThat(stored.<Map<String, Object>>get("spec")).containsEntry("size", "S").doesNotContainKey("unknown");
      widgets.withName("w1").edit(x -> {
        x.setAdditionalProperty("spec", Map.of("size", "M"));
        return x;
      });
      widgets.withName("w1").delete();
      Poll.until(java.time.Duration.ofSeconds(5), () -> seen.size() >= 3 && watched.size() >= 3);
      assertThat(seen).containsExactly("add w1", "update w1", "delete w1");
      assertThat(watched).containsExactly("ADDED w1", "MODIFIED w1", "DELETED w1");
    } finally {
      informer.close();
    }
  }
}
