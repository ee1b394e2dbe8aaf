package dev.skiff.bench;

import dev.skiff.apiserver.ApiServer;
import dev.skiff.controllers.ControllerManager;
import dev.skiff.kubelet.NodeAgent;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import dev.skiff.scheduler.Scheduler;
import dev.skiff.serving.gateway.Gateway;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.apps.DeploymentBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpHeader;

/**
 * cold-start: a request to a revision scaled to zero, until the first byte of its response.
 * Everything runs in-process as in {@code skiff server}: API server, controller manager
 * (Deployment and ReplicaSet controllers), scheduler, node agent (real process pods) and the
 * gateway with its autoscaler (stable window 6 s, grace 1 s, so the revision returns to zero
 * between samples on its own). The app is a Perl one-liner HTTP server on $PORT (IO::Socket,
 * part of perl-base), ready within a few ms of exec (measured separately: {@code app_ready_*}).
 * The path measured: gateway holds the request -> autoscaler scales the Deployment 0 -> 1 ->
 * ReplicaSet creates the pod -> scheduler binds it -> node agent starts it and reports Ready ->
 * gateway's Pod informer releases the request -> the first TCP connect that succeeds -> the
 * response. Per sample also the times at which the pod was created and seen Ready.
 *
 * <p>The Deployment starts at one replica, as a Revision's does (Knative's initial-scale 1), and
 * the first sample waits for the autoscaler to take it to zero: every sample is a revision that
 * served once and went idle, the case scale-from-zero is for. The JVM's very first activation is
 * reported apart ({@code first_activation_ms}), as a warm-up.
 */
final class ColdStartBench {
  static final int SAMPLES = 12;
  static final String NODE = "bench-node";
  static final String REV = "cold-00001";
  static final String APP = "use IO::Socket::INET; $SIG{PIPE}='IGNORE'; "
      + "my $s=IO::Socket::INET->new(LocalAddr=>'0.0.0.0',LocalPort=>$ENV{PORT},Listen=>128,ReuseAddr=>1) or die $!; "
      + "while(my $c=$s->accept){ while(defined(my $l=<$c>)){ last if $l=~/^\\r?\\n$/ } "
      + "print $c \"HTTP/1.1 200 OK\\r\\nContent-Length: 6\\r\\nConnection: close\\r\\n\\r\\nhello\\n\"; close $c }";

  private ColdStartBench() {}

