package dev.skiff.controllers;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The garbage collector through the real Knative CRDs (installed by the API server) without the
 * serving controllers: the ownership chain they build (ksvc -> Configuration and Route ->
 * Revision -> Deployment -> ReplicaSet -> Pod, controller references with blockOwnerDeletion) is
 * written by hand, then the ksvc is deleted in foreground and orphan mode with the real kubectl.
 */
class KnativeCascadeTest {
  static TestServer server;
  static KubernetesClient client;
  static dev.skiff.runtime.LeaderElected manager;
  static FakeKubelet kubelet;
  static Kubectl kubectl;

  @BeforeAll
  static void up() throws Exception {
    server = TestServer.start();
    client = Harness.client(server);
    kubelet = new FakeKubelet(client).start();
    manager = Harness.startManager(server, client);
    kubectl = server.kubectl();
  }

  @AfterAll
  static void down() throws Exception {
    manager.close();
    kubelet.close();
    client.close();
    server.close();
  }

  static String uid(String resource, String name) throws Exception {
    return kubectl.run("get", resource, name, "-o", "jsonpath={.metadata.uid}").ok().out().trim();
  }

  static String owner(String apiVersion, String kind, String name, String uid) {
    return "ownerReferences: [{apiVersion: %s, kind: %s, name: %s, uid: %s, controller: true, blockOwnerDeletion: true}]"
        .formatted(apiVersion, kind, name, uid);
  }

  /** Writes the chain Knative's controllers would for ksvc {@code name}. */
  static void chain(String name) throws Exception {
    String template = "{spec: {containers: [{image: registry.example/hello}]}}";
    kubectl.runWithInput("""
        apiVersion: serving.knative.dev/v1
        kind: Service
        metadata: {name: %s}
        spec: {template: %s}
        """.formatted(name, template), "apply", "-f", "-").ok();
    String ksvc = owner("serving.knative.dev/v1", "Service", name, uid("ksvc", name));
    kubectl.runWithInput("""
        apiVersion: serving.knative.dev/v1
        kind: Configuration
        metadata:
          name: %s
          %s
        spec: {template: %s}
        ---
        apiVersion: serving.knative.dev/v1
        kind: Route
        metadata:
          name: %s
          %s
        spec: {traffic: [{configurationName: %s, percent: 100}]}
        """.formatted(name, ksvc, template, name, ksvc, name), "apply", "-f", "-").ok();
    String rev = name + "-00001";
    kubectl.runWithInput("""
        apiVersion: serving.knative.dev/v1
        kind: Revision
        metadata:
          name: %s
          labels: {serving.knative.dev/configuration: %s, serving.knative.dev/service: %s}
          %s
        spec: {containers: [{image: registry.example/hello}]}
        """.formatted(rev, name, name, owner("serving.knative.dev/v1", "Configuration", name, uid("configuration", name))),
        "apply", "-f", "-").ok();
    kubectl.runWithInput("""
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: %s-deployment
          %s
        spec:
          replicas: 2
          selector: {matchLabels: {serving.knative.dev/revision: %s}}
          template:
            metadata: {labels: {serving.knative.dev/revision: %s}}
            spec: {containers: [{name: user-container, image: registry.example/hello}]}
        """.formatted(rev, owner("serving.knative.dev/v1", "Revision", rev, uid("revision", rev)), rev, rev),
        "apply", "-f", "-").ok();
    kubectl.run("rollout", "status", "deploy/" + rev + "-deployment", "--timeout=30s").ok();
  }

  static int count(String resources, String name) throws Exception {
    return (int) kubectl.run("get", resources, "-o", "name").out().lines().filter(l -> l.contains(name)).count();
  }

  @Test
  void foregroundDeletionOfAKsvcWaitsForTheWholeChain() throws Exception {
    chain("fg");
    assertThat(count("configuration,route,revision,deployment,replicaset,pod", "fg")).isEqualTo(7);
    kubectl.run("delete", "ksvc", "fg", "--cascade=foreground", "--wait=false").ok();
    AtomicBoolean waitedForDependents = new AtomicBoolean();
    assertThat(Harness.until(Duration.ofSeconds(60), () -> {
      try {
        String ksvc = kubectl.run("get", "ksvc", "fg", "--ignore-not-found", "-o", "jsonpath={.metadata.finalizers}").out();
        int left = count("configuration,route,revision,deployment,replicaset,pod", "fg");
        if (ksvc.contains("foregroundDeletion") && left > 0) {
          waitedForDependents.set(true);
        }
        return ksvc.isBlank() && left == 0;
      } catch (Exception e) {
        return false;
      }
    })).isTrue();
    assertThat(waitedForDependents).isTrue();
  }

  @Test
  void orphanDeletionOfAKsvcKeepsItsConfigurationAndRoute() throws Exception {
    chain("or");
    kubectl.run("delete", "ksvc", "or", "--cascade=orphan").ok();
    assertThat(Harness.until(Duration.ofSeconds(30), () -> {
      try {
        return kubectl.run("get", "configuration,route", "or", "-o", "jsonpath={.items[*].metadata.ownerReferences}")
            .ok().out().isBlank();
      } catch (Exception e) {
        return false;
      }
    })).isTrue();
    assertThat(count("ksvc", "or")).isZero();
    // The rest of the chain keeps its owners and stays.
    assertThat(count("configuration,route,revision,deployment,replicaset,pod", "or")).isEqualTo(7);
    assertThat(kubectl.run("get", "revision", "or-00001", "-o", "jsonpath={.metadata.ownerReferences[0].kind}").ok()
        .out()).isEqualTo("Configuration");
  }

  @Test
  void aRevisionDeletedByRevisionGcTakesItsDeploymentAndPodsWithIt() throws Exception {
    chain("gc");
    // What the serving module's revision GC does to a revision past its retention.
    kubectl.run("delete", "revision", "gc-00001").ok();
    assertThat(Harness.until(Duration.ofSeconds(30), () -> {
      try {
        return count("revision,deployment,replicaset,pod", "gc-00001") == 0;
      } catch (Exception e) {
        return false;
      }
    })).isTrue();
    assertThat(count("ksvc,configuration,route", "gc")).isEqualTo(3);
  }
}
