package dev.skiff.bench;

import dev.skiff.apiserver.ApiServer;
import dev.skiff.controllers.batch.BatchControllers;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.Clock;
import dev.skiff.runtime.Controller;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.SharedInformers;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * job-1000: a Job with completions 1,000 and parallelism 50 of {@code true}; a fake kubelet (no
 * node agent yet) moves every new pod straight to Succeeded (container terminated, exit code 0)
 * through pods/status. Measures creation of the Job to its Complete condition, with the Job,
 * CronJob and TTL controllers running in-process over loopback HTTP, as {@code skiff server} will.
 */
final class JobBench {
  static final int COMPLETIONS = 1000;
  static final int PARALLELISM = 50;

  private JobBench() {}

  static void run() throws Exception {
    Path dir = Bench.tempDir("skiff-bench-job-");
    ApiServer server = ApiServer.start(new ApiServer.Config(dir, 0, "127.0.0.1"));
    KubernetesClient client = Clients.forKubeconfig(server.kubeconfig());
    KubernetesClient kubeletClient = Clients.forKubeconfig(server.kubeconfig());
    SharedInformers informers = new SharedInformers(client);
    EventRecorder events = new EventRecorder(client, "job-controller");
    List<Controller> controllers = BatchControllers.start(informers, client, events, Clock.system());
    String ns = "bench";
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
    Set<String> seen = ConcurrentHashMap.newKeySet();
    AtomicInteger maxActive = new AtomicInteger();
    Map<String, Boolean> active = new ConcurrentHashMap<>();
    var kubelet = kubeletClient.pods().inNamespace(ns).inform(new ResourceEventHandler<>() {
      @Override
      public void onAdd(Pod pod) {
        onUpdate(null, pod);
      }

      @Override
      public void onUpdate(Pod old, Pod pod) {
        String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
        String uid = pod.getMetadata().getUid();
        if ("Succeeded".equals(phase) || pod.getMetadata().getDeletionTimestamp() != null) {
          active.remove(uid);
        } else {
          active.put(uid, true);
          maxActive.accumulateAndGet(active.size(), Math::max);
        }
        if ((phase == null || phase.equals("Pending")) && seen.add(uid)) {
          Thread.ofVirtual().start(() -> succeed(kubeletClient, pod));
        }
      }

      @Override
      public void onDelete(Pod pod, boolean unknown) {
        active.remove(pod.getMetadata().getUid());
      }
    });
    try {
      Job job = new JobBuilder().withNewMetadata().withNamespace(ns).withName("job-1000").endMetadata()
          .withNewSpec().withCompletions(COMPLETIONS).withParallelism(PARALLELISM).withNewTemplate().withNewSpec()
          .withRestartPolicy("Never").addNewContainer().withName("main").withImage("busybox").withCommand("true")
          .endContainer().endSpec().endTemplate().endSpec().build();
      long t0 = System.nanoTime();
      client.batch().v1().jobs().resource(job).create();
      Job done = null;
      while (System.nanoTime() - t0 < Duration.ofSeconds(300).toNanos()) {
        done = client.batch().v1().jobs().inNamespace(ns).withName("job-1000").get();
        if (done.getStatus() != null && done.getStatus().getConditions() != null
            && done.getStatus().getConditions().stream().anyMatch(c -> c.getType().equals("Complete"))) {
          break;
        }
        Thread.sleep(20);
      }
      double seconds = (System.nanoTime() - t0) / 1e9;
      Map<String, Object> m = Bench.result("job-1000");
      m.put("completions", COMPLETIONS);
      m.put("parallelism", PARALLELISM);
      m.put("seconds_to_complete", Math.round(seconds * 100) / 100.0);
      m.put("succeeded", done.getStatus().getSucceeded());
      m.put("failed", done.getStatus().getFailed() == null ? 0 : done.getStatus().getFailed());
      m.put("pods_created", seen.size());
      m.put("max_active_seen", maxActive.get());
      m.put("target_seconds", 30);
      Bench.print(m);
    } finally {
      kubelet.close();
      for (Controller c : controllers) {
        c.stop(Duration.ofSeconds(2));
      }
      informers.close();
      events.close();
      kubeletClient.close();
      client.close();
      server.close();
    }
  }

  private static void succeed(KubernetesClient client, Pod pod) {
    String now = Instant.now().toString();
    PodStatus s = new PodStatus();
    s.setPhase("Succeeded");
    s.setStartTime(now);
    s.setContainerStatuses(List.of(new ContainerStatusBuilder().withName("main").withImage("busybox")
        .withNewState().withNewTerminated().withExitCode(0).withReason("Completed").withStartedAt(now)
        .withFinishedAt(now).endTerminated().endState().build()));
    Pod current = new PodBuilder(pod).withStatus(s).build();
    for (int attempt = 0; attempt < 50; attempt++) {
      try {
        client.pods().inNamespace(pod.getMetadata().getNamespace()).resource(current).updateStatus();
        return;
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          return;
        }
        current = client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName()).get();
        if (current == null) {
          return;
        }
        current.setStatus(s);
      }
    }
  }
}
