package dev.skiff.network;

import java.util.Map;
import org.junit.jupiter.api.BeforeAll;

/** {@link ServiceProxyCases} with the blocking-threads copy engine (user-space ClusterIPs, so the engine carries them). */
class ServiceProxyThreadsEngineTest extends ServiceProxyCases {
  @BeforeAll
  static void startThreadsEngine() throws Exception {
    start(Map.of("proxy.engine", "threads", "proxy.mode", "userspace"));
  }
}
