package dev.skiff.network;

import java.util.Map;
import org.junit.jupiter.api.BeforeAll;

/** {@link ServiceProxyCases} with the default options: the nftables kernel path as root, else NodePorts by the NIO engine. */
class ServiceProxyTest extends ServiceProxyCases {
  @BeforeAll
  static void startDefault() throws Exception {
    start(Map.of());
  }
}
