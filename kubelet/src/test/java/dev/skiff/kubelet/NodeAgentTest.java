package dev.skiff.kubelet;

import static dev.skiff.kubelet.AgentFixture.phase;
import static dev.skiff.kubelet.AgentFixture.pod;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeCondition;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The node agent against a real API server, driven by the real kubectl. */
class NodeAgentTest {
  static AgentFixture f;

  @BeforeAll
  static void start() throws Exception {
    f = new AgentFixture();
  }

  @AfterAll
  static void stop() throws Exception {
    f.close();
  }

  @Test
  void registersItsNodeWithCapacityConditionsAndALease() throws Exception {
    Node node = f.client.nodes().withName(AgentFixture.NODE).get();
    assertThat(node.getMetadata().getLabels()).containsEntry("skiff.dev/runtime", "process")
        .containsEntry("kubernetes.io/hostname", AgentFixture.NODE);
    assertThat(node.getStatus().getCapacity()).containsKeys("cpu", "memory", "ephemeral-storage");
    assertThat(node.getStatus().getCapacity().get("pods").toString()).isEqualTo("110");
    assertThat(node.getStatus().getNodeInfo().getKubeletVersion()).isEqualTo("v1.32.4-skiff");
    assertThat(node.getStatus().getNodeInfo().getContainerRuntimeVersion()).isEqualTo("skiff-process://0.1");
    assertThat(node.getStatus().getConditions()).extracting(NodeCondition::getType)
        .containsExactlyInAnyOrder("Ready", "MemoryPressure", "DiskPressure", "PIDPressure");
    assertThat(node.getStatus().getConditions()).filteredOn(c -> c.getType().equals("Ready"))
        .extracting(NodeCondition::getStatus).containsExactly("True");
    assertThat(node.getStatus().getAddresses()).anyMatch(a -> a.getType().equals("InternalIP"));
    assertThat(node.getStatus().getDaemonEndpoints().getKubeletEndpoint().getPort()).isEqualTo(f.agent.port());
    assertThat(AgentFixture.until(java.time.Duration.ofSeconds(10),
        () -> f.client.leases().inNamespace("kube-node-lease").withName(AgentFixture.NODE).get() != null)).isTrue();
    Lease lease = f.client.leases().inNamespace("kube-node-lease").withName(AgentFixture.NODE).get();
    assertThat(lease.getSpec().getHolderIdentity()).isEqualTo(AgentFixture.NODE);
    assertThat(lease.getSpec().getLeaseDurationSeconds()).isEqualTo(40);
    assertThat(lease.getSpec().getRenewTime()).isNotNull();
    String out = f.server.kubectl().run("get", "nodes").ok().out();
    assertThat(out).contains(AgentFixture.NODE).contains("Ready").contains("v1.32.4-skiff");
  }

