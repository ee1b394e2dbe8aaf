package dev.skiff.controllers.batch;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * A stand-in for the node agent in tests: watches pods and, through the pods/status subresource,
 * drives each new pod to Running (Ready) and then, after {@link Outcome#runFor}, to Succeeded or
 * Failed with container statuses terminated {exitCode, reason Completed/Error}. {@link Outcome#hold}
 * keeps a pod Running until it is deleted. Thread-safe.
 */
final class FakeKubelet implements AutoCloseable {
  /** What happens to one pod. */
  record Outcome(int exitCode, Duration runFor, boolean hold) {
    static Outcome exit(int code) {
      return new Outcome(code, Duration.ZERO, false);
    }

    static Outcome exitAfter(int code, Duration runFor) {
      return new Outcome(code, runFor, false);
    }

    static Outcome runForever() {
      return new Outcome(0, Duration.ZERO, true);
    }
  }

  private final KubernetesClient client;
  private final Function<Pod, Outcome> policy;
  private final SharedIndexInformer<Pod> informer;
  private final Set<String> started = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;
  /** Straight from Pending to the outcome, one status write per pod (benchmarks). */
  volatile boolean skipRunning;

  FakeKubelet(KubernetesClient client, String namespace, Function<Pod, Outcome> policy) {
    this.client = client;
    this.policy = policy;
    this.informer = client.pods().inNamespace(namespace).inform(new ResourceEventHandler<>() {
      @Override
      public void onAdd(Pod pod) {
        maybeStart(pod);
      }

      @Override
      public void onUpdate(Pod oldPod, Pod pod) {
        maybeStart(pod);
      }

      @Override
      public void onDelete(Pod pod, boolean unknown) {
      }
    });
  }

  private void maybeStart(Pod pod) {
    String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
    if (closed || pod.getMetadata().getDeletionTimestamp() != null || (phase != null && !phase.equals("Pending"))
        || !started.add(pod.getMetadata().getUid())) {
      return;
    }
    Thread.ofVirtual().start(() -> run(pod));
  }

  private void run(Pod pod) {
    Outcome o = policy.apply(pod);
    try {
      Pod current = skipRunning && !o.hold() ? pod : setStatus(pod, running(pod));
      if (current == null) {
        return;
      }
      if (o.hold()) {
        return;
      }
      if (!o.runFor().isZero()) {
        Thread.sleep(o.runFor().toMillis());
      }
      setStatus(current, terminated(pod, o.exitCode()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (RuntimeException e) {
      if (!closed) {
        System.err.println("FakeKubelet: " + pod.getMetadata().getName() + ": " + e);
      }
    }
  }

  private static String now() {
    return Instant.ofEpochSecond(Instant.now().getEpochSecond()).toString();
  }

  private static PodStatus running(Pod pod) {
    List<ContainerStatus> cs = new ArrayList<>();
    for (var c : pod.getSpec().getContainers()) {
      cs.add(new ContainerStatusBuilder().withName(c.getName()).withImage(c.getImage()).withReady(true)
          .withStarted(true).withRestartCount(0).withNewState().withNewRunning().withStartedAt(now()).endRunning()
          .endState().build());
    }
    PodStatus s = new PodStatus();
    s.setPhase("Running");
    s.setStartTime(now());
    s.setContainerStatuses(cs);
    s.setConditions(List.of(
        new PodConditionBuilder().withType("Ready").withStatus("True").withLastTransitionTime(now()).build()));
    return s;
  }

  private static PodStatus terminated(Pod pod, int exitCode) {
    List<ContainerStatus> cs = new ArrayList<>();
    for (var c : pod.getSpec().getContainers()) {
      cs.add(new ContainerStatusBuilder().withName(c.getName()).withImage(c.getImage()).withReady(false)
          .withStarted(false).withRestartCount(0).withNewState().withNewTerminated().withExitCode(exitCode)
          .withReason(exitCode == 0 ? "Completed" : "Error").withStartedAt(now()).withFinishedAt(now())
          .endTerminated().endState().build());
    }
    PodStatus s = new PodStatus();
    s.setPhase(exitCode == 0 ? "Succeeded" : "Failed");
    s.setStartTime(now());
    s.setContainerStatuses(cs);
    s.setConditions(List.of(new PodConditionBuilder().withType("Ready").withStatus("False")
        .withReason("PodCompleted").withLastTransitionTime(now()).build()));
    return s;
  }

  /**
   * Writes {@code status} onto {@code pod} (the version last seen) with optimistic concurrency,
   * re-reading the pod on conflict; returns the written pod, or null if it is gone or deleting.
   */
  private Pod setStatus(Pod pod, PodStatus status) {
    var res = client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName());
    Pod current = new io.fabric8.kubernetes.api.model.PodBuilder(pod).build();
    for (int attempt = 0; attempt < 50 && !closed; attempt++) {
      if (current == null || current.getMetadata().getDeletionTimestamp() != null) {
        return null;
      }
      current.setStatus(status);
      try {
        return client.pods().inNamespace(pod.getMetadata().getNamespace()).resource(current).updateStatus();
      } catch (KubernetesClientException e) {
        if (e.getCode() == 404) {
          return null;
        }
        if (e.getCode() != 409) {
          throw e;
        }
      }
      current = res.get();
    }
    return null;
  }

  @Override
  public void close() {
    closed = true;
    informer.close();
  }
}
