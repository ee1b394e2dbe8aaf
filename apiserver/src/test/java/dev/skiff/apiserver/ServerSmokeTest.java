package dev.skiff.apiserver;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.TestServer;
import org.junit.jupiter.api.Test;

class ServerSmokeTest {
  @Test
  void kubectlSeesTheBootstrapNamespaces() throws Exception {
    try (TestServer s = TestServer.start()) {
      var r = s.kubectl().run("get", "namespaces").ok();
      assertThat(r.out()).contains("NAME", "STATUS", "AGE").contains("default", "kube-system", "kube-public", "kube-node-lease");
      assertThat(s.request("GET", "/readyz", null, null).body()).isEqualTo("ok");
    }
  }
}
