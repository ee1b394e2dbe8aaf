package dev.skiff.controllers.network;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.TestServer;
import dev.skiff.controllers.ControllerManager;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import io.fabric8.kubernetes.api.model.ContainerPortBuilder;
import io.fabric8.kubernetes.api.model.Endpoints;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The EndpointSlice and Endpoints controllers in a running controller manager against a real API
 * server. No node agent: the tests write pod IPs and Ready conditions through pods/status.
 */
class EndpointSliceControllerTest {
  static TestServer server;
  static KubernetesClient client;
  static AutoCloseable manager;

  @BeforeAll
  static void up() throws Exception {
    server = TestServer.start();
    client = Clients.forKubeconfig(server.kubeconfig());
    manager = new ControllerManager().start(new ComponentContext(client, Files.createTempDirectory("cm"), "test",
        Map.of("leaseDurationSeconds", "3", "renewDeadlineSeconds", "2", "retryPeriodMillis", "300")));
  }

  @AfterAll
  static void down() throws Exception {
    manager.close();
    client.close();
    server.close();
  }

  static boolean until(BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (System.nanoTime() < deadline) {
      try {
        if (condition.getAsBoolean()) {
          return true;
        }
      } catch (RuntimeException e) {
        // transient
      }
      Thread.sleep(20);
    }
    return false;
  }

  static Service service(String name, Object targetPort, boolean publishNotReady) {
    IntOrString tp = targetPort instanceof Integer i ? new IntOrString(i) : new IntOrString((String) targetPort);
    return client.services().inNamespace("default").resource(new ServiceBuilder()
        .withNewMetadata().withName(name).addToLabels("tier", "web").endMetadata()
        .withNewSpec().addToSelector("app", name)
        .withPorts(new ServicePortBuilder().withName("http").withPort(80).withTargetPort(tp).build())
        .withPublishNotReadyAddresses(publishNotReady ? true : null)
        .endSpec().build()).create();
  }

  /** A pod of app {@code app} whose container port "http" is {@code port}. */
  static Pod pod(String app, String name, int port) {
    return client.pods().inNamespace("default").resource(new PodBuilder()
        .withNewMetadata().withName(name).addToLabels("app", app).endMetadata()
        .withNewSpec().withNodeName("node-a").addNewContainer().withName("c").withImage("x")
        .withPorts(new ContainerPortBuilder().withName("http").withContainerPort(port).build()).endContainer().endSpec()
        .build()).create();
  }

  static void status(String name, String ip, boolean ready) {
    String patch = "{\"status\":{\"phase\":\"Running\"," + (ip == null ? "" : "\"podIP\":\"" + ip + "\",\"podIPs\":[{\"ip\":\"" + ip + "\"}],")
        + "\"conditions\":[{\"type\":\"Ready\",\"status\":\"" + (ready ? "True" : "False") + "\"}]}}";
    client.pods().inNamespace("default").withName(name).subresource("status").patch(PatchContext.of(PatchType.JSON_MERGE), patch);
  }

  static List<EndpointSlice> slices(String svc) {
    return client.discovery().v1().endpointSlices().inNamespace("default")
        .withLabel("kubernetes.io/service-name", svc).list().getItems();
  }

  static Map<String, Endpoint> endpointsByPod(String svc) {
    Map<String, Endpoint> out = new HashMap<>();
    for (EndpointSlice s : slices(svc)) {
      for (Endpoint e : s.getEndpoints()) {
        out.put(e.getTargetRef().getName(), e);
      }
    }
    return out;
  }

