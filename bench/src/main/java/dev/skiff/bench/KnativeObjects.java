package dev.skiff.bench;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Serving benchmarks' setup: the serving.knative.dev Route/Revision CRDs (a minimal copy when the
 * API server does not serve the group yet) and Route/Revision objects with their status written
 * directly, so the gateway can be measured without the Knative controllers.
 */
final class KnativeObjects {
  static final ResourceDefinitionContext ROUTES = ctx("Route", "routes");
  static final ResourceDefinitionContext REVISIONS = ctx("Revision", "revisions");

  private static final String CRDS = """
      apiVersion: apiextensions.k8s.io/v1
      kind: CustomResourceDefinition
      metadata: {name: routes.serving.knative.dev}
      spec:
        group: serving.knative.dev
        scope: Namespaced
        names: {plural: routes, singular: route, kind: Route}
        versions:
        - {name: v1, served: true, storage: true, subresources: {status: {}},
           schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
      ---
      apiVersion: apiextensions.k8s.io/v1
      kind: CustomResourceDefinition
      metadata: {name: revisions.serving.knative.dev}
      spec:
        group: serving.knative.dev
        scope: Namespaced
        names: {plural: revisions, singular: revision, kind: Revision}
        versions:
        - {name: v1, served: true, storage: true, subresources: {status: {}},
           schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}}
      """;

  private KnativeObjects() {}

  private static ResourceDefinitionContext ctx(String kind, String plural) {
    return new ResourceDefinitionContext.Builder().withGroup("serving.knative.dev").withVersion("v1").withKind(kind)
        .withPlural(plural).withNamespaced(true).build();
  }

  static void ensureCrds(KubernetesClient client) throws Exception {
    if (served(client)) {
      return;
    }
    client.load(new ByteArrayInputStream(CRDS.getBytes(StandardCharsets.UTF_8))).create();
    long deadline = System.nanoTime() + 20_000_000_000L;
    while (!served(client)) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("serving.knative.dev CRDs never served");
      }
      Thread.sleep(20);
    }
  }

  private static boolean served(KubernetesClient client) {
    try {
      client.genericKubernetesResources(ROUTES).inNamespace("default").list();
      client.genericKubernetesResources(REVISIONS).inNamespace("default").list();
      return true;
    } catch (KubernetesClientException e) {
      return false;
    }
  }

  static void revision(KubernetesClient client, String name, Map<String, String> annotations) {
    GenericKubernetesResource r = new GenericKubernetesResource();
    r.setApiVersion("serving.knative.dev/v1");
    r.setKind("Revision");
    r.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace("default").withAnnotations(annotations).build());
    r.setAdditionalProperty("spec", Map.of("containerConcurrency", 0, "timeoutSeconds", 300,
        "containers", List.of(Map.of("name", "user-container", "image", "app"))));
    client.genericKubernetesResources(REVISIONS).inNamespace("default").resource(r).create();
  }

  /** A Route sending 100% to {@code revision}, its status.url {@code http://<name>.default.localhost}. */
  static String route(KubernetesClient client, String name, String revision) {
    GenericKubernetesResource r = new GenericKubernetesResource();
    r.setApiVersion("serving.knative.dev/v1");
    r.setKind("Route");
    r.setMetadata(new ObjectMetaBuilder().withName(name).withNamespace("default").build());
    Map<String, Object> t = new LinkedHashMap<>();
    t.put("revisionName", revision);
    t.put("percent", 100);
    r.setAdditionalProperty("spec", Map.of("traffic", List.of(t)));
    var ops = client.genericKubernetesResources(ROUTES).inNamespace("default");
    GenericKubernetesResource created = ops.resource(r).create();
    String host = name + ".default.localhost";
    created.setAdditionalProperty("status", Map.of("url", "http://" + host, "traffic", List.of(t)));
    ops.resource(created).updateStatus();
    return host;
  }
}
