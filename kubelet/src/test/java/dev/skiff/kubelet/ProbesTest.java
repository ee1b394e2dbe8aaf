package dev.skiff.kubelet;

import static dev.skiff.kubelet.AgentFixture.phase;
import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Liveness, readiness and startup probes through a real agent and API server. */
class ProbesTest {
  static AgentFixture f;
  static HttpServer http;
  static final AtomicInteger code = new AtomicInteger(200);

  @BeforeAll
  static void start() throws Exception {
    f = new AgentFixture();
    http = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    http.createContext("/healthz", ex -> {
      ex.sendResponseHeaders(code.get(), -1);
      ex.close();
    });
    http.start();
  }

  @AfterAll
  static void stop() throws Exception {
    http.stop(0);
    f.close();
  }

  static String condition(Pod p, String type) {
    if (p.getStatus() == null || p.getStatus().getConditions() == null) {
      return null;
    }
    return p.getStatus().getConditions().stream().filter(c -> c.getType().equals(type)).map(PodCondition::getStatus)
        .findFirst().orElse(null);
  }

  static ContainerStatus main(Pod p) {
    if (p.getStatus() == null || p.getStatus().getContainerStatuses() == null
        || p.getStatus().getContainerStatuses().isEmpty()) {
      return new ContainerStatus(); // not reported yet
    }
    return p.getStatus().getContainerStatuses().get(0);
  }

  @Test
  void readinessHttpGetDrivesContainerReadyAndPodConditionsBothWays() throws Exception {
    code.set(503);
    f.apply("""
        apiVersion: v1
        kind: Pod
        metadata: {name: ready-http}
        spec:
          nodeName: node-a
          terminationGracePeriodSeconds: 2
          containers:
          - name: main
            image: busybox
            command: [sleep, "3600"]
            readinessProbe:
              httpGet: {host: 127.0.0.1, port: %d, path: /healthz}
              periodSeconds: 1
              failureThreshold: 1
        """.formatted(http.getAddress().getPort()));
    Pod running = f.await("ready-http", p -> "Running".equals(phase(p)));
    // readiness starts false: running but not ready
    assertThat(main(running).getReady()).isFalse();
    assertThat(main(running).getStarted()).isTrue();
    assertThat(condition(running, "Ready")).isEqualTo("False");
    code.set(200);
    Pod ready = f.await("ready-http", p -> "True".equals(condition(p, "Ready")));
    assertThat(condition(ready, "ContainersReady")).isEqualTo("True");
    assertThat(main(ready).getReady()).isTrue();
    assertThat(f.server.kubectl().run("get", "pod", "ready-http").ok().out()).contains("1/1");
    code.set(500);
    Pod unready = f.await("ready-http", p -> "False".equals(condition(p, "Ready")));
    assertThat(main(unready).getReady()).isFalse();
    assertThat(main(unready).getRestartCount()).isZero(); // readiness never restarts
    f.server.kubectl().run("delete", "pod", "ready-http", "--wait=false").ok();
  }

  @Test
  void livenessExecFailureRestartsTheContainerWithUnhealthyAndKillingEvents() throws Exception {
    Path alive = Files.createTempFile("alive", "");
    f.apply("""
        apiVersion: v1
        kind: Pod
        metadata: {name: live-exec}
        spec:
          nodeName: node-a
          terminationGracePeriodSeconds: 2
          containers:
          - name: main
            image: busybox
            command: [sleep, "3600"]
            livenessProbe:
              exec: {command: [test, -f, %s]}
              periodSeconds: 1
              failureThreshold: 2
        """.formatted(alive));
    Pod running = f.await("live-exec", p -> main(p).getReady() == Boolean.TRUE);
    assertThat(main(running).getRestartCount()).isZero();
    Files.delete(alive);
    Pod restarted = f.await("live-exec", p -> main(p).getRestartCount() != null && main(p).getRestartCount() >= 1 && main(p).getState().getRunning() != null);
    assertThat(main(restarted).getLastState().getTerminated().getExitCode()).isEqualTo(143); // SIGTERM
    Files.createFile(alive);
    List<Event> events = awaitEvents("live-exec", 2);
    assertThat(events).anyMatch(e -> e.getReason().equals("Unhealthy") && e.getType().equals("Warning")
        && e.getMessage().startsWith("Liveness probe failed"));
    assertThat(events).anyMatch(e -> e.getReason().equals("Killing")
        && e.getMessage().equals("Container main failed liveness probe, will be restarted"));
    f.server.kubectl().run("delete", "pod", "live-exec", "--wait=false").ok();
  }

  @Test
  void livenessFailureUnderRestartPolicyNeverEndsThePod() throws Exception {
    f.apply("""
        apiVersion: v1
        kind: Pod
        metadata: {name: live-never}
        spec:
          nodeName: node-a
          restartPolicy: Never
          terminationGracePeriodSeconds: 2
          containers:
          - name: main
            image: busybox
            command: [sleep, "3600"]
            livenessProbe:
              exec: {command: ["false"]}
              # a kill within the shim's first milliseconds (before its trap) is reported as 255
              initialDelaySeconds: 1
              periodSeconds: 1
              failureThreshold: 1
        """);
    Pod failed = f.await("live-never", p -> "Failed".equals(phase(p)));
    assertThat(main(failed).getRestartCount()).isZero();
    assertThat(main(failed).getState().getTerminated().getExitCode()).isEqualTo(143);
  }

