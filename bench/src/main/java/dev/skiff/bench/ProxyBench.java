package dev.skiff.bench;

import dev.skiff.apiserver.ApiServer;
import dev.skiff.network.ServiceProxy;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.ServiceBuilder;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSliceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Service proxy throughput and added latency: a closed-loop HTTP/1.1 keep-alive load ({@code N}
 * connections, default 16) against a tiny local backend, directly and through the
 * {@link ServiceProxy} (the ClusterIP as root, else the NodePort on 127.0.0.1), with each data
 * path: the default (nftables DNAT as root), then the user-space engines, NIO event loops and
 * blocking threads (virtual, platform). Direct and proxied runs alternate, 3 rounds of each per
 * configuration, 1 s warm-up each.
 * {@code ./skiff bench proxy [connections] [seconds per round] [default|nio|threads-virtual|threads-platform] [nio loops]}.
 */
final class ProxyBench {
  static final int ROUNDS = 3;
  static final int SERVICE_PORT = 18080;

  private ProxyBench() {}

  static void run(String[] args) throws Exception {
    int connections = args.length > 1 ? Integer.parseInt(args[1]) : 16;
    double seconds = args.length > 2 ? Double.parseDouble(args[2]) : 3;
    double warmup = 1;
    Path dir = Bench.tempDir("skiff-bench-proxy-");
    ApiServer server = ApiServer.start(new ApiServer.Config(dir.resolve("api"), 0, "127.0.0.1"));
    KubernetesClient client = Clients.forKubeconfig(server.kubeconfig());
    try (HttpLoad.Backend backend = new HttpLoad.Backend("127.0.0.2", 0, "b1")) {
      ThreadLocalRandom r = ThreadLocalRandom.current();
      String clusterIp = "10.43." + (128 + r.nextInt(128)) + "." + (1 + r.nextInt(254));
      int nodePort = 30000 + r.nextInt(2768);
      createService(client, "bench", clusterIp, nodePort);
      client.resource(slice("bench", backend.port(), "127.0.0.2", true)).create();
      InetSocketAddress direct = new InetSocketAddress("127.0.0.2", backend.port());

      Map<String, Object> m = Bench.result("proxy");
      m.put("connections", connections);
      m.put("rounds", ROUNDS);
      m.put("seconds_per_round", seconds);
      // engine, thread kind, JSON prefix ("" = the default configuration, reported first), data
      // path (nftables as root falls back to user space where unusable), name for the filter
      String[][] configs = {{"nio", "virtual", "", "nftables", "default"}, {"nio", "virtual", "userspace_", "userspace", "nio"},
          {"threads", "virtual", "threads_virtual_", "userspace", "threads-virtual"},
          {"threads", "platform", "threads_platform_", "userspace", "threads-platform"}};
      String only = args.length > 3 ? args[3] : null; // e.g. "nio" to profile one engine
      for (String[] cfg : configs) {
        if (only != null && !only.equals(cfg[4])) {
          continue;
        }
        Map<String, String> opts = new java.util.HashMap<>(Map.of("proxy.engine", cfg[0], "proxy.threads", cfg[1],
            "proxy.mode", cfg[3]));
        if (args.length > 4) {
          opts.put("proxy.loops", args[4]);
        }
        ServiceProxy.Running proxy = new ServiceProxy().start(new ComponentContext(client, dir, "bench-node", opts));
        try {
          InetSocketAddress target = proxy.clusterIpsReachable() ? new InetSocketAddress(clusterIp, SERVICE_PORT)
              : new InetSocketAddress("127.0.0.1", nodePort);
          long waitUntil = System.nanoTime() + 30_000_000_000L;
          while (!"b1".equals(HttpLoad.probe(target))) {
            if (System.nanoTime() > waitUntil) {
              throw new IllegalStateException("the proxy never routed " + target);
            }
            Thread.sleep(10);
          }
          // Direct and proxied runs alternate, so both see the same (shared, noisy) machine.
          List<HttpLoad.Result> ds = new ArrayList<>();
          List<HttpLoad.Result> ps = new ArrayList<>();
          for (int i = 0; i < ROUNDS; i++) {
            ds.add(HttpLoad.run(direct, connections, warmup, seconds));
            ps.add(HttpLoad.run(target, connections, warmup, seconds));
          }
          HttpLoad.Result d = HttpLoad.merge(ds);
          HttpLoad.Result p = HttpLoad.merge(ps);
          String k = cfg[2];
          if (k.isEmpty()) {
            m.put("via", proxy.clusterIpsReachable() ? "clusterIP" : "nodePort");
            m.put("engine", proxy.nftTable() != null ? "nftables" : "nio");
          }
          m.put(k + "direct_rps", Math.round(d.rps()));
          m.put(k + "proxy_rps", Math.round(p.rps()));
          m.put(k + "ratio", Bench.round(p.rps() / d.rps(), 2));
          m.put(k + "direct_p50_ms", Bench.round(d.p50Ms(), 3));
          m.put(k + "direct_p99_ms", Bench.round(d.p99Ms(), 3));
          m.put(k + "proxy_p50_ms", Bench.round(p.p50Ms(), 3));
          m.put(k + "proxy_p99_ms", Bench.round(p.p99Ms(), 3));
          m.put(k + "added_p99_ms", Bench.round(p.p99Ms() - d.p99Ms(), 3));
          m.put(k + "errors", d.errors() + p.errors());
        } finally {
          proxy.close();
        }
      }
      Bench.print(m);
    } finally {
      client.close();
      server.close();
      Bench.deleteTree(dir);
    }
  }

  /**
   * Port {@link #SERVICE_PORT}, not 80: a wildcard listener on 0.0.0.0:80 elsewhere on the host (a
   * gateway) would make binding clusterIP:80 fail.
   */
  static void createService(KubernetesClient client, String name, String clusterIp, int nodePort) {
    client.services().resource(new ServiceBuilder().withNewMetadata().withName(name).withNamespace("default").endMetadata()
        .withNewSpec().withType("NodePort").withClusterIP(clusterIp)
        .addNewPort().withName("http").withPort(SERVICE_PORT).withProtocol("TCP").withTargetPort(new IntOrString(SERVICE_PORT))
        .withNodePort(nodePort).endPort().endSpec().build()).create();
  }

  /** A hand-made slice of Service {@code service} with endpoints {@code ips} (all with one readiness). */
  static EndpointSlice slice(String service, int port, String ip, boolean ready) {
    return new EndpointSliceBuilder().withNewMetadata().withName(service + "-x").withNamespace("default")
        .addToLabels("kubernetes.io/service-name", service).endMetadata()
        .withAddressType("IPv4")
        .addNewPort().withName("http").withProtocol("TCP").withPort(port).endPort()
        .addNewEndpoint().withAddresses(ip).withNewConditions().withReady(ready).withServing(ready)
        .withTerminating(false).endConditions().endEndpoint()
        .build();
  }
}
