package dev.skiff.kubelet;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodDNSConfigOptionBuilder;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** resolv.conf per dnsPolicy and dnsConfig, and the managed /etc/hosts (pkg/kubelet/network/dns/dns_test.go cases). */
class PodDnsTest {
  static final String HOST = "nameserver 10.255.255.53\nsearch corp.example. lab.example\noptions timeout:2\n";
  static final PodDns DNS = new PodDns("10.43.0.10", "cluster.local", Path.of("/nonexistent"), Path.of("/nonexistent"));

  static PodBuilder pod(String policy, boolean hostNetwork) {
    return new PodBuilder().withNewMetadata().withName("web-0").withNamespace("shop").endMetadata().withNewSpec()
        .withDnsPolicy(policy).withHostNetwork(hostNetwork).endSpec();
  }

  @Test
  void clusterFirstUsesTheClusterDnsWithTheNamespaceSearchPathsAndTheHostsSearchDomains() {
    assertThat(DNS.resolvConf(pod(null, false).build(), HOST)).isEqualTo("""
        search shop.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example
        nameserver 10.43.0.10
        options ndots:5
        """);
    assertThat(DNS.resolvConf(pod("ClusterFirst", false).build(), HOST)).contains("nameserver 10.43.0.10");
  }

  @Test
  void hostNetworkFallsBackToTheHostUnlessClusterFirstWithHostNet() {
    assertThat(DNS.resolvConf(pod("ClusterFirst", true).build(), HOST)).isEqualTo(HOST);
    assertThat(DNS.resolvConf(pod("ClusterFirstWithHostNet", true).build(), HOST)).contains("nameserver 10.43.0.10\n");
    assertThat(DNS.resolvConf(pod("Default", false).build(), HOST)).isEqualTo(HOST);
  }

  @Test
  void noneTakesOnlyTheDnsConfigAndDnsConfigMergesIntoTheOthers() {
    Pod none = pod("None", false).editSpec().withNewDnsConfig().withNameservers("1.1.1.1", "1.1.1.1", "8.8.8.8")
        .withSearches("a.example").withOptions(new PodDNSConfigOptionBuilder().withName("ndots").withValue("2").build(),
            new PodDNSConfigOptionBuilder().withName("edns0").build()).endDnsConfig().endSpec().build();
    assertThat(DNS.resolvConf(none, HOST)).isEqualTo("search a.example\nnameserver 1.1.1.1\nnameserver 8.8.8.8\noptions ndots:2 edns0\n");
    Pod merged = pod(null, false).editSpec().withNewDnsConfig().withNameservers("9.9.9.9", "8.8.8.8", "7.7.7.7")
        .withSearches("svc.cluster.local", "x.example").withOptions(new PodDNSConfigOptionBuilder().withName("ndots").withValue("1").build())
        .endDnsConfig().endSpec().build();
    // nameservers cut to 3, duplicate search dropped, ndots overridden in place
    assertThat(DNS.resolvConf(merged, HOST)).isEqualTo("""
        search shop.svc.cluster.local svc.cluster.local cluster.local corp.example lab.example x.example
        nameserver 10.43.0.10
        nameserver 9.9.9.9
        nameserver 8.8.8.8
        options ndots:1
        """);
  }

  @Test
  void hostsHasLocalhostThePodsNameWithItsSubdomainAndTheAliases() {
    Pod p = pod(null, false).editSpec().withHostname("db").withSubdomain("backends").addNewHostAlias().withIp("10.1.2.3")
        .withHostnames("foo.local", "bar.local").endHostAlias().endSpec().build();
    assertThat(PodDns.hosts(p, "10.42.0.7", "cluster.local")).isEqualTo("""
        # Kubernetes-managed hosts file.
        127.0.0.1\tlocalhost
        ::1\tlocalhost ip6-localhost ip6-loopback
        fe00::0\tip6-localnet
        fe00::0\tip6-mcastprefix
        fe00::1\tip6-allnodes
        fe00::2\tip6-allrouters
        10.42.0.7\tdb.backends.shop.svc.cluster.local\tdb

        # Entries added by HostAliases.
        10.1.2.3\tfoo.local\tbar.local
        """);
    assertThat(PodDns.hosts(pod(null, false).build(), "10.42.0.8", "cluster.local")).endsWith("10.42.0.8\tweb-0\n");
  }
}