  @Test
  void startupProbeGatesStartedAndReadiness() throws Exception {
    Path started = f.data.resolve("startup-flag");
    f.apply("""
        apiVersion: v1
        kind: Pod
        metadata: {name: startup}
        spec:
          nodeName: node-a
          terminationGracePeriodSeconds: 2
          containers:
          - name: main
            image: busybox
            command: [sleep, "3600"]
            startupProbe:
              exec: {command: [test, -f, %s]}
              periodSeconds: 1
              failureThreshold: 60
            livenessProbe:
              exec: {command: ["false"]}
              periodSeconds: 1
              failureThreshold: 1
        """.formatted(started));
    Pod running = f.await("startup", p -> "Running".equals(phase(p)));
    Thread.sleep(2500); // a few startup periods: the failing liveness probe must not run meanwhile
    Pod still = f.get("startup");
    assertThat(main(still).getStarted()).isFalse();
    assertThat(main(still).getReady()).isFalse();
    assertThat(main(still).getRestartCount()).isZero();
    assertThat(running.getMetadata().getUid()).isEqualTo(still.getMetadata().getUid());
    Files.createFile(started);
    // once started, the container is ready (no readiness probe) ... and then liveness runs and kills it
    f.await("startup", p -> main(p).getRestartCount() != null && main(p).getRestartCount() >= 1);
    f.server.kubectl().run("delete", "pod", "startup", "--wait=false").ok();
  }

  @Test
  void aSidecarsStartupProbeHoldsBackTheNextInitContainer() throws Exception {
    Path flag = f.data.resolve("sidecar-started");
    f.apply("""
        apiVersion: v1
        kind: Pod
        metadata: {name: sidecar-startup}
        spec:
          nodeName: node-a
          restartPolicy: Never
          terminationGracePeriodSeconds: 2
          initContainers:
          - name: proxy
            image: envoy
            restartPolicy: Always
            command: [sleep, "3600"]
            startupProbe:
              exec: {command: [test, -f, %s]}
              periodSeconds: 1
              failureThreshold: 60
          - name: setup
            image: busybox
            command: ["true"]
          containers:
          - name: app
            image: busybox
            command: [sleep, "3600"]
        """.formatted(flag));
    f.await("sidecar-startup", p -> p.getStatus() != null && p.getStatus().getInitContainerStatuses() != null
        && !p.getStatus().getInitContainerStatuses().isEmpty()
        && p.getStatus().getInitContainerStatuses().get(0).getState().getRunning() != null);
    Thread.sleep(2500); // several startup periods
    Pod held = f.get("sidecar-startup");
    assertThat(held.getStatus().getInitContainerStatuses().get(0).getStarted()).isFalse();
    assertThat(held.getStatus().getInitContainerStatuses().get(1).getState().getWaiting()).isNotNull();
    assertThat(condition(held, "Initialized")).isEqualTo("False");
    assertThat(phase(held)).isEqualTo("Pending");
    Files.createFile(flag);
    Pod running = f.await("sidecar-startup", p -> "Running".equals(phase(p)));
    assertThat(running.getStatus().getInitContainerStatuses().get(1).getState().getTerminated().getExitCode()).isZero();
    assertThat(condition(running, "Initialized")).isEqualTo("True");
    f.server.kubectl().run("delete", "pod", "sidecar-startup", "--wait=false").ok();
  }

  @Test
  void tcpSocketReadiness() throws Exception {
    try (var ss = new java.net.ServerSocket(0, 50, java.net.InetAddress.getByName("127.0.0.1"))) {
      f.apply("""
          apiVersion: v1
          kind: Pod
          metadata: {name: ready-tcp}
          spec:
            nodeName: node-a
            terminationGracePeriodSeconds: 2
            containers:
            - name: main
              image: busybox
              command: [sleep, "3600"]
              readinessProbe:
                tcpSocket: {host: 127.0.0.1, port: %d}
                periodSeconds: 1
          """.formatted(ss.getLocalPort()));
      Pod ready = f.await("ready-tcp", p -> "True".equals(condition(p, "Ready")));
      assertThat(main(ready).getReady()).isTrue();
    }
    f.server.kubectl().run("delete", "pod", "ready-tcp", "--wait=false").ok();
  }

  @Test
  void initialReadinessIntervalAnnotationProbesBeforeThePeriodUntilFirstReady() throws Exception {
    int port;
    try (var probe = new java.net.ServerSocket(0, 50, java.net.InetAddress.getByName("127.0.0.1"))) {
      port = probe.getLocalPort(); // nothing listens there until the pod runs
    }
    f.apply("""
        apiVersion: v1
        kind: Pod
        metadata:
          name: ready-fast
          annotations: {skiff.dev/initial-readiness-probe-interval-ms: "50"}
        spec:
          nodeName: node-a
          terminationGracePeriodSeconds: 2
          containers:
          - name: main
            image: busybox
            command: [sleep, "3600"]
            readinessProbe:
              tcpSocket: {host: 127.0.0.1, port: %d}
              periodSeconds: 3600
        """.formatted(port));
    f.await("ready-fast", p -> "Running".equals(phase(p)));
    Thread.sleep(300); // the first probe (at start) has failed; the next by the period is an hour away
    try (var ss = new java.net.ServerSocket(port, 50, java.net.InetAddress.getByName("127.0.0.1"))) {
      Pod ready = f.await("ready-fast", p -> "True".equals(condition(p, "Ready")));
      assertThat(main(ready).getReady()).isTrue();
    }
    f.server.kubectl().run("delete", "pod", "ready-fast", "--wait=false").ok();
  }

  private List<Event> awaitEvents(String pod, int n) throws InterruptedException {
    List<Event>[] out = new List[1];
    AgentFixture.until(Duration.ofSeconds(15), () -> {
      out[0] = f.client.v1().events().inNamespace("default").list().getItems().stream()
          .filter(e -> pod.equals(e.getInvolvedObject().getName())).toList();
      return out[0].size() >= n;
    });
    return out[0];
  }
}
