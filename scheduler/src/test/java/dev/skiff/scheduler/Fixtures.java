package dev.skiff.scheduler;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.Map;
import java.util.function.BooleanSupplier;

/** Test helpers: nodes and pods as the API sees them. */
final class Fixtures {
  private Fixtures() {}

  static Node node(String name, String zone, String cpu, Map<String, String> labels) {
    return new NodeBuilder()
        .withNewMetadata().withName(name).addToLabels("kubernetes.io/hostname", name)
          .addToLabels("topology.kubernetes.io/zone", zone).addToLabels(labels).endMetadata()
        .withNewSpec().endSpec()
        .withNewStatus()
          .addToCapacity("cpu", new Quantity(cpu)).addToCapacity("memory", new Quantity("64Gi")).addToCapacity("pods", new Quantity("110"))
          .addToAllocatable("cpu", new Quantity(cpu)).addToAllocatable("memory", new Quantity("64Gi")).addToAllocatable("pods", new Quantity("110"))
          .addNewCondition().withType("Ready").withStatus("True").endCondition()
        .endStatus().build();
  }

  static Node create(KubernetesClient c, Node n) {
    Node created = c.nodes().resource(n).create();
    if (created.getStatus() == null || created.getStatus().getAllocatable() == null || created.getStatus().getAllocatable().isEmpty()) {
      n.getMetadata().setResourceVersion(created.getMetadata().getResourceVersion());
      created = c.nodes().resource(n).updateStatus();
    }
    return created;
  }

  static PodBuilder pod(String ns, String name, String cpu) {
    PodBuilder b = new PodBuilder().withNewMetadata().withNamespace(ns).withName(name).addToLabels("app", name).endMetadata()
        .withNewSpec().addNewContainer().withName("c").withImage("busybox").withNewResources()
          .addToRequests("cpu", new Quantity(cpu)).endResources().endContainer().endSpec();
    return b;
  }

  static Pod create(KubernetesClient c, Pod p) {
    return c.pods().inNamespace(p.getMetadata().getNamespace()).resource(p).create();
  }

  static String nodeOf(KubernetesClient c, String ns, String name) {
    Pod p = c.pods().inNamespace(ns).withName(name).get();
    return p == null ? null : p.getSpec().getNodeName();
  }

  static String awaitBound(KubernetesClient c, String ns, String name) throws InterruptedException {
    await(() -> nodeOf(c, ns, name) != null, Duration.ofSeconds(20), ns + "/" + name + " bound");
    return nodeOf(c, ns, name);
  }

  static void await(BooleanSupplier cond, Duration timeout, String what) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(20);
    }
  }

  static void namespace(KubernetesClient c, String ns) {
    c.namespaces().resource(new io.fabric8.kubernetes.api.model.NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
  }
}
