package dev.skiff.apiserver.rbac;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.http.BodyDecoder;
import dev.skiff.apiserver.pki.ClusterPki;
import dev.skiff.apiserver.pki.Kubeconfig;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.testing.TestServer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The review APIs over plain HTTP: who may create them and what they answer. */
class ReviewsHttpTest {
  static TestServer server;
  static HttpClient erin;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
    Kubeconfig kc = server.server().pki().issueClientCertificate("erin", List.of("devs"), Duration.ofHours(1))
        .kubeconfig(ClusterPki.CLUSTER_NAME, server.url(), "erin");
    erin = HttpClient.newBuilder().sslContext(kc.sslContext()).build();
    server.request("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", "application/json", """
        {"metadata":{"name":"devs-edit"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"edit"},
         "subjects":[{"apiGroup":"rbac.authorization.k8s.io","kind":"Group","name":"devs"}]}""");
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  static HttpResponse<String> post(HttpClient c, String path, String contentType, byte[] body) throws Exception {
    return c.send(HttpRequest.newBuilder(URI.create(server.url() + path)).header("Content-Type", contentType)
        .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(), HttpResponse.BodyHandlers.ofString());
  }

  static JsonNode json(HttpResponse<String> r) {
    return Json.parse(r.body().getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void selfSubjectAccessReviewAnswersForTheCaller() throws Exception {
    String review = """
        {"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview",
         "spec":{"resourceAttributes":{"namespace":"default","verb":"create","resource":"deployments","group":"apps"}}}""";
    var r = post(erin, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "application/json", review.getBytes());
    assertThat(r.statusCode()).isEqualTo(201);
    assertThat(json(r).path("status").path("allowed").asBoolean()).isTrue();
    var other = post(erin, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "application/json",
        review.replace("\"default\"", "\"kube-system\"").getBytes());
    assertThat(json(other).path("status").path("allowed").asBoolean()).isFalse();
    var url = post(erin, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "application/json", """
        {"spec":{"nonResourceAttributes":{"path":"/apis/apps","verb":"get"}}}""".getBytes());
    assertThat(json(url).path("status").path("allowed").asBoolean()).isTrue();
  }

  @Test
  void subjectAccessReviewNeedsTheRightToCreateIt() throws Exception {
    String sar = """
        {"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview",
         "spec":{"user":"erin","groups":["devs"],"resourceAttributes":{"namespace":"default","verb":"delete","resource":"pods"}}}""";
    var refused = post(erin, "/apis/authorization.k8s.io/v1/subjectaccessreviews", "application/json", sar.getBytes());
    assertThat(refused.statusCode()).isEqualTo(403);
    assertThat(json(refused).path("message").asText()).isEqualTo(
        "subjectaccessreviews.authorization.k8s.io is forbidden: User \"erin\" cannot create resource \"subjectaccessreviews\" in API group \"authorization.k8s.io\" at the cluster scope");
    var asAdmin = server.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", "application/json", sar);
    assertThat(asAdmin.statusCode()).isEqualTo(201);
    assertThat(json(asAdmin).path("status").path("allowed").asBoolean()).isTrue();
    var noGroups = server.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", "application/json",
        sar.replace("\"groups\":[\"devs\"],", ""));
    assertThat(json(noGroups).path("status").path("allowed").asBoolean()).isFalse();
  }

  @Test
  void localSubjectAccessReviewIsNamespaced() throws Exception {
    String lsar = """
        {"apiVersion":"authorization.k8s.io/v1","kind":"LocalSubjectAccessReview",
         "spec":{"user":"erin","groups":["devs"],"resourceAttributes":{"verb":"list","resource":"secrets"}}}""";
    var r = server.request("POST", "/apis/authorization.k8s.io/v1/namespaces/default/localsubjectaccessreviews", "application/json", lsar);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    assertThat(json(r).path("status").path("allowed").asBoolean()).isTrue();
    assertThat(json(r).path("spec").path("resourceAttributes").path("namespace").asText()).isEqualTo("default");
    var elsewhere = server.request("POST", "/apis/authorization.k8s.io/v1/namespaces/kube-system/localsubjectaccessreviews",
        "application/json", lsar);
    assertThat(json(elsewhere).path("status").path("allowed").asBoolean()).isFalse();
  }

  @Test
  void selfSubjectRulesReviewListsTheRulesInANamespace() throws Exception {
    var r = post(erin, "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", "application/json", """
        {"spec":{"namespace":"default"}}""".getBytes());
    assertThat(r.statusCode()).isEqualTo(201);
    String rules = json(r).path("status").path("resourceRules").toString();
    assertThat(rules).contains("deployments").contains("selfsubjectaccessreviews");
    assertThat(json(r).path("status").path("nonResourceRules").toString()).contains("/apis/*");
    assertThat(json(r).path("status").path("incomplete").asBoolean()).isFalse();
  }

  @Test
  void reviewsAreInDiscovery() throws Exception {
    var r = server.request("GET", "/apis/authorization.k8s.io/v1", null, null);
    assertThat(r.body()).contains("selfsubjectaccessreviews", "selfsubjectrulesreviews", "subjectaccessreviews", "localsubjectaccessreviews");
    assertThat(server.request("GET", "/apis/authentication.k8s.io/v1", null, null).body()).contains("selfsubjectreviews");
    var index = server.request("GET", "/openapi/v3", null, null);
    assertThat(index.statusCode()).isEqualTo(200);
    assertThat(index.body()).contains("apis/authorization.k8s.io/v1", "apis/authentication.k8s.io/v1");
    for (String gv : List.of("apis/authorization.k8s.io/v1", "apis/authentication.k8s.io/v1", "apis/authentication.k8s.io/v1beta1")) {
      var doc = server.request("GET", "/openapi/v3/" + gv, null, null);
      assertThat(doc.statusCode()).as(gv).isEqualTo(200);
    }
  }

  @Test
  void protobufBodiesGoThroughTheRegisteredDecoder() throws Exception {
    byte[] marker = "k8s\0fake".getBytes(StandardCharsets.ISO_8859_1);
    var before = post(erin, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "application/vnd.kubernetes.protobuf", marker);
    // The server's own protobuf decoder refuses a body that is not a protobuf message.
    assertThat(before.statusCode()).isEqualTo(400);
    AtomicInteger calls = new AtomicInteger();
    server.server().handler().addBodyDecoder(new BodyDecoder() {
      @Override
      public String mediaType() {
        return "application/vnd.kubernetes.protobuf";
      }

      @Override
      public ObjectNode decode(ResourceDescriptor expected, byte[] body) {
        calls.incrementAndGet();
        assertThat(expected.kind).isEqualTo("SelfSubjectAccessReview");
        return Json.parseObject("""
            {"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview",
             "spec":{"resourceAttributes":{"namespace":"default","verb":"get","resource":"pods"}}}""".getBytes());
      }
    });
    var after = post(erin, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "application/vnd.kubernetes.protobuf", marker);
    assertThat(after.statusCode()).isEqualTo(201);
    assertThat(calls.get()).isEqualTo(1);
    assertThat(json(after).path("status").path("allowed").asBoolean()).isTrue();
  }
}
