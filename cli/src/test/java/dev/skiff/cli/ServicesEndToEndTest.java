package dev.skiff.cli;

import static dev.skiff.cli.KubectlCompatibilityTest.eventually;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 7's acceptance, end to end on a real `skiff server` (controllers, scheduler, node agent
 * with per-pod network namespaces, service proxy, cluster DNS): a Deployment of 3 HTTP pods
 * behind a ClusterIP Service, reached with curl from the host and by name from another pod.
 * Needs root (ClusterIPs and pod networks); skipped otherwise.
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ServicesEndToEndTest {
  static SkiffProcess server;
  static Kubectl kubectl;

  /** Each pod answers its own name: who answered tells which endpoint the proxy chose. */
  static String deployment(int replicas, String version) {
    return """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: web}
        spec:
          replicas: %d
          selector: {matchLabels: {app: web}}
          strategy: {rollingUpdate: {maxUnavailable: 0, maxSurge: 1}}
          template:
            metadata: {labels: {app: web}}
            spec:
              terminationGracePeriodSeconds: 5
              containers:
              - name: web
                image: python
                env: [{name: VERSION, value: "%s"}]
                command: ["sh", "-c", "mkdir -p /tmp/web-$HOSTNAME && echo $HOSTNAME > /tmp/web-$HOSTNAME/index.html && exec python3 -m http.server 8080 -d /tmp/web-$HOSTNAME"]
                ports: [{name: http, containerPort: 8080}]
                readinessProbe: {tcpSocket: {port: http}, periodSeconds: 1}
                lifecycle: {preStop: {exec: {command: ["sleep", "1"]}}}
        """.formatted(replicas, version);
  }

  @BeforeAll
  static void start() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "ClusterIPs and pod networks need root");
    server = SkiffProcess.start();
    kubectl = new Kubectl(Kubectl.DISPATCHER, server.kubeconfig(), Files.createTempDirectory("kubectl-home-"));
    ok(kubectl.apply(deployment(3, "v1") + """
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web}
        spec:
          selector: {app: web}
          ports: [{name: http, port: 80, targetPort: http}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web-nodeport}
        spec:
          type: NodePort
          selector: {app: web}
          ports: [{port: 80, targetPort: 8080}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: web-headless}
        spec:
          clusterIP: None
          selector: {app: web}
          ports: [{port: 8080}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: elsewhere}
        spec:
          type: ExternalName
          externalName: web.default.svc.cluster.local
        """));
    ok(kubectl.run("rollout", "status", "deployment/web", "--timeout=120s"));
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      deleteEveryPod(kubectl);
      server.close();
    }
  }

  @Test
  @Order(1)
  void aClusterIpSpreadsOverEveryReadyPodFromTheHost() throws Exception {
    String ip = ok(kubectl.run("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")).stdout().trim();
    assertThat(ip).startsWith("10.43.");
    Set<String> pods = podNames();
    assertThat(pods).hasSize(3);
    eventually(20_000, "all 3 pods answer through " + ip, () -> answers("http://" + ip + "/", 30).containsAll(pods));

    // Scaling to 5 and back changes who answers.
    ok(kubectl.run("scale", "deployment/web", "--replicas=5"));
    ok(kubectl.run("rollout", "status", "deployment/web", "--timeout=120s"));
    Set<String> five = podNames();
    assertThat(five).hasSize(5);
    eventually(20_000, "all 5 pods answer", () -> answers("http://" + ip + "/", 50).containsAll(five));
    ok(kubectl.run("scale", "deployment/web", "--replicas=3"));
    eventually(60_000, "3 pods left", () -> podNames().size() == 3);
    Set<String> three = podNames();
    eventually(20_000, "only the 3 remaining pods answer", () -> three.containsAll(answers("http://" + ip + "/", 30)));
  }

  @Test
  @Order(2)
  void aPodReachesTheServiceByNameAndHeadlessAndExternalNamesResolve() throws Exception {
    ok(kubectl.apply("""
        apiVersion: v1
        kind: Pod
        metadata: {name: client}
        spec:
          restartPolicy: Never
          containers:
          - name: c
            image: curl
            command: ["sh", "-c", "for i in $(seq 1 30); do curl -s -m 2 http://web.default.svc.cluster.local/; done; echo headless; getent ahostsv4 web-headless.default.svc.cluster.local | awk '{print $1}' | sort -u; echo external; getent hosts elsewhere.default.svc.cluster.local; echo short; curl -s -m 2 http://web/ >/dev/null && echo short-ok"]
        """));
    eventually(90_000, "client pod finished", () -> "Succeeded".equals(
        kubectl.run("get", "pod", "client", "-o", "jsonpath={.status.phase}").stdout().trim()));
    String log = ok(kubectl.run("logs", "client")).stdout();
    String byName = log.substring(0, log.indexOf("headless"));
    assertThat(byName.lines().filter(l -> !l.isBlank()).collect(java.util.stream.Collectors.toSet()))
        .as(log).containsExactlyInAnyOrderElementsOf(podNames());
    String headless = log.substring(log.indexOf("headless") + 8, log.indexOf("external"));
    assertThat(headless.lines().filter(l -> !l.isBlank()).toList()).as(log)
        .containsExactlyInAnyOrderElementsOf(podIps());
    String ip = ok(kubectl.run("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")).stdout().trim();
    assertThat(log.substring(log.indexOf("external"))).as("ExternalName is a CNAME to web").contains(ip);
    assertThat(log).as("search domains").contains("short-ok");
  }

  @Test
  @Order(3)
  void aNodePortAnswersOnTheNodeAddress() throws Exception {
    String port = ok(kubectl.run("get", "svc", "web-nodeport", "-o", "jsonpath={.spec.ports[0].nodePort}")).stdout().trim();
    String nodeIp = ok(kubectl.run("get", "nodes", "-o",
        "jsonpath={.items[0].status.addresses[?(@.type==\"InternalIP\")].address}")).stdout().trim();
    assertThat(Integer.parseInt(port)).isBetween(30000, 32767);
    eventually(20_000, "NodePort answers", () -> podNames().containsAll(answers("http://" + nodeIp + ":" + port + "/", 3))
        && !answers("http://" + nodeIp + ":" + port + "/", 3).isEmpty());
  }

  @Test
  @Order(4)
  void aRollingUpdateWithMaxUnavailableZeroFailsNoRequest() throws Exception {
    String ip = ok(kubectl.run("get", "svc", "web", "-o", "jsonpath={.spec.clusterIP}")).stdout().trim();
    AtomicBoolean running = new AtomicBoolean(true);
    AtomicInteger ok = new AtomicInteger();
    List<String> failures = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
    Thread load = Thread.ofPlatform().start(() -> {
      while (running.get()) {
        Kubectl.Result r = curl("-s", "-m", "3", "-o", "/dev/null", "-w", "%{http_code}", "http://" + ip + "/");
        if (r.stdout().trim().equals("200")) {
          ok.incrementAndGet();
        } else {
          failures.add(r.stdout() + " " + r.stderr());
        }
      }
    });
    ok(kubectl.apply(deployment(3, "v2")));
    ok(kubectl.run("rollout", "status", "deployment/web", "--timeout=180s"));
    Thread.sleep(500);
    running.set(false);
    load.join();
    assertThat(failures).as("failed requests during the rollout (%d succeeded)", ok.get()).isEmpty();
    assertThat(ok.get()).isGreaterThan(10);
  }

  /**
   * Deletes workloads until no pod is left, so that no process outlives the server (the agent
   * leaves running pods alone when it stops). The garbage collector removes ReplicaSets in the
   * background, and one not yet gone recreates a deleted pod: hence the loop.
   */
  static void deleteEveryPod(Kubectl kubectl) {
    long deadline = System.currentTimeMillis() + 90_000;
    while (System.currentTimeMillis() < deadline && !kubectl.run("get", "pods", "-A", "-o", "name").stdout().isBlank()) {
      kubectl.run("delete", "deployments,replicasets,pods", "--all", "-A", "--wait=true", "--timeout=30s");
    }
  }

  /** The names of the web pods that serve: Running and not terminating. */
  private static Set<String> podNames() {
    return new HashSet<>(servingPods(".metadata.name"));
  }

  /** The IPs of the same pods (a headless Service's DNS answers only ready endpoints). */
  private static List<String> podIps() {
    return servingPods(".status.podIP");
  }

  /**
   * {@code field} of each Running web pod that is not terminating (those are on their way out:
   * not expected to answer, nor in DNS), from one list: with two lists, a pod that finished
   * terminating between them was counted.
   */
  private static List<String> servingPods(String field) {
    String out = kubectl.run("get", "pods", "-l", "app=web", "--field-selector=status.phase=Running", "-o",
        "jsonpath={range .items[*]}{" + field + "}{\" \"}{.metadata.deletionTimestamp}{\"\\n\"}{end}").stdout();
    return out.lines().map(String::trim).filter(l -> !l.isEmpty() && !l.contains(" ")).toList();
  }

  /** The distinct bodies of {@code n} requests (each pod answers its name). */
  private static Set<String> answers(String url, int n) {
    String[] args = new String[n * 2 + 3];
    args[0] = "-s";
    args[1] = "-m";
    args[2] = "3";
    for (int i = 0; i < n; i++) {
      args[3 + 2 * i] = url;
      args[4 + 2 * i] = "--next";
    }
    String[] trimmed = java.util.Arrays.copyOf(args, args.length - 1);
    Set<String> out = new HashSet<>();
    curl(trimmed).stdout().lines().map(String::trim).filter(l -> !l.isEmpty()).forEach(out::add);
    return out;
  }

  static Kubectl.Result curl(String... args) {
    try {
      List<String> cmd = new java.util.ArrayList<>(List.of("curl"));
      cmd.addAll(List.of(args));
      Process p = new ProcessBuilder(cmd).start();
      var out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      var err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
      p.waitFor(30, TimeUnit.SECONDS);
      return new Kubectl.Result(p.exitValue(), out, err);
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  static Kubectl.Result ok(Kubectl.Result r) {
    assertThat(r.exitCode()).as(r.toString()).isZero();
    return r;
  }
}
