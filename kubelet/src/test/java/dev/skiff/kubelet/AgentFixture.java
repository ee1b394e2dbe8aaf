package dev.skiff.kubelet;

import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import dev.skiff.kubelet.cri.ProcessRuntime;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.ComponentContext;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;

/** A test server plus a node agent in the same JVM, and helpers. */
final class AgentFixture implements AutoCloseable {
  static final String NODE = "node-a";
  final TestServer server;
  final KubernetesClient client;
  final Path data;
  NodeAgent.Running agent;
  private final Map<String, String> options;

  AgentFixture() throws Exception {
    this(Map.of());
  }

  /** With agent options ({@code --set kubelet.KEY=VALUE}), e.g. node-ip. */
  AgentFixture(Map<String, String> options) throws Exception {
    this(s -> options);
  }

  /** With agent options made from the started server (e.g. credentials its CA issued). */
  AgentFixture(java.util.function.Function<TestServer, Map<String, String>> options) throws Exception {
    server = TestServer.start();
    this.options = options.apply(server);
    client = Clients.forKubeconfig(server.kubeconfig());
    data = Files.createTempDirectory("skiff-kubelet");
    startAgent();
  }

  void startAgent() throws Exception {
    agent = new NodeAgent().start(new ComponentContext(client, data, NODE, options));
  }

  /**
   * Starts pod {@code talker}, which after 3 s writes three lines to stdout and three to stderr
   * and exits, and attaches to it with {@code kubectl} binary {@code binary} until it ends: the
   * streaming tests' attach case, over WebSocket or SPDY.
   */
  Kubectl.Result attachToTalker(String binary) throws Exception {
    apply("""
        apiVersion: v1
        kind: Pod
        metadata: {name: talker}
        spec:
          nodeName: node-a
          restartPolicy: Never
          containers:
          - name: main
            image: busybox
            command: [sh, -c, 'sleep 3; for i in 1 2 3; do echo line$i; echo warn$i >&2; sleep 0.2; done']
        """);
    await("talker", p -> "Running".equals(phase(p)));
    return server.kubectl(binary).run("attach", "talker", "-c", "main");
  }

  /**
   * Starts pod {@code shell} (a long sleep, workingDir /tmp, GREETING=hello-from-env) for the
   * streaming tests to exec and attach into, and waits until it runs.
   */
  void startShellPod() throws Exception {
    apply("""
        apiVersion: v1
        kind: Pod
        metadata: {name: shell}
        spec:
          nodeName: node-a
          terminationGracePeriodSeconds: 2
          containers:
          - name: main
            image: busybox
            command: [sleep, "3600"]
            workingDir: /tmp
            env:
            - {name: GREETING, value: hello-from-env}
        """);
    await("shell", p -> "Running".equals(phase(p)));
  }

  String apply(String yaml) throws Exception {
    return server.kubectl().runWithInput(yaml, "apply", "-f", "-").ok().out();
  }

  static String pod(String name, String restartPolicy, String script) {
    return """
        apiVersion: v1
        kind: Pod
        metadata:
          name: %s
        spec:
          nodeName: node-a
          restartPolicy: %s
          terminationGracePeriodSeconds: 3
          containers:
          - name: main
            image: busybox
            command: [sh, -c, %s]
        """.formatted(name, restartPolicy, quote(script));
  }

  static String quote(String s) {
    return "'" + s.replace("'", "''") + "'";
  }

  Pod get(String name) {
    return client.pods().inNamespace("default").withName(name).get();
  }

  Pod await(String name, Predicate<Pod> p) throws InterruptedException {
    Pod[] last = {null};
    boolean ok = until(Duration.ofSeconds(30), () -> {
      last[0] = get(name);
      return last[0] != null && p.test(last[0]);
    });
    if (!ok) {
      throw new AssertionError("pod " + name + " never matched; last: " + (last[0] == null ? null : last[0].getStatus()));
    }
    return last[0];
  }

  static String phase(Pod p) {
    return p.getStatus() == null ? null : p.getStatus().getPhase();
  }

  static boolean until(Duration timeout, BooleanSupplier c) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!c.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        return false;
      }
      Thread.sleep(20);
    }
    return true;
  }

  @Override
  public void close() throws Exception {
    agent.close();
    // Tests leave no processes, network namespaces, links or mounts behind.
    ProcessRuntime.removeAll(data.resolve("kubelet"));
    client.close();
    server.close();
  }

  static void deleteQuietly(Path p) throws IOException {
    // kept for debugging: the data dir lives under /tmp
  }
}
