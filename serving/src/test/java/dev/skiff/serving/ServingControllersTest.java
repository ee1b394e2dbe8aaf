package dev.skiff.serving;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import dev.skiff.serving.v1.Configuration;
import dev.skiff.serving.v1.KService;
import dev.skiff.serving.v1.Revision;
import dev.skiff.serving.v1.Route;
import dev.skiff.serving.v1.TrafficTarget;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The four Knative controllers against a real API server, driven with the real kubectl. There is
 * no node agent and no deployment controller: the test plays them by writing Deployment status.
 */
class ServingControllersTest {
  static TestServer server;
  static Kubectl kubectl;
  static KubernetesClient client;
  static AutoCloseable serving;

  /** The seed's hello world with a command serving "Hello $TARGET!" on $PORT. */
  static final String HELLO = """
      apiVersion: serving.knative.dev/v1
      kind: Service
      metadata:
        name: %s
        namespace: default
      spec:
        template:
          spec:
            containers:
            - image: gcr.io/knative-samples/helloworld-go
              command: ["python3", "-c", "import http.server,os\\nclass H(http.server.BaseHTTPRequestHandler):\\n def do_GET(s):\\n  b=('Hello '+os.environ.get('TARGET','World')+'!\\\\n').encode(); s.send_response(200); s.end_headers(); s.wfile.write(b)\\nhttp.server.HTTPServer(('',int(os.environ['PORT'])),H).serve_forever()"]
              env:
              - name: TARGET
                value: "%s"
      """;