  @Test
  void podRunsThroughPendingRunningSucceededAndLogsHello() throws Exception {
    List<String> phases = new CopyOnWriteArrayList<>();
    try (Watch w = f.client.pods().inNamespace("default").withName("hello").watch(new Watcher<>() {
      @Override
      public void eventReceived(Action action, Pod pod) {
        String p = phase(pod);
        if (p != null && (phases.isEmpty() || !phases.get(phases.size() - 1).equals(p))) {
          phases.add(p);
        }
      }

      @Override
      public void onClose(WatcherException cause) {}
    })) {
      f.apply(pod("hello", "Never", "echo hello; sleep 1"));
      Pod done = f.await("hello", p -> "Succeeded".equals(phase(p)));
      AgentFixture.until(java.time.Duration.ofSeconds(5), () -> phases.contains("Succeeded"));
      assertThat(phases).containsSubsequence("Pending", "Running", "Succeeded");
      var cs = done.getStatus().getContainerStatuses().get(0);
      assertThat(cs.getState().getTerminated().getExitCode()).isZero();
      assertThat(cs.getState().getTerminated().getReason()).isEqualTo("Completed");
      assertThat(cs.getState().getTerminated().getStartedAt()).isNotNull();
      assertThat(cs.getState().getTerminated().getFinishedAt()).isNotNull();
      assertThat(cs.getContainerID()).startsWith("skiff-process://");
      // Its own IP on the agent's bridge as root (CONTRACTS.md), else the node's (host network).
      if (dev.skiff.kubelet.sandbox.PodNetwork.supported()) {
        assertThat(done.getStatus().getPodIP()).startsWith("10.42.").isNotEqualTo(done.getStatus().getHostIP());
      } else {
        assertThat(done.getStatus().getPodIP()).isEqualTo(done.getStatus().getHostIP()).isNotNull();
      }
      assertThat(done.getStatus().getConditions()).extracting(c -> c.getType() + "=" + c.getStatus())
          .contains("PodScheduled=True", "Initialized=True", "ContainersReady=False", "Ready=False");
    }
    String table = f.server.kubectl().run("get", "pod", "hello").ok().out();
    assertThat(table).containsPattern("hello\\s+0/1\\s+Completed\\s+0");
    assertThat(f.server.kubectl().run("logs", "hello").ok().out()).isEqualTo("hello\n");
  }

  @Test
  void logsFollowEndsWhenTheContainerEnds() throws Exception {
    f.apply(pod("counter", "Never", "for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done"));
    f.await("counter", p -> "Running".equals(phase(p)));
    var r = f.server.kubectl().run("logs", "-f", "counter");
    assertThat(r.ok().out()).isEqualTo("line 1\nline 2\nline 3\nline 4\nline 5\n");
    assertThat(f.server.kubectl().run("logs", "counter", "--tail=2").ok().out()).isEqualTo("line 4\nline 5\n");
    assertThat(f.server.kubectl().run("logs", "counter", "--timestamps", "--tail=1").ok().out())
        .matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d(\\.\\d+)?Z line 5\n");
    assertThat(f.server.kubectl().run("logs", "counter", "--limit-bytes=8").ok().out()).isEqualTo("line 1\nl");
  }

  @Test
  void onFailureExitZeroSucceedsAndIsNeverReportedRunningAfterExit() throws Exception {
    List<Pod> seen = new CopyOnWriteArrayList<>();
    try (Watch w = f.client.pods().inNamespace("default").withName("job-like").watch(new Watcher<>() {
      @Override
      public void eventReceived(Action action, Pod pod) {
        seen.add(pod);
      }

      @Override
      public void onClose(WatcherException cause) {}
    })) {
      f.apply(pod("job-like", "OnFailure", "echo done"));
      Pod done = f.await("job-like", p -> "Succeeded".equals(phase(p)));
      var cs = done.getStatus().getContainerStatuses().get(0);
      assertThat(cs.getRestartCount()).isZero();
      assertThat(cs.getState().getTerminated().getReason()).isEqualTo("Completed");
      Thread.sleep(1500); // a later sync must not restart it or report it running again
      assertThat(phase(f.get("job-like"))).isEqualTo("Succeeded");
      assertThat(f.get("job-like").getStatus().getContainerStatuses().get(0).getRestartCount()).isZero();
      boolean terminatedSeen = false;
      for (Pod p : seen) {
        if (p.getStatus() == null || p.getStatus().getContainerStatuses() == null
            || p.getStatus().getContainerStatuses().isEmpty()) {
          continue;
        }
        var st = p.getStatus().getContainerStatuses().get(0).getState();
        if (st.getTerminated() != null) {
          terminatedSeen = true;
        }
        if (terminatedSeen) {
          assertThat(st.getRunning()).as("running after it exited").isNull();
        }
      }
    }
  }

