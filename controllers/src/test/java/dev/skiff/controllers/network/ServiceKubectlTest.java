package dev.skiff.controllers.network;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import dev.skiff.controllers.ControllerManager;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.nio.file.Files;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** What the real kubectl shows for Services, Endpoints and EndpointSlices. */
class ServiceKubectlTest {
  static TestServer server;
  static KubernetesClient client;
  static AutoCloseable manager;
  static Kubectl kubectl;

  @BeforeAll
  static void up() throws Exception {
    server = TestServer.start();
    client = Clients.forKubeconfig(server.kubeconfig());
    manager = new ControllerManager().start(new ComponentContext(client, Files.createTempDirectory("cm"), "test",
        Map.of("leaseDurationSeconds", "3", "renewDeadlineSeconds", "2", "retryPeriodMillis", "300")));
    kubectl = server.kubectl();
  }

  @AfterAll
  static void down() throws Exception {
    manager.close();
    client.close();
    server.close();
  }

  static final String MANIFEST = """
      apiVersion: v1
      kind: Service
      metadata:
        name: web
      spec:
        type: NodePort
        selector:
          app: web
        ports:
        - name: http
          port: 80
          targetPort: http
          nodePort: 30080
      ---
      apiVersion: v1
      kind: Service
      metadata:
        name: lb
      spec:
        type: LoadBalancer
        selector:
          app: web
        ports:
        - port: 443
          targetPort: 8443
      ---
      apiVersion: v1
      kind: Service
      metadata:
        name: db
      spec:
        clusterIP: None
        selector:
          app: db
        ports:
        - port: 5432
      ---
      apiVersion: v1
      kind: Service
      metadata:
        name: ext
      spec:
        type: ExternalName
        externalName: example.com
      """;

  static String pod(String name, String app) {
    return """
        apiVersion: v1
        kind: Pod
        metadata:
          name: %s
          labels:
            app: %s
        spec:
          nodeName: node-a
          containers:
          - name: c
            image: x
            ports:
            - name: http
              containerPort: 8080
        """.formatted(name, app);
  }

  static void ready(String name, String ip) {
    client.pods().inNamespace("default").withName(name).subresource("status").patch(PatchContext.of(PatchType.JSON_MERGE),
        "{\"status\":{\"phase\":\"Running\",\"podIP\":\"" + ip + "\",\"podIPs\":[{\"ip\":\"" + ip + "\"}],"
            + "\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\"}]}}");
  }

  static boolean until(java.util.function.BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + java.time.Duration.ofSeconds(20).toNanos();
    while (System.nanoTime() < deadline) {
      try {
        if (condition.getAsBoolean()) {
          return true;
        }
      } catch (RuntimeException e) {
        // transient
      }
      Thread.sleep(50);
    }
    return false;
  }

  static String out(String... args) throws Exception {
    return kubectl.run(args).ok().out();
  }

