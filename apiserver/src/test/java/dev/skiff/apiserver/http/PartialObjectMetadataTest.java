package dev.skiff.apiserver.http;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Metadata-only lists, gets and watches (client-go's metadata client, the garbage collector):
 * {@code Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1} answers a
 * PartialObjectMetadataList and {@code as=PartialObjectMetadata} PartialObjectMetadata objects
 * and watch events, bookmarks included, for built-in and custom resources alike
 * (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/response.go, transformObject).
 */
class PartialObjectMetadataTest {
  static final String LIST = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
  static final String OBJECT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";
  static final ObjectMapper MAPPER = new ObjectMapper();
  static TestServer server;
  static Kubectl kubectl;

  @BeforeAll
  static void up() throws Exception {
    server = TestServer.start();
    kubectl = server.kubectl();
    kubectl.runWithInput("""
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: meta-cm
          labels: {app: meta}
          annotations: {note: kept}
          finalizers: [example.com/hold]
          ownerReferences:
          - {apiVersion: v1, kind: ConfigMap, name: someone, uid: 00000000-0000-0000-0000-000000000042, blockOwnerDeletion: true}
        data: {big: "not in a metadata answer"}
        """, "apply", "-f", "-").ok();
    kubectl.runWithInput("""
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata: {name: widgets.example.com}
        spec:
          group: example.com
          scope: Namespaced
          names: {plural: widgets, singular: widget, kind: Widget}
          versions:
          - name: v1
            served: true
            storage: true
            schema:
              openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
        """, "apply", "-f", "-").ok();
    kubectl.run("wait", "--for", "condition=established", "--timeout=20s", "crd/widgets.example.com").ok();
    kubectl.runWithInput("""
        apiVersion: example.com/v1
        kind: Widget
        metadata: {name: w1}
        spec: {size: large}
        """, "apply", "-f", "-").ok();
  }

  @AfterAll
  static void down() throws Exception {
    kubectl.run("patch", "cm", "meta-cm", "--type=merge", "-p", "{\"metadata\":{\"finalizers\":null}}");
    server.close();
  }

  static JsonNode get(String path, String accept) throws Exception {
    HttpResponse<String> r = server.http().send(HttpRequest.newBuilder(URI.create(server.url() + path))
        .header("Accept", accept).timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return MAPPER.readTree(r.body());
  }

  @Test
  void listAnswersAPartialObjectMetadataListWithoutSpecOrData() throws Exception {
    JsonNode list = get("/api/v1/namespaces/default/configmaps", LIST);
    assertThat(list.path("kind").asText()).isEqualTo("PartialObjectMetadataList");
    assertThat(list.path("apiVersion").asText()).isEqualTo("meta.k8s.io/v1");
    assertThat(list.path("metadata").path("resourceVersion").asText()).isNotEmpty();
    JsonNode item = null;
    for (JsonNode i : list.path("items")) {
      if (i.path("metadata").path("name").asText().equals("meta-cm")) {
        item = i;
      }
    }
    assertThat(item).isNotNull();
    assertThat(item.path("kind").asText()).isEqualTo("PartialObjectMetadata");
    assertThat(item.path("apiVersion").asText()).isEqualTo("meta.k8s.io/v1");
    assertThat(item.has("data")).isFalse();
    JsonNode m = item.path("metadata");
    assertThat(m.path("uid").asText()).isNotEmpty();
    assertThat(m.path("labels").path("app").asText()).isEqualTo("meta");
    assertThat(m.path("finalizers").get(0).asText()).isEqualTo("example.com/hold");
    assertThat(m.path("ownerReferences").get(0).path("uid").asText()).isEqualTo("00000000-0000-0000-0000-000000000042");

    // Custom resources too, cluster-wide.
    JsonNode widgets = get("/apis/example.com/v1/widgets", LIST);
    assertThat(widgets.path("kind").asText()).isEqualTo("PartialObjectMetadataList");
    assertThat(widgets.path("items")).hasSize(1);
    assertThat(widgets.path("items").get(0).path("metadata").path("name").asText()).isEqualTo("w1");
    assertThat(widgets.path("items").get(0).has("spec")).isFalse();
  }

  @Test
  void getAnswersPartialObjectMetadata() throws Exception {
    JsonNode o = get("/apis/example.com/v1/namespaces/default/widgets/w1", OBJECT);
    assertThat(o.path("kind").asText()).isEqualTo("PartialObjectMetadata");
    assertThat(o.path("metadata").path("name").asText()).isEqualTo("w1");
    assertThat(o.has("spec")).isFalse();
    // Without the parameters the same path answers the object itself.
    assertThat(get("/apis/example.com/v1/namespaces/default/widgets/w1", "application/json").path("spec").path("size")
        .asText()).isEqualTo("large");
  }

  @Test
  void watchEventsAndBookmarksArePartialObjectMetadata() throws Exception {
    String rv = get("/apis/example.com/v1/widgets", LIST).path("metadata").path("resourceVersion").asText();
    HttpRequest req = HttpRequest.newBuilder(URI.create(server.url()
        + "/apis/example.com/v1/widgets?watch=true&allowWatchBookmarks=true&sendInitialEvents=true"
        + "&resourceVersionMatch=NotOlderThan&resourceVersion=" + rv)).header("Accept", OBJECT).build();
    HttpResponse<InputStream> res = server.http().sendAsync(req, HttpResponse.BodyHandlers.ofInputStream())
        .get(10, TimeUnit.SECONDS);
    assertThat(res.statusCode()).isEqualTo(200);
    try (BufferedReader in = new BufferedReader(new InputStreamReader(res.body(), StandardCharsets.UTF_8))) {
      JsonNode initial = MAPPER.readTree(in.readLine());
      assertThat(initial.path("type").asText()).isEqualTo("ADDED");
      assertThat(initial.path("object").path("kind").asText()).isEqualTo("PartialObjectMetadata");
      assertThat(initial.path("object").path("metadata").path("name").asText()).isEqualTo("w1");
      JsonNode bookmark = MAPPER.readTree(in.readLine());
      assertThat(bookmark.path("type").asText()).isEqualTo("BOOKMARK");
      assertThat(bookmark.path("object").path("kind").asText()).isEqualTo("PartialObjectMetadata");
      assertThat(bookmark.path("object").path("apiVersion").asText()).isEqualTo("meta.k8s.io/v1");

      kubectl.runWithInput("""
          apiVersion: example.com/v1
          kind: Widget
          metadata: {name: w2}
          spec: {size: small}
          """, "apply", "-f", "-").ok();
      JsonNode added = MAPPER.readTree(in.readLine());
      assertThat(added.path("type").asText()).isEqualTo("ADDED");
      assertThat(added.path("object").path("kind").asText()).isEqualTo("PartialObjectMetadata");
      assertThat(added.path("object").path("metadata").path("name").asText()).isEqualTo("w2");
      assertThat(added.path("object").has("spec")).isFalse();
      kubectl.run("delete", "widget", "w2").ok();
      JsonNode deleted = MAPPER.readTree(in.readLine());
      assertThat(deleted.path("type").asText()).isEqualTo("DELETED");
      assertThat(deleted.path("object").path("kind").asText()).isEqualTo("PartialObjectMetadata");
      assertThat(deleted.path("object").path("metadata").path("name").asText()).isEqualTo("w2");
    }
  }

  @Test
  void kubectlReadsTheSameResources() throws Exception {
    // The real kubectl (Table and plain JSON answers) is unaffected by the metadata shape.
    assertThat(kubectl.run("get", "cm", "meta-cm", "-o", "name").ok().out().trim()).isEqualTo("configmap/meta-cm");
    JsonNode raw = MAPPER.readTree(kubectl.run("get", "--raw", "/apis/example.com/v1/namespaces/default/widgets/w1")
        .ok().out());
    assertThat(raw.path("kind").asText()).isEqualTo("Widget");
  }
}
