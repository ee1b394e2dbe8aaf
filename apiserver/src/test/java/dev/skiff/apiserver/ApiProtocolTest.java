package dev.skiff.apiserver;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.testing.TestServer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Wire-level API semantics that kubectl's everyday commands do not exercise. */
class ApiProtocolTest {
  private static TestServer s;

  @BeforeAll
  static void start() throws Exception {
    s = TestServer.start();
  }

  @AfterAll
  static void stop() throws Exception {
    s.close();
  }

  private static JsonNode json(HttpResponse<String> r) {
    return Json.parse(r.body().getBytes(StandardCharsets.UTF_8));
  }

  private static String cm(String name, String labels) {
    return "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" + name + "\",\"labels\":{" + labels + "}},\"data\":{\"k\":\"v\"}}";
  }

  private static HttpResponse<String> post(String ns, String body) throws Exception {
    return s.request("POST", "/api/v1/namespaces/" + ns + "/configmaps", "application/json", body);
  }

  private static void namespace(String name) throws Exception {
    var r = s.request("POST", "/api/v1/namespaces", "application/json",
        "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"" + name + "\"}}");
    assertThat(r.statusCode()).isEqualTo(201);
  }

  @Test
  void pagingServesOneConsistentSnapshot() throws Exception {
    namespace("paging");
    for (int i = 0; i < 7; i++) {
      assertThat(post("paging", cm("c" + i, "")).statusCode()).isEqualTo(201);
    }
    var first = json(s.request("GET", "/api/v1/namespaces/paging/configmaps?limit=3", null, null));
    assertThat(first.path("items").size()).isEqualTo(3);
    String rv = first.path("metadata").path("resourceVersion").asText();
    String cont = first.path("metadata").path("continue").asText();
    assertThat(first.path("metadata").path("remainingItemCount").asInt()).isEqualTo(4);
    post("paging", cm("c9", ""));
    List<String> names = new ArrayList<>();
    first.path("items").forEach(i -> names.add(i.path("metadata").path("name").asText()));
    while (!cont.isEmpty()) {
      var page = json(s.request("GET", "/api/v1/namespaces/paging/configmaps?limit=3&continue=" + cont, null, null));
      assertThat(page.path("metadata").path("resourceVersion").asText()).isEqualTo(rv);
      page.path("items").forEach(i -> names.add(i.path("metadata").path("name").asText()));
      cont = page.path("metadata").path("continue").asText("");
    }
    assertThat(names).containsExactly("c0", "c1", "c2", "c3", "c4", "c5", "c6");
    var bad = s.request("GET", "/api/v1/namespaces/paging/configmaps?limit=3&continue=" + "bm9zdWNoOjM", null, null);
    assertThat(bad.statusCode()).isEqualTo(410);
    assertThat(json(bad).path("reason").asText()).isEqualTo("Expired");
  }

  @Test
  void watchListSendsInitialEventsThenABookmark() throws Exception {
    namespace("watchlist");
    post("watchlist", cm("a", ""));
    post("watchlist", cm("b", ""));
    HttpRequest req = HttpRequest.newBuilder(URI.create(s.url()
        + "/api/v1/namespaces/watchlist/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true&timeoutSeconds=5"))
        .build();
    var resp = s.http().send(req, HttpResponse.BodyHandlers.ofInputStream());
    try (BufferedReader in = new BufferedReader(new InputStreamReader(resp.body(), StandardCharsets.UTF_8))) {
      JsonNode e1 = Json.parse(in.readLine().getBytes(StandardCharsets.UTF_8));
      JsonNode e2 = Json.parse(in.readLine().getBytes(StandardCharsets.UTF_8));
      JsonNode e3 = Json.parse(in.readLine().getBytes(StandardCharsets.UTF_8));
      assertThat(e1.path("type").asText()).isEqualTo("ADDED");
      assertThat(e2.path("type").asText()).isEqualTo("ADDED");
      assertThat(e3.path("type").asText()).isEqualTo("BOOKMARK");
      assertThat(e3.path("object").path("metadata").path("annotations").path("k8s.io/initial-events-end").asText()).isEqualTo("true");
    }
  }

