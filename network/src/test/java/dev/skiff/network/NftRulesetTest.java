package dev.skiff.network;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.skiff.network.NftRuleset.Balance;
import dev.skiff.network.NftRuleset.Port;
import java.net.InetSocketAddress;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The generated nftables text for given Services and endpoints (no kernel needed, except the nft -c check). */
class NftRulesetTest {
  static final String T = "skiff-proxy-test00";
  static final String CIDR = "10.42.0.0/16";

  static InetSocketAddress ep(String ip, int port) {
    return new InetSocketAddress(ip, port);
  }

  static Port web(List<InetSocketAddress> eps) {
    return new Port("default/web", "http", "TCP", "10.43.0.20", 80, 0, List.of(), eps, 0);
  }

  @Test
  void firstSyncWritesTheBaseMapsAndOneChainPerServiceAndEndpoint() {
    Port p = web(List.of(ep("10.42.0.5", 8080), ep("10.42.0.6", 8080)));
    String s = NftRuleset.transaction(T, true, NftRuleset.State.EMPTY, CIDR, Balance.ROUND_ROBIN, List.of(p)).script();
    // A leftover table of that name is replaced: add (so delete cannot fail), delete, define.
    assertThat(s).startsWith("add table ip " + T + "\ndelete table ip " + T + "\ntable ip " + T + " {");
    assertThat(s).contains("chain nat-prerouting { type nat hook prerouting priority dstnat;",
        "chain nat-output { type nat hook output priority -100;",
        "chain nat-postrouting { type nat hook postrouting priority srcnat;",
        "ip daddr . meta l4proto . th dport vmap @service-ips",
        "fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports",
        "masquerade fully-random");
    String svc = p.serviceChain();
    String e5 = p.endpointChain(ep("10.42.0.5", 8080));
    String e6 = p.endpointChain(ep("10.42.0.6", 8080));
    assertThat(svc).matches("service-[0-9a-f]{8}-default/web/tcp/http");
    assertThat(e5).matches("endpoint-[0-9a-f]{8}-default/web/tcp/http__10\\.42\\.0\\.5/8080");
    assertThat(s).contains(
        "add chain ip " + T + " " + svc + "\n",
        "add rule ip " + T + " " + svc + " ip saddr != 10.42.0.0/16 jump mark-for-masquerade\n",
        "add rule ip " + T + " " + svc + " numgen inc mod 2 vmap { 0 : goto " + e5 + ", 1 : goto " + e6 + " }\n",
        "add rule ip " + T + " " + e5 + " ip saddr 10.42.0.5 jump mark-for-masquerade\n",
        "add rule ip " + T + " " + e5 + " meta l4proto tcp dnat to 10.42.0.5:8080\n",
        "add element ip " + T + " service-ips {\n  10.43.0.20 . tcp . 80 : goto " + svc + "\n}\n");
    // Chains exist before the rules that jump to them.
    assertThat(s.indexOf("add chain ip " + T + " " + e6)).isLessThan(s.indexOf("add rule ip " + T + " " + svc));
  }

  @Test
  void randomBalancingAndMasqueradeAllWithoutAClusterCidr() {
    Port p = web(List.of(ep("10.42.0.5", 8080)));
    String s = NftRuleset.transaction(T, false, NftRuleset.State.EMPTY, null, Balance.RANDOM, List.of(p)).script();
    assertThat(s).doesNotContain("delete table").contains("numgen random mod 1 vmap",
        "add rule ip " + T + " " + p.serviceChain() + " jump mark-for-masquerade\n");
  }

  @Test
  void nodePortAndExternalIpsGoThroughAnExternalChainThatMasquerades() {
    Port p = new Port("default/np", "", "UDP", "10.43.0.30", 53, 30053, List.of("192.0.2.7"),
        List.of(ep("10.42.0.5", 5353)), 0);
    String s = NftRuleset.transaction(T, true, NftRuleset.State.EMPTY, CIDR, Balance.ROUND_ROBIN, List.of(p)).script();
    String ext = p.externalChain();
    assertThat(ext).endsWith("-default/np/udp/p53");
    assertThat(s).contains(
        "add rule ip " + T + " " + ext + " jump mark-for-masquerade\n",
        "add rule ip " + T + " " + ext + " goto " + p.serviceChain() + "\n",
        "  10.43.0.30 . udp . 53 : goto " + p.serviceChain() + ",\n  192.0.2.7 . udp . 53 : goto " + ext + "\n",
        "add element ip " + T + " service-nodeports {\n  udp . 30053 : goto " + ext + "\n}\n",
        "meta l4proto udp dnat to 10.42.0.5:5353");
  }

  @Test
  void clientIpAffinityUsesATimedSetPerEndpoint() {
    Port p = new Port("default/sticky", "http", "TCP", "10.43.0.40", 80, 0, List.of(),
        List.of(ep("10.42.0.5", 8080), ep("10.42.0.6", 8080)), 60);
    String s = NftRuleset.transaction(T, true, NftRuleset.State.EMPTY, CIDR, Balance.ROUND_ROBIN, List.of(p)).script();
    String set5 = p.affinitySet(ep("10.42.0.5", 8080));
    String e5 = p.endpointChain(ep("10.42.0.5", 8080));
    assertThat(s).contains(
        "add set ip " + T + " " + set5 + " { type ipv4_addr; flags dynamic,timeout; timeout 60s; }\n",
        "add rule ip " + T + " " + p.serviceChain() + " ip saddr @" + set5 + " goto " + e5 + "\n",
        "add rule ip " + T + " " + e5 + " update @" + set5 + " { ip saddr }\n");
    // Sticky entries win over the balancer: they come first in the service chain.
    assertThat(s.indexOf("ip saddr @" + set5)).isLessThan(s.indexOf("numgen inc mod 2"));
  }