  @Test
  void slicesFollowPodsWithNamedPortsResolvedPerPod() throws Exception {
    Service svc = service("web", "http", false);
    pod("web", "web-1", 8080);
    pod("web", "web-2", 8080);
    pod("web", "web-odd", 9090);
    pod("web", "web-noip", 8080);
    status("web-1", "10.42.0.11", true);
    status("web-2", "10.42.0.12", false);
    status("web-odd", "10.42.0.13", true);
    status("web-noip", null, true);
    assertThat(until(() -> endpointsByPod("web").size() == 3 && endpointsByPod("web").get("web-2") != null)).isTrue();
    List<EndpointSlice> slices = slices("web");
    assertThat(slices).hasSize(2);
    Map<Integer, EndpointSlice> byPort = slices.stream().collect(Collectors.toMap(s -> s.getPorts().get(0).getPort(), s -> s));
    assertThat(byPort.keySet()).containsExactlyInAnyOrder(8080, 9090);
    EndpointSlice main = byPort.get(8080);
    assertThat(main.getMetadata().getName()).startsWith("web-").hasSize("web-".length() + 5);
    assertThat(main.getMetadata().getLabels()).containsEntry("kubernetes.io/service-name", "web")
        .containsEntry("endpointslice.kubernetes.io/managed-by", "endpointslice-controller.k8s.io")
        .containsEntry("tier", "web");
    assertThat(main.getMetadata().getOwnerReferences()).singleElement().satisfies(o -> {
      assertThat(o.getKind()).isEqualTo("Service");
      assertThat(o.getUid()).isEqualTo(svc.getMetadata().getUid());
      assertThat(o.getController()).isTrue();
    });
    assertThat(main.getAddressType()).isEqualTo("IPv4");
    assertThat(main.getPorts().get(0).getName()).isEqualTo("http");
    assertThat(main.getPorts().get(0).getProtocol()).isEqualTo("TCP");
    Map<String, Endpoint> eps = endpointsByPod("web");
    Endpoint one = eps.get("web-1");
    assertThat(one.getAddresses()).containsExactly("10.42.0.11");
    assertThat(one.getConditions().getReady()).isTrue();
    assertThat(one.getConditions().getServing()).isTrue();
    assertThat(one.getConditions().getTerminating()).isFalse();
    assertThat(one.getNodeName()).isEqualTo("node-a");
    assertThat(one.getZone()).isNull();
    assertThat(one.getTargetRef().getKind()).isEqualTo("Pod");
    assertThat(eps.get("web-2").getConditions().getReady()).isFalse();
    assertThat(eps.get("web-2").getConditions().getServing()).isFalse();

    // The legacy Endpoints: one subset per port set, unready pods under notReadyAddresses.
    assertThat(until(() -> {
      Endpoints e = client.endpoints().inNamespace("default").withName("web").get();
      return e != null && e.getSubsets().size() == 2;
    })).isTrue();
    Endpoints legacy = client.endpoints().inNamespace("default").withName("web").get();
    var s8080 = legacy.getSubsets().stream().filter(s -> s.getPorts().get(0).getPort() == 8080).findFirst().orElseThrow();
    assertThat(s8080.getAddresses()).extracting(a -> a.getIp()).containsExactly("10.42.0.11");
    assertThat(s8080.getNotReadyAddresses()).extracting(a -> a.getIp()).containsExactly("10.42.0.12");
    assertThat(s8080.getPorts().get(0).getName()).isEqualTo("http");

    // Readiness flips: the endpoint follows, and the other slice is not rewritten.
    String oddVersion = byPort.get(9090).getMetadata().getResourceVersion();
    status("web-2", "10.42.0.12", true);
    assertThat(until(() -> endpointsByPod("web").get("web-2").getConditions().getReady())).isTrue();
    assertThat(until(() -> client.endpoints().inNamespace("default").withName("web").get().getSubsets().stream()
        .anyMatch(s -> s.getAddresses().size() == 2))).isTrue();
    Thread.sleep(300);
    assertThat(slices("web").stream().filter(s -> s.getPorts().get(0).getPort() == 9090).findFirst().orElseThrow()
        .getMetadata().getResourceVersion()).isEqualTo(oddVersion);

    // Terminating (held by a finalizer): ready false, serving kept, terminating true; gone from Endpoints.
    client.pods().inNamespace("default").withName("web-1").edit(p -> new PodBuilder(p).editMetadata()
        .addToFinalizers("example.com/hold").endMetadata().build());
    client.pods().inNamespace("default").withName("web-1").delete();
    assertThat(until(() -> endpointsByPod("web").get("web-1").getConditions().getTerminating())).isTrue();
    Endpoint term = endpointsByPod("web").get("web-1");
    assertThat(term.getConditions().getReady()).isFalse();
    assertThat(term.getConditions().getServing()).isTrue();
    assertThat(until(() -> client.endpoints().inNamespace("default").withName("web").get().getSubsets().stream()
        .flatMap(s -> s.getAddresses().stream()).noneMatch(a -> a.getIp().equals("10.42.0.11")))).isTrue();
    client.pods().inNamespace("default").withName("web-1").edit(p -> new PodBuilder(p).editMetadata()
        .withFinalizers().endMetadata().build());
    assertThat(until(() -> !endpointsByPod("web").containsKey("web-1"))).isTrue();

    // Deleting the Service deletes its Endpoints; its slices go with it (garbage collector).
    client.services().inNamespace("default").withName("web").delete();
    assertThat(until(() -> client.endpoints().inNamespace("default").withName("web").get() == null)).isTrue();
    assertThat(until(() -> slices("web").isEmpty())).isTrue();
  }

