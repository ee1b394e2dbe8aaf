package dev.skiff.network;

import java.util.Map;
import org.junit.jupiter.api.BeforeAll;

/** {@link ServiceProxyCases} with ClusterIPs proxied in user space (NIO engine), the path used when nftables is unusable. */
class ServiceProxyUserspaceTest extends ServiceProxyCases {
  @BeforeAll
  static void startUserspace() throws Exception {
    start(Map.of("proxy.mode", "userspace"));
  }
}