  @Test
  void watchTablesCarryColumnsInTheFirstEventOnly() throws Exception {
    namespace("wtable");
    post("wtable", cm("a", ""));
    post("wtable", cm("b", ""));
    HttpRequest req = HttpRequest.newBuilder(URI.create(s.url() + "/api/v1/namespaces/wtable/configmaps?watch=true&timeoutSeconds=2"))
        .header("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").build();
    var body = s.http().send(req, HttpResponse.BodyHandlers.ofString()).body();
    String[] lines = body.split("\n");
    assertThat(lines).hasSize(2);
    assertThat(Json.parse(lines[0].getBytes()).path("object").path("columnDefinitions").size()).isGreaterThan(0);
    assertThat(Json.parse(lines[1].getBytes()).path("object").path("columnDefinitions").size()).isZero();
    assertThat(Json.parse(lines[1].getBytes()).path("object").path("rows").get(0).path("cells").get(0).asText()).isEqualTo("b");
  }

  @Test
  void dryRunStoresNothingAndWarnModeWarns() throws Exception {
    namespace("dry");
    var r = s.request("POST", "/api/v1/namespaces/dry/configmaps?dryRun=All", "application/json", cm("d", ""));
    assertThat(r.statusCode()).isEqualTo(201);
    assertThat(s.request("GET", "/api/v1/namespaces/dry/configmaps/d", null, null).statusCode()).isEqualTo(404);
    var w = s.request("POST", "/api/v1/namespaces/dry/configmaps?fieldValidation=Warn", "application/json",
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"w\"},\"bogus\":1}");
    assertThat(w.statusCode()).isEqualTo(201);
    assertThat(w.headers().allValues("Warning")).containsExactly("299 - \"unknown field \\\"bogus\\\"\"");
    assertThat(json(w).has("bogus")).isFalse();
    var strict = s.request("POST", "/api/v1/namespaces/dry/configmaps?fieldValidation=Strict", "application/json",
        "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"x\"},\"bogus\":1}");
    assertThat(strict.statusCode()).isEqualTo(400);
    assertThat(json(strict).path("message").asText()).isEqualTo("strict decoding error: unknown field \"bogus\"");
  }

  @Test
  void deleteCollectionBySelector() throws Exception {
    namespace("coll");
    post("coll", cm("a", "\"x\":\"1\""));
    post("coll", cm("b", "\"x\":\"1\""));
    post("coll", cm("c", "\"x\":\"2\""));
    var r = s.request("DELETE", "/api/v1/namespaces/coll/configmaps?labelSelector=x%3D1", null, null);
    assertThat(r.statusCode()).isEqualTo(200);
    var left = json(s.request("GET", "/api/v1/namespaces/coll/configmaps", null, null));
    assertThat(left.path("items").size()).isEqualTo(1);
    assertThat(left.path("items").get(0).path("metadata").path("name").asText()).isEqualTo("c");
  }

