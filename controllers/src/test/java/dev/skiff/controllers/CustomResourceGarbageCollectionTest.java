package dev.skiff.controllers;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.DeletionPropagation;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The garbage collector through custom resources: a Widget CRD (example.com/v1) owning ConfigMaps
 * and other Widgets; background, foreground and orphan deletion of a custom owner; a CRD created
 * after the collector started; an ownerReference to a kind nobody serves.
 */
class CustomResourceGarbageCollectionTest {
  static TestServer server;
  static KubernetesClient client;
  static dev.skiff.runtime.LeaderElected manager;
  static Kubectl kubectl;

  static final ResourceDefinitionContext WIDGETS = new ResourceDefinitionContext.Builder().withGroup("example.com")
      .withVersion("v1").withPlural("widgets").withKind("Widget").withNamespaced(true).build();
  static final ResourceDefinitionContext GADGETS = new ResourceDefinitionContext.Builder().withGroup("example.org")
      .withVersion("v1").withPlural("gadgets").withKind("Gadget").withNamespaced(true).build();

  static String crd(String plural, String kind, String group) {
    return """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: %s.%s}
        spec:
          group: %s
          scope: Namespaced
          names: {plural: %s, singular: %s, kind: %s}
          versions:
          - name: v1
            served: true
            storage: true
            schema:
              openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
        """.formatted(plural, group, group, plural, kind.toLowerCase(), kind);
  }

  @BeforeAll
  static void up() throws Exception {
    server = TestServer.start();
    client = Harness.client(server);
    kubectl = server.kubectl();
    kubectl.runWithInput(crd("widgets", "Widget", "example.com"), "apply", "-f", "-").ok();
    kubectl.run("wait", "--for", "condition=established", "--timeout=20s", "crd/widgets.example.com").ok();
    manager = Harness.startManager(server, client);
  }

  @AfterAll
  static void down() throws Exception {
    manager.close();
    client.close();
    server.close();
  }

