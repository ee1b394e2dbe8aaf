package dev.skiff.network;

import static dev.skiff.network.NetFixture.endpoint;
import static dev.skiff.network.NetFixture.ready;
import static dev.skiff.network.NetFixture.slice;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.SessionAffinityConfigBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

class SlicesTest {
  static InetSocketAddress at(String ip, int port) {
    return new InetSocketAddress(ip, port);
  }

  @Test
  void readyEndpointsAcrossSlicesDeduplicated() {
    EndpointSlice a = slice("a", "web", "http", "TCP", 8080, List.of(ready("10.42.0.1"), endpoint("10.42.0.2", false, false, false)));
    EndpointSlice b = slice("b", "web", "http", "TCP", 8080, List.of(ready("10.42.0.1"), ready("10.42.0.3")));
    assertThat(Slices.upstreams(List.of(a, b), "http", "TCP")).containsExactly(at("10.42.0.1", 8080), at("10.42.0.3", 8080));
  }

  @Test
  void nilConditionsMeanReady() {
    EndpointSlice s = slice("a", "web", "http", "TCP", 80, List.of(new EndpointBuilder().withAddresses("10.42.0.9").build()));
    assertThat(Slices.upstreams(List.of(s), "http", "TCP")).containsExactly(at("10.42.0.9", 80));
  }

  @Test
  void servingTerminatingOnlyWhenNothingIsReady() {
    EndpointSlice s = slice("a", "web", "http", "TCP", 80, List.of(endpoint("10.42.0.1", false, true, true),
        endpoint("10.42.0.2", false, false, true)));
    assertThat(Slices.upstreams(List.of(s), "http", "TCP")).containsExactly(at("10.42.0.1", 80));
    EndpointSlice withReady = slice("a", "web", "http", "TCP", 80, List.of(endpoint("10.42.0.1", false, true, true),
        ready("10.42.0.3")));
    assertThat(Slices.upstreams(List.of(withReady), "http", "TCP")).containsExactly(at("10.42.0.3", 80));
  }

  @Test
  void portsMatchByNameAndProtocol() {
    EndpointSlice s = slice("a", "web", "dns", "UDP", 5353, List.of(ready("10.42.0.1")));
    assertThat(Slices.upstreams(List.of(s), "dns", "UDP")).containsExactly(at("10.42.0.1", 5353));
    assertThat(Slices.upstreams(List.of(s), "dns", "TCP")).isEmpty();
    assertThat(Slices.upstreams(List.of(s), "other", "UDP")).isEmpty();
  }

  @Test
  void nonIpv4SlicesAndNamesAreIgnored() {
    EndpointSlice fqdn = slice("a", "web", "http", "TCP", 80, List.of(ready("example.com")));
    assertThat(Slices.upstreams(List.of(fqdn), "http", "TCP")).isEmpty();
    EndpointSlice v6 = slice("b", "web", "http", "TCP", 80, List.of(ready("fd00::1")));
    v6.setAddressType("IPv6");
    assertThat(Slices.upstreams(List.of(v6), "http", "TCP")).isEmpty();
    assertThat(Slices.serviceKey(fqdn)).isEqualTo("default/web");
  }

  @Test
  void clientIpAffinityTimeoutDefaultsToThreeHours() {
    Service s = NetFixture.service("web", "10.43.0.5", "ClusterIP", List.of());
    assertThat(ServiceProxy.Running.affinitySeconds(s)).isZero();
    s.getSpec().setSessionAffinity("ClientIP");
    assertThat(ServiceProxy.Running.affinitySeconds(s)).isEqualTo(10800);
    s.getSpec().setSessionAffinityConfig(new SessionAffinityConfigBuilder().withNewClientIP().withTimeoutSeconds(30)
        .endClientIP().build());
    assertThat(ServiceProxy.Running.affinitySeconds(s)).isEqualTo(30);
  }
}
