package dev.skiff.apiserver.ssa;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.skiff.apiserver.testing.TestServer;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Server-side apply and managedFields at the HTTP level (what curl or client-go sees). */
class ServerSideApplyHttpTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String APPLY = "application/apply-patch+yaml";
  private static final String CM = "/api/v1/namespaces/default/configmaps/";
  private static TestServer server;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  private static JsonNode body(HttpResponse<String> r) throws Exception {
    return JSON.readTree(r.body());
  }

  private static String cm(String name, String data) {
    return "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" + name + "\"},\"data\":" + data + "}";
  }

  @Test
  void applyCreatesConflictsAndForces() throws Exception {
    HttpResponse<String> r = server.request("PATCH", CM + "c1?fieldManager=alpha", APPLY, cm("c1", "{\"a\":\"1\",\"b\":\"2\"}"));
    assertThat(r.statusCode()).isEqualTo(201);
    JsonNode mf = body(r).at("/metadata/managedFields/0");
    assertThat(mf.path("manager").asText()).isEqualTo("alpha");
    assertThat(mf.path("operation").asText()).isEqualTo("Apply");
    assertThat(mf.path("apiVersion").asText()).isEqualTo("v1");
    assertThat(mf.path("fieldsV1").toString()).isEqualTo("{\"f:data\":{\"f:a\":{},\"f:b\":{}}}");

    r = server.request("PATCH", CM + "c1?fieldManager=beta", APPLY, cm("c1", "{\"a\":\"9\"}"));
    assertThat(r.statusCode()).isEqualTo(409);
    JsonNode st = body(r);
    assertThat(st.path("kind").asText()).isEqualTo("Status");
    assertThat(st.path("reason").asText()).isEqualTo("Conflict");
    assertThat(st.path("message").asText()).isEqualTo("Apply failed with 1 conflict: conflict with \"alpha\": .data.a");
    assertThat(st.at("/details/causes/0").toString())
        .isEqualTo("{\"reason\":\"FieldManagerConflict\",\"message\":\"conflict with \\\"alpha\\\"\",\"field\":\".data.a\"}");

    r = server.request("PATCH", CM + "c1?fieldManager=beta&force=true", APPLY, cm("c1", "{\"a\":\"9\"}"));
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(body(r).at("/data").toString()).isEqualTo("{\"a\":\"9\",\"b\":\"2\"}");

    // YAML bodies work too; alpha stops applying b, which nobody else owns.
    r = server.request("PATCH", CM + "c1?fieldManager=alpha", APPLY, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c1\ndata:\n  c: '3'\n");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(body(r).at("/data").toString()).isEqualTo("{\"a\":\"9\",\"c\":\"3\"}");

    // The applied object must be the one on the URL.
    r = server.request("PATCH", CM + "c1?fieldManager=alpha", APPLY, cm("other", "{}"));
    assertThat(r.statusCode()).isEqualTo(400);
    assertThat(body(r).path("message").asText()).isEqualTo("the name of the object (other) does not match the name on the URL (c1)");
    assertThat(server.request("PATCH", CM + "c9?fieldManager=alpha", APPLY, cm("other", "{}")).statusCode()).isEqualTo(400);
    assertThat(server.request("GET", CM + "other", null, null).statusCode()).isEqualTo(404);

    // fieldManager is required for apply.
    assertThat(server.request("PATCH", CM + "c1", APPLY, cm("c1", "{}")).statusCode()).isEqualTo(400);
  }

  @Test
  void dryRunApplyDoesNotPersist() throws Exception {
    HttpResponse<String> r = server.request("PATCH", CM + "dry?fieldManager=alpha&dryRun=All", APPLY, cm("dry", "{\"a\":\"1\"}"));
    assertThat(r.statusCode()).isEqualTo(201);
    assertThat(server.request("GET", CM + "dry", null, null).statusCode()).isEqualTo(404);
  }

  @Test
  void managedFieldsCanBeResetAndReplacedWithAResourceVersionPrecondition() throws Exception {
    HttpResponse<String> r = server.request("POST", "/api/v1/namespaces/default/configmaps?fieldManager=creator", "application/json",
        cm("c2", "{\"a\":\"1\"}"));
    assertThat(r.statusCode()).isEqualTo(201);
    JsonNode created = body(r);
    assertThat(created.at("/metadata/managedFields/0/manager").asText()).isEqualTo("creator");
    assertThat(created.at("/metadata/managedFields/0/operation").asText()).isEqualTo("Update");
    String rv = created.at("/metadata/resourceVersion").asText();

    // The JSON patch kubectl's csaupgrade sends: a stale resourceVersion is a conflict.
    String entries = "[{\"manager\":\"kubectl\",\"operation\":\"Apply\",\"apiVersion\":\"v1\",\"time\":\"2026-01-01T00:00:00Z\","
        + "\"fieldsType\":\"FieldsV1\",\"fieldsV1\":{\"f:data\":{\"f:a\":{}}}}]";
    String patch = "[{\"op\":\"replace\",\"path\":\"/metadata/managedFields\",\"value\":" + entries + "},"
        + "{\"op\":\"replace\",\"path\":\"/metadata/resourceVersion\",\"value\":\"%s\"}]";
    r = server.request("PATCH", CM + "c2?fieldManager=kubectl", "application/json-patch+json", patch.formatted("1"));
    assertThat(r.statusCode()).isEqualTo(409);
    assertThat(body(r).path("message").asText()).contains("the object has been modified");

    r = server.request("PATCH", CM + "c2?fieldManager=kubectl", "application/json-patch+json", patch.formatted(rv));
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode replaced = body(r);
    assertThat(replaced.at("/metadata/managedFields")).hasSize(1);
    assertThat(replaced.at("/metadata/managedFields/0/manager").asText()).isEqualTo("kubectl");
    assertThat(replaced.at("/metadata/resourceVersion").asText()).isNotEqualTo(rv);

    // [{}] clears them.
    r = server.request("PATCH", CM + "c2", "application/merge-patch+json", "{\"metadata\":{\"managedFields\":[{}]}}");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(body(r).path("metadata").has("managedFields")).isFalse();
    assertThat(body(server.request("GET", CM + "c2", null, null)).path("metadata").has("managedFields")).isFalse();
  }

  @Test
  void updatesTakeOwnershipAndStatusWritesRecordTheSubresource() throws Exception {
    String deploy = """
        {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d1"},
         "spec":{"replicas":1,"selector":{"matchLabels":{"app":"d1"}},
           "template":{"metadata":{"labels":{"app":"d1"}},"spec":{"containers":[{"name":"c","image":"nginx"}]}}}}""";
    String url = "/apis/apps/v1/namespaces/default/deployments/d1";
    assertThat(server.request("PATCH", url + "?fieldManager=applier", APPLY, deploy).statusCode()).isEqualTo(201);
    HttpResponse<String> r = server.request("PATCH", url + "?fieldManager=scaler", "application/merge-patch+json",
        "{\"spec\":{\"replicas\":3}}");
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode obj = body(r);
    JsonNode applier = null;
    JsonNode scaler = null;
    for (JsonNode e : obj.at("/metadata/managedFields")) {
      if (e.path("manager").asText().equals("applier")) {
        applier = e;
      } else if (e.path("manager").asText().equals("scaler")) {
        scaler = e;
      }
    }
    assertThat(scaler.path("operation").asText()).isEqualTo("Update");
    assertThat(scaler.path("fieldsV1").toString()).isEqualTo("{\"f:spec\":{\"f:replicas\":{}}}");
    assertThat(applier.at("/fieldsV1/f:spec").has("f:replicas")).isFalse();

    // The applier now conflicts with the Update manager.
    r = server.request("PATCH", url + "?fieldManager=applier", APPLY, deploy);
    assertThat(r.statusCode()).isEqualTo(409);
    assertThat(body(r).path("message").asText())
        .isEqualTo("Apply failed with 1 conflict: conflict with \"scaler\" using apps/v1: .spec.replicas");

    JsonNode current = body(server.request("GET", url, null, null));
    ((com.fasterxml.jackson.databind.node.ObjectNode) current).putObject("status").put("replicas", 3);
    r = server.request("PUT", url + "/status?fieldManager=controller", "application/json", current.toString());
    assertThat(r.statusCode()).isEqualTo(200);
    JsonNode ctl = null;
    for (JsonNode e : body(r).at("/metadata/managedFields")) {
      if (e.path("manager").asText().equals("controller")) {
        ctl = e;
      }
    }
    assertThat(ctl.path("subresource").asText()).isEqualTo("status");
    assertThat(ctl.path("fieldsV1").toString()).isEqualTo("{\"f:status\":{\"f:replicas\":{}}}");
  }
}
