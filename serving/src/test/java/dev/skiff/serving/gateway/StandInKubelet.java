package dev.skiff.serving.gateway;

import io.fabric8.kubernetes.api.model.Pod;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * For gateway tests without a node agent: every 100 ms, turns each watched revision's Deployment
 * replicas into Ready pods ({@code <rev>-pod-<i>}), each served by a local {@link TestApp} (kept
 * per index and reused when the revision scales up again), and deletes the pods beyond them.
 */
final class StandInKubelet implements AutoCloseable {
  private final ServingFixture fx;
  private final Map<String, List<Pod>> pods = new ConcurrentHashMap<>();
  private final Map<String, List<TestApp>> apps = new ConcurrentHashMap<>();
  private volatile boolean running = true;
  private final Thread thread;

  StandInKubelet(ServingFixture fx) {
    this.fx = fx;
    this.thread = Thread.ofVirtual().name("stand-in-kubelet").start(this::run);
  }

  /** Starts keeping pods for {@code revision}. */
  void watch(String revision) {
    pods.putIfAbsent(revision, new ArrayList<>());
  }

  private void run() {
    while (running) {
      try {
        for (String rev : pods.keySet()) {
          sync(rev);
        }
        Thread.sleep(100);
      } catch (Exception e) {
        if (running) {
          e.printStackTrace();
        }
      }
    }
  }

  private void sync(String rev) throws Exception {
    var d = fx.client.apps().deployments().inNamespace("default").withName(rev + "-deployment").get();
    if (d == null) {
      return;
    }
    int want = d.getSpec().getReplicas();
    List<Pod> list = pods.get(rev);
    List<TestApp> servers = apps.computeIfAbsent(rev, r -> new ArrayList<>());
    while (list.size() < want) {
      int i = list.size();
      if (servers.size() <= i) {
        servers.add(new TestApp(rev + "-pod-" + i));
      }
      list.add(fx.pod(rev + "-pod-" + i, rev, servers.get(i).port(), "user-port", true));
    }
    while (list.size() > want) {
      Pod p = list.remove(list.size() - 1);
      fx.client.pods().inNamespace("default").withName(p.getMetadata().getName()).withGracePeriod(0).delete();
    }
  }

  @Override
  public void close() throws InterruptedException {
    running = false;
    thread.join(5000);
    apps.values().forEach(l -> l.forEach(TestApp::close));
  }
}
