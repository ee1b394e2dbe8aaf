package dev.skiff.apiserver.services;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.ApiServer;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.registry.ResourceStore;
import dev.skiff.apiserver.registry.WriteOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Allocations survive restarts; the service CIDR and the kubernetes Service follow the configuration. */
class ServiceRestartTest {
  private static ObjectNode service(String name, String type) {
    ObjectNode svc = Json.object();
    svc.put("apiVersion", "v1").put("kind", "Service");
    svc.putObject("metadata").put("name", name);
    ObjectNode spec = svc.putObject("spec");
    spec.put("type", type);
    spec.putArray("ports").addObject().put("port", 80);
    return svc;
  }

  @Test
  void allocationsAreRebuiltFromStoredServices() throws Exception {
    Path dir = Files.createTempDirectory("skiff-svc-restart");
    try {
      Path data = dir.resolve("data");
      ApiServer.Config config = new ApiServer.Config(data, 0, "127.0.0.1", "10.100.0.0/24", "31000-31099", "192.0.2.10");
      Set<String> ips = new HashSet<>();
      Set<Integer> ports = new HashSet<>();
      try (ApiServer s = ApiServer.start(config)) {
        ResourceStore svcs = s.registry().storeForKind("", "Service");
        JsonNode k = svcs.getObject("default", "kubernetes");
        assertThat(k.path("spec").path("clusterIP").asText()).isEqualTo("10.100.0.1");
        for (int i = 0; i < 50; i++) {
          ObjectNode created = svcs.create("default", service("s" + i, "NodePort"), WriteOptions.internal("test"));
          ips.add(created.path("spec").path("clusterIP").asText());
          ports.add(created.path("spec").path("ports").get(0).path("nodePort").asInt());
        }
        assertThat(ips).hasSize(50).allMatch(ip -> ip.startsWith("10.100.0."));
        assertThat(ports).hasSize(50).allMatch(p -> p >= 31000 && p <= 31099);
      }
      try (ApiServer s = ApiServer.start(config)) {
        ServiceAllocator alloc = s.serviceAllocator();
        assertThat(alloc.allocatedIPs()).isEqualTo(51); // + kubernetes
        assertThat(alloc.allocatedNodePorts()).isEqualTo(50);
        ResourceStore svcs = s.registry().storeForKind("", "Service");
        ObjectNode clash = service("clash", "ClusterIP");
        clash.with("spec").put("clusterIP", ips.iterator().next());
        assertThatThrownBy(() -> svcs.create("default", clash, WriteOptions.internal("test")))
            .isInstanceOf(ApiException.class).hasMessageContaining("provided IP is already allocated");
        // The remaining 50 node ports all go to new Services, none twice.
        for (int i = 0; i < 50; i++) {
          ObjectNode created = svcs.create("default", service("t" + i, "NodePort"), WriteOptions.internal("test"));
          assertThat(ips.add(created.path("spec").path("clusterIP").asText())).isTrue();
          assertThat(ports.add(created.path("spec").path("ports").get(0).path("nodePort").asInt())).isTrue();
        }
        assertThatThrownBy(() -> svcs.create("default", service("full", "NodePort"), WriteOptions.internal("test")))
            .isInstanceOf(ApiException.class).hasMessage("Internal error occurred: failed to allocate a nodePort: range is full");
        // The kubernetes Service's endpoints carry the advertise address and the API server's port.
        JsonNode ep = s.registry().storeForKind("", "Endpoints").getObject("default", "kubernetes");
        assertThat(ep.path("subsets").get(0).path("addresses").get(0).path("ip").asText()).isEqualTo("192.0.2.10");
        assertThat(ep.path("subsets").get(0).path("ports").get(0).path("port").asInt()).isEqualTo(s.port());
        JsonNode slice = s.registry().storeForKind("discovery.k8s.io", "EndpointSlice").getObject("default", "kubernetes");
        assertThat(slice.path("endpoints").get(0).path("addresses").get(0).asText()).isEqualTo("192.0.2.10");
        assertThat(slice.path("ports").get(0).path("port").asInt()).isEqualTo(s.port());
        assertThat(svcs.getObject("default", "kubernetes").path("spec").path("ports").get(0).path("targetPort").asInt())
            .isEqualTo(s.port());
      }
    } finally {
      try (var files = Files.walk(dir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  @Test
  void badRangesAreRefused() {
    assertThatThrownBy(() -> ServiceNetwork.parse("10.43.0.0", null)).isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> ServiceNetwork.parse(null, "32767-30000")).isInstanceOf(IllegalArgumentException.class);
    ServiceNetwork n = ServiceNetwork.parse("10.43.5.7/16", null);
    assertThat(n.cidr()).isEqualTo("10.43.0.0/16");
    assertThat(n.address(1)).isEqualTo("10.43.0.1");
    assertThat(n.address(10)).isEqualTo("10.43.0.10");
  }

  @Test
  void advertiseAddressIsTheBindAddressOrARoutableOne() {
    assertThat(KubernetesServiceReconciler.advertiseAddress("10.1.2.3")).isEqualTo("10.1.2.3");
    for (String wildcard : new String[] {null, "0.0.0.0", "127.0.0.1"}) {
      assertThat(KubernetesServiceReconciler.advertiseAddress(wildcard)).matches("\\d+\\.\\d+\\.\\d+\\.\\d+").isNotEqualTo("0.0.0.0");
    }
  }
}
