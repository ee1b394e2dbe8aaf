package dev.skiff.kubelet.sandbox;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The warm pool of pod network sandboxes (as root): built ahead, handed out by attach, refilled,
 * re-adopted by a new agent over the same state, and removed when the agent stops.
 */
class PodNetworkPoolTest {
  Path dir;

  @AfterEach
  void cleanUp() throws Exception {
    if (dir != null) {
      // whatever a failed assertion left: pods' namespaces, pooled ones, the bridge
      for (String uid : new String[] {"pod-a", "pod-b"}) {
        PodNetwork.detach(dir, uid);
      }
      PodNetwork.removeIfUnused(dir);
    }
  }

  @Test
  void pooledSandboxesAreHandedOutRefilledReadoptedAndRemoved() throws Exception {
    assumeTrue(PodNetwork.supported(), "pod networks need root, ip, nsenter and unshare");
    dir = Files.createTempDirectory("skiff-pool-");
    PodNetwork net = PodNetwork.open(dir, null);
    String hash = net.bridge().substring(3);
    net.startPool(2);
    assertThat(until(() -> net.pooled() == 2)).as("pool filled").isTrue();
    assertThat(netns()).contains("skiff-" + hash + "-pool-");

    // A pod takes a ready sandbox: a namespace with its address on eth0 and a default route.
    PodNetwork.Attachment a = net.attach("pod-a");
    assertThat(a.netnsName()).startsWith("skiff-" + hash + "-pool-").endsWith(a.ip());
    assertThat(ip("-n", a.netnsName(), "-4", "-o", "addr", "show", "dev", "eth0")).contains(" " + a.ip() + "/24");
    assertThat(ip("-n", a.netnsName(), "route")).contains("default via " + net.gateway());
    assertThat(Files.readString(dir.resolve("ips").resolve(a.ip())).trim()).isEqualTo("pod-a");
    assertThat(net.attach("pod-a")).isEqualTo(a); // idempotent
    // ...and the pool builds a replacement once no pod has taken one for a moment.
    assertThat(until(() -> net.pooled() == 2)).as("pool refilled").isTrue();

    // An agent that stops abruptly leaves its pool to the next one, which re-adopts it.
    net.close(true);
    PodNetwork again = PodNetwork.open(dir, null);
    assertThat(again.pooled()).isEqualTo(2);
    assertThat(again.attach("pod-a")).isEqualTo(a);
    PodNetwork.Attachment b = again.attach("pod-b");
    assertThat(b.ip()).isNotEqualTo(a.ip());
    assertThat(again.pooled()).isEqualTo(1);

    // Removal: the pods' sandboxes go with detach, the pooled ones with close.
    again.detach("pod-a");
    again.detach("pod-b");
    assertThat(netns()).doesNotContain(a.netnsName() + " ").doesNotContain(b.netnsName() + " ");
    again.close(false);
    assertThat(netns()).doesNotContain("skiff-" + hash + "-");
    assertThat(PodNetwork.removeIfUnused(dir)).isTrue();
    assertThat(ip("-o", "link")).doesNotContain(net.bridge());
    try (var s = Files.list(dir.resolve("ips"))) {
      assertThat(s.toList()).isEmpty();
    }
  }

  @Test
  void withoutAPoolAttachBuildsTheSandboxOnTheSpot() throws Exception {
    assumeTrue(PodNetwork.supported(), "pod networks need root, ip, nsenter and unshare");
    dir = Files.createTempDirectory("skiff-pool-");
    PodNetwork net = PodNetwork.open(dir, null);
    PodNetwork.Attachment a = net.attach("pod-a");
    assertThat(a.netnsName()).contains("pod-a").doesNotContain("-pool-");
    assertThat(net.pooled()).isZero();
    net.detach("pod-a");
    net.close(false);
    assertThat(PodNetwork.removeIfUnused(dir)).isTrue();
  }

  static String netns() throws Exception {
    return ip("netns") + "\n";
  }

  static String ip(String... args) throws Exception {
    String[] cmd = new String[args.length + 1];
    cmd[0] = "ip";
    System.arraycopy(args, 0, cmd, 1, args.length);
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    p.waitFor();
    return out;
  }

  static boolean until(BooleanSupplier c) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
    while (System.nanoTime() < deadline) {
      if (c.getAsBoolean()) {
        return true;
      }
      Thread.sleep(20);
    }
    return c.getAsBoolean();
  }
}
