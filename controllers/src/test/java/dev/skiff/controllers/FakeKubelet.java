package dev.skiff.controllers;

import dev.skiff.runtime.EventHandler;
import dev.skiff.runtime.SharedInformers;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A stand-in for the node agent in tests: watches pods and, after {@code delay}, marks each one
 * Running and Ready (Ready condition, containerStatuses ready) through pods/status, unless
 * {@code neverReady} says otherwise (those become Running but not Ready). Pods being deleted are
 * deleted with grace period 0, as a kubelet finishing termination would. Thread-safe.
 */
final class FakeKubelet implements AutoCloseable {
  private final KubernetesClient client;
  private final SharedInformers informers;
  private final ScheduledExecutorService exec = Executors.newScheduledThreadPool(4, Thread.ofVirtual().factory());
  private final Set<String> handled = ConcurrentHashMap.newKeySet();
  private volatile Duration delay = Duration.ZERO;
  private volatile Predicate<Pod> neverReady = p -> false;

  FakeKubelet(KubernetesClient client) {
    this.client = client;
    this.informers = new SharedInformers(client);
    informers.informerFor(Pod.class).addHandler(new EventHandler<>() {
      @Override
      public void onAdd(Pod pod) {
        consider(pod);
      }

      @Override
      public void onUpdate(Pod oldObj, Pod pod) {
        consider(pod);
      }

      @Override
      public void onDelete(Pod obj, boolean finalStateUnknown) {
      }
    });
  }

  FakeKubelet start() throws InterruptedException {
    informers.start();
    informers.waitForCacheSync(Duration.ofSeconds(10));
    return this;
  }

  FakeKubelet delay(Duration d) {
    this.delay = d;
    return this;
  }

  FakeKubelet neverReady(Predicate<Pod> p) {
    this.neverReady = p;
    return this;
  }

  private void consider(Pod pod) {
    String ns = pod.getMetadata().getNamespace();
    String name = pod.getMetadata().getName();
    if (pod.getMetadata().getDeletionTimestamp() != null) {
      if (handled.add("del/" + pod.getMetadata().getUid())) {
        exec.execute(() -> {
          try {
            client.pods().inNamespace(ns).withName(name).withGracePeriod(0).delete();
          } catch (KubernetesClientException e) {
            // already gone
          }
        });
      }
      return;
    }
    if ("Running".equals(pod.getStatus() == null ? null : pod.getStatus().getPhase())) {
      return;
    }
    if (!handled.add("run/" + pod.getMetadata().getUid())) {
      return;
    }
    boolean ready = !neverReady.test(pod);
    exec.schedule(() -> markRunning(ns, name, ready), delay.toMillis(), TimeUnit.MILLISECONDS);
  }

  private void markRunning(String ns, String name, boolean ready) {
    String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    String r = ready ? "True" : "False";
    String patch = "{\"status\":{\"phase\":\"Running\",\"startTime\":\"" + now + "\",\"conditions\":["
        + "{\"type\":\"Initialized\",\"status\":\"True\",\"lastTransitionTime\":\"" + now + "\"},"
        + "{\"type\":\"Ready\",\"status\":\"" + r + "\",\"lastTransitionTime\":\"" + now + "\"},"
        + "{\"type\":\"ContainersReady\",\"status\":\"" + r + "\",\"lastTransitionTime\":\"" + now + "\"},"
        + "{\"type\":\"PodScheduled\",\"status\":\"True\",\"lastTransitionTime\":\"" + now + "\"}],"
        + "\"containerStatuses\":[{\"name\":\"c\",\"ready\":" + ready + ",\"restartCount\":0,\"image\":\"x\",\"imageID\":\"\","
        + "\"started\":true,\"state\":{\"running\":{\"startedAt\":\"" + now + "\"}}}]}}";
    try {
      client.pods().inNamespace(ns).withName(name).subresource("status")
          .patch(PatchContext.of(PatchType.JSON_MERGE), patch);
    } catch (KubernetesClientException e) {
      // deleted meanwhile
    }
  }

  @Override
  public void close() {
    exec.shutdownNow();
    informers.close();
  }
}
