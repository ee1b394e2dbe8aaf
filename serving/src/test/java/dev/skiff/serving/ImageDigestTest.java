package dev.skiff.serving;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import dev.skiff.serving.v1.Revision;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Tag-to-digest resolution against loopback servers speaking the registry v2 manifest HEAD (with
 * an anonymous Bearer token challenge), an HTTP proxy, a silent registry and a closed port.
 */
class ImageDigestTest {
  static final String DIGEST = "sha256:" + "ab".repeat(32);
  static TestServer server;
  static Kubectl kubectl;
  static KubernetesClient client;
  static AutoCloseable serving;
  static HttpServer registry;
  static HttpServer proxy;
  static ServerSocket silent;
  static final List<String> proxied = new CopyOnWriteArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    registry = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    registry.createContext("/token", ex -> {
      byte[] b = "{\"token\":\"t0k\"}".getBytes();
      ex.sendResponseHeaders(200, b.length);
      ex.getResponseBody().write(b);
      ex.close();
    });
    registry.createContext("/v2/", ex -> {
      String auth = ex.getRequestHeaders().getFirst("Authorization");
      if (!"Bearer t0k".equals(auth)) {
        ex.getResponseHeaders().add("WWW-Authenticate", "Bearer realm=\"http://127.0.0.1:" + registry.getAddress().getPort()
            + "/token\",service=\"test\",scope=\"repository:demo/app:pull\"");
        ex.sendResponseHeaders(401, -1);
      } else if (ex.getRequestURI().getPath().equals("/v2/demo/app/manifests/v1") && ex.getRequestMethod().equals("HEAD")) {
        ex.getResponseHeaders().add("Docker-Content-Digest", DIGEST);
        ex.sendResponseHeaders(200, -1);
      } else {
        ex.sendResponseHeaders(404, -1);
      }
      ex.close();
    });
    registry.start();
    proxy = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    proxy.createContext("/", ex -> {
      proxied.add(ex.getRequestMethod() + " " + ex.getRequestURI());
      ex.getResponseHeaders().add("Docker-Content-Digest", "sha256:" + "cd".repeat(32));
      ex.sendResponseHeaders(200, -1);
      ex.close();
    });
    proxy.start();
    silent = new ServerSocket(0, 50, InetAddress.getLoopbackAddress()); // accepts, never answers