  @Test
  void serviceWithoutPodsGetsOnePlaceholderSlice() throws Exception {
    service("empty", 8080, false);
    assertThat(until(() -> slices("empty").size() == 1)).isTrue();
    Thread.sleep(300);
    List<EndpointSlice> s = slices("empty");
    assertThat(s).hasSize(1);
    assertThat(s.get(0).getEndpoints()).isEmpty();
    assertThat(s.get(0).getPorts()).isEmpty();
    // The first endpoint replaces the placeholder.
    pod("empty", "empty-1", 1);
    status("empty-1", "10.42.1.1", true);
    assertThat(until(() -> slices("empty").size() == 1 && slices("empty").get(0).getEndpoints().size() == 1)).isTrue();
    assertThat(slices("empty").get(0).getPorts().get(0).getPort()).isEqualTo(8080);
    assertThat(until(() -> client.endpoints().inNamespace("default").withName("empty").get() != null
        && client.endpoints().inNamespace("default").withName("empty").get().getSubsets().size() == 1)).isTrue();
  }

  @Test
  void publishNotReadyAddressesMarksEveryEndpointReady() throws Exception {
    service("pnr", 8080, true);
    pod("pnr", "pnr-1", 8080);
    status("pnr-1", "10.42.2.1", false);
    assertThat(until(() -> endpointsByPod("pnr").containsKey("pnr-1"))).isTrue();
    Endpoint e = endpointsByPod("pnr").get("pnr-1");
    assertThat(e.getConditions().getReady()).isTrue();
    assertThat(e.getConditions().getServing()).isFalse();
    assertThat(until(() -> client.endpoints().inNamespace("default").withName("pnr").get().getSubsets().get(0)
        .getAddresses().size() == 1)).isTrue();
  }

  @Test
  void atMostOneHundredEndpointsPerSlice() throws Exception {
    service("big", 8080, false);
    int n = 250;
    ExecutorService exec = Executors.newFixedThreadPool(16);
    try {
      List<Future<?>> fs = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        int k = i;
        fs.add(exec.submit(() -> {
          pod("big", "big-" + k, 8080);
          status("big-" + k, "10.42." + (3 + k / 200) + "." + (1 + k % 200), true);
        }));
      }
      for (Future<?> f : fs) {
        f.get();
      }
    } finally {
      exec.shutdown();
    }
    assertThat(until(() -> slices("big").stream().mapToInt(s -> s.getEndpoints().size()).sum() == n)).isTrue();
    List<EndpointSlice> slices = slices("big");
    assertThat(slices).allSatisfy(s -> assertThat(s.getEndpoints().size()).isLessThanOrEqualTo(100));
    assertThat(slices.size()).isBetween(3, 5);
    assertThat(endpointsByPod("big")).hasSize(n);
  }

  @Test
  void handMadeEndpointsOfSelectorlessServicesAreMirrored() throws Exception {
    client.services().inNamespace("default").resource(new ServiceBuilder().withNewMetadata().withName("external").endMetadata()
        .withNewSpec().withPorts(new ServicePortBuilder().withName("https").withPort(443).build()).endSpec().build()).create();
    client.endpoints().inNamespace("default").resource(new io.fabric8.kubernetes.api.model.EndpointsBuilder()
        .withNewMetadata().withName("external").addToLabels("team", "a").endMetadata()
        .addNewSubset().addNewAddress().withIp("192.0.2.50").endAddress().addNewNotReadyAddress().withIp("192.0.2.51").endNotReadyAddress()
        .addNewPort().withName("https").withPort(8443).endPort().endSubset().build()).create();
    assertThat(until(() -> slices("external").size() == 1 && slices("external").get(0).getEndpoints().size() == 2)).isTrue();
    EndpointSlice s = slices("external").get(0);
    assertThat(s.getMetadata().getLabels()).containsEntry("endpointslice.kubernetes.io/managed-by", "endpointslicemirroring-controller.k8s.io")
        .containsEntry("team", "a");
    assertThat(s.getMetadata().getOwnerReferences().get(0).getKind()).isEqualTo("Endpoints");
    assertThat(s.getPorts().get(0).getPort()).isEqualTo(8443);
    assertThat(s.getPorts().get(0).getName()).isEqualTo("https");
    assertThat(s.getEndpoints()).extracting(e -> e.getAddresses().get(0) + "=" + e.getConditions().getReady())
        .containsExactly("192.0.2.50=true", "192.0.2.51=false");
    // Changes follow; the API server's own kubernetes Endpoints is never mirrored.
    client.endpoints().inNamespace("default").withName("external").edit(e -> new io.fabric8.kubernetes.api.model.EndpointsBuilder(e)
        .editFirstSubset().withNotReadyAddresses().endSubset().build());
    assertThat(until(() -> slices("external").get(0).getEndpoints().size() == 1)).isTrue();
    assertThat(slices("kubernetes")).singleElement().satisfies(k -> assertThat(k.getMetadata().getName()).isEqualTo("kubernetes"));
    // Without its Service the Endpoints is not mirrored any more.
    client.services().inNamespace("default").withName("external").delete();
    assertThat(until(() -> slices("external").isEmpty())).isTrue();
  }
}