  @Test
  void restartPolicyAlwaysRestartsThenBacksOff() throws Exception {
    f.apply(pod("crasher", "Always", "echo crash; exit 1"));
    Pod p = f.await("crasher", x -> x.getStatus() != null && x.getStatus().getContainerStatuses() != null
        && !x.getStatus().getContainerStatuses().isEmpty()
        && x.getStatus().getContainerStatuses().get(0).getRestartCount() >= 1
        && x.getStatus().getContainerStatuses().get(0).getState().getWaiting() != null);
    var cs = p.getStatus().getContainerStatuses().get(0);
    assertThat(cs.getState().getWaiting().getReason()).isEqualTo("CrashLoopBackOff");
    assertThat(cs.getState().getWaiting().getMessage()).contains("back-off 10s restarting failed container=main");
    assertThat(cs.getLastState().getTerminated().getExitCode()).isEqualTo(1);
    assertThat(cs.getLastState().getTerminated().getReason()).isEqualTo("Error");
    assertThat(phase(p)).isEqualTo("Running");
    assertThat(cs.getRestartCount()).isEqualTo(1); // the second restart waits 10 s
    assertThat(f.server.kubectl().run("get", "pod", "crasher").ok().out())
        .containsPattern("crasher\\s+0/1\\s+CrashLoopBackOff\\s+1");
    assertThat(f.server.kubectl().run("logs", "crasher", "--previous").ok().out()).isEqualTo("crash\n");
  }

  @Test
  void restartPolicyNeverFailsWithTheExitCodeAndOnFailureRestarts() throws Exception {
    f.apply(pod("failer", "Never", "exit 3"));
    f.apply(pod("retrier", "OnFailure", "if [ -f done ]; then exit 0; fi; touch done; exit 2"));
    Pod failed = f.await("failer", p -> "Failed".equals(phase(p)));
    var t = failed.getStatus().getContainerStatuses().get(0).getState().getTerminated();
    assertThat(t.getExitCode()).isEqualTo(3);
    assertThat(t.getReason()).isEqualTo("Error");
    Pod retried = f.await("retrier", p -> "Succeeded".equals(phase(p)));
    var cs = retried.getStatus().getContainerStatuses().get(0);
    assertThat(cs.getRestartCount()).isEqualTo(1);
    assertThat(cs.getLastState().getTerminated().getExitCode()).isEqualTo(2);
    assertThat(cs.getState().getTerminated().getExitCode()).isZero();
  }

  @Test
  void containerWithoutCommandWaitsWithRunContainerError() throws Exception {
    f.apply("""
        apiVersion: v1
        kind: Pod
        metadata:
          name: imageonly
        spec:
          nodeName: node-a
          containers:
          - name: web
            image: nginx
        """);
    Pod p = f.await("imageonly", x -> x.getStatus() != null && x.getStatus().getContainerStatuses() != null
        && !x.getStatus().getContainerStatuses().isEmpty()
        && x.getStatus().getContainerStatuses().get(0).getState().getWaiting() != null
        && "RunContainerError".equals(x.getStatus().getContainerStatuses().get(0).getState().getWaiting().getReason()));
    assertThat(phase(p)).isEqualTo("Pending");
    assertThat(p.getStatus().getContainerStatuses().get(0).getState().getWaiting().getMessage())
        .contains("set command");
  }

