package dev.skiff.bench;

import dev.skiff.apiserver.ApiServer;
import dev.skiff.controllers.ControllerManager;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import dev.skiff.runtime.EventHandler;
import dev.skiff.runtime.SharedInformers;
import io.fabric8.kubernetes.api.model.EndpointAddress;
import io.fabric8.kubernetes.api.model.EndpointSubset;
import io.fabric8.kubernetes.api.model.Endpoints;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * endpoints: the Service data path's control-plane half. (1) Service creates through the API
 * (clusterIP + NodePort allocation), 16 concurrent clients; (2) endpoint propagation with the
 * controller manager running: a pod's Ready condition flips through pods/status, and the time
 * until a separate client's informer sees the change in the Service's EndpointSlice (and in its
 * Endpoints) is recorded; 100 pods behind the Service, 200 flips, one at a time.
 */
final class EndpointsBench {
  static final int SERVICES = 2000;
  static final int PODS = 100;
  static final int FLIPS = 200;

  private EndpointsBench() {}

  /** What the watcher waits for: pod {@code pod} with ready == {@code ready}. */
  private record Want(String pod, boolean ready, CompletableFuture<Long> slice, CompletableFuture<Long> endpoints) {}

  private static volatile Want want;

  static void run() throws Exception {
    Path dir = Bench.tempDir("skiff-bench-endpoints-");
    ApiServer server = ApiServer.start(new ApiServer.Config(dir, 0, "127.0.0.1"));
    KubernetesClient client = Clients.forKubeconfig(server.kubeconfig());
    KubernetesClient watcher = Clients.forKubeconfig(server.kubeconfig());
    ExecutorService exec = Executors.newFixedThreadPool(16);
    AutoCloseable manager = null;
    SharedInformers informers = new SharedInformers(watcher);
    try {
      // (1) Service creates.
      long t0 = System.nanoTime();
      List<Future<?>> fs = new ArrayList<>();
      for (int i = 0; i < SERVICES; i++) {
        String name = "s" + i;
        fs.add(exec.submit(() -> client.services().inNamespace("default").resource(new ServiceBuilder()
            .withNewMetadata().withName(name).endMetadata().withNewSpec().withType("NodePort")
            .addToSelector("app", name).addNewPort().withPort(80).endPort().endSpec().build()).create()));
      }
      Set<String> ips = new HashSet<>();
      for (Future<?> f : fs) {
        ips.add(((io.fabric8.kubernetes.api.model.Service) f.get()).getSpec().getClusterIP());
      }
      double createSeconds = (System.nanoTime() - t0) / 1e9;
      // Only 2,768 NodePorts exist: delete them again before the propagation part.
      for (int i = 0; i < SERVICES; i++) {
        String name = "s" + i;
        fs.set(i, exec.submit(() -> client.services().inNamespace("default").withName(name).delete()));
      }
      for (Future<?> f : fs) {
        f.get();
      }

      // (2) Propagation.
      informers.informerFor(EndpointSlice.class).addHandler(new EventHandler<>() {
        @Override
        public void onAdd(EndpointSlice s) {
          check(s);
        }

        @Override
        public void onUpdate(EndpointSlice o, EndpointSlice s) {
          check(s);
        }

        @Override
        public void onDelete(EndpointSlice s, boolean unknown) { }

        private void check(EndpointSlice s) {
          Want w = want;
          if (w == null || s.getEndpoints() == null) {
            return;
          }
          for (Endpoint e : s.getEndpoints()) {
            if (e.getTargetRef() != null && w.pod().equals(e.getTargetRef().getName())
                && Boolean.valueOf(w.ready()).equals(e.getConditions().getReady())) {
              w.slice().complete(System.nanoTime());
            }
          }
        }
      });
      informers.informerFor(Endpoints.class).addHandler(new EventHandler<>() {
        @Override
        public void onAdd(Endpoints e) {
          check(e);
        }

        @Override
        public void onUpdate(Endpoints o, Endpoints e) {
          check(e);
        }

        @Override
        public void onDelete(Endpoints e, boolean unknown) { }

        private void check(Endpoints ep) {
          Want w = want;
          if (w == null || ep.getSubsets() == null) {
            return;
          }
          for (EndpointSubset s : ep.getSubsets()) {
            List<EndpointAddress> list = w.ready() ? s.getAddresses() : s.getNotReadyAddresses();
            for (EndpointAddress a : list == null ? List.<EndpointAddress>of() : list) {
              if (a.getTargetRef() != null && w.pod().equals(a.getTargetRef().getName())) {
                w.endpoints().complete(System.nanoTime());
              }
            }
          }
        }
      });
      informers.start();
      informers.waitForCacheSync(Duration.ofSeconds(30));
      manager = new ControllerManager().start(new ComponentContext(client, dir, "bench", Map.of()));
      client.services().inNamespace("default").resource(new ServiceBuilder().withNewMetadata().withName("web").endMetadata()
          .withNewSpec().addToSelector("app", "web").addNewPort().withPort(80).withNewTargetPort(8080).endPort().endSpec()
          .build()).create();
      fs.clear();
      for (int i = 0; i < PODS; i++) {
        String name = "web-" + i;
        String ip = "10.42.0." + (i + 10);
        fs.add(exec.submit(() -> {
          client.pods().inNamespace("default").resource(new PodBuilder().withNewMetadata().withName(name)
              .addToLabels("app", "web").endMetadata().withNewSpec().withNodeName("bench").addNewContainer().withName("c")
              .withImage("x").endContainer().endSpec().build()).create();
          status(client, name, ip, true);
          return null;
        }));
      }
      for (Future<?> f : fs) {
        f.get();
      }
      long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
      while (readyInSlices(informers) < PODS) {
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException("endpoints never became ready");
        }
        Thread.sleep(20);
      }
      Thread.sleep(500);
      long[] slice = new long[FLIPS];
      long[] legacy = new long[FLIPS];
      for (int i = 0; i < FLIPS; i++) {
        int k = (i / 2) % PODS;
        boolean ready = i % 2 == 1;
        Want w = new Want("web-" + k, ready, new CompletableFuture<>(), new CompletableFuture<>());
        want = w;
        long start = System.nanoTime();
        status(client, "web-" + k, "10.42.0." + (k + 10), ready);
        slice[i] = w.slice().get(30, TimeUnit.SECONDS) - start;
        legacy[i] = w.endpoints().get(30, TimeUnit.SECONDS) - start;
      }
      long[] s = Bench.sorted(slice);
      long[] l = Bench.sorted(legacy);
      Map<String, Object> m = Bench.result("endpoints");
      m.put("service_creates", SERVICES);
      m.put("service_creates_per_s", Bench.round(SERVICES / createSeconds, 0));
      m.put("distinct_cluster_ips", ips.size());
      m.put("pods", PODS);
      m.put("flips", FLIPS);
      m.put("slice_p50_ms", Bench.pctMs(s, 50));
      m.put("slice_p99_ms", Bench.pctMs(s, 99));
      m.put("slice_max_ms", Bench.pctMs(s, 100));
      m.put("endpoints_p50_ms", Bench.pctMs(l, 50));
      m.put("endpoints_p99_ms", Bench.pctMs(l, 99));
      Bench.print(m);
    } finally {
      if (manager != null) {
        manager.close();
      }
      informers.close();
      exec.shutdownNow();
      watcher.close();
      client.close();
      server.close();
      Bench.deleteTree(dir);
    }
  }

  private static int readyInSlices(SharedInformers informers) {
    int n = 0;
    for (EndpointSlice s : informers.informerFor(EndpointSlice.class).lister().list("default")) {
      if (s.getEndpoints() == null || !"web".equals(s.getMetadata().getLabels().get("kubernetes.io/service-name"))) {
        continue;
      }
      for (Endpoint e : s.getEndpoints()) {
        if (Boolean.TRUE.equals(e.getConditions().getReady())) {
          n++;
        }
      }
    }
    return n;
  }

  private static void status(KubernetesClient client, String name, String ip, boolean ready) {
    String now = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
    client.pods().inNamespace("default").withName(name).subresource("status").patch(PatchContext.of(PatchType.JSON_MERGE),
        "{\"status\":{\"phase\":\"Running\",\"podIP\":\"" + ip + "\",\"podIPs\":[{\"ip\":\"" + ip + "\"}],"
            + "\"conditions\":[{\"type\":\"Ready\",\"status\":\"" + (ready ? "True" : "False") + "\",\"lastTransitionTime\":\""
            + now + "\"}]}}");
  }
}
