package dev.skiff.network;

import static dev.skiff.network.NetFixture.await;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/** The per-instance ClusterIP link (root only). */
class ClusterIpInterfaceTest {
  @Test
  void addressesComeAndGoAndCloseDeletesTheLink() throws Exception {
    assumeTrue(ClusterIpInterface.supported(), "needs root");
    ClusterIpInterface link = ClusterIpInterface.create();
    try {
      assertThat(link.name()).hasSizeLessThanOrEqualTo(15).startsWith(ClusterIpInterface.PREFIX);
      String ip = NetFixture.randomClusterIp();
      link.add(ip);
      link.add(ip); // idempotent
      assertThat(ClusterIpInterface.ip("-o", "addr", "show", "dev", link.name())).contains(ip + "/32");
      link.remove(ip);
      assertThat(ClusterIpInterface.ip("-o", "addr", "show", "dev", link.name())).doesNotContain(ip + "/32");
    } finally {
      link.close();
    }
    assertThat(ClusterIpInterface.exists(link.name())).isFalse();
  }

  @Test
  void theWatchdogDeletesTheLinkWhenTheJvmGoesAway() throws Exception {
    assumeTrue(ClusterIpInterface.supported(), "needs root");
    ClusterIpInterface link = ClusterIpInterface.create();
    try {
      // What the kernel does when this JVM dies: the pipe to the watchdog's stdin closes.
      link.watchdog().getOutputStream().close();
      await("watchdog deleted " + link.name(), () -> !ClusterIpInterface.exists(link.name()));
      assertThat(link.watchdog().waitFor()).isZero();
    } finally {
      link.close();
    }
  }
}
