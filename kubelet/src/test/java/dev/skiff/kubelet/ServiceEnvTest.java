package dev.skiff.kubelet;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.ServicePortBuilder;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Service environment variables as pkg/kubelet/envvars/envvars_test.go expects them. */
class ServiceEnvTest {
  static Service svc(String ns, String name, String ip, ServicePortBuilder... ports) {
    return new ServiceBuilder().withNewMetadata().withNamespace(ns).withName(name).endMetadata().withNewSpec().withClusterIP(ip)
        .withPorts(java.util.Arrays.stream(ports).map(ServicePortBuilder::build).toList()).endSpec().build();
  }

  static Pod pod(String ns, Boolean links) {
    return new PodBuilder().withNewMetadata().withNamespace(ns).withName("p").endMetadata().withNewSpec()
        .withEnableServiceLinks(links).endSpec().build();
  }

  static final List<Service> SERVICES = List.of(
      svc("default", "kubernetes", "10.43.0.1", new ServicePortBuilder().withName("https").withPort(443).withProtocol("TCP")),
      svc("shop", "web-api", "10.43.0.20", new ServicePortBuilder().withPort(80),
          new ServicePortBuilder().withName("metrics").withPort(9090).withProtocol("TCP"),
          new ServicePortBuilder().withName("dns").withPort(53).withProtocol("UDP")),
      svc("shop", "headless", "None", new ServicePortBuilder().withPort(80)),
      svc("other", "elsewhere", "10.43.0.30", new ServicePortBuilder().withPort(80)));

  @Test
  void servicesOfTheNamespaceAndTheMasterServiceWithDockerLinkVariables() {
    Map<String, String> env = ServiceEnv.forPod(pod("shop", null), SERVICES);
    assertThat(env).containsEntry("WEB_API_SERVICE_HOST", "10.43.0.20")
        .containsEntry("WEB_API_SERVICE_PORT", "80")
        .containsEntry("WEB_API_SERVICE_PORT_METRICS", "9090")
        .containsEntry("WEB_API_SERVICE_PORT_DNS", "53")
        .containsEntry("WEB_API_PORT", "tcp://10.43.0.20:80")
        .containsEntry("WEB_API_PORT_80_TCP", "tcp://10.43.0.20:80")
        .containsEntry("WEB_API_PORT_80_TCP_PROTO", "tcp")
        .containsEntry("WEB_API_PORT_80_TCP_PORT", "80")
        .containsEntry("WEB_API_PORT_80_TCP_ADDR", "10.43.0.20")
        .containsEntry("WEB_API_PORT_53_UDP", "udp://10.43.0.20:53")
        .containsEntry("KUBERNETES_SERVICE_HOST", "10.43.0.1")
        .containsEntry("KUBERNETES_SERVICE_PORT", "443")
        .containsEntry("KUBERNETES_SERVICE_PORT_HTTPS", "443")
        .containsEntry("KUBERNETES_PORT", "tcp://10.43.0.1:443")
        .containsEntry("KUBERNETES_PORT_443_TCP_ADDR", "10.43.0.1");
    assertThat(env.keySet()).noneMatch(k -> k.startsWith("HEADLESS_") || k.startsWith("ELSEWHERE_"));
  }

  @Test
  void enableServiceLinksFalseKeepsOnlyTheMasterService() {
    Map<String, String> env = ServiceEnv.forPod(pod("shop", false), SERVICES);
    assertThat(env).containsKey("KUBERNETES_SERVICE_HOST");
    assertThat(env.keySet()).allMatch(k -> k.startsWith("KUBERNETES_"));
  }
}