  @Test
  void gracefulDeletionKillsAProcessThatIgnoresSigterm() throws Exception {
    f.apply(pod("stubborn", "Always", "trap \"\" TERM; echo started; while true; do sleep 0.1; done"));
    Pod p = f.await("stubborn", x -> "Running".equals(phase(x)));
    var ids = f.agent.runtime().listContainers(p.getMetadata().getUid());
    assertThat(ids).hasSize(1);
    String dir = f.data.resolve("kubelet/pods").resolve(p.getMetadata().getUid()).toString();
    long pid = Long.parseLong(java.nio.file.Files.readString(java.nio.file.Path.of(dir, "containers/main.0/pid")).split(" ")[0]);
    assertThat(ProcessHandle.of(pid)).isPresent();
    f.server.kubectl().run("delete", "pod", "stubborn", "--wait=true").ok();
    assertThat(f.get("stubborn")).isNull();
    assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false)).isFalse();
    assertThat(AgentFixture.until(java.time.Duration.ofSeconds(10),
        () -> !java.nio.file.Files.exists(java.nio.file.Path.of(dir)))).isTrue();
  }

  @Test
  void lifecycleHooksRunAfterStartAndBeforeTheStopSignal() throws Exception {
    java.nio.file.Path marks = java.nio.file.Files.createTempDirectory("hooks");
    f.apply("""
        apiVersion: v1
        kind: Pod
        metadata: {name: hooked}
        spec:
          nodeName: node-a
          terminationGracePeriodSeconds: 5
          volumes: [{name: marks, hostPath: {path: %s}}]
          containers:
          - name: main
            image: busybox
            volumeMounts: [{name: marks, mountPath: /marks}]
            # Ignores SIGTERM: only the preStop hook's file and the final SIGKILL end it.
            command: ["sh", "-c", "trap '' TERM; while true; do sleep 0.1; done"]
            lifecycle:
              postStart: {exec: {command: ["sh", "-c", "echo started > /marks/post-start"]}}
              preStop: {exec: {command: ["sh", "-c", "echo stopping > /marks/pre-stop; sleep 1"]}}
        """.formatted(marks));
    f.await("hooked", x -> "Running".equals(phase(x)));
    assertThat(AgentFixture.until(java.time.Duration.ofSeconds(10),
        () -> java.nio.file.Files.exists(marks.resolve("post-start"))))
        .as(() -> {
          try {
            return f.server.kubectl().run("get", "events", "-o", "wide").out();
          } catch (Exception e) {
            return e.toString();
          }
        }).isTrue();
    assertThat(java.nio.file.Files.exists(marks.resolve("pre-stop"))).isFalse();
    f.server.kubectl().run("delete", "pod", "hooked", "--wait=true").ok();
    assertThat(java.nio.file.Files.readString(marks.resolve("pre-stop"))).isEqualTo("stopping\n");
    assertThat(f.get("hooked")).isNull();
  }

  @Test
  void environmentFieldRefsConfigMapsAndArgsExpansion() throws Exception {
    f.apply("""
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: settings
        data:
          color: blue
        ---
        apiVersion: v1
        kind: Pod
        metadata:
          name: envy
          labels: {app: envy}
        spec:
          nodeName: node-a
          restartPolicy: Never
          initContainers:
          - name: first
            image: busybox
            command: [sh, -c, 'echo one > order']
          - name: second
            image: busybox
            command: [sh, -c, 'echo two >> order']
          containers:
          - name: main
            image: busybox
            ports: [{containerPort: 8123}]
            env:
            - {name: GREETING, value: hi}
            - {name: MSG, value: '$(GREETING) there $$(NOT)'}
            - name: POD
              valueFrom: {fieldRef: {fieldPath: metadata.name}}
            - name: APP
              valueFrom: {fieldRef: {fieldPath: "metadata.labels['app']"}}
            - name: COLOR
              valueFrom: {configMapKeyRef: {name: settings, key: color}}
            envFrom:
            - configMapRef: {name: settings}
              prefix: CM_
            command: [sh, -c]
            args: ['echo "$MSG|$(POD)|$APP|$COLOR|$CM_color|$PORT"; cat order']
        """);
    Pod p = f.await("envy", x -> "Succeeded".equals(phase(x)));
    assertThat(p.getStatus().getInitContainerStatuses()).extracting(s -> s.getState().getTerminated().getReason())
        .containsExactly("Completed", "Completed");
    assertThat(f.server.kubectl().run("logs", "envy", "-c", "main").ok().out())
        .isEqualTo("hi there $(NOT)|envy|envy|blue|blue|8123\none\ntwo\n");
  }

  @Test
  void logsOfAPodWithoutANodeOrContainerAreClearErrors() throws Exception {
    f.apply("""
        apiVersion: v1
        kind: Pod
        metadata:
          name: unscheduled
        spec:
          containers:
          - name: main
            image: busybox
            command: [sh, -c, 'true']
        """);
    var r = f.server.kubectl().run("logs", "unscheduled");
    assertThat(r.code()).isNotZero();
    assertThat(r.err()).contains("does not have a host assigned");
    f.apply(pod("twice", "Never", "echo once"));
    f.await("twice", p -> "Succeeded".equals(phase(p)));
    var prev = f.server.kubectl().run("logs", "twice", "--previous");
    assertThat(prev.code()).isNotZero();
    assertThat(prev.err()).contains("previous terminated container \"main\" in pod \"twice\" not found");
    var bad = f.server.kubectl().run("logs", "twice", "-c", "nope");
    assertThat(bad.code()).isNotZero();
    assertThat(bad.err()).contains("container nope is not valid for pod twice");
  }

  @Test
  void kubectlGetWatchShowsPendingRunningCompleted() throws Exception {
    Process watch = f.server.kubectl().start("get", "pods", "-w", "--no-headers");
    List<String> lines = new CopyOnWriteArrayList<>();
    Thread reader = Thread.ofVirtual().start(() -> {
      try (var r = watch.inputReader()) {
        r.lines().forEach(lines::add);
      } catch (java.io.IOException | java.io.UncheckedIOException e) {
        // closed by destroy
      }
    });
    try {
      Thread.sleep(500); // let the watch start; it waits for the pod to appear
      f.apply(pod("watched", "Never", "sleep 1"));
      f.await("watched", p -> "Succeeded".equals(phase(p)));
      AgentFixture.until(java.time.Duration.ofSeconds(10), () -> lines.stream().anyMatch(l -> l.startsWith("watched ") && l.contains("Completed")));
    } finally {
      watch.destroy();
      reader.join(5000);
    }
    List<String> statuses = lines.stream().filter(l -> l.startsWith("watched "))
        .map(l -> l.trim().split("\\s+")[2]).distinct().toList();
    assertThat(statuses).containsSubsequence("Pending", "Running", "Completed");
  }

  @Test
  void aSidecarRunsBesideTheAppAndDoesNotKeepAJobLikePodFromSucceeding() throws Exception {
    f.apply("""
        apiVersion: v1
        kind: Pod
        metadata:
          name: with-sidecar
        spec:
          nodeName: node-a
          restartPolicy: Never
          terminationGracePeriodSeconds: 2
          initContainers:
          - name: proxy
            image: envoy
            restartPolicy: Always
            command: [sh, -c, 'echo proxy up > proxy-up; exec sleep 3600']
          - name: setup
            image: busybox
            # a started sidecar may not have run its first line yet (upstream gives no more either)
            command: [sh, -c, 'for i in $(seq 100); do test -f proxy-up && break; sleep 0.05; done; test -f proxy-up && echo setup-saw-proxy']
          containers:
          - name: app
            image: busybox
            command: [sh, -c, 'sleep 2; echo app done']
        """);
    Pod running = f.await("with-sidecar", p -> "Running".equals(phase(p)));
    var sidecar = running.getStatus().getInitContainerStatuses().get(0);
    assertThat(sidecar.getState().getRunning()).isNotNull();
    Pod done = f.await("with-sidecar", p -> "Succeeded".equals(phase(p)));
    assertThat(done.getStatus().getContainerStatuses().get(0).getState().getTerminated().getExitCode()).isZero();
    assertThat(done.getStatus().getInitContainerStatuses().get(1).getState().getTerminated().getReason())
        .isEqualTo("Completed");
    // the sidecar was stopped once the app finished, and is not reported as restarting
    assertThat(AgentFixture.until(java.time.Duration.ofSeconds(10), () -> {
      var s = f.get("with-sidecar").getStatus().getInitContainerStatuses().get(0).getState();
      return s.getTerminated() != null;
    })).isTrue();
    assertThat(f.server.kubectl().run("logs", "with-sidecar", "-c", "setup").ok().out()).isEqualTo("setup-saw-proxy\n");
  }
}