  @Test
  void aServiceWithoutEndpointsIsRejectedNotRouted() {
    Port p = web(List.of());
    String s = NftRuleset.transaction(T, true, NftRuleset.State.EMPTY, CIDR, Balance.ROUND_ROBIN, List.of(p)).script();
    assertThat(s).contains("add element ip " + T + " no-endpoint-services {\n  10.43.0.20 . tcp . 80 : goto reject-chain\n}\n",
        "chain filter-output { type filter hook output priority -110;", "chain reject-chain { reject; }")
        .doesNotContain("add element ip " + T + " service-ips", "add chain ip " + T + " service-");
  }

  @Test
  void laterSyncsRewriteOnlyWhatChangedAndDeleteWhatWent() {
    Port a = web(List.of(ep("10.42.0.5", 8080), ep("10.42.0.6", 8080)));
    Port other = new Port("default/other", "", "TCP", "10.43.0.21", 80, 0, List.of(), List.of(ep("10.42.0.9", 80)), 0);
    var first = NftRuleset.transaction(T, true, NftRuleset.State.EMPTY, CIDR, Balance.ROUND_ROBIN, List.of(a, other));

    // 10.42.0.6 leaves web; other is unchanged.
    Port b = web(List.of(ep("10.42.0.5", 8080)));
    String s = NftRuleset.transaction(T, false, first.next(), CIDR, Balance.ROUND_ROBIN, List.of(b, other)).script();
    String gone = a.endpointChain(ep("10.42.0.6", 8080));
    assertThat(s).doesNotContain("delete table", "add chain")
        .contains("flush map ip " + T + " service-ips\n",
            "flush chain ip " + T + " " + b.serviceChain() + "\n",
            "numgen inc mod 1 vmap { 0 : goto " + b.endpointChain(ep("10.42.0.5", 8080)) + " }",
            "flush chain ip " + T + " " + gone + "\ndelete chain ip " + T + " " + gone + "\n",
            "  10.43.0.21 . tcp . 80 : goto " + other.serviceChain())
        .doesNotContain("flush chain ip " + T + " " + other.serviceChain(), "add rule ip " + T + " " + other.serviceChain(),
            "add rule ip " + T + " " + b.endpointChain(ep("10.42.0.5", 8080)));
    // The old service chain stops referring to the endpoint chain before it is deleted.
    assertThat(s.indexOf("flush chain ip " + T + " " + b.serviceChain())).isLessThan(s.indexOf("delete chain"));

    // Nothing changed: only the maps are refilled.
    var second = NftRuleset.transaction(T, false, first.next(), CIDR, Balance.ROUND_ROBIN, List.of(b, other));
    String idle = NftRuleset.transaction(T, false, second.next(), CIDR, Balance.ROUND_ROBIN, List.of(b, other)).script();
    assertThat(idle).doesNotContain("add rule", "add chain", "delete");
  }

  @Test
  void affinitySetsSurviveSyncsAndGoWithTheirEndpoint() {
    Port a = new Port("default/sticky", "", "TCP", "10.43.0.40", 80, 0, List.of(),
        List.of(ep("10.42.0.5", 8080), ep("10.42.0.6", 8080)), 60);
    var first = NftRuleset.transaction(T, true, NftRuleset.State.EMPTY, CIDR, Balance.ROUND_ROBIN, List.of(a));
    Port b = new Port("default/sticky", "", "TCP", "10.43.0.40", 80, 0, List.of(), List.of(ep("10.42.0.5", 8080)), 60);
    String s = NftRuleset.transaction(T, false, first.next(), CIDR, Balance.ROUND_ROBIN, List.of(b)).script();
    assertThat(s).doesNotContain("add set")
        .contains("delete set ip " + T + " " + a.affinitySet(ep("10.42.0.6", 8080)) + "\n")
        .doesNotContain("delete set ip " + T + " " + a.affinitySet(ep("10.42.0.5", 8080)));
  }

  @Test
  void validationNamesWhatTheKernelWouldRefuse() {
    assertThat(NftRuleset.validate(web(List.of(ep("10.42.0.5", 8080))))).isNull();
    assertThat(NftRuleset.validate(new Port("default/x", "", "SCTP", "10.43.0.1", 80, 0, List.of(), List.of(), 0)))
        .contains("SCTP");
    assertThat(NftRuleset.validate(new Port("default/x", "", "TCP", "fd00::1", 80, 0, List.of(), List.of(), 0)))
        .contains("not an IPv4 address");
    assertThat(NftRuleset.validate(new Port("default/x", "", "TCP", "10.43.0.1", 80, 0, List.of("example.com"), List.of(), 0)))
        .contains("external IP example.com");
  }

  @Test
  void theKernelAcceptsTheGeneratedTransactions() throws Exception {
    assumeTrue(NftablesProxier.supported(), "needs root and nft");
    Port a = new Port("default/sticky", "http", "TCP", "10.43.0.40", 80, 30080, List.of("192.0.2.77"),
        List.of(ep("10.42.0.5", 8080), ep("10.42.0.6", 8080)), 60);
    Port u = new Port("kube-system/dns", "dns", "UDP", "10.43.0.10", 53, 0, List.of(), List.of(ep("192.0.2.2", 53)), 0);
    Port none = new Port("default/none", "", "TCP", "10.43.0.41", 80, 0, List.of(), List.of(), 0);
    // nft -c: the kernel validates the whole transaction and commits nothing.
    var first = NftRuleset.transaction(T, true, NftRuleset.State.EMPTY, CIDR, Balance.ROUND_ROBIN, List.of(a, u, none));
    NftablesProxier.runNft(first.script(), true);
    assertThat(NftablesProxier.exists(T)).isFalse();
  }
}