  static GenericKubernetesResource create(ResourceDefinitionContext type, String name, OwnerReference... owners) {
    GenericKubernetesResource r = new GenericKubernetesResource();
    r.setApiVersion(type.getGroup() + "/" + type.getVersion());
    r.setKind(type.getKind());
    r.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace("default").withOwnerReferences(owners).build());
    r.setAdditionalProperties(Map.of("spec", Map.of("size", "small")));
    return client.genericKubernetesResources(type).inNamespace("default").resource(r).create();
  }

  static GenericKubernetesResource get(ResourceDefinitionContext type, String name) {
    return client.genericKubernetesResources(type).inNamespace("default").withName(name).get();
  }

  static ConfigMap cm(String name, OwnerReference... owners) {
    return client.configMaps().inNamespace("default").resource(new ConfigMapBuilder().withNewMetadata().withName(name)
        .withOwnerReferences(owners).endMetadata().build()).create();
  }

  static ConfigMap getCm(String name) {
    return client.configMaps().inNamespace("default").withName(name).get();
  }

  static OwnerReference ref(HasMetadata owner, boolean block) {
    return new OwnerReferenceBuilder().withApiVersion(owner.getApiVersion()).withKind(owner.getKind())
        .withName(owner.getMetadata().getName()).withUid(owner.getMetadata().getUid()).withController(true)
        .withBlockOwnerDeletion(block).build();
  }

  static boolean until(java.util.function.BooleanSupplier c) throws InterruptedException {
    return Harness.until(Duration.ofSeconds(30), c);
  }

  @Test
  void deletingACustomOwnerCascadesThroughCustomAndBuiltInDependents() throws Exception {
    var owner = create(WIDGETS, "bg-owner");
    cm("bg-cm", ref(owner, true));
    var child = create(WIDGETS, "bg-child", ref(owner, true));
    cm("bg-grandchild", ref(child, true));
    kubectl.run("delete", "widget", "bg-owner").ok(); // background, kubectl's default
    assertThat(until(() -> getCm("bg-cm") == null && get(WIDGETS, "bg-child") == null
        && getCm("bg-grandchild") == null)).isTrue();
  }

  @Test
  void foregroundDeletionOfACustomOwnerWaitsForItsBlockingDependents() throws Exception {
    var owner = create(WIDGETS, "fg-owner");
    var child = create(WIDGETS, "fg-child", ref(owner, true));
    cm("fg-grandchild", ref(child, true));
    // A finalizer of our own keeps the child alive, so the owner must wait.
    client.genericKubernetesResources(WIDGETS).inNamespace("default").withName("fg-child")
        .edit(w -> {
          w.getMetadata().setFinalizers(List.of("test.skiff.dev/hold"));
          return w;
        });
    client.genericKubernetesResources(WIDGETS).inNamespace("default").withName("fg-owner")
        .withPropagationPolicy(DeletionPropagation.FOREGROUND).delete();
    // The child (which has a dependent itself) is deleted in foreground too; once its own
    // dependent is gone the collector drops its foregroundDeletion finalizer, leaving ours.
    assertThat(until(() -> get(WIDGETS, "fg-child").getMetadata().getDeletionTimestamp() != null
        && getCm("fg-grandchild") == null
        && get(WIDGETS, "fg-child").getMetadata().getFinalizers().equals(List.of("test.skiff.dev/hold")))).isTrue();
    var waiting = get(WIDGETS, "fg-owner");
    assertThat(waiting).isNotNull();
    assertThat(waiting.getMetadata().getFinalizers()).contains("foregroundDeletion");
    client.genericKubernetesResources(WIDGETS).inNamespace("default").withName("fg-child")
        .edit(w -> {
          w.getMetadata().setFinalizers(List.of());
          return w;
        });
    assertThat(until(() -> get(WIDGETS, "fg-owner") == null && get(WIDGETS, "fg-child") == null)).isTrue();
  }

  @Test
  void orphanDeletionOfACustomOwnerStripsTheReferencesOfItsDependents() throws Exception {
    var owner = create(WIDGETS, "or-owner");
    cm("or-cm", ref(owner, true));
    create(WIDGETS, "or-child", ref(owner, true));
    kubectl.run("delete", "widget", "or-owner", "--cascade=orphan").ok();
    assertThat(until(() -> get(WIDGETS, "or-owner") == null)).isTrue();
    boolean stripped = until(() -> getCm("or-cm").getMetadata().getOwnerReferences().isEmpty()
        && get(WIDGETS, "or-child").getMetadata().getOwnerReferences().isEmpty());
    assertThat(stripped).as("or-cm %s, or-child %s", getCm("or-cm"), get(WIDGETS, "or-child")).isTrue();
    Thread.sleep(500);
    assertThat(getCm("or-cm")).isNotNull();
    assertThat(get(WIDGETS, "or-child")).isNotNull();
  }

  @Test
  void aCrdCreatedAfterTheCollectorStartedIsMonitored() throws Exception {
    // The collector started with the Widget CRD only; Gadgets appear now.
    kubectl.runWithInput(crd("gadgets", "Gadget", "example.org"), "apply", "-f", "-").ok();
    kubectl.run("wait", "--for", "condition=established", "--timeout=20s", "crd/gadgets.example.org").ok();
    // A Gadget owning a ConfigMap (owner of the new kind)...
    var gadget = Harness.until(Duration.ofSeconds(10), () -> {
      try {
        create(GADGETS, "late-owner");
        return true;
      } catch (RuntimeException e) {
        return false; // served a moment after Established
      }
    });
    assertThat(gadget).isTrue();
    cm("late-cm", ref(get(GADGETS, "late-owner"), false));
    // ... and a Gadget owned by a ConfigMap (dependent of the new kind: needs its monitor).
    var cmOwner = cm("late-cm-owner");
    create(GADGETS, "late-dependent", ref(cmOwner, false));
    client.genericKubernetesResources(GADGETS).inNamespace("default").withName("late-owner").delete();
    client.configMaps().inNamespace("default").withName("late-cm-owner").delete();
    assertThat(until(() -> getCm("late-cm") == null && get(GADGETS, "late-dependent") == null)).isTrue();
  }

  @Test
  void anOwnerReferenceToAnUnknownKindLeavesTheDependentAlone() throws Exception {
    OwnerReference ghost = new OwnerReferenceBuilder().withApiVersion("nothing.example.net/v1").withKind("Ghost")
        .withName("boo").withUid("00000000-0000-0000-0000-00000000beef").build();
    cm("haunted", ghost);
    // And one whose other owner is a real one that goes away: it only loses that reference.
    var owner = cm("real-owner");
    cm("haunted-twice", ghost, ref(owner, false));
    client.configMaps().inNamespace("default").withName("real-owner").delete();
    assertThat(until(() -> client.v1().events().inNamespace("default").list().getItems().stream()
        .anyMatch(e -> "OwnerRefUnresolvable".equals(e.getReason()) && "haunted".equals(e.getInvolvedObject().getName())
            && "Warning".equals(e.getType())))).isTrue();
    assertThat(until(() -> getCm("haunted-twice").getMetadata().getOwnerReferences().size() == 1)).isTrue();
    assertThat(getCm("haunted-twice").getMetadata().getOwnerReferences().get(0).getKind()).isEqualTo("Ghost");
    Thread.sleep(1000);
    assertThat(getCm("haunted")).isNotNull();
    assertThat(getCm("haunted-twice")).isNotNull();
  }
}