  static void run() throws Exception {
    Path dir = Bench.tempDir("skiff-bench-cold-");
    ApiServer server = ApiServer.start(new ApiServer.Config(dir.resolve("api"), 0, "127.0.0.1"));
    KubernetesClient client = Clients.forKubeconfig(server.kubeconfig());
    KubernetesClient componentClient = Bench.componentClient(server);
    List<AutoCloseable> components = new ArrayList<>();
    HttpClient http = new HttpClient();
    http.setIdleTimeout(TimeUnit.SECONDS.toMillis(120));
    http.start();
    NodeAgent.Running agent = null;
    int port = freePort();
    long[] appReady = appReadyTimes(port);
    Map<String, Long> created = new ConcurrentHashMap<>();
    Map<String, Long> ready = new ConcurrentHashMap<>();
    try (Watch w = client.pods().inNamespace("default").withLabel("serving.knative.dev/revision", REV).watch(new Watcher<>() {
      @Override
      public void eventReceived(Action action, Pod p) {
        long now = System.nanoTime();
        created.putIfAbsent(p.getMetadata().getName(), now);
        if (p.getStatus() != null && p.getStatus().getConditions() != null && p.getStatus().getConditions().stream()
            .anyMatch(c -> "Ready".equals(c.getType()) && "True".equals(c.getStatus()))) {
          ready.putIfAbsent(p.getMetadata().getName(), now);
        }
      }

      @Override
      public void onClose(WatcherException cause) {}
    })) {
      KnativeObjects.ensureCrds(client);
      // The API server creates knative-serving at start; createOr keeps working either way.
      if (client.namespaces().withName("knative-serving").get() == null) {
        client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("knative-serving").endMetadata().build()).create();
      }
      client.configMaps().inNamespace("knative-serving").resource(new ConfigMapBuilder().withNewMetadata()
          .withName("config-autoscaler").endMetadata().addToData("stable-window", "6s")
          .addToData("scale-to-zero-grace-period", "1s").build()).create();
      // The components as `skiff server` runs them: in-JVM transport, the agent's sandbox pool.
      ComponentContext ctx = new ComponentContext(componentClient, dir, NODE, Map.of("gateway.port", "0",
          "kubelet.sandbox-pool", Integer.toString(Bench.sandboxPool(NodeAgent.SERVER_SANDBOX_POOL))));
      components.add(new ControllerManager().start(ctx));
      components.add(new Scheduler().start(ctx));
      agent = new NodeAgent().start(ctx);
      Gateway.Running gw = new Gateway().start(ctx);
      components.add(gw);
      KnativeObjects.revision(client, REV, Map.of());
      client.apps().deployments().inNamespace("default").resource(new DeploymentBuilder().withNewMetadata()
          .withName(REV + "-deployment").endMetadata().withNewSpec().withReplicas(1).withNewSelector()
          .addToMatchLabels("serving.knative.dev/revision", REV).endSelector().withNewTemplate().withNewMetadata()
          .addToLabels("serving.knative.dev/revision", REV).endMetadata().withNewSpec().withTerminationGracePeriodSeconds(1L)
          .addNewContainer().withName("user-container").withImage("perl").withCommand("perl", "-e", APP)
          .addNewPort().withName("user-port").withContainerPort(port).endPort().endContainer().endSpec().endTemplate()
          .endSpec().build()).create();
      String host = KnativeObjects.route(client, "cold", REV);
      long[] firstByte = new long[SAMPLES];
      long[] podCreated = new long[SAMPLES];
      long[] podReady = new long[SAMPLES];
      int n = 0;
      int failures = 0;
      long firstActivation = -1;
      // Sample -1 is this JVM's first activation ever: the gateway's hold, the autoscaler's poke
      // and the controllers' scale-up paths run interpreted and load their classes. It is
      // reported on its own (first_activation_ms); the percentiles are over the samples after it.
      for (int i = -1; i < SAMPLES; i++) {
        awaitZero(client);
        created.clear();
        ready.clear();
        long t0 = System.nanoTime();
        AtomicLong begin = new AtomicLong();
        org.eclipse.jetty.client.ContentResponse r;
        try {
          r = http.newRequest("127.0.0.1", gw.port()).path("/").headers(h -> h.put(HttpHeader.HOST, host))
              .onResponseBegin(resp -> begin.set(System.nanoTime())).timeout(60, TimeUnit.SECONDS).send();
        } catch (Exception e) {
          failures++;
          System.err.println("cold-start: sample " + i + " failed: " + e + "; pods: "
              + client.pods().inNamespace("default").withLabel("serving.knative.dev/revision", REV).list().getItems().stream()
                  .map(p -> p.getMetadata().getName() + " " + p.getStatus()).toList());
          continue;
        }
        if (r.getStatus() != 200) {
          failures++;
          System.err.println("cold-start: sample " + i + " answered " + r.getStatus() + ": " + r.getContentAsString());
          continue;
        }
        if (i < 0) {
          firstActivation = begin.get() - t0;
          continue;
        }
        firstByte[n] = begin.get() - t0;
        podCreated[n] = created.values().stream().mapToLong(v -> v - t0).min().orElse(-1);
        podReady[n] = ready.values().stream().mapToLong(v -> v - t0).min().orElse(-1);
        n++;
      }
      long[] fb = Bench.sorted(java.util.Arrays.copyOf(firstByte, n));
      Map<String, Object> m = Bench.result("cold-start");
      m.put("samples", n);
      m.put("failed", failures);
      m.put("first_byte_p50_ms", Bench.round(Bench.pctMs(fb, 50), 1));
      m.put("first_byte_p99_ms", Bench.round(Bench.pctMs(fb, 99), 1));
      m.put("first_byte_min_ms", Bench.round(Bench.pctMs(fb, 0), 1));
      m.put("pod_created_p50_ms", Bench.round(Bench.pctMs(Bench.sorted(java.util.Arrays.copyOf(podCreated, n)), 50), 1));
      m.put("pod_ready_p50_ms", Bench.round(Bench.pctMs(Bench.sorted(java.util.Arrays.copyOf(podReady, n)), 50), 1));
      m.put("first_activation_ms", Bench.round(firstActivation / 1e6, 1));
      m.put("first_byte_samples_ms", java.util.Arrays.stream(java.util.Arrays.copyOf(firstByte, n)).map(v -> v / 1_000_000).toArray());
      // Per sample, in request order: where a slow sample lost its time (pod created, Ready).
      m.put("pod_created_samples_ms", java.util.Arrays.stream(java.util.Arrays.copyOf(podCreated, n)).map(v -> v / 1_000_000).toArray());
      m.put("pod_ready_samples_ms", java.util.Arrays.stream(java.util.Arrays.copyOf(podReady, n)).map(v -> v / 1_000_000).toArray());
      m.put("app_ready_p50_ms", Bench.round(Bench.pctMs(appReady, 50), 1));
      m.put("app_ready_max_ms", Bench.round(Bench.pctMs(appReady, 100), 1));
      Bench.print(m);
    } finally {
      // Scale to zero and wait, so no process outlives the benchmark.
      try {
        client.apps().deployments().inNamespace("default").withName(REV + "-deployment").scale(0);
      } catch (RuntimeException ignored) {
        // best effort
      }
      for (int i = components.size() - 1; i >= 0; i--) {
        components.get(i).close();
      }
      if (agent != null) {
        agent.close();
        // The agent never kills containers when it stops; the benchmark removes its sandboxes.
        dev.skiff.kubelet.cri.ProcessRuntime.removeAll(dir.resolve("kubelet"));
      }
      http.stop();
      componentClient.close();
      client.close();
      server.close();
      Bench.deleteTree(dir);
    }
  }

  /** Waits until the Deployment is at 0 and no pod of the revision is left. */
  private static void awaitZero(KubernetesClient client) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (System.nanoTime() < deadline) {
      var d = client.apps().deployments().inNamespace("default").withName(REV + "-deployment").get();
      boolean zero = d != null && d.getSpec().getReplicas() == 0;
      if (zero && client.pods().inNamespace("default").withLabel("serving.knative.dev/revision", REV).list().getItems().isEmpty()) {
        Thread.sleep(500); // let the gateway's informer see the pod gone
        return;
      }
      Thread.sleep(100);
    }
    throw new IllegalStateException("the revision never scaled to zero");
  }

  private static int freePort() throws Exception {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }

  /** Exec -> accepting connections, for the app alone (10 runs, sorted nanos). */
  static long[] appReadyTimes(int port) throws Exception {
    long[] t = new long[10];
    for (int i = 0; i < t.length; i++) {
      ProcessBuilder pb = new ProcessBuilder("perl", "-e", APP);
      pb.environment().put("PORT", Integer.toString(port));
      pb.redirectErrorStream(true);
      long t0 = System.nanoTime();
      Process p = pb.start();
      try {
        while (true) {
          try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 100);
            t[i] = System.nanoTime() - t0;
            break;
          } catch (java.io.IOException e) {
            if (System.nanoTime() - t0 > TimeUnit.SECONDS.toNanos(5)) {
              throw new IllegalStateException("the perl app never listened", e);
            }
            Thread.sleep(0, 200_000);
          }
        }
      } finally {
        p.destroyForcibly().waitFor();
      }
    }
    return Bench.sorted(t);
  }
}
