package dev.skiff.apiserver.crd;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.apiserver.ApiServer;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.registry.Meta;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.registry.DeleteOptions;
import dev.skiff.apiserver.registry.ResourceStore;
import dev.skiff.apiserver.registry.WriteOptions;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.Test;

/** The manager against the registry directly: latency, restart, updates, deletion. */
class CustomResourceManagerTest {
  static ObjectNode yaml(String s) throws Exception {
    return (ObjectNode) Json.yaml().readTree(s.getBytes(StandardCharsets.UTF_8));
  }

  static void await(BooleanSupplier cond, long millis) throws InterruptedException {
    long end = System.currentTimeMillis() + millis;
    while (!cond.getAsBoolean()) {
      assertThat(System.currentTimeMillis()).as("condition within %d ms", millis).isLessThan(end);
      Thread.sleep(5);
    }
  }

  static boolean established(ResourceStore crds, String name) {
    for (JsonNode c : crds.getObject(null, name).path("status").path("conditions")) {
      if (c.path("type").asText().equals("Established") && c.path("status").asText().equals("True")) {
        return true;
      }
    }
    return false;
  }

  @Test
  void servesWithinASecondSurvivesRestartFollowsUpdatesAndCleansUp() throws Exception {
    Path dir = Files.createTempDirectory("skiff-crd");
    ApiServer.Config config = new ApiServer.Config(dir, 0, "127.0.0.1");
    ObjectNode crd = yaml(CustomResourceDefinitionTest.CRD);
    try (ApiServer server = ApiServer.start(config)) {
      ResourceStore crds = server.registry().store("apiextensions.k8s.io", "v1", "customresourcedefinitions");
      long t0 = System.nanoTime();
      crds.create(null, crd.deepCopy(), WriteOptions.internal("test"));
      System.out.println("CRD created in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
      await(() -> server.registry().store("example.com", "v1", "widgets") != null, 2000);
      System.out.println("CR served after " + (System.nanoTime() - t0) / 1_000_000 + " ms");
      await(() -> established(crds, "widgets.example.com") && server.registry().store("example.com", "v1", "widgets") != null, 1000);
      long ms = (System.nanoTime() - t0) / 1_000_000;
      System.out.println("CRD established and served in " + ms + " ms");
      assertThat(server.schemas().definition("com.example.v1.Widget")).isPresent();
      // Steady state (the first CRD also pays class loading and JIT warm-up).
      long t1 = System.nanoTime();
      crds.create(null, yaml(CustomResourceDefinitionTest.CRD.replace("widget", "gadget").replace("Widget", "Gadget")
          .replace("[wd]", "[gd]")), WriteOptions.internal("test"));
      await(() -> established(crds, "gadgets.example.com") && server.registry().store("example.com", "v1", "gadgets") != null, 1000);
      System.out.println("second CRD established and served in " + (System.nanoTime() - t1) / 1_000_000 + " ms");
      server.registry().store("example.com", "v1", "widgets").create("default",
          yaml("{apiVersion: example.com/v1, kind: Widget, metadata: {name: w1}, spec: {size: S}}"), WriteOptions.internal("test"));
    }
    try (ApiServer server = ApiServer.start(config)) {
      // Served as soon as start returns.
      ResourceStore widgets = server.registry().store("example.com", "v1", "widgets");
      assertThat(widgets).isNotNull();
      assertThat(widgets.getObject("default", "w1").path("spec").path("replicas").asInt()).isEqualTo(1);
      assertThat(server.registry().store("example.com", "v1beta1", "widgets").getObject("default", "w1").path("apiVersion").asText())
          .isEqualTo("example.com/v1beta1");
      ResourceStore crds = server.registry().store("apiextensions.k8s.io", "v1", "customresourcedefinitions");
      // Stop serving v1beta1: its descriptor goes, v1 stays with the same objects.
      crds.guaranteedUpdate(null, "widgets.example.com", 0, cur -> {
        ((ObjectNode) cur.path("spec").path("versions").get(0)).put("served", false);
        return cur;
      }, WriteOptions.internal("test"), false);
      await(() -> server.registry().store("example.com", "v1beta1", "widgets") == null
          && server.registry().store("example.com", "v1", "widgets") != null, 1000);
      assertThat(server.registry().store("example.com", "v1", "widgets").getObject("default", "w1")).isNotNull();
      assertThat(server.schemas().definition("com.example.v1beta1.Widget")).isEmpty();

      long t0 = System.nanoTime();
      crds.delete(null, "widgets.example.com", DeleteOptions.DEFAULT);
      await(() -> server.registry().store("example.com", "v1", "widgets") == null, 1000);
      await(() -> {
        try {
          crds.get(null, "widgets.example.com");
          return false;
        } catch (dev.skiff.apiserver.api.ApiException e) {
          return e.code() == 404;
        }
      }, 1000);
      System.out.println("CRD and its objects deleted in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
      assertThat(server.schemas().definition("com.example.v1.Widget")).isEmpty();
      assertThat(server.registry().hub().cache("/registry/example.com/widgets/") == null
          || server.registry().hub().cache("/registry/example.com/widgets/").size() == 0).isTrue();
    }
  }

  @Test
  void objectFinalizersHoldTheCrdWhichRefusesNewObjectsMeanwhile() throws Exception {
    Path dir = Files.createTempDirectory("skiff-crd");
    try (ApiServer server = ApiServer.start(new ApiServer.Config(dir, 0, "127.0.0.1"))) {
      ResourceStore crds = server.registry().store("apiextensions.k8s.io", "v1", "customresourcedefinitions");
      crds.create(null, yaml(CustomResourceDefinitionTest.CRD), WriteOptions.internal("test"));
      await(() -> established(crds, "widgets.example.com"), 2000);
      ResourceStore widgets = server.registry().store("example.com", "v1", "widgets");
      widgets.create("default", yaml("{apiVersion: example.com/v1, kind: Widget, metadata: {name: held, finalizers: [example.com/hold]},"
          + " spec: {size: S}}"), WriteOptions.internal("test"));
      crds.delete(null, "widgets.example.com", DeleteOptions.DEFAULT);
      await(() -> Meta.deleting(widgets.getObject("default", "held")), 1000);
      await(() -> crds.getObject(null, "widgets.example.com").path("status").toString().contains("InstanceDeletionInProgress"), 1000);
      assertThatThrownBy(() -> widgets.create("default", yaml("{metadata: {name: late}, spec: {size: S}}"), WriteOptions.internal("test")))
          .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.code()).isEqualTo(405));
      Thread.sleep(1200);
      assertThat(crds.getObject(null, "widgets.example.com")).as("held by the object's finalizer").isNotNull();
      widgets.guaranteedUpdate("default", "held", 0, cur -> {
        Meta.setFinalizers(cur, java.util.List.of());
        return cur;
      }, WriteOptions.internal("test"), false);
      await(() -> server.registry().store("example.com", "v1", "widgets") == null, 3000);
      await(() -> {
        try {
          crds.get(null, "widgets.example.com");
          return false;
        } catch (ApiException e) {
          return e.code() == 404;
        }
      }, 3000);
    }
  }
}