  @Test
  void scaleSubresource() throws Exception {
    namespace("scale");
    var d = s.request("POST", "/apis/apps/v1/namespaces/scale/deployments", "application/json",
        "{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},\"spec\":{\"replicas\":1,"
            + "\"selector\":{\"matchLabels\":{\"app\":\"w\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"w\"}},"
            + "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}}");
    assertThat(d.statusCode()).isEqualTo(201);
    var scale = json(s.request("GET", "/apis/apps/v1/namespaces/scale/deployments/web/scale", null, null));
    assertThat(scale.path("kind").asText()).isEqualTo("Scale");
    assertThat(scale.path("apiVersion").asText()).isEqualTo("autoscaling/v1");
    assertThat(scale.path("spec").path("replicas").asInt()).isEqualTo(1);
    var put = s.request("PUT", "/apis/apps/v1/namespaces/scale/deployments/web/scale", null,
        "{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":{\"name\":\"web\",\"namespace\":\"scale\",\"resourceVersion\":\""
            + scale.path("metadata").path("resourceVersion").asText() + "\"},\"spec\":{\"replicas\":4}}");
    assertThat(put.statusCode()).isEqualTo(200);
    assertThat(json(s.request("GET", "/apis/apps/v1/namespaces/scale/deployments/web", null, null)).path("spec").path("replicas").asInt())
        .isEqualTo(4);
    var stale = s.request("PUT", "/apis/apps/v1/namespaces/scale/deployments/web/scale", null,
        "{\"kind\":\"Scale\",\"apiVersion\":\"autoscaling/v1\",\"metadata\":{\"name\":\"web\",\"resourceVersion\":\""
            + scale.path("metadata").path("resourceVersion").asText() + "\"},\"spec\":{\"replicas\":5}}");
    assertThat(stale.statusCode()).isEqualTo(409);
  }

  @Test
  void authenticationRules() throws Exception {
    HttpClient anonymous = HttpClient.newBuilder().sslContext(trustCa()).build();
    var health = anonymous.send(HttpRequest.newBuilder(URI.create(s.url() + "/healthz")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(health.statusCode()).isEqualTo(200);
    var version = anonymous.send(HttpRequest.newBuilder(URI.create(s.url() + "/version")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(json(version).path("minor").asText()).isEqualTo("32");
    var denied = anonymous.send(HttpRequest.newBuilder(URI.create(s.url() + "/api/v1/namespaces")).build(), HttpResponse.BodyHandlers.ofString());
    assertThat(denied.statusCode()).isEqualTo(401);
    assertThat(json(denied).path("reason").asText()).isEqualTo("Unauthorized");
    Files.writeString(s.server().kubeconfig().resolveSibling("tokens.csv"), "s3cret,alice,uid-1,\"devs,ops\"\n");
    var withToken = anonymous.send(HttpRequest.newBuilder(URI.create(s.url() + "/api/v1/namespaces"))
        .header("Authorization", "Bearer s3cret").build(), HttpResponse.BodyHandlers.ofString());
    // Authenticated as alice (not 401), but RBAC grants her nothing.
    assertThat(withToken.statusCode()).isEqualTo(403);
    assertThat(json(withToken).path("message").asText())
        .isEqualTo("namespaces is forbidden: User \"alice\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope");
    var badToken = anonymous.send(HttpRequest.newBuilder(URI.create(s.url() + "/api/v1/namespaces"))
        .header("Authorization", "Bearer wrong").build(), HttpResponse.BodyHandlers.ofString());
    assertThat(badToken.statusCode()).isEqualTo(401);
  }

  @Test
  void impersonationRunsTheRequestAsTheImpersonatedUser() throws Exception {
    HttpRequest asNobody = HttpRequest.newBuilder(URI.create(s.url() + "/api/v1/namespaces"))
        .header("Impersonate-User", "nobody").build();
    var r = s.http().send(asNobody, HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(json(r).path("message").asText()).contains("User \"nobody\" cannot list resource \"namespaces\"");
    var bob = s.server().pki().issueClientCertificate("bob", java.util.List.of(), Duration.ofHours(1))
        .kubeconfig("skiff", s.url(), "bob");
    HttpClient asBob = HttpClient.newBuilder().sslContext(bob.sslContext()).build();
    var denied = asBob.send(HttpRequest.newBuilder(URI.create(s.url() + "/api/v1/namespaces"))
        .header("Impersonate-User", "skiff-admin").header("Impersonate-Group", "system:masters").build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(denied.statusCode()).isEqualTo(403);
    assertThat(json(denied).path("message").asText()).isEqualTo(
        "users \"skiff-admin\" is forbidden: User \"bob\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope");
  }

  @Test
  void priorityClassesResolveIntoPodPriority() throws Exception {
    namespace("prio");
    s.request("POST", "/apis/scheduling.k8s.io/v1/priorityclasses", "application/json",
        "{\"apiVersion\":\"scheduling.k8s.io/v1\",\"kind\":\"PriorityClass\",\"metadata\":{\"name\":\"high\"},\"value\":1000,"
            + "\"preemptionPolicy\":\"Never\"}");
    String pod = "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"%s\"},\"spec\":{%s\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}";
    var high = json(s.request("POST", "/api/v1/namespaces/prio/pods", "application/json", pod.formatted("p1", "\"priorityClassName\":\"high\",")));
    assertThat(high.path("spec").path("priority").asInt()).isEqualTo(1000);
    assertThat(high.path("spec").path("preemptionPolicy").asText()).isEqualTo("Never");
    var crit = json(s.request("POST", "/api/v1/namespaces/prio/pods", "application/json", pod.formatted("p2", "\"priorityClassName\":\"system-node-critical\",")));
    assertThat(crit.path("spec").path("priority").asInt()).isEqualTo(2_000_001_000);
    var unknown = s.request("POST", "/api/v1/namespaces/prio/pods", "application/json", pod.formatted("p3", "\"priorityClassName\":\"nosuch\","));
    assertThat(unknown.statusCode()).isEqualTo(403);
    assertThat(json(unknown).path("message").asText()).isEqualTo("pods \"p3\" is forbidden: no PriorityClass with name nosuch was found");
    assertThat(json(s.request("POST", "/api/v1/namespaces/prio/pods", "application/json", pod.formatted("p4", ""))).path("spec").path("priority").asInt())
        .isZero();
  }

  private static javax.net.ssl.SSLContext trustCa() throws Exception {
    var ks = java.security.KeyStore.getInstance("PKCS12");
    ks.load(null, null);
    ks.setCertificateEntry("ca", s.server().pki().caCertificate());
    var tmf = javax.net.ssl.TrustManagerFactory.getInstance(javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(ks);
    var ctx = javax.net.ssl.SSLContext.getInstance("TLS");
    ctx.init(null, tmf.getTrustManagers(), null);
    return ctx;
  }

  @Test
  void largeListsAreGzippedWhenAcceptedAndHttp2IsNegotiated() throws Exception {
    namespace("big");
    String payload = "x".repeat(20_000);
    for (int i = 0; i < 10; i++) {
      post("big", "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"g" + i + "\"},\"data\":{\"k\":\"" + payload + "\"}}");
    }
    HttpRequest req = HttpRequest.newBuilder(URI.create(s.url() + "/api/v1/namespaces/big/configmaps"))
        .header("Accept-Encoding", "gzip").timeout(Duration.ofSeconds(10)).build();
    var r = s.http().send(req, HttpResponse.BodyHandlers.ofByteArray());
    assertThat(r.version()).isEqualTo(HttpClient.Version.HTTP_2);
    assertThat(r.headers().firstValue("Content-Encoding")).contains("gzip");
    byte[] plain = new GZIPInputStream(new java.io.ByteArrayInputStream(r.body())).readAllBytes();
    assertThat(Json.parse(plain).path("items").size()).isEqualTo(10);
  }

  @Test
  void metricsExposeRequestsAndStoreLatency() throws Exception {
    s.request("GET", "/api/v1/namespaces", null, null);
    // A request is counted once its answer has been sent, so the count may trail the answer a little.
    String m = "";
    for (int i = 0; i < 100 && !m.contains("resource=\"namespaces\",verb=\"LIST\""); i++) {
      m = s.request("GET", "/metrics", null, null).body();
      Thread.sleep(20);
    }
    assertThat(m).contains("apiserver_request_total{code=\"200\",resource=\"namespaces\",verb=\"LIST\"}")
        .contains("apiserver_request_duration_seconds_bucket").contains("etcd_request_duration_seconds_count{operation=\"create\"}")
        .contains("apiserver_watch_cache_objects{resource=\"/registry/core/namespaces/\"}");
  }
}
