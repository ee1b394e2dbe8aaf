package dev.skiff.bench;

import dev.skiff.apiserver.ApiServer;
import dev.skiff.network.ServiceProxy;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Endpoint propagation through the {@link ServiceProxy}: a Service with two backends (same port
 * on 127.0.0.2 and 127.0.0.3) whose EndpointSlice alternately marks one ready and the other not.
 * Each sample runs from just before the slice update request to the first new connection through
 * the proxy that the newly ready backend answers (probing back to back on new connections; a
 * probe costs ~0.2 ms). So it covers API write, watch, informer, reconcile and the balancer swap;
 * not the kubelet's readiness report nor the EndpointSlice controller. {@code after_write_*}: the
 * same, from the update's response (watch delivery onwards).
 * {@code ./skiff bench endpoint-propagation [samples]}.
 */
final class EndpointPropagationBench {
  private EndpointPropagationBench() {}

  static void run(String[] args) throws Exception {
    int samples = args.length > 1 ? Integer.parseInt(args[1]) : 200;
    Path dir = Bench.tempDir("skiff-bench-endpoints-");
    ApiServer server = ApiServer.start(new ApiServer.Config(dir.resolve("api"), 0, "127.0.0.1"));
    KubernetesClient client = Clients.forKubeconfig(server.kubeconfig());
    HttpLoad.Backend a = null;
    HttpLoad.Backend b = null;
    ServiceProxy.Running proxy = null;
    try {
      a = new HttpLoad.Backend("127.0.0.2", 0, "a");
      b = new HttpLoad.Backend("127.0.0.3", a.port(), "b");
      ThreadLocalRandom r = ThreadLocalRandom.current();
      String clusterIp = "10.43." + (128 + r.nextInt(128)) + "." + (1 + r.nextInt(254));
      int nodePort = 30000 + r.nextInt(2768);
      ProxyBench.createService(client, "prop", clusterIp, nodePort);
      String rv = client.resource(slice(a.port(), true)).create().getMetadata().getResourceVersion();
      proxy = new ServiceProxy().start(new ComponentContext(client, dir, "bench-node", Map.of()));
      InetSocketAddress target = proxy.clusterIpsReachable() ? new InetSocketAddress(clusterIp, ProxyBench.SERVICE_PORT)
          : new InetSocketAddress("127.0.0.1", nodePort);
      if (!awaitAnswer(target, "a", 30_000)) {
        throw new IllegalStateException("the proxy never routed " + target);
      }
      long[] lat = new long[samples];
      long[] afterWrite = new long[samples];
      int timeouts = 0;
      for (int i = 0; i < samples; i++) {
        boolean toB = i % 2 == 0;
        EndpointSlice s = slice(a.port(), !toB);
        s.getMetadata().setResourceVersion(rv); // a plain PUT: no read-before-write in the sample
        long t0 = System.nanoTime();
        rv = client.resource(s).update().getMetadata().getResourceVersion();
        long t1 = System.nanoTime();
        if (!awaitAnswer(target, toB ? "b" : "a", 5_000)) {
          timeouts++;
        }
        long t2 = System.nanoTime();
        lat[i] = t2 - t0;
        afterWrite[i] = t2 - t1;
        Thread.sleep(20); // let the API server and proxy settle between samples
      }
      long[] sorted = Bench.sorted(lat);
      Map<String, Object> m = Bench.result("endpoint-propagation");
      m.put("samples", samples);
      m.put("via", proxy.clusterIpsReachable() ? "clusterIP" : "nodePort");
      m.put("p50_ms", Bench.round(Bench.pctMs(sorted, 50), 2));
      m.put("p99_ms", Bench.round(Bench.pctMs(sorted, 99), 2));
      m.put("max_ms", Bench.round(sorted[sorted.length - 1] / 1e6, 2));
      long[] aw = Bench.sorted(afterWrite);
      m.put("after_write_p50_ms", Bench.round(Bench.pctMs(aw, 50), 2));
      m.put("after_write_p99_ms", Bench.round(Bench.pctMs(aw, 99), 2));
      m.put("timeouts", timeouts);
      Bench.print(m);
    } finally {
      if (proxy != null) {
        proxy.close();
      }
      if (a != null) {
        a.close();
      }
      if (b != null) {
        b.close();
      }
      client.close();
      server.close();
      Bench.deleteTree(dir);
    }
  }

  private static boolean awaitAnswer(InetSocketAddress target, String who, long timeoutMs) {
    long deadline = System.nanoTime() + timeoutMs * 1_000_000;
    while (System.nanoTime() < deadline) {
      if (who.equals(HttpLoad.probe(target))) {
        return true;
      }
    }
    return false;
  }

  /** Both endpoints; "a" ready when {@code aReady}, else "b". */
  private static EndpointSlice slice(int port, boolean aReady) {
    EndpointSlice s = ProxyBench.slice("prop", port, "127.0.0.2", aReady);
    s.getEndpoints().add(new EndpointBuilder().withAddresses("127.0.0.3").withNewConditions().withReady(!aReady)
        .withServing(!aReady).withTerminating(false).endConditions().build());
    return s;
  }
}
