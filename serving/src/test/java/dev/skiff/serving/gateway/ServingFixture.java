package dev.skiff.serving.gateway;

import dev.skiff.apiserver.testing.TestServer;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * A test API server with the serving.knative.dev Route/Revision CRDs (a minimal copy when the
 * group is not served yet), a gateway on an ephemeral port, and helpers that write Route,
 * Revision, Pod and Deployment objects with their status set directly (no controllers).
 */
final class ServingFixture implements AutoCloseable {
  final TestServer server;
  final KubernetesClient client;
  Gateway.Running gateway;

  ServingFixture() throws Exception {
    this(Map.of());
  }

  ServingFixture(Map<String, String> autoscalerConfig) throws Exception {
    this(autoscalerConfig, Map.of());
  }

  /** With {@code gatewayOptions} added to the gateway's (node-a's) options. */
  ServingFixture(Map<String, String> autoscalerConfig, Map<String, String> gatewayOptions) throws Exception {
    server = TestServer.start();
    client = Clients.forKubeconfig(server.kubeconfig());
    ensureCrds(client);
    if (!autoscalerConfig.isEmpty()) {
      Gateway.recordPort(client, 0); // creates the knative-serving namespace
      client.configMaps().inNamespace("knative-serving").resource(new io.fabric8.kubernetes.api.model.ConfigMapBuilder()
          .withNewMetadata().withName("config-autoscaler").endMetadata().withData(autoscalerConfig).build()).create();
    }
    // -Dgateway.frontend=jetty runs a test class against the previous front end (Jetty for HTTP/1.1 too).
    gateway = startGateway("node-a", gatewayOptions);
  }

  /** Starts a gateway (another one if {@code node} differs from node-a) on an ephemeral port. */
  Gateway.Running startGateway(String node, Map<String, String> options) throws Exception {
    Map<String, String> opts = new HashMap<>(options);
    opts.put("gateway.port", "0");
    opts.putIfAbsent("gateway.frontend", System.getProperty("gateway.frontend", "skiff"));
    return new Gateway().start(new ComponentContext(client, server.home(), node, opts));
  }

  int port() {
    return gateway.port();
  }

  static void ensureCrds(KubernetesClient client) throws Exception {
    try {
      client.genericKubernetesResources(ServingView.ROUTES).inNamespace("default").list();
      client.genericKubernetesResources(ServingView.REVISIONS).inNamespace("default").list();
      return; // served already (the real CRDs)
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw e;
      }
    }
    try (InputStream in = ServingFixture.class.getResourceAsStream("minimal-serving-crds.yaml")) {
      client.load(in).create();
    }
    until(Duration.ofSeconds(20), () -> {
      try {
        client.genericKubernetesResources(ServingView.ROUTES).inNamespace("default").list();
        client.genericKubernetesResources(ServingView.REVISIONS).inNamespace("default").list();
        return true;
      } catch (KubernetesClientException e) {
        return false;
      }
    });
  }

  GenericKubernetesResource revision(String name, int containerConcurrency, int timeoutSeconds, Map<String, String> annotations) {
    GenericKubernetesResource r = new GenericKubernetesResource();
    r.setApiVersion("serving.knative.dev/v1");
    r.setKind("Revision");
    r.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMetaBuilder().withName(name).withNamespace("default")
        .withAnnotations(annotations).build());
    Map<String, Object> spec = new LinkedHashMap<>();
    spec.put("containerConcurrency", containerConcurrency);
    spec.put("timeoutSeconds", timeoutSeconds);
    spec.put("containers", List.of(Map.of("name", "user-container", "image", "app")));
    r.setAdditionalProperty("spec", spec);
    return client.genericKubernetesResources(ServingView.REVISIONS).inNamespace("default").resource(r).create();
  }

  /** A traffic entry of a Route's status. */
  static Map<String, Object> traffic(String revision, int percent, String tag, String url) {
    Map<String, Object> t = new LinkedHashMap<>();
    t.put("revisionName", revision);
    t.put("percent", percent);
    t.put("latestRevision", false);
    if (tag != null) {
      t.put("tag", tag);
      t.put("url", url);
    }
    return t;
  }

  GenericKubernetesResource route(String name, String url, List<Map<String, Object>> traffic) {
    GenericKubernetesResource r = new GenericKubernetesResource();
    r.setApiVersion("serving.knative.dev/v1");
    r.setKind("Route");
    r.setMetadata(new io.fabric8.kubernetes.api.model.ObjectMetaBuilder().withName(name).withNamespace("default").build());
    List<Map<String, Object>> spec = new ArrayList<>();
    for (Map<String, Object> t : traffic) {
      Map<String, Object> s = new HashMap<>(t);
      s.remove("url");
      spec.add(s);
    }
    r.setAdditionalProperty("spec", Map.of("traffic", spec));
    var ops = client.genericKubernetesResources(ServingView.ROUTES).inNamespace("default");
    GenericKubernetesResource created = ops.resource(r).create();
    created.setAdditionalProperty("status", Map.of("url", url, "traffic", traffic));
    return ops.resource(created).updateStatus();
  }

  /** A Pod of {@code revision} served by {@code port} on 127.0.0.1, Ready or not. */
  Pod pod(String name, String revision, int port, String portName, boolean ready) {
    Pod p = new PodBuilder().withNewMetadata().withName(name).withNamespace("default")
        .addToLabels("serving.knative.dev/revision", revision).endMetadata()
        .withNewSpec().addNewContainer().withName("user-container").withImage("app")
        .addNewPort().withContainerPort(port).withName(portName).endPort().endContainer().endSpec().build();
    Pod created = client.pods().inNamespace("default").resource(p).create();
    return setReady(created, ready);
  }

  Pod setReady(Pod p, boolean ready) {
    Pod cur = client.pods().inNamespace("default").withName(p.getMetadata().getName()).get();
    cur.setStatus(new io.fabric8.kubernetes.api.model.PodStatusBuilder().withPhase("Running").withPodIP("127.0.0.1")
        .addNewCondition().withType("Ready").withStatus(ready ? "True" : "False").endCondition().build());
    return client.pods().inNamespace("default").resource(cur).updateStatus();
  }

  Deployment deployment(String revision, int replicas) {
    Deployment d = new DeploymentBuilder().withNewMetadata().withName(revision + "-deployment").withNamespace("default").endMetadata()
        .withNewSpec().withReplicas(replicas).withNewSelector().addToMatchLabels("serving.knative.dev/revision", revision).endSelector()
        .withNewTemplate().withNewMetadata().addToLabels("serving.knative.dev/revision", revision).endMetadata()
        .withNewSpec().addNewContainer().withName("user-container").withImage("app").endContainer().endSpec().endTemplate()
        .endSpec().build();
    return client.apps().deployments().inNamespace("default").resource(d).create();
  }

  int replicas(String revision) {
    Deployment d = client.apps().deployments().inNamespace("default").withName(revision + "-deployment").get();
    return d.getSpec().getReplicas();
  }

  static boolean until(Duration timeout, BooleanSupplier c) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!c.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(20);
    }
    return true;
  }

  @Override
  public void close() throws Exception {
    if (gateway != null) {
      gateway.close();
    }
    client.close();
    server.close();
  }
}
