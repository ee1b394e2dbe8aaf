package dev.skiff.bench;

import dev.skiff.apiserver.ApiServer;
import dev.skiff.cli.InJvmApi;
import dev.skiff.runtime.Clients;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import io.fabric8.kubernetes.client.vertx.VertxHttpClientFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * transport: the components' client (fabric8) to an API server in the same JVM, over loopback
 * TLS (vert.x, HTTP/1.1, what components used before) and in-JVM ({@code InProcessHttpClientFactory}).
 * Per transport, after a warm-up round: 1 KiB ConfigMap creates from 16 virtual threads for 5 s
 * (throughput, p50/p99), 2,000 sequential GETs, 20 LISTs of 1,000 ConfigMaps, and 500 sequential
 * updates each timed until a fabric8 watch on the namespace delivers it. The two transports
 * alternate (warm-up loopback, warm-up in-jvm, loopback, in-jvm) so both see the same JIT state.
 */
final class TransportBench {
  private static final int CLIENTS = 16;
  private static final long CREATE_NANOS = 5_000_000_000L;

  private TransportBench() {}

  static void run() throws Exception {
    Path dir = Bench.tempDir("skiff-bench-transport-");
    ApiServer server = ApiServer.start(new ApiServer.Config(dir, 0, "127.0.0.1"));
    Map<String, Object> m = Bench.result("transport");
    try (KubernetesClient loopback = Clients.forKubeconfig(server.kubeconfig(), new VertxHttpClientFactory());
        KubernetesClient inJvm = Clients.inProcess(server.kubeconfig(), new InJvmApi(server))) {
      Map<String, Object> last = new LinkedHashMap<>();
      for (int round = 0; round < 2; round++) {
        for (String name : List.of("loopback", "in_jvm")) {
          KubernetesClient c = name.equals("loopback") ? loopback : inJvm;
          Map<String, Object> r = measure(c, name.replace("_", "-") + "-" + round);
          if (round == 1) {
            r.forEach((k, v) -> last.put(name + "_" + k, v));
          }
        }
      }
      m.putAll(last);
    } finally {
      server.close();
      Bench.deleteTree(dir);
    }
    m.put("load_avg_at_end", java.nio.file.Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
    Bench.print(m);
  }

  private static Map<String, Object> measure(KubernetesClient c, String ns) throws Exception {
    Map<String, Object> r = new LinkedHashMap<>();
    c.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
    var cms = c.configMaps().inNamespace(ns);
    String payload = "x".repeat(900);

    // creates, 16 in flight
    List<Long> lat = java.util.Collections.synchronizedList(new ArrayList<>());
    AtomicInteger seq = new AtomicInteger();
    long start = System.nanoTime();
    long end = start + CREATE_NANOS;
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < CLIENTS; t++) {
      threads.add(Thread.ofVirtual().start(() -> {
        while (System.nanoTime() < end) {
          long t0 = System.nanoTime();
          cms.resource(new ConfigMapBuilder().withNewMetadata().withName("c-" + seq.incrementAndGet()).endMetadata()
              .withData(Map.of("k", payload)).build()).create();
          lat.add(System.nanoTime() - t0);
        }
      }));
    }
    for (Thread t : threads) {
      t.join();
    }
    double secs = (System.nanoTime() - start) / 1e9;
    long[] created = Bench.sorted(lat.stream().mapToLong(Long::longValue).toArray());
    r.put("creates_per_s", Math.round(created.length / secs));
    r.put("create_p50_ms", Bench.pctMs(created, 50));
    r.put("create_p99_ms", Bench.pctMs(created, 99));

    // sequential gets
    long[] gets = new long[2000];
    for (int i = 0; i < gets.length; i++) {
      long t0 = System.nanoTime();
      cms.withName("c-" + (1 + i % 100)).get();
      gets[i] = System.nanoTime() - t0;
    }
    gets = Bench.sorted(gets);
    r.put("get_p50_ms", Bench.pctMs(gets, 50));
    r.put("get_p99_ms", Bench.pctMs(gets, 99));

    // lists of 1,000 objects
    String listNs = ns + "-list";
    c.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(listNs).endMetadata().build()).create();
    var listCms = c.configMaps().inNamespace(listNs);
    if (listCms.list().getItems().isEmpty()) {
      List<Thread> fill = new ArrayList<>();
      AtomicInteger n = new AtomicInteger();
      for (int t = 0; t < CLIENTS; t++) {
        fill.add(Thread.ofVirtual().start(() -> {
          int i;
          while ((i = n.incrementAndGet()) <= 1000) {
            listCms.resource(new ConfigMapBuilder().withNewMetadata().withName("l-" + i).endMetadata()
                .withData(Map.of("k", payload)).build()).create();
          }
        }));
      }
      for (Thread t : fill) {
        t.join();
      }
    }
    long[] lists = new long[20];
    for (int i = 0; i < lists.length; i++) {
      long t0 = System.nanoTime();
      int size = listCms.list().getItems().size();
      lists[i] = System.nanoTime() - t0;
      if (size != 1000) {
        throw new IllegalStateException("listed " + size);
      }
    }
    lists = Bench.sorted(lists);
    r.put("list_1000_p50_ms", Bench.pctMs(lists, 50));

    // update -> watch event
    Map<String, Long> sent = new ConcurrentHashMap<>();
    List<Long> delays = java.util.Collections.synchronizedList(new ArrayList<>());
    CountDownLatch[] got = {new CountDownLatch(1)};
    cms.resource(new ConfigMapBuilder().withNewMetadata().withName("w").endMetadata().withData(Map.of("i", "0")).build()).create();
    Watch watch = cms.withName("w").watch(new Watcher<ConfigMap>() {
      @Override
      public void eventReceived(Action action, ConfigMap cm) {
        Long t0 = cm.getData() == null ? null : sent.remove(cm.getData().get("i"));
        if (t0 != null) {
          delays.add(System.nanoTime() - t0);
          got[0].countDown();
        }
      }

      @Override
      public void onClose(WatcherException cause) {
      }
    });
    try {
      Thread.sleep(300); // the watch is established
      for (int i = 1; i <= 500; i++) {
        got[0] = new CountDownLatch(1);
        String v = Integer.toString(i);
        sent.put(v, System.nanoTime());
        cms.resource(new ConfigMapBuilder().withNewMetadata().withName("w").endMetadata().withData(Map.of("i", v)).build()).update();
        if (!got[0].await(10, TimeUnit.SECONDS)) {
          throw new IllegalStateException("no watch event for update " + i);
        }
      }
    } finally {
      watch.close();
    }
    long[] d = Bench.sorted(delays.stream().mapToLong(Long::longValue).toArray());
    r.put("watch_p50_ms", Bench.pctMs(d, 50));
    r.put("watch_p99_ms", Bench.pctMs(d, 99));
    return r;
  }
}
