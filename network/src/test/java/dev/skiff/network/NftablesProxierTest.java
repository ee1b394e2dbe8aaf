package dev.skiff.network;

import static dev.skiff.network.NetFixture.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.skiff.network.NftRuleset.Balance;
import dev.skiff.network.NftRuleset.Port;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * The sync loop of the kernel path: with a fake {@code nft} (batching, per-Service fallback) and,
 * as root, against the real kernel (a ClusterIP answers through DNAT; the table goes on stop,
 * when the JVM dies, and when a new proxy finds a dead one's table).
 */
class NftablesProxierTest {
  /** Records scripts; refuses any script (check or not) mentioning {@code poison}. */
  static final class FakeNft implements NftablesProxier.Nft {
    final List<String> applied = new CopyOnWriteArrayList<>();
    final List<String> checked = new CopyOnWriteArrayList<>();
    volatile String poison = "no poison";
    final java.util.concurrent.atomic.AtomicInteger failApplies = new java.util.concurrent.atomic.AtomicInteger();

    @Override
    public void run(String script, boolean checkOnly) throws IOException {
      if (!checkOnly && failApplies.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
        throw new IOException("Error: Could not process rule: Cannot allocate memory");
      }
      if (script.contains(poison)) {
        throw new IOException("Error: Could not process rule: " + poison);
      }
      (checkOnly ? checked : applied).add(script);
    }
  }

  static Port port(String svc, String clusterIp, String ep) {
    return new Port(svc, "", "TCP", clusterIp, 80, 0, List.of(), List.of(new InetSocketAddress(ep, 8080)), 0);
  }

  static void awaitApplied(NftablesProxier p) throws InterruptedException {
    long g = p.generation();
    await("sync of generation " + g, () -> p.appliedGeneration() >= g);
  }

  @Test
  void aServiceTheKernelRefusesIsReportedAndTheOthersAreStillProgrammed() throws Exception {
    FakeNft nft = new FakeNft();
    Map<String, String> failures = new ConcurrentHashMap<>();
    try (NftablesProxier p = new NftablesProxier("skiff-proxy-fake0001", nft, "10.42.0.0/16", Balance.ROUND_ROBIN,
        Duration.ZERO, failures::put).startSyncing()) {
      p.update("default/good", List.of(port("default/good", "10.43.0.20", "10.42.0.5")));
      awaitApplied(p);
      assertThat(nft.applied.getLast()).contains("10.43.0.20 . tcp . 80");

      nft.poison = "10.42.0.66"; // the kernel refuses anything mentioning this endpoint
      p.update("default/bad", List.of(port("default/bad", "10.43.0.21", "10.42.0.66")));
      p.update("default/new", List.of(port("default/new", "10.43.0.22", "10.42.0.7")));
      awaitApplied(p);
      assertThat(failures).containsOnlyKeys("default/bad");
      assertThat(failures.get("default/bad")).contains("nft refused the rules");
      assertThat(nft.applied.getLast()).contains("10.43.0.20 . tcp . 80", "10.43.0.22 . tcp . 80")
          .doesNotContain("10.43.0.21");
      // Only changed Services were checked one by one (good was applied before).
      assertThat(nft.checked).noneMatch(s -> s.contains("10.43.0.20"));

      // Still refused and unchanged: left out without asking the kernel again.
      int checks = nft.checked.size();
      failures.clear();
      p.update("default/good", List.of(port("default/good", "10.43.0.20", "10.42.0.8")));
      awaitApplied(p);
      assertThat(failures).isEmpty();
      assertThat(nft.checked).hasSize(checks);
      assertThat(nft.applied.getLast()).contains("dnat to 10.42.0.8:8080").doesNotContain("10.42.0.66");
    }
    assertThat(nft.applied.getLast()).isEqualTo("delete table ip skiff-proxy-fake0001\n");
  }

  @Test
  void aFailedSyncIsRetriedWithTheWholeTable() throws Exception {
    FakeNft nft = new FakeNft();
    Map<String, String> failures = new ConcurrentHashMap<>();
    try (NftablesProxier p = new NftablesProxier("skiff-proxy-fake0004", nft, null, Balance.ROUND_ROBIN,
        Duration.ZERO, failures::put).startSyncing()) {
      p.update("default/a", List.of(port("default/a", "10.43.0.25", "10.42.0.5")));
      awaitApplied(p);
      nft.failApplies.set(2); // the transaction and its retry without culprits both fail
      p.update("default/a", List.of(port("default/a", "10.43.0.25", "10.42.0.6")));
      await("retried", () -> !nft.applied.isEmpty() && nft.applied.getLast().contains("dnat to 10.42.0.6:8080"));
      assertThat(nft.applied.getLast()).as("whole table rewritten").startsWith("add table ip skiff-proxy-fake0004\n");
      assertThat(failures).as("no Service is to blame").isEmpty();
      awaitApplied(p);
    }
  }

  @Test
  void invalidPortsAreRefusedBeforeReachingTheKernel() throws Exception {
    FakeNft nft = new FakeNft();
    Map<String, String> failures = new ConcurrentHashMap<>();
    try (NftablesProxier p = new NftablesProxier("skiff-proxy-fake0002", nft, null, Balance.ROUND_ROBIN,
        Duration.ZERO, failures::put).startSyncing()) {
      p.update("default/v6", List.of(new Port("default/v6", "", "TCP", "fd00::1", 80, 0, List.of(), List.of(), 0)));
      p.update("default/ok", List.of(port("default/ok", "10.43.0.23", "10.42.0.5")));
      awaitApplied(p);
      assertThat(failures).containsOnlyKeys("default/v6");
      assertThat(nft.applied.getLast()).contains("10.43.0.23").doesNotContain("fd00");
    }
  }

  @Test
  void updatesThatChangeNothingDoNotSync() throws Exception {
    FakeNft nft = new FakeNft();
    try (NftablesProxier p = new NftablesProxier("skiff-proxy-fake0003", nft, null, Balance.ROUND_ROBIN,
        Duration.ZERO, (k, m) -> { }).startSyncing()) {
      p.update("default/a", List.of(port("default/a", "10.43.0.24", "10.42.0.5")));
      awaitApplied(p);
      long g = p.generation();
      int syncs = nft.applied.size();
      p.update("default/a", List.of(port("default/a", "10.43.0.24", "10.42.0.5")));
      p.update("default/missing", List.of());
      assertThat(p.generation()).isEqualTo(g);
      assertThat(nft.applied).hasSize(syncs);
    }
  }

  @Test
  void aClusterIpAnswersThroughTheKernelAndTheTableGoesOnStop() throws Exception {
    assumeTrue(NftablesProxier.supported(), "needs root and nft");
    String table;
    try (NetFixture.Backends b = new NetFixture.Backends("127.0.0.2", "127.0.0.3")) {
      String ip = NetFixture.randomClusterIp();
      int port = 10000 + java.util.concurrent.ThreadLocalRandom.current().nextInt(10000);
      try (NftablesProxier p = NftablesProxier.start("10.42.0.0/16", Balance.ROUND_ROBIN, Duration.ofMillis(10), (k, m) -> { })) {
        table = p.table();
        assertThat(NftablesProxier.exists(table)).isTrue();
        p.update("default/k", List.of(new Port("default/k", "", "TCP", ip, port, 0, List.of(),
            List.of(new InetSocketAddress("127.0.0.2", b.port), new InetSocketAddress("127.0.0.3", b.port)), 0)));
        awaitApplied(p);
        InetSocketAddress vip = new InetSocketAddress(ip, port);
        assertThat(List.of(NetFixture.get(vip), NetFixture.get(vip), NetFixture.get(vip), NetFixture.get(vip)))
            .containsExactlyInAnyOrder("127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.3");

        // An established connection keeps its endpoint when that endpoint leaves (conntrack).
        try (Socket keep = new Socket()) {
          keep.connect(vip, 2000);
          keep.setSoTimeout(5000);
          String first = NetFixture.exchange(keep, false);
          String other = first.equals("127.0.0.2") ? "127.0.0.3" : "127.0.0.2";
          p.update("default/k", List.of(new Port("default/k", "", "TCP", ip, port, 0, List.of(),
              List.of(new InetSocketAddress(other, b.port)), 0)));
          awaitApplied(p);
          assertThat(NetFixture.get(vip)).isEqualTo(other);
          assertThat(NetFixture.exchange(keep, false)).isEqualTo(first);
        }

        // No endpoints: rejected at once, not routed out of the host.
        p.update("default/k", List.of(new Port("default/k", "", "TCP", ip, port, 0, List.of(), List.of(), 0)));
        awaitApplied(p);
        try (Socket s = new Socket()) {
          long t0 = System.nanoTime();
          org.assertj.core.api.Assertions.assertThatThrownBy(() -> s.connect(vip, 5000))
              .isInstanceOf(java.net.ConnectException.class);
          assertThat(System.nanoTime() - t0).as("refused, not timed out").isLessThan(Duration.ofSeconds(4).toNanos());
        }
      }
    }
    assertThat(NftablesProxier.exists(table)).as("table deleted on stop").isFalse();
  }

  @Test
  void theWatchdogDeletesTheTableWhenTheJvmGoesAway() throws Exception {
    assumeTrue(NftablesProxier.supported(), "needs root and nft");
    try (NftablesProxier p = NftablesProxier.start("10.42.0.0/16", Balance.ROUND_ROBIN, Duration.ofMillis(10), (k, m) -> { })) {
      // What the kernel does when this JVM dies: the pipe to the watchdog's stdin closes.
      p.watchdog().getOutputStream().close();
      await("watchdog deleted " + p.table(), () -> !NftablesProxier.exists(p.table()));
      assertThat(p.watchdog().waitFor()).isZero();
    }
  }

  @Test
  void aDeadProxysTableIsRemovedByTheNextOne() throws Exception {
    assumeTrue(NftablesProxier.supported(), "needs root and nft");
    // A pid that is not running (pids stay below 2^22 by default).
    long dead = 0xfffff0;
    assumeTrue(ProcessHandle.of(dead).isEmpty());
    String stale = "%s%06x%02x".formatted(NftablesProxier.PREFIX, dead, 7);
    NftablesProxier.runNft("add table ip " + stale + "\n", false);
    try {
      try (NftablesProxier p = NftablesProxier.start("10.42.0.0/16", Balance.ROUND_ROBIN, Duration.ofMillis(10), (k, m) -> { })) {
        assertThat(NftablesProxier.exists(stale)).isFalse();
        assertThat(NftablesProxier.exists(p.table())).isTrue();
      }
    } finally {
      if (NftablesProxier.exists(stale)) {
        NftablesProxier.runNft("delete table ip " + stale + "\n", false);
      }
    }
  }
}