  static final String HELLO_V1ALPHA1 = """
      apiVersion: serving.knative.dev/v1alpha1 # Current version of Knative
      kind: Service
      metadata:
        name: helloworld-go # The name of the app
        namespace: alpha # The namespace the app will use (the seed's "default" is taken by the v1 test)
      spec:
        runLatest:
          configuration:
            revisionTemplate:
              spec:
                container:
                  image: gcr.io/knative-samples/helloworld-go # The URL to the image of the app
                  command: ["sh", "-c", "echo serving"]
                  env:
                  - name: TARGET # The environment variable printed out by the sample app
                    value: "Go Sample v1"
      """;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
    kubectl = server.kubectl();
    client = Clients.forKubeconfig(server.kubeconfig());
    Path data = Files.createTempDirectory("serving-test");
    serving = new ServingControllers().start(new ComponentContext(Clients.forKubeconfig(server.kubeconfig()), data, "node-1",
        Map.of("serving.retryPeriodMillis", "200")));
  }

  @AfterAll
  static void stop() throws Exception {
    serving.close();
    client.close();
    server.close();
  }

  static <T> T await(String what, Supplier<T> probe) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (true) {
      T v = null;
      try {
        v = probe.get();
      } catch (RuntimeException e) {
        // not there yet
      }
      if (v != null && !Boolean.FALSE.equals(v)) {
        return v;
      }
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(20);
    }
  }

  static Deployment deployment(String rev) throws InterruptedException {
    return await("deployment of " + rev, () -> client.apps().deployments().inNamespace("default").withName(rev + "-deployment").get());
  }

  /** Plays the deployment controller and kubelet: all replicas ready. */
  static void markReady(String rev) throws InterruptedException {
    Deployment d = deployment(rev);
    int replicas = d.getSpec().getReplicas();
    d.setStatus(new io.fabric8.kubernetes.api.model.apps.DeploymentStatusBuilder().withObservedGeneration(d.getMetadata().getGeneration())
        .withReplicas(replicas).withReadyReplicas(replicas).withAvailableReplicas(replicas).withUpdatedReplicas(replicas).build());
    client.apps().deployments().inNamespace("default").resource(d).updateStatus();
  }

  static KService ksvc(String name) {
    return client.resources(KService.class).inNamespace("default").withName(name).get();
  }

  static Route route(String name) {
    return client.resources(Route.class).inNamespace("default").withName(name).get();
  }

  static Revision revision(String name) {
    return client.resources(Revision.class).inNamespace("default").withName(name).get();
  }

  static boolean ready(KService s) {
    return s != null && s.getStatus() != null && s.getStatus().isTrue("Ready")
        && s.getMetadata().getGeneration().equals(s.getStatus().getObservedGeneration());
  }

  @Test
  void helloWorldLifecycle() throws Exception {
    kubectl.runWithInput(HELLO.formatted("helloworld-go", "Go Sample v1"), "apply", "-f", "-").ok();

    // Service -> Configuration + Route with the same name, owned, labelled, annotated.
    Configuration cfg = await("configuration", () -> client.resources(Configuration.class).inNamespace("default").withName("helloworld-go").get());
    Route rt = await("route", () -> route("helloworld-go"));
    KService svc = ksvc("helloworld-go");
    for (var child : List.of(cfg.getMetadata(), rt.getMetadata())) {
      assertThat(child.getOwnerReferences()).singleElement().satisfies(o -> {
        assertThat(o.getUid()).isEqualTo(svc.getMetadata().getUid());
        assertThat(o.getController()).isTrue();
      });
      assertThat(child.getLabels()).containsEntry("serving.knative.dev/service", "helloworld-go");
      assertThat(child.getAnnotations()).containsKeys("serving.knative.dev/creator", "serving.knative.dev/lastModifier")
          .doesNotContainKey("kubectl.kubernetes.io/last-applied-configuration");
    }
    assertThat(rt.getSpec().getTraffic()).singleElement().satisfies(t -> {
      assertThat(t.getConfigurationName()).isEqualTo("helloworld-go");
      assertThat(t.getLatestRevision()).isTrue();
      assertThat(t.getPercent()).isEqualTo(100L);
    });

    // Configuration -> Revision helloworld-go-00001 -> Deployment.
    Revision rev = await("revision", () -> revision("helloworld-go-00001"));
    assertThat(rev.getMetadata().getLabels()).containsEntry("serving.knative.dev/configuration", "helloworld-go")
        .containsEntry("serving.knative.dev/configurationGeneration", "1")
        .containsEntry("serving.knative.dev/service", "helloworld-go");
    assertThat(rev.getMetadata().getAnnotations()).containsKey("serving.knative.dev/creator");
    Deployment d = deployment("helloworld-go-00001");
    assertThat(d.getSpec().getReplicas()).isEqualTo(1);
    assertThat(d.getSpec().getTemplate().getMetadata().getLabels())
        .containsEntry("serving.knative.dev/service", "helloworld-go")
        .containsEntry("serving.knative.dev/configuration", "helloworld-go")
        .containsEntry("serving.knative.dev/revision", "helloworld-go-00001")
        .containsEntry("serving.knative.dev/revisionUID", rev.getMetadata().getUid());
    assertThat(d.getSpec().getTemplate().getSpec().getTerminationGracePeriodSeconds()).isEqualTo(300L);
    Container c = d.getSpec().getTemplate().getSpec().getContainers().get(0);
    assertThat(c.getName()).isEqualTo("user-container");
    assertThat(c.getPorts()).singleElement().satisfies(p -> {
      assertThat(p.getName()).isEqualTo("user-port");
      assertThat(p.getContainerPort()).isEqualTo(8080);
    });
    Map<String, String> env = c.getEnv().stream().collect(Collectors.toMap(EnvVar::getName, e -> e.getValue() == null ? "" : e.getValue()));
    assertThat(env).containsEntry("PORT", "8080").containsEntry("K_SERVICE", "helloworld-go")
        .containsEntry("K_CONFIGURATION", "helloworld-go").containsEntry("K_REVISION", "helloworld-go-00001")
        .containsEntry("TARGET", "Go Sample v1");
    assertThat(c.getReadinessProbe().getTcpSocket().getPort().getIntVal()).isEqualTo(8080);

    // Before any pod is ready: Deploying.
    await("deploying", () -> {
      Revision r = revision("helloworld-go-00001");
      return r.getStatus() != null && r.getStatus().condition("ResourcesAvailable") != null
          && "Deploying".equals(r.getStatus().condition("ResourcesAvailable").getReason());
    });
    assertThat(kubectl.run("get", "ksvc", "helloworld-go").ok().out()).contains("Unknown");

    markReady("helloworld-go-00001");
    KService readySvc = await("service ready", () -> ready(ksvc("helloworld-go")) ? ksvc("helloworld-go") : null);
    assertThat(readySvc.getStatus().getUrl()).isEqualTo("http://helloworld-go.default.localhost");
    assertThat(readySvc.getStatus().getAddress()).containsEntry("url", "http://helloworld-go.default.svc.cluster.local");
    assertThat(readySvc.getStatus().getLatestCreatedRevisionName()).isEqualTo("helloworld-go-00001");
    assertThat(readySvc.getStatus().getLatestReadyRevisionName()).isEqualTo("helloworld-go-00001");
    assertThat(readySvc.getStatus().isTrue("ConfigurationsReady")).isTrue();
    assertThat(readySvc.getStatus().isTrue("RoutesReady")).isTrue();
    assertThat(readySvc.getStatus().getTraffic()).singleElement().satisfies(t -> {
      assertThat(t.getRevisionName()).isEqualTo("helloworld-go-00001");
      assertThat(t.getPercent()).isEqualTo(100L);
      assertThat(t.getLatestRevision()).isTrue();
    });
    Revision r1 = revision("helloworld-go-00001");
    assertThat(r1.getStatus().getActualReplicas()).isEqualTo(1);
    assertThat(r1.getStatus().getDesiredReplicas()).isEqualTo(1);
    assertThat(r1.getStatus().isTrue("Active")).isTrue();
    await("routing state", () -> "active".equals(revision("helloworld-go-00001").getMetadata().getLabels().get("serving.knative.dev/routingState")));

    String table = kubectl.run("get", "ksvc", "helloworld-go").ok().out();
    assertThat(table).contains("http://helloworld-go.default.localhost").contains("helloworld-go-00001").contains("True");
    assertThat(kubectl.run("get", "rev").ok().out()).containsPattern("helloworld-go-00001\\s+helloworld-go\\s+1\\s+True\\s+1\\s+1");
    assertThat(kubectl.run("get", "cfg", "helloworld-go").ok().out()).containsPattern("helloworld-go-00001\\s+helloworld-go-00001\\s+True");
    assertThat(kubectl.run("get", "rt", "helloworld-go").ok().out()).containsPattern("http://helloworld-go.default.localhost\\s+True");
    assertThat(client.services().inNamespace("default").withName("helloworld-go").get().getMetadata().getLabels())
        .containsEntry("serving.knative.dev/route", "helloworld-go");

    // A new TARGET: revision 00002, traffic moves once it is ready, 00001 stays listed.
    kubectl.runWithInput(HELLO.formatted("helloworld-go", "Go Sample v2"), "apply", "-f", "-").ok();
    await("revision 2", () -> revision("helloworld-go-00002"));
    assertThat(ksvc("helloworld-go").getStatus().getTraffic().get(0).getRevisionName()).isEqualTo("helloworld-go-00001");
    markReady("helloworld-go-00002");
    await("traffic on 00002", () -> {
      KService s = ksvc("helloworld-go");
      return ready(s) && "helloworld-go-00002".equals(s.getStatus().getTraffic().get(0).getRevisionName());
    });
    assertThat(kubectl.run("get", "rev").ok().out()).contains("helloworld-go-00001").contains("helloworld-go-00002");
    await("00001 in reserve", () -> "reserve".equals(revision("helloworld-go-00001").getMetadata().getLabels().get("serving.knative.dev/routingState")));

    // 50/50 with tags, plus a tag on the latest at 0%.
    kubectl.run("patch", "ksvc", "helloworld-go", "--type=merge", "-p", """
        {"spec":{"traffic":[
          {"tag":"current","revisionName":"helloworld-go-00001","percent":50},
          {"tag":"candidate","revisionName":"helloworld-go-00002","percent":50},
          {"tag":"latest","latestRevision":true,"percent":0}]}}""").ok();
    List<TrafficTarget> split = await("split", () -> {
      KService s = ksvc("helloworld-go");
      return ready(s) && s.getStatus().getTraffic().size() == 3 ? s.getStatus().getTraffic() : null;
    });
    assertThat(split).extracting(TrafficTarget::getTag).containsExactly("current", "candidate", "latest");
    assertThat(split).extracting(TrafficTarget::getRevisionName)
        .containsExactly("helloworld-go-00001", "helloworld-go-00002", "helloworld-go-00002");
    assertThat(split).extracting(TrafficTarget::getPercent).containsExactly(50L, 50L, 0L);
    assertThat(split).extracting(TrafficTarget::getUrl).containsExactly("http://current-helloworld-go.default.localhost",
        "http://candidate-helloworld-go.default.localhost", "http://latest-helloworld-go.default.localhost");

    // Pinning to 00001.
    kubectl.run("patch", "ksvc", "helloworld-go", "--type=merge", "-p",
        "{\"spec\":{\"traffic\":[{\"revisionName\":\"helloworld-go-00001\",\"percent\":100}]}}").ok();
    await("pinned", () -> {
      KService s = ksvc("helloworld-go");
      return ready(s) && s.getStatus().getTraffic().size() == 1
          && "helloworld-go-00001".equals(s.getStatus().getTraffic().get(0).getRevisionName())
          && Boolean.FALSE.equals(s.getStatus().getTraffic().get(0).getLatestRevision());
    });

    // Resyncs and the Route's relabelling of its Revisions (routingState) never touched the
    // Deployments: what the API server defaulted in them still derives from what the controller wants.
    assertThat(deployment("helloworld-go-00001").getMetadata().getGeneration()).isEqualTo(1L);
    assertThat(deployment("helloworld-go-00002").getMetadata().getGeneration()).isEqualTo(1L);
    // The gateway's port makes it into URLs (CONTRACTS.md config-network).
    client.configMaps().inNamespace("knative-serving").resource(new ConfigMapBuilder().withNewMetadata()
        .withName("config-network").withNamespace("knative-serving")
        .withAnnotations(Map.of("skiff.dev/gateway-http-port", "8081")).endMetadata().build()).create();
    await("url with port", () -> "http://helloworld-go.default.localhost:8081".equals(ksvc("helloworld-go").getStatus().getUrl()));
    // Deployments made before the gateway's port was known get its drain hook now.
    await("drain hook", () -> {
      var lc = client.apps().deployments().inNamespace("default").withName("helloworld-go-00002-deployment").get().getSpec().getTemplate().getSpec().getContainers().get(0).getLifecycle();
      return lc != null && lc.getPreStop() != null && lc.getPreStop().getHttpGet().getPort().getIntVal() == 8081;
    });
    // The Route's bookkeeping on its Revisions (routingState, routes) stays off the pods.
    assertThat(deployment("helloworld-go-00001").getSpec().getTemplate().getMetadata().getLabels())
        .doesNotContainKeys("serving.knative.dev/routingState", "serving.knative.dev/route");
    assertThat(deployment("helloworld-go-00001").getSpec().getTemplate().getMetadata().getAnnotations())
        .doesNotContainKeys("serving.knative.dev/routes", "serving.knative.dev/routingStateModified");
    // The Route's Service has the gateway on every Ready node behind it.
    var node = client.nodes().resource(new io.fabric8.kubernetes.api.model.NodeBuilder().withNewMetadata().withName("node-a")
        .endMetadata().build()).create();
    node.setStatus(new io.fabric8.kubernetes.api.model.NodeStatusBuilder().addNewAddress().withType("InternalIP")
        .withAddress("192.0.2.7").endAddress().addNewCondition().withType("Ready").withStatus("True").endCondition().build());
    client.nodes().resource(node).updateStatus();
    // ... that runs a gateway: none until node-a's gateway holds its Lease.
    Thread.sleep(300);
    assertThat(client.discovery().v1().endpointSlices().inNamespace("default").withName("helloworld-go-gateway").get())
        .isNull();
    var gatewayLease = dev.skiff.serving.gateway.GatewayLease.hold(client, "node-a");
    var slice = await("gateway endpoints", () -> client.discovery().v1().endpointSlices().inNamespace("default")
        .withName("helloworld-go-gateway").get());
    assertThat(slice.getMetadata().getLabels()).containsEntry("kubernetes.io/service-name", "helloworld-go");
    assertThat(slice.getEndpoints()).singleElement().satisfies(e -> assertThat(e.getAddresses()).containsExactly("192.0.2.7"));
    assertThat(slice.getPorts()).singleElement().satisfies(p -> assertThat(p.getPort()).isEqualTo(8081));
    assertThat(client.services().inNamespace("default").withName("helloworld-go").get().getSpec().getPorts().get(0)
        .getTargetPort().getIntVal()).isEqualTo(8081);
    gatewayLease.close(); // the gateway stops: node-a is no endpoint any more
    await("endpoints gone with the gateway", () -> client.discovery().v1().endpointSlices().inNamespace("default")
        .withName("helloworld-go-gateway").get() == null);
    gatewayLease = dev.skiff.serving.gateway.GatewayLease.hold(client, "node-a");
    await("endpoints back with the gateway", () -> client.discovery().v1().endpointSlices().inNamespace("default")
        .withName("helloworld-go-gateway").get() != null);
    client.configMaps().inNamespace("knative-serving").withName("config-network").delete();
    await("endpoints gone with the port", () -> client.discovery().v1().endpointSlices().inNamespace("default")
        .withName("helloworld-go-gateway").get() == null);
    gatewayLease.close();

    // Scale to zero (the autoscaler's write): Active False NoTraffic, still Ready; replicas untouched.
    client.apps().deployments().inNamespace("default").withName("helloworld-go-00001-deployment").scale(0);
    Deployment zero = deployment("helloworld-go-00001");
    zero.getStatus().setReadyReplicas(0);
    zero.getStatus().setReplicas(0);
    // As the Deployment controller would: scaling bumped the generation, and it observed it.
    zero.getStatus().setObservedGeneration(zero.getMetadata().getGeneration());
    client.apps().deployments().inNamespace("default").resource(zero).updateStatus();
    await("no traffic", () -> {
      Revision r = revision("helloworld-go-00001");
      return r.getStatus().isFalse("Active") && "NoTraffic".equals(r.getStatus().condition("Active").getReason())
          && r.getStatus().isTrue("Ready") && r.getStatus().getDesiredReplicas() == 0;
    });
    assertThat(deployment("helloworld-go-00001").getSpec().getReplicas()).isZero();
  }

  @Test
  void bringYourOwnRevisionNames() throws Exception {
    String yaml = """
        apiVersion: serving.knative.dev/v1
        kind: Service
        metadata:
          name: byo
        spec:
          template:
            metadata:
              name: %s
            spec:
              containers:
              - image: example/app
                command: ["sleep", "3600"]
                env:
                - name: TARGET
                  value: "%s"
        """;
    kubectl.runWithInput(yaml.formatted("byo-first", "one"), "apply", "-f", "-").ok();
    Revision first = await("byo-first", () -> revision("byo-first"));
    assertThat(first.getMetadata().getLabels()).containsEntry("serving.knative.dev/configurationGeneration", "1");
    markReady("byo-first");
    await("ready on byo-first", () -> ready(ksvc("byo")) && "byo-first".equals(ksvc("byo").getStatus().getTraffic().get(0).getRevisionName()));
    kubectl.runWithInput(yaml.formatted("byo-second", "two"), "apply", "-f", "-").ok();
    await("byo-second", () -> revision("byo-second"));
    markReady("byo-second");
    await("traffic on byo-second", () -> ready(ksvc("byo"))
        && "byo-second".equals(ksvc("byo").getStatus().getTraffic().get(0).getRevisionName()));
    assertThat(ksvc("byo").getStatus().getLatestCreatedRevisionName()).isEqualTo("byo-second");
  }

  @Test
  void longNamesStayWithin63Characters() {
    String parent = "a".repeat(60);
    String child = ConfigurationReconciler.childName(parent, "-00001");
    assertThat(child).hasSize(63).endsWith("-00001").startsWith("aaaa");
    assertThat(ConfigurationReconciler.childName("hello", "-00002")).isEqualTo("hello-00002");
  }

  @Test
  void seedV1alpha1HelloWorld() throws Exception {
    kubectl.run("create", "namespace", "alpha").ok();
    kubectl.runWithInput(HELLO_V1ALPHA1, "apply", "-f", "-").ok();
    var alphaRevs = client.resources(Revision.class).inNamespace("alpha");
    Revision rev = await("revision", () -> alphaRevs.withName("helloworld-go-00001").get());
    assertThat(rev.getMetadata().getLabels()).containsEntry("serving.knative.dev/service", "helloworld-go");
    await("configuration", () -> client.resources(Configuration.class).inNamespace("alpha").withName("helloworld-go").get());
    await("route", () -> client.resources(Route.class).inNamespace("alpha").withName("helloworld-go").get());
    Deployment d = await("deployment", () -> client.apps().deployments().inNamespace("alpha").withName("helloworld-go-00001-deployment").get());
    assertThat(d.getSpec().getTemplate().getSpec().getContainers().get(0).getImage()).isEqualTo("gcr.io/knative-samples/helloworld-go");
    d.setStatus(new io.fabric8.kubernetes.api.model.apps.DeploymentStatusBuilder().withObservedGeneration(d.getMetadata().getGeneration())
        .withReplicas(1).withReadyReplicas(1).withAvailableReplicas(1).withUpdatedReplicas(1).build());
    client.apps().deployments().inNamespace("alpha").resource(d).updateStatus();
    await("ready", () -> {
      KService s = client.resources(KService.class).inNamespace("alpha").withName("helloworld-go").get();
      return ready(s);
    });
    String out = kubectl.run("get", "ksvc", "-n", "alpha").ok().out();
    assertThat(out).contains("http://helloworld-go.alpha.localhost").contains("helloworld-go-00001").contains("True");
    // Read back in the seed's version, status included.
    String alpha = kubectl.run("get", "services.v1alpha1.serving.knative.dev", "-n", "alpha", "helloworld-go", "-o", "yaml").ok().out();
    assertThat(alpha).contains("runLatest:").contains("revisionTemplate:").contains("domain: helloworld-go.alpha.localhost");
  }

  @Test
  void crashingContainerIsReported() throws Exception {
    kubectl.runWithInput(HELLO.formatted("crasher", "x"), "apply", "-f", "-").ok();
    Deployment d = deployment("crasher-00001");
    // Play the kubelet: a pod of the revision whose user container exited 1.
    var pod = new io.fabric8.kubernetes.api.model.PodBuilder().withNewMetadata().withName("crasher-00001-deployment-abc")
        .withNamespace("default").withLabels(d.getSpec().getTemplate().getMetadata().getLabels()).endMetadata()
        .withNewSpec().addNewContainer().withName("user-container").withImage("x").endContainer().endSpec().build();
    pod = client.pods().inNamespace("default").resource(pod).create();
    pod.setStatus(new io.fabric8.kubernetes.api.model.PodStatusBuilder().withPhase("Running").addNewContainerStatus()
        .withName("user-container").withImage("x").withImageID("").withReady(false).withRestartCount(1)
        .withNewState().withNewWaiting().withReason("CrashLoopBackOff").endWaiting().endState()
        .withNewLastState().withNewTerminated().withExitCode(1).withReason("Error").withMessage("boom").endTerminated().endLastState()
        .endContainerStatus().build());
    client.pods().inNamespace("default").resource(pod).updateStatus();
    await("exit code", () -> {
      Revision r = revision("crasher-00001");
      return r.getStatus() != null && r.getStatus().isFalse("ContainerHealthy")
          && "ExitCode1".equals(r.getStatus().condition("ContainerHealthy").getReason())
          && "Container failed with: boom".equals(r.getStatus().condition("ContainerHealthy").getMessage())
          && r.getStatus().isFalse("Ready");
    });
    await("configuration failed", () -> {
      var c = client.resources(Configuration.class).inNamespace("default").withName("crasher").get();
      return c.getStatus().isFalse("Ready") && "RevisionFailed".equals(c.getStatus().condition("Ready").getReason());
    });
    await("service failed", () -> ksvc("crasher").getStatus().isFalse("Ready"));
  }

  @Test
  void standaloneRouteAndMissingTargets() throws Exception {
    kubectl.runWithInput("""
        apiVersion: serving.knative.dev/v1
        kind: Route
        metadata:
          name: lonely
          labels:
            networking.knative.dev/visibility: cluster-local
        spec:
          traffic:
          - revisionName: nowhere-00001
            percent: 100
        """, "apply", "-f", "-").ok();
    await("missing", () -> {
      Route r = route("lonely");
      return r.getStatus() != null && r.getStatus().isFalse("AllTrafficAssigned")
          && "RevisionMissing".equals(r.getStatus().condition("AllTrafficAssigned").getReason())
          && "Revision \"nowhere-00001\" referenced in traffic not found.".equals(r.getStatus().condition("AllTrafficAssigned").getMessage())
          && "http://lonely.default.svc.cluster.local".equals(r.getStatus().getUrl());
    });
  }
}