  @Test
  void getAndDescribeShowUpstreamColumnsAndContent() throws Exception {
    kubectl.runWithInput(MANIFEST, "apply", "-f", "-").ok();
    client.nodes().resource(new io.fabric8.kubernetes.api.model.NodeBuilder().withNewMetadata().withName("node-a").endMetadata()
        .withNewStatus().addNewCondition().withType("Ready").withStatus("True").endCondition()
        .addNewAddress().withType("InternalIP").withAddress("192.0.2.7").endAddress().endStatus().build()).create();
    for (int i = 1; i <= 4; i++) {
      kubectl.runWithInput(pod("web-" + i, "web"), "apply", "-f", "-").ok();
      ready("web-" + i, "10.42.0." + (4 + i));
    }
    assertThat(until(() -> {
      try {
        return out("get", "endpoints", "web").contains("+ 1 more...") && out("get", "svc", "lb").contains("192.0.2.7");
      } catch (Exception e) {
        return false;
      }
    })).isTrue();
    String ip = client.services().inNamespace("default").withName("web").get().getSpec().getClusterIP();
    String lbIp = client.services().inNamespace("default").withName("lb").get().getSpec().getClusterIP();
    int lbNodePort = client.services().inNamespace("default").withName("lb").get().getSpec().getPorts().get(0).getNodePort();

    String svcs = out("get", "svc");
    assertThat(svcs.lines().findFirst().orElseThrow()).matches("NAME +TYPE +CLUSTER-IP +EXTERNAL-IP +PORT\\(S\\) +AGE");
    assertThat(svcs).containsPattern("(?m)^db +ClusterIP +None +<none> +5432/TCP +\\d+s$")
        .containsPattern("(?m)^ext +ExternalName +<none> +example\\.com +<none> +\\d+s$")
        .containsPattern("(?m)^kubernetes +ClusterIP +10\\.43\\.0\\.1 +<none> +443/TCP +\\d+s$")
        .containsPattern("(?m)^lb +LoadBalancer +" + lbIp.replace(".", "\\.") + " +192\\.0\\.2\\.7 +443:" + lbNodePort + "/TCP +\\d+s$")
        .containsPattern("(?m)^web +NodePort +" + ip.replace(".", "\\.") + " +<none> +80:30080/TCP +\\d+s$");

    String slices = out("get", "endpointslices");
    assertThat(slices.lines().findFirst().orElseThrow()).matches("NAME +ADDRESSTYPE +PORTS +ENDPOINTS +AGE");
    assertThat(slices).containsPattern("(?m)^web-[a-z0-9]{5} +IPv4 +8080 +10\\.42\\.0\\.5,10\\.42\\.0\\.6,10\\.42\\.0\\.7 \\+ 1 more\\.\\.\\. +\\d+s$")
        .containsPattern("(?m)^lb-[a-z0-9]{5} +IPv4 +8443 +10\\.42\\.0\\.5,10\\.42\\.0\\.6,10\\.42\\.0\\.7 \\+ 1 more\\.\\.\\. +\\d+s$")
        .containsPattern("(?m)^db-[a-z0-9]{5} +IPv4 +<unset> +<unset> +\\d+s$")
        .containsPattern("(?m)^kubernetes +IPv4 +" + server.server().port() + " +[0-9.]+ +\\d+s$");

    String eps = out("get", "endpoints");
    assertThat(eps.lines().findFirst().orElseThrow()).matches("NAME +ENDPOINTS +AGE");
    assertThat(eps).containsPattern("(?m)^web +10\\.42\\.0\\.5:8080,10\\.42\\.0\\.6:8080,10\\.42\\.0\\.7:8080 \\+ 1 more\\.\\.\\. +\\d+s$")
        .containsPattern("(?m)^db +<none> +\\d+s$")
        .containsPattern("(?m)^kubernetes +[0-9.]+:" + server.server().port() + " +\\d+s$");

    String describe = out("describe", "svc", "web");
    assertThat(describe).containsPattern("(?m)^Selector: +app=web$")
        .containsPattern("(?m)^Type: +NodePort$")
        .containsPattern("(?m)^IP Family Policy: +SingleStack$")
        .containsPattern("(?m)^IP Families: +IPv4$")
        .containsPattern("(?m)^IP: +" + ip.replace(".", "\\.") + "$")
        .containsPattern("(?m)^IPs: +" + ip.replace(".", "\\.") + "$")
        .containsPattern("(?m)^Port: +http  80/TCP$")
        .containsPattern("(?m)^TargetPort: +http/TCP$")
        .containsPattern("(?m)^NodePort: +http  30080/TCP$")
        .containsPattern("(?m)^Endpoints: +10\\.42\\.0\\.5:8080,10\\.42\\.0\\.6:8080,10\\.42\\.0\\.7:8080 \\+ 1 more\\.\\.\\.$")
        .containsPattern("(?m)^Session Affinity: +None$")
        .containsPattern("(?m)^External Traffic Policy: +Cluster$")
        .containsPattern("(?m)^Internal Traffic Policy: +Cluster$");
    assertThat(out("describe", "svc", "lb")).containsPattern("(?m)^LoadBalancer Ingress: +192\\.0\\.2\\.7 \\(VIP\\)$");
    assertThat(out("describe", "svc", "kubernetes")).containsPattern("(?m)^Port: +https  443/TCP$")
        .containsPattern("(?m)^TargetPort: +" + server.server().port() + "/TCP$")
        .containsPattern("(?m)^Labels: +component=apiserver$");
    // Re-applying changed manifests keeps every allocated value (the nodePort follows the port by name).
    kubectl.runWithInput(MANIFEST.replace("port: 443", "port: 8443"), "apply", "-f", "-").ok();
    var lb = client.services().inNamespace("default").withName("lb").get().getSpec();
    assertThat(lb.getClusterIP()).isEqualTo(lbIp);
    assertThat(lb.getPorts().get(0).getPort()).isEqualTo(8443);
    assertThat(lb.getPorts().get(0).getNodePort()).isEqualTo(lbNodePort);
    kubectl.runWithInput(MANIFEST, "apply", "-f", "-").ok();
    // Server-side apply of the web Service alone (the first document).
    kubectl.runWithInput(MANIFEST.substring(0, MANIFEST.indexOf("---")), "apply", "--server-side", "--force-conflicts", "-f", "-").ok();
    assertThat(client.services().inNamespace("default").withName("lb").get().getSpec().getPorts().get(0).getNodePort())
        .isEqualTo(lbNodePort);
    assertThat(client.services().inNamespace("default").withName("web").get().getSpec().getClusterIP()).isEqualTo(ip);
    assertThat(out("describe", "endpointslice", "-l", "kubernetes.io/service-name=web"))
        .containsPattern("(?m)^ +TargetRef: +Pod/web-1$")
        .containsPattern("(?m)^ +NodeName: +node-a$")
        .contains("endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io");
  }
}
