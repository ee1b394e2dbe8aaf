package dev.skiff.runtime;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.skiff.apiserver.testing.TestServer;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.http.HttpClient;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.HttpResponse;
import io.fabric8.kubernetes.client.http.WebSocket;
import io.fabric8.kubernetes.client.vertx.VertxHttpClientFactory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The in-JVM transport ({@link InProcessHttpClientFactory}) against a real API server in the same
 * JVM: requests, errors, streaming, watch cancellation, and that it authenticates exactly as the
 * loopback transport does.
 */
class InProcessTransportTest {
  static TestServer server;
  static InProcessApi api;
  static KubernetesClient client;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
    api = new InJvmApi(server.server());
    client = Clients.inProcess(server.kubeconfig(), api);
  }

  @AfterAll
  static void stop() throws Exception {
    client.close();
    server.close();
  }

  static void namespace(String ns) {
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
  }

  @Test
  void createGetListPatchUpdateDelete() {
    namespace("crud");
    var cms = client.configMaps().inNamespace("crud");
    ConfigMap created = cms.resource(new ConfigMapBuilder().withNewMetadata().withName("a").endMetadata()
        .withData(Map.of("k", "1")).build()).create();
    assertThat(created.getMetadata().getUid()).isNotEmpty();
    assertThat(cms.withName("a").get().getData()).containsEntry("k", "1");
    cms.resource(new ConfigMapBuilder().withNewMetadata().withName("b").endMetadata().build()).create();
    assertThat(cms.list().getItems()).extracting(c -> c.getMetadata().getName()).containsExactly("a", "b");

    ConfigMap patched = cms.withName("a").patch(PatchContext.of(PatchType.JSON_MERGE), "{\"data\":{\"k\":\"2\"}}");
    assertThat(patched.getData()).containsEntry("k", "2");
    ConfigMap updated = cms.withName("a").edit(c -> new ConfigMapBuilder(c).addToData("x", "y").build());
    assertThat(updated.getData()).containsEntry("x", "y");
    assertThat(updated.getMetadata().getResourceVersion()).isNotEqualTo(patched.getMetadata().getResourceVersion());

    assertThat(cms.withName("a").delete()).hasSize(1);
    assertThat(cms.withName("a").get()).isNull();
    assertThat(cms.list().getItems()).extracting(c -> c.getMetadata().getName()).containsExactly("b");
  }

  @Test
  void errorsArriveAsStatus() {
    namespace("errors");
    var cms = client.configMaps().inNamespace("errors");
    cms.resource(new ConfigMapBuilder().withNewMetadata().withName("dup").endMetadata().build()).create();
    assertThatThrownBy(() -> cms.resource(new ConfigMapBuilder().withNewMetadata().withName("dup").endMetadata().build()).create())
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> {
          assertThat(e.getCode()).isEqualTo(409);
          assertThat(e.getStatus().getReason()).isEqualTo("AlreadyExists");
          assertThat(e.getStatus().getDetails().getName()).isEqualTo("dup");
        });
    assertThatThrownBy(() -> cms.resource(new ConfigMapBuilder().withNewMetadata().withName("Not_Valid").endMetadata().build()).create())
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> {
          assertThat(e.getCode()).isEqualTo(422);
          assertThat(e.getStatus().getReason()).isEqualTo("Invalid");
        });
    assertThatThrownBy(() -> cms.withName("missing").edit(c -> c))
        .isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(404));
  }

  @Test
  void largeBodiesStreamBothWays() {
    namespace("large");
    var cms = client.configMaps().inNamespace("large");
    String big = "x".repeat(512 * 1024);
    cms.resource(new ConfigMapBuilder().withNewMetadata().withName("big").endMetadata().withData(Map.of("k", big)).build()).create();
    for (int i = 0; i < 300; i++) {
      cms.resource(new ConfigMapBuilder().withNewMetadata().withName("cm-" + i).endMetadata()
          .withData(Map.of("k", "y".repeat(1024))).build()).create();
    }
    // A list well over the server's gzip/streaming threshold arrives whole, in many chunks.
    var items = cms.list().getItems();
    assertThat(items).hasSize(301);
    assertThat(cms.withName("big").get().getData().get("k")).isEqualTo(big);
  }

  @Test
  void watchDeliversEventsAndClosingItFreesTheServerSide() throws Exception {
    namespace("watch");
    var cms = client.configMaps().inNamespace("watch");
    var cache = server.server().registry().store("", "v1", "configmaps").cache();
    long before = cache.stats().get("watchers");
    List<String> events = new CopyOnWriteArrayList<>();
    List<WatcherException> closes = new CopyOnWriteArrayList<>();
    Watch watch = cms.watch(new Watcher<ConfigMap>() {
      @Override
      public void eventReceived(Action action, ConfigMap cm) {
        events.add(action + " " + cm.getMetadata().getName());
      }

      @Override
      public void onClose(WatcherException cause) {
        closes.add(cause);
      }
    });
    assertThat(Poll.until(Duration.ofSeconds(10), () -> cache.stats().get("watchers") == before + 1)).isTrue();
    cms.resource(new ConfigMapBuilder().withNewMetadata().withName("w1").endMetadata().build()).create();
    cms.withName("w1").delete();
    assertThat(Poll.until(Duration.ofSeconds(10), () -> events.size() >= 2)).as(events.toString()).isTrue();
    assertThat(events).containsExactly("ADDED w1", "DELETED w1");

    watch.close();
    // The server's watcher goes with the client's close, not at its next event or its timeout.
    assertThat(Poll.until(Duration.ofSeconds(10), () -> cache.stats().get("watchers") == before)).isTrue();
    assertThat(closes).isEmpty();
  }

  @Test
  void closingTheClientCancelsItsWatches() throws Exception {
    namespace("close");
    var cache = server.server().registry().store("", "v1", "configmaps").cache();
    long before = cache.stats().get("watchers");
    KubernetesClient other = Clients.inProcess(server.kubeconfig(), api);
    SharedInformers informers = new SharedInformers(other);
    informers.informerFor(ConfigMap.class);
    informers.start();
    assertThat(informers.waitForCacheSync(Duration.ofSeconds(10))).isTrue();
    assertThat(Poll.until(Duration.ofSeconds(10), () -> cache.stats().get("watchers") == before + 1)).isTrue();
    informers.close();
    other.close();
    assertThat(Poll.until(Duration.ofSeconds(10), () -> cache.stats().get("watchers") == before)).isTrue();
  }

  @Test
  void authenticatesAsTheKubeconfigUserLikeLoopback() throws Exception {
    // The admin kubeconfig's certificate: the same user and groups in-JVM as over TLS.
    JsonNode inJvm = selfSubjectReview(client.getHttpClient(), server.url());
    try (KubernetesClient loopback = Clients.forKubeconfig(server.kubeconfig(), new VertxHttpClientFactory())) {
      JsonNode overTls = selfSubjectReview(loopback.getHttpClient(), server.url());
      assertThat(inJvm.path("status").path("userInfo")).isEqualTo(overTls.path("status").path("userInfo"));
    }
    assertThat(inJvm.path("status").path("userInfo").path("groups").toString()).contains("system:masters");

    // A ServiceAccount token without any RBAC grant: authenticated as the SA, then forbidden.
    client.serviceAccounts().inNamespace("default").resource(new ServiceAccountBuilder().withNewMetadata()
        .withName("robot").endMetadata().build()).create();
    HttpResponse<String> tr = client.getHttpClient().sendAsync(client.getHttpClient().newHttpRequestBuilder()
        .uri(server.url() + "/api/v1/namespaces/default/serviceaccounts/robot/token")
        .post("application/json", "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"TokenRequest\",\"spec\":{}}"
            .getBytes(StandardCharsets.UTF_8)).build(), String.class).get(30, TimeUnit.SECONDS);
    assertThat(tr.code()).as(tr.body()).isEqualTo(201);
    String token = new ObjectMapper().readTree(tr.body()).path("status").path("token").asText();
    try (KubernetesClient robot = tokenClient(token, true); KubernetesClient robotTls = tokenClient(token, false)) {
      JsonNode who = selfSubjectReview(robot.getHttpClient(), server.url());
      assertThat(who.path("status").path("userInfo").path("username").asText()).isEqualTo("system:serviceaccount:default:robot");
      KubernetesClientException inJvmError = catchForbidden(robot);
      KubernetesClientException tlsError = catchForbidden(robotTls);
      assertThat(inJvmError.getCode()).isEqualTo(403);
      assertThat(inJvmError.getStatus().getMessage()).isEqualTo(tlsError.getStatus().getMessage())
          .contains("User \"system:serviceaccount:default:robot\" cannot list resource \"pods\"");
    }
    // No credentials at all: 401, as over TLS without a certificate.
    try (KubernetesClient nobody = tokenClient(null, true)) {
      assertThatThrownBy(() -> nobody.pods().inNamespace("default").list())
          .isInstanceOfSatisfying(KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(401));
    }
  }

  @Test
  void webSocketsFallBackToLoopback() throws Exception {
    namespace("ws");
    HttpClient http = client.getHttpClient();
    List<String> messages = new CopyOnWriteArrayList<>();
    WebSocket ws = http.newWebSocketBuilder()
        .uri(java.net.URI.create(server.url() + "/api/v1/namespaces/ws/configmaps?watch=true"))
        .buildAsync(new WebSocket.Listener() {
          @Override
          public void onMessage(WebSocket webSocket, String text) {
            messages.add(text);
            webSocket.request();
          }

          @Override
          public void onMessage(WebSocket webSocket, ByteBuffer bytes) {
            messages.add(StandardCharsets.UTF_8.decode(bytes).toString());
            webSocket.request();
          }
        }).get(30, TimeUnit.SECONDS);
    try {
      client.configMaps().inNamespace("ws").resource(new ConfigMapBuilder().withNewMetadata().withName("over-ws")
          .endMetadata().build()).create();
      assertThat(Poll.until(Duration.ofSeconds(10), () -> !messages.isEmpty())).isTrue();
      assertThat(messages.get(0)).contains("\"ADDED\"").contains("over-ws");
    } finally {
      ws.sendClose(1000, null);
    }
  }

  private static KubernetesClientException catchForbidden(KubernetesClient c) {
    try {
      c.pods().inNamespace("kube-system").list();
    } catch (KubernetesClientException e) {
      return e;
    }
    throw new AssertionError("listing pods as the robot was allowed");
  }

  /** A client with only a bearer token (or nothing), in-JVM or over loopback TLS. */
  private static KubernetesClient tokenClient(String token, boolean inJvm) throws Exception {
    Config config = Config.fromKubeconfig(Files.readString(server.kubeconfig()));
    config.setClientCertData(null);
    config.setClientCertFile(null);
    config.setClientKeyData(null);
    config.setClientKeyFile(null);
    config.setOauthToken(token);
    config.setOnlyHttpWatches(inJvm);
    return new KubernetesClientBuilder().withConfig(config)
        .withHttpClientFactory(inJvm ? new InProcessHttpClientFactory(api, VertxHttpClientFactory::new) : new VertxHttpClientFactory())
        .build();
  }

  private static JsonNode selfSubjectReview(HttpClient http, String url) throws Exception {
    HttpRequest req = http.newHttpRequestBuilder().uri(url + "/apis/authentication.k8s.io/v1/selfsubjectreviews")
        .post("application/json", "{\"apiVersion\":\"authentication.k8s.io/v1\",\"kind\":\"SelfSubjectReview\"}"
            .getBytes(StandardCharsets.UTF_8)).build();
    HttpResponse<String> r = http.sendAsync(req, String.class).get(30, TimeUnit.SECONDS);
    assertThat(r.code()).as(r.body()).isEqualTo(201);
    return new ObjectMapper().readTree(r.body());
  }
}