    server = TestServer.start();
    kubectl = server.kubectl();
    client = Clients.forKubeconfig(server.kubeconfig());
    client.configMaps().inNamespace("knative-serving").resource(new ConfigMapBuilder().withNewMetadata()
        .withName("config-deployment").withNamespace("knative-serving").endMetadata()
        .withData(Map.of("digest-resolution-timeout", "1s", "registries-skipping-tag-resolving", "ko.local,dev.local")).build()).create();
    serving = new ServingControllers().start(new ComponentContext(Clients.forKubeconfig(server.kubeconfig()),
        Files.createTempDirectory("digest-test"), "node-1", Map.of("serving.retryPeriodMillis", "200",
            "serving.http-proxy", "http://127.0.0.1:" + proxy.getAddress().getPort(), "serving.no-proxy", "127.0.0.1")));
  }

  @AfterAll
  static void stop() throws Exception {
    serving.close();
    client.close();
    server.close();
    registry.stop(0);
    proxy.stop(0);
    silent.close();
  }

  static void apply(String name, String image, boolean command) throws Exception {
    kubectl.runWithInput("""
        apiVersion: serving.knative.dev/v1
        kind: Service
        metadata:
          name: %s
        spec:
          template:
            spec:
              containers:
              - image: %s
        %s
        """.formatted(name, image, command ? "        command: [\"sleep\", \"3600\"]" : ""), "apply", "-f", "-").ok();
  }

  static Revision revision(String name) {
    return client.resources(Revision.class).inNamespace("default").withName(name).get();
  }

  static Deployment deployment(String rev) throws InterruptedException {
    return ServingControllersTest.await("deployment", () -> client.apps().deployments().inNamespace("default")
        .withName(rev + "-deployment").get());
  }

  @Test
  void resolvesTagToDigestWithBearerToken() throws Exception {
    String image = "127.0.0.1:" + registry.getAddress().getPort() + "/demo/app:v1";
    apply("resolved", image, false);
    Deployment d = deployment("resolved-00001");
    String want = "127.0.0.1:" + registry.getAddress().getPort() + "/demo/app@" + DIGEST;
    assertThat(d.getSpec().getTemplate().getSpec().getContainers().get(0).getImage()).isEqualTo(want);
    ServingControllersTest.await("imageDigest in status", () -> {
      var cs = revision("resolved-00001").getStatus().getContainerStatuses();
      return cs.size() == 1 && "user-container".equals(cs.get(0).get("name")) && want.equals(cs.get(0).get("imageDigest"));
    });
  }

  @Test
  void goesThroughTheConfiguredProxy() throws Exception {
    apply("proxied", "localhost:5999/demo/app:v1", false);
    Deployment d = deployment("proxied-00001");
    assertThat(d.getSpec().getTemplate().getSpec().getContainers().get(0).getImage())
        .isEqualTo("localhost:5999/demo/app@sha256:" + "cd".repeat(32));
    assertThat(proxied).contains("HEAD http://localhost:5999/v2/demo/app/manifests/v1");
  }

  @Test
  void unreachableRegistryIsContainerMissing() throws Exception {
    String image = "127.0.0.1:1/demo/app:v1";
    apply("unreachable", image, false);
    Revision r = ServingControllersTest.await("ContainerMissing", () -> {
      Revision rev = revision("unreachable-00001");
      return rev != null && rev.getStatus() != null && rev.getStatus().isFalse("ContainerHealthy") ? rev : null;
    });
    var c = r.getStatus().condition("ContainerHealthy");
    assertThat(c.getReason()).isEqualTo("ContainerMissing");
    assertThat(c.getMessage()).startsWith("Unable to fetch image \"" + image + "\": failed to resolve image to digest: ")
        .contains("connection refused");
    assertThat(r.getStatus().isFalse("Ready")).isTrue();
    assertThat(r.getStatus().condition("Ready").getReason()).isEqualTo("ContainerMissing");
    assertThat(client.apps().deployments().inNamespace("default").withName("unreachable-00001-deployment").get()).isNull();
  }

  @Test
  void silentRegistryTimesOut() throws Exception {
    String image = "127.0.0.1:" + silent.getLocalPort() + "/demo/app:v1";
    apply("silent", image, false);
    Revision r = ServingControllersTest.await("timeout", () -> {
      Revision rev = revision("silent-00001");
      return rev != null && rev.getStatus() != null && rev.getStatus().isFalse("ContainerHealthy") ? rev : null;
    });
    assertThat(r.getStatus().condition("ContainerHealthy").getMessage()).contains("i/o timeout");
  }

  @Test
  void skippedRegistriesAndProcessCommandsAreNotResolved() throws Exception {
    apply("kolocal", "ko.local/app:v1", false);
    apply("process", "127.0.0.1:1/never/contacted:v1", true);
    assertThat(deployment("kolocal-00001").getSpec().getTemplate().getSpec().getContainers().get(0).getImage()).isEqualTo("ko.local/app:v1");
    assertThat(deployment("process-00001").getSpec().getTemplate().getSpec().getContainers().get(0).getImage())
        .isEqualTo("127.0.0.1:1/never/contacted:v1");
    Revision r = ServingControllersTest.await("status", () -> revision("process-00001").getStatus().getContainerStatuses() != null
        ? revision("process-00001") : null);
    assertThat(r.getStatus().getContainerStatuses().get(0)).doesNotContainKey("imageDigest");
  }

  @Test
  void referencesParseLikeGoContainerregistry() {
    assertThat(ImageReference.parse("nginx")).isEqualTo(new ImageReference("index.docker.io", "library/nginx", "latest", null));
    assertThat(ImageReference.parse("gcr.io/knative-samples/helloworld-go"))
        .isEqualTo(new ImageReference("gcr.io", "knative-samples/helloworld-go", "latest", null));
    assertThat(ImageReference.parse("localhost:5000/a/b:v2").scheme()).isEqualTo("http");
    assertThat(ImageReference.parse("docker.io/user/app:1").apiHost()).isEqualTo("registry-1.docker.io");
    assertThat(ImageReference.parse("x.io/a@sha256:00").digest()).isEqualTo("sha256:00");
    var sel = new ImageDigestResolver.EnvProxySelector("http://p:3128", null, "localhost,.corp.example");
    assertThat(sel.bypass("a.corp.example")).isTrue();
    assertThat(sel.bypass("gcr.io")).isFalse();
    assertThat(sel.select(java.net.URI.create("https://gcr.io/v2/")).get(0).address().toString()).contains("p").contains("3128");
  }
}
