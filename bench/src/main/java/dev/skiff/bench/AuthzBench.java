package dev.skiff.bench;

import dev.skiff.apiserver.ApiServer;
import dev.skiff.apiserver.auth.Authorizer;
import dev.skiff.apiserver.pki.ClusterPki;
import dev.skiff.apiserver.rbac.RbacAuthorizer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpMethod;

/**
 * What authorization costs: ConfigMap creates (16 virtual-thread clients, HTTP/2) by an ordinary
 * user whose create right comes from one of 100 Roles and 100 RoleBindings, with RBAC on versus no
 * authorization, alternating rounds; reports the median throughputs and their ratio (target >= 0.95).
 */
final class AuthzBench {
  static final int CLIENTS = 16;
  static final long ROUND_NANOS = 4_000_000_000L;

  private AuthzBench() {}

  static void run() throws Exception {
    Path dir = Bench.tempDir("skiff-bench-authz-");
    ApiServer server = ApiServer.start(new ApiServer.Config(dir, 0, "127.0.0.1"));
    try {
      HttpClient admin = Bench.h2Client(server);
      String base = "https://127.0.0.1:" + server.port();
      Bench.send(admin, HttpMethod.POST, base + "/api/v1/namespaces",
          "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"perf\"}}");
      for (int i = 0; i < 100; i++) {
        String user = i == 50 ? "dave" : "user-" + i;
        Bench.send(admin, HttpMethod.POST, base + "/apis/rbac.authorization.k8s.io/v1/namespaces/perf/roles",
            "{\"metadata\":{\"name\":\"role-" + i + "\"},\"rules\":[{\"apiGroups\":[\"\"],\"resources\":[\"configmaps\",\"secrets\"],"
                + "\"verbs\":[\"get\",\"list\",\"create\"]},{\"apiGroups\":[\"apps\"],\"resources\":[\"deployments\"],\"verbs\":[\"*\"]}]}");
        Bench.send(admin, HttpMethod.POST, base + "/apis/rbac.authorization.k8s.io/v1/namespaces/perf/rolebindings",
            "{\"metadata\":{\"name\":\"binding-" + i + "\"},\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\",\"name\":\"role-" + i + "\"},"
                + "\"subjects\":[{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"User\",\"name\":\"" + user + "\"}]}");
      }
      var dave = server.pki().issueClientCertificate("dave", List.of(), Duration.ofHours(1))
          .kubeconfig(ClusterPki.CLUSTER_NAME, base, "dave");
      HttpClient client = Bench.h2Client(dave.sslContext());
      String uri = base + "/api/v1/namespaces/perf/configmaps";
      Authorizer rbac = new RbacAuthorizer(server.registry());
      AtomicInteger seq = new AtomicInteger();
      server.handler().setAuthorizer(rbac);
      round(client, uri, seq, 2_000_000_000L); // warm-up
      List<Double> none = new ArrayList<>();
      List<Double> withRbac = new ArrayList<>();
      for (int r = 0; r < 3; r++) {
        server.handler().setAuthorizer(Authorizer.ALLOW_ALL);
        none.add(round(client, uri, seq, ROUND_NANOS));
        server.handler().setAuthorizer(rbac);
        withRbac.add(round(client, uri, seq, ROUND_NANOS));
      }
      Collections.sort(none);
      Collections.sort(withRbac);
      Map<String, Object> m = Bench.result("authz");
      m.put("roles", 100);
      m.put("bindings", 100);
      m.put("creates_per_s_no_authz", Bench.round(none.get(1), 0));
      m.put("creates_per_s_rbac", Bench.round(withRbac.get(1), 0));
      m.put("ratio", Bench.round(withRbac.get(1) / none.get(1), 3));
      m.put("clients", CLIENTS);
      Bench.print(m);
    } finally {
      server.close();
      Bench.deleteTree(dir);
    }
  }

  /** Creates for {@code nanos} from {@link #CLIENTS} virtual threads; returns creates per second. */
  private static double round(HttpClient client, String uri, AtomicInteger seq, long nanos) throws Exception {
    long end = System.nanoTime() + nanos;
    AtomicLong ok = new AtomicLong();
    List<Thread> threads = new ArrayList<>();
    for (int c = 0; c < CLIENTS; c++) {
      threads.add(Thread.ofVirtual().start(() -> {
        while (System.nanoTime() < end) {
          try {
            if (Bench.send(client, HttpMethod.POST, uri, ApiCreateBench.configMap("cm-" + seq.incrementAndGet(), 256)).getStatus() == 201) {
              ok.incrementAndGet();
            }
          } catch (Exception e) {
            // counted as not created
          }
        }
      }));
    }
    for (Thread t : threads) {
      t.join();
    }
    return ok.get() * 1e9 / nanos;
  }
}
