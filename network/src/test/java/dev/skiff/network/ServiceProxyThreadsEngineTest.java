package dev.skiff.network;

import java.util.Map;
import org.junit.jupiter.api.BeforeAll;

/** Every {@link ServiceProxyTest} case again with the blocking-threads copy engine. */
class ServiceProxyThreadsEngineTest extends ServiceProxyTest {
  @BeforeAll
  static void start() throws Exception {
    start(Map.of("proxy.engine", "threads"));
  }
}
