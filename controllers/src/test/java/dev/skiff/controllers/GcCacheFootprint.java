package dev.skiff.controllers;

import dev.skiff.apiserver.testing.TestServer;
import dev.skiff.controllers.gc.ApiResource;
import dev.skiff.controllers.gc.MetadataClient;
import dev.skiff.controllers.gc.MetadataInformer;
import dev.skiff.controllers.gc.ObjectMetadata;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.Informer;
import dev.skiff.runtime.SharedInformers;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.Semaphore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Heap per cached object of the garbage collector's cache: the typed fabric8 informers it used
 * before (full objects) against its metadata-only {@link MetadataInformer} now. Prints
 * {@code RESULT name value unit}; run with {@code -Dskiff.measure=true}. Nothing asserted.
 */
@EnabledIfSystemProperty(named = "skiff.measure", matches = "true")
class GcCacheFootprint {
  static final int N = 3000;

  static long usedAfterGc() throws InterruptedException {
    long best = Long.MAX_VALUE;
    for (int i = 0; i < 4; i++) {
      System.gc();
      Thread.sleep(100);
      best = Math.min(best, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
    }
    return best;
  }

  static void createAll(int n, java.util.function.IntConsumer create) throws InterruptedException {
    Semaphore inflight = new Semaphore(32);
    List<Thread> threads = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int k = i;
      inflight.acquire();
      threads.add(Thread.ofVirtual().start(() -> {
        try {
          create.accept(k);
        } finally {
          inflight.release();
        }
      }));
    }
    for (Thread t : threads) {
      t.join();
    }
  }

  @Test
  void heapPerCachedObject() throws Exception {
    try (TestServer server = TestServer.start(); KubernetesClient client = Clients.forKubeconfig(server.kubeconfig())) {
      String owner = UUID.randomUUID().toString();
      createAll(N, k -> client.pods().inNamespace("default").resource(new PodBuilder().withNewMetadata()
          .withName("web-6d4cf56db6-" + k).addToLabels("app", "web").addToLabels("pod-template-hash", "6d4cf56db6")
          .addNewOwnerReference().withApiVersion("apps/v1").withKind("ReplicaSet").withName("web-6d4cf56db6")
          .withUid(owner).withController(true).withBlockOwnerDeletion(true).endOwnerReference().endMetadata()
          .withNewSpec().addNewContainer().withName("app").withImage("registry.example/web:1.2.3")
          .withCommand("python3", "-m", "http.server").addNewEnv().withName("TARGET").withValue("world").endEnv()
          .addNewPort().withContainerPort(8080).withName("http").endPort()
          .withNewResources().addToRequests("cpu", new Quantity("100m")).addToRequests("memory", new Quantity("64Mi"))
          .endResources().endContainer().endSpec().build()).create());
      createAll(N, k -> client.configMaps().inNamespace("default").resource(new ConfigMapBuilder().withNewMetadata()
          .withName("cm-" + k).endMetadata().addToData("v", "x".repeat(1000)).build()).create());
      MetadataClient meta = new MetadataClient(client);
      MetadataInformer.Handler none = new MetadataInformer.Handler() {
        @Override
        public void onAdd(ApiResource resource, ObjectMetadata obj) {
        }

        @Override
        public void onUpdate(ApiResource resource, ObjectMetadata old, ObjectMetadata cur) {
        }

        @Override
        public void onDelete(ApiResource resource, ObjectMetadata obj) {
        }
      };
      // Every cache stays open until the end, so nothing is freed between two readings: each
      // delta is the heap the cache just started retains.
      List<AutoCloseable> open = new ArrayList<>();
      try {
        long last = usedAfterGc();
        for (String what : new String[] {"pods", "configmaps"}) {
          ApiResource r = new ApiResource("", "v1", what, what.equals("pods") ? "Pod" : "ConfigMap", true);
          MetadataInformer m = new MetadataInformer(meta, r, none).start();
          open.add(m);
          while (!m.hasSynced()) {
            Thread.sleep(10);
          }
          long now = usedAfterGc();
          System.out.printf("RESULT gc_cache_metadata_%s %d bytes/object (%d cached)%n", what, (now - last) / N, m.size());
          last = now;
          Class<? extends HasMetadata> type = what.equals("pods") ? io.fabric8.kubernetes.api.model.Pod.class
              : io.fabric8.kubernetes.api.model.ConfigMap.class;
          SharedInformers informers = new SharedInformers(client);
          open.add(informers);
          Informer<? extends HasMetadata> inf = informers.informerFor(type);
          informers.start();
          informers.waitForCacheSync(Duration.ofSeconds(60));
          now = usedAfterGc();
          System.out.printf("RESULT gc_cache_typed_%s %d bytes/object (%d cached)%n", what, (now - last) / N,
              inf.lister().list().size());
          last = now;
        }
      } finally {
        for (AutoCloseable c : open) {
          c.close();
        }
      }
    }
  }
}
