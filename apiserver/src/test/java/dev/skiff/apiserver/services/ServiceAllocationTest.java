package dev.skiff.apiserver.services;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.skiff.apiserver.testing.TestServer;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** ClusterIP and NodePort allocation through the real HTTP API. */
class ServiceAllocationTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String SVCS = "/api/v1/namespaces/default/services";
  private static TestServer server;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  static String svc(String name, String specJson) {
    return "{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"" + name + "\"},\"spec\":" + specJson + "}";
  }

  static String ports(String extra) {
    return "\"ports\":[{\"port\":80" + extra + "}]";
  }

  private static HttpResponse<String> create(String body) throws Exception {
    return server.request("POST", SVCS, "application/json", body);
  }

  private static JsonNode created(String body) throws Exception {
    HttpResponse<String> r = create(body);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
    return JSON.readTree(r.body());
  }

  private static JsonNode get(String name) throws Exception {
    HttpResponse<String> r = server.request("GET", SVCS + "/" + name, null, null);
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    return JSON.readTree(r.body());
  }

  private static void delete(String name) throws Exception {
    assertThat(server.request("DELETE", SVCS + "/" + name, null, null).statusCode()).isEqualTo(200);
  }

  private static HttpResponse<String> patch(String name, String mergePatch) throws Exception {
    return server.request("PATCH", SVCS + "/" + name, "application/merge-patch+json", mergePatch);
  }

  @Test
  void clusterIpIsAllocatedFromTheRangeWithUpstreamDefaults() throws Exception {
    JsonNode s = created(svc("web", "{\"selector\":{\"app\":\"web\"}," + ports(",\"targetPort\":0") + "}"));
    JsonNode spec = s.path("spec");
    String ip = spec.path("clusterIP").asText();
    assertThat(ip).startsWith("10.43.");
    assertThat(spec.path("clusterIPs").toString()).isEqualTo("[\"" + ip + "\"]");
    assertThat(spec.path("ipFamilies").toString()).isEqualTo("[\"IPv4\"]");
    assertThat(spec.path("ipFamilyPolicy").asText()).isEqualTo("SingleStack");
    assertThat(spec.path("sessionAffinity").asText()).isEqualTo("None");
    assertThat(spec.path("internalTrafficPolicy").asText()).isEqualTo("Cluster");
    assertThat(spec.path("type").asText()).isEqualTo("ClusterIP");
    assertThat(spec.path("ports").get(0).path("protocol").asText()).isEqualTo("TCP");
    assertThat(spec.path("ports").get(0).path("targetPort").asInt()).isEqualTo(80);
    assertThat(spec.has("externalTrafficPolicy")).isFalse();
    // Dynamic allocation keeps out of the low static band (10.43.0.1-10.43.1.0).
    assertThat(ServiceNetwork.DEFAULT.offsetOf(ip)).isGreaterThanOrEqualTo(256);
    assertThat(server.server().serviceAllocator().isAllocated(ip)).isTrue();
    delete("web");
    assertThat(server.server().serviceAllocator().isAllocated(ip)).isFalse();
  }

  @Test
  void requestedClusterIpMustBeFreeAndInRange() throws Exception {
    JsonNode a = created(svc("fixed-a", "{\"clusterIP\":\"10.43.7.7\"," + ports("") + "}"));
    assertThat(a.path("spec").path("clusterIPs").toString()).isEqualTo("[\"10.43.7.7\"]");
    HttpResponse<String> dup = create(svc("fixed-b", "{\"clusterIP\":\"10.43.7.7\"," + ports("") + "}"));
    assertThat(dup.statusCode()).isEqualTo(422);
    assertThat(JSON.readTree(dup.body()).path("message").asText()).isEqualTo(
        "Service \"fixed-b\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.43.7.7\"}: failed to allocate IP 10.43.7.7: provided IP is already allocated");
    HttpResponse<String> out = create(svc("fixed-c", "{\"clusterIP\":\"10.96.0.5\"," + ports("") + "}"));
    assertThat(out.statusCode()).isEqualTo(422);
    assertThat(JSON.readTree(out.body()).path("message").asText()).isEqualTo(
        "Service \"fixed-c\" is invalid: spec.clusterIPs: Invalid value: []string{\"10.96.0.5\"}: failed to allocate IP 10.96.0.5:"
            + " the provided IP (10.96.0.5) is not in the valid range. The range of valid IPs is 10.43.0.0/16");
    HttpResponse<String> bad = create(svc("fixed-d", "{\"clusterIP\":\"nope\"," + ports("") + "}"));
    assertThat(bad.statusCode()).isEqualTo(422);
    assertThat(bad.body()).contains("spec.clusterIPs[0]: Invalid value: \\\"nope\\\": must be a valid IP address");
    // A dry run checks but takes nothing; deleting gives the address back.
    HttpResponse<String> dry = server.request("POST", SVCS + "?dryRun=All", "application/json",
        svc("dry", "{\"clusterIP\":\"10.43.8.8\"," + ports("") + "}"));
    assertThat(dry.statusCode()).as(dry.body()).isEqualTo(201);
    assertThat(server.server().serviceAllocator().isAllocated("10.43.8.8")).isFalse();
    delete("fixed-a");
    created(svc("fixed-b", "{\"clusterIP\":\"10.43.7.7\"," + ports("") + "}"));
    delete("fixed-b");
  }

  @Test
  void failedCreateGivesItsAddressBack() throws Exception {
    created(svc("twice", "{" + ports("") + "}"));
    int before = server.server().serviceAllocator().allocatedIPs();
    HttpResponse<String> again = create(svc("twice", "{\"clusterIP\":\"10.43.9.9\"," + ports("") + "}"));
    assertThat(again.statusCode()).isEqualTo(409);
    assertThat(server.server().serviceAllocator().allocatedIPs()).isEqualTo(before);
    assertThat(server.server().serviceAllocator().isAllocated("10.43.9.9")).isFalse();
    delete("twice");
  }

  @Test
  void headlessAndExternalNameGetNoAddress() throws Exception {
    int before = server.server().serviceAllocator().allocatedIPs();
    JsonNode h = created(svc("headless", "{\"clusterIP\":\"None\",\"selector\":{\"app\":\"db\"}," + ports("") + "}"));
    assertThat(h.path("spec").path("clusterIP").asText()).isEqualTo("None");
    assertThat(h.path("spec").path("clusterIPs").toString()).isEqualTo("[\"None\"]");
    JsonNode e = created(svc("ext", "{\"type\":\"ExternalName\",\"externalName\":\"example.com\"}"));
    assertThat(e.path("spec").has("clusterIP")).isFalse();
    assertThat(e.path("spec").has("clusterIPs")).isFalse();
    assertThat(server.server().serviceAllocator().allocatedIPs()).isEqualTo(before);
    HttpResponse<String> withIp = create(svc("ext2", "{\"type\":\"ExternalName\",\"externalName\":\"example.com\",\"clusterIP\":\"10.43.3.3\"}"));
    assertThat(withIp.statusCode()).isEqualTo(422);
    // ExternalName -> ClusterIP allocates; back to ExternalName wipes and releases.
    JsonNode now = JSON.readTree(patch("ext", "{\"spec\":{\"type\":\"ClusterIP\",\"externalName\":null,\"ports\":[{\"port\":80}]}}").body());
    String ip = now.path("spec").path("clusterIP").asText();
    assertThat(ip).startsWith("10.43.");
    assertThat(server.server().serviceAllocator().isAllocated(ip)).isTrue();
    HttpResponse<String> back = patch("ext", "{\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"example.org\"}}");
    assertThat(back.statusCode()).as(back.body()).isEqualTo(200);
    assertThat(JSON.readTree(back.body()).path("spec").has("clusterIP")).isFalse();
    assertThat(server.server().serviceAllocator().isAllocated(ip)).isFalse();
    delete("headless");
    delete("ext");
  }

  @Test
  void clusterIpMayNotChange() throws Exception {
    JsonNode s = created(svc("pinned", "{" + ports("") + "}"));
    String ip = s.path("spec").path("clusterIP").asText();
    HttpResponse<String> r = patch("pinned", "{\"spec\":{\"clusterIP\":\"10.43.200.1\"}}");
    assertThat(r.statusCode()).isEqualTo(422);
    assertThat(JSON.readTree(r.body()).path("message").asText()).isEqualTo(
        "Service \"pinned\" is invalid: spec.clusterIPs[0]: Invalid value: []string{\"10.43.200.1\"}: may not change once set");
    // A PUT without the allocated values (an old manifest) keeps them.
    JsonNode cur = get("pinned");
    String put = svc("pinned", "{\"ports\":[{\"port\":81}]}").replace("\"name\":\"pinned\"",
        "\"name\":\"pinned\",\"resourceVersion\":\"" + cur.path("metadata").path("resourceVersion").asText() + "\"");
    HttpResponse<String> u = server.request("PUT", SVCS + "/pinned", "application/json", put);
    assertThat(u.statusCode()).as(u.body()).isEqualTo(200);
    assertThat(JSON.readTree(u.body()).path("spec").path("clusterIP").asText()).isEqualTo(ip);
    assertThat(server.server().serviceAllocator().isAllocated(ip)).isTrue();
    delete("pinned");
  }

  @Test
  void nodePortsAreAllocatedCheckedAndReleased() throws Exception {
    JsonNode np = created(svc("np", "{\"type\":\"NodePort\",\"ports\":[{\"name\":\"a\",\"port\":80},{\"name\":\"b\",\"port\":81,\"nodePort\":30080}]}"));
    int auto = np.path("spec").path("ports").get(0).path("nodePort").asInt();
    assertThat(auto).isBetween(30000, 32767).isNotEqualTo(30080);
    assertThat(np.path("spec").path("ports").get(1).path("nodePort").asInt()).isEqualTo(30080);
    assertThat(np.path("spec").path("externalTrafficPolicy").asText()).isEqualTo("Cluster");
    HttpResponse<String> dup = create(svc("np2", "{\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":30080}]}"));
    assertThat(dup.statusCode()).isEqualTo(422);
    assertThat(JSON.readTree(dup.body()).path("message").asText())
        .isEqualTo("Service \"np2\" is invalid: spec.ports[0].nodePort: Invalid value: 30080: provided port is already allocated");
    HttpResponse<String> range = create(svc("np3", "{\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":8080}]}"));
    assertThat(JSON.readTree(range.body()).path("message").asText()).isEqualTo("Service \"np3\" is invalid: spec.ports[0].nodePort:"
        + " Invalid value: 8080: provided port is not in the valid range. The range of valid ports is 30000-32767");
    // The failed creates took no address.
    assertThat(server.server().serviceAllocator().allocatedNodePorts()).isEqualTo(2);
    // An apply-style update without nodePorts keeps them.
    JsonNode same = JSON.readTree(patch("np", "{\"spec\":{\"ports\":[{\"name\":\"a\",\"port\":80},{\"name\":\"b\",\"port\":81}]}}").body());
    assertThat(same.path("spec").path("ports").get(0).path("nodePort").asInt()).isEqualTo(auto);
    assertThat(same.path("spec").path("ports").get(1).path("nodePort").asInt()).isEqualTo(30080);
    // NodePort -> ClusterIP wipes and releases them; ClusterIP -> LoadBalancer allocates again.
    JsonNode cip = JSON.readTree(patch("np", "{\"spec\":{\"type\":\"ClusterIP\"}}").body());
    assertThat(cip.path("spec").path("ports").get(0).has("nodePort")).isFalse();
    assertThat(cip.path("spec").has("externalTrafficPolicy")).isFalse();
    assertThat(server.server().serviceAllocator().allocatedNodePorts()).isZero();
    created(svc("np2", "{\"type\":\"NodePort\",\"ports\":[{\"port\":80,\"nodePort\":30080}]}"));
    JsonNode lb = JSON.readTree(patch("np", "{\"spec\":{\"type\":\"LoadBalancer\"}}").body());
    assertThat(lb.path("spec").path("ports").get(0).path("nodePort").asInt()).isBetween(30000, 32767);
    assertThat(lb.path("spec").path("allocateLoadBalancerNodePorts").asBoolean()).isTrue();
    assertThat(server.server().serviceAllocator().allocatedNodePorts()).isEqualTo(3);
    delete("np");
    delete("np2");
    assertThat(server.server().serviceAllocator().allocatedNodePorts()).isZero();
  }

  @Test
  void parallelCreatesGetDistinctAddresses() throws Exception {
    int n = 200;
    List<CompletableFuture<HttpResponse<String>>> futures = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      HttpRequest req = HttpRequest.newBuilder(URI.create(server.url() + "/api/v1/namespaces/default/services"))
          .timeout(Duration.ofSeconds(60)).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(svc("par-" + i, "{\"type\":\"NodePort\"," + ports("") + "}"))).build();
      futures.add(server.http().sendAsync(req, HttpResponse.BodyHandlers.ofString()));
    }
    Set<String> ips = new HashSet<>();
    Set<Integer> nodePorts = new HashSet<>();
    for (var f : futures) {
      HttpResponse<String> r = f.get();
      assertThat(r.statusCode()).as(r.body()).isEqualTo(201);
      JsonNode spec = JSON.readTree(r.body()).path("spec");
      ips.add(spec.path("clusterIP").asText());
      nodePorts.add(spec.path("ports").get(0).path("nodePort").asInt());
    }
    assertThat(ips).hasSize(n);
    assertThat(nodePorts).hasSize(n);
    for (int i = 0; i < n; i++) {
      delete("par-" + i);
    }
    assertThat(server.server().serviceAllocator().allocatedNodePorts()).isZero();
  }
}
