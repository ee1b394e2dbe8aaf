package dev.skiff.runtime;

import dev.skiff.apiserver.testing.TestServer;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Quick scenario measurements, printed as {@code RESULT name value unit} lines; run with
 * {@code -Dskiff.measure=true}. Nothing is asserted about time (DESIGN.md: performance is
 * measured, never asserted by unit tests).
 */
@EnabledIfSystemProperty(named = "skiff.measure", matches = "true")
class Measurements {

  @Test
  void informerInitialSyncOf5000ConfigMaps() throws Exception {
    try (TestServer server = TestServer.start(); KubernetesClient client = Clients.forKubeconfig(server.kubeconfig())) {
      client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName("m").endMetadata().build()).create();
      String value = "x".repeat(1000); // ~1 KiB each, as the bench's configmaps
      Semaphore inflight = new Semaphore(32);
      List<Thread> threads = new ArrayList<>();
      long t0 = System.nanoTime();
      for (int i = 0; i < 5000; i++) {
        int n = i;
        inflight.acquire();
        threads.add(Thread.ofVirtual().start(() -> {
          try {
            client.configMaps().inNamespace("m").resource(new ConfigMapBuilder().withNewMetadata().withName("cm-" + n)
                .endMetadata().addToData("v", value).build()).create();
          } finally {
            inflight.release();
          }
        }));
      }
      for (Thread t : threads) {
        t.join();
      }
      System.out.printf("RESULT create_5000_configmaps_fabric8 %.0f ms%n", (System.nanoTime() - t0) / 1e6);
      for (int round = 0; round < 3; round++) {
        try (SharedInformers informers = new SharedInformers(client)) {
          Informer<ConfigMap> inf = informers.informerFor(ConfigMap.class);
          long s = System.nanoTime();
          informers.start();
          informers.waitForCacheSync(Duration.ofSeconds(60));
          long ms = (System.nanoTime() - s) / 1_000_000;
          System.out.printf("RESULT informer_initial_sync_5000_configmaps_round%d %d ms (%d cached)%n", round, ms, inf.lister().list("m").size());
        }
      }
    }
  }

  @Test
  void createRateByTransport() throws Exception {
    try (TestServer server = TestServer.start()) {
      for (String transport : new String[] {"vertx", "jdk", "vertx", "jdk"}) {
        try (KubernetesClient client = Clients.forKubeconfig(server.kubeconfig(),
            transport.equals("jdk") ? new io.fabric8.kubernetes.client.jdkhttp.JdkHttpClientFactory()
                : new io.fabric8.kubernetes.client.vertx.VertxHttpClientFactory())) {
          String ns = "c-" + transport + "-" + System.nanoTime();
          client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
          int n = 2000;
          Semaphore inflight = new Semaphore(32);
          List<Thread> threads = new ArrayList<>();
          long t0 = System.nanoTime();
          for (int i = 0; i < n; i++) {
            int k = i;
            inflight.acquire();
            threads.add(Thread.ofVirtual().start(() -> {
              try {
                client.configMaps().inNamespace(ns).resource(new ConfigMapBuilder().withNewMetadata().withName("cm-" + k)
                    .endMetadata().addToData("v", "x".repeat(1000)).build()).create();
              } finally {
                inflight.release();
              }
            }));
          }
          for (Thread t : threads) {
            t.join();
          }
          System.out.printf("RESULT create_rate_fabric8_%s_32_concurrent %.0f creates/s%n", transport, n / ((System.nanoTime() - t0) / 1e9));
        }
      }
    }
  }

  @Test
  void trivialReconcilerThroughput() throws Exception {
    try (TestServer server = TestServer.start(); KubernetesClient client = Clients.forKubeconfig(server.kubeconfig());
        SharedInformers informers = new SharedInformers(client)) {
      for (int workers : new int[] {1, 4, 16}) {
        AtomicInteger done = new AtomicInteger();
        Controller c = Controller.builder("bench-" + workers, informers)
            .watches(ConfigMap.class, cm -> List.of())
            .workers(workers)
            .reconciler(key -> {
              done.incrementAndGet();
              return Result.done();
            })
            .build();
        c.start();
        Poll.until(Duration.ofSeconds(10), c::started);
        int keys = 200_000;
        long s = System.nanoTime();
        for (int i = 0; i < keys; i++) {
          c.enqueue("ns/k" + i);
        }
        Poll.until(Duration.ofSeconds(60), () -> done.get() >= keys);
        double secs = (System.nanoTime() - s) / 1e9;
        System.out.printf("RESULT reconcile_throughput_trivial_workers%d %.0f keys/s%n", workers, keys / secs);
        c.stop(Duration.ofSeconds(5));
      }
    }
  }
}
