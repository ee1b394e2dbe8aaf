package dev.skiff.cli;

import static dev.skiff.cli.KubectlCompatibilityTest.eventually;
import static dev.skiff.cli.ServicesEndToEndTest.curl;
import static dev.skiff.cli.ServicesEndToEndTest.ok;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;

/**
 * Issue 8's acceptance on a real `skiff server`: the seed's hello world (v1 and the seed's
 * v1alpha1 YAML) answered with curl on its URL through the built-in gateway, a new revision
 * taking the traffic, a 50/50 split with tags, pinning, and scale to zero and back.
 * Needs root (each revision's pods get their own network namespace and port 8080).
 */
@Timeout(value = 6, unit = TimeUnit.MINUTES)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class KnativeEndToEndTest {
  static SkiffProcess server;
  static Kubectl kubectl;

  static final String APP = "import http.server,os\\nclass H(http.server.BaseHTTPRequestHandler):\\n"
      + " def do_GET(s):\\n  b=('Hello '+os.environ.get('TARGET','World')+'!\\\\n').encode(); s.send_response(200);"
      + " s.send_header('Content-Length', str(len(b))); s.end_headers(); s.wfile.write(b)\\n"
      + " def log_message(s, *a): pass\\n"
      + "http.server.ThreadingHTTPServer(('',int(os.environ['PORT'])),H).serve_forever()";

  static String hello(String target) {
    return """
        apiVersion: serving.knative.dev/v1
        kind: Service
        metadata:
          name: helloworld-go
          namespace: default
        spec:
          template:
            spec:
              containers:
              - image: gcr.io/knative-samples/helloworld-go
                command: ["python3", "-c", "%s"]
                env:
                - name: TARGET
                  value: "%s"
        """.formatted(APP, target);
  }

  /** The seed's v1alpha1 YAML, with the command a process-runtime pod needs. */
  static final String SEED_V1ALPHA1 = """
      apiVersion: serving.knative.dev/v1alpha1 # Current version of Knative
      kind: Service
      metadata:
        name: helloworld-go # The name of the app
        namespace: seed # The namespace the app will use
      spec:
        runLatest:
          configuration:
            revisionTemplate:
              spec:
                container:
                  image: gcr.io/knative-samples/helloworld-go # The URL to the image of the app
                  command: ["python3", "-c", "%s"]
                  env:
                  - name: TARGET # The environment variable printed out by the sample app
                    value: "Go Sample v1"
      """.formatted(APP);

  @BeforeAll
  static void start() throws Exception {
    assumeTrue("root".equals(System.getProperty("user.name")), "revisions' pods need their own network namespaces");
    server = SkiffProcess.start();
    kubectl = new Kubectl(Kubectl.DISPATCHER, server.kubeconfig(), Files.createTempDirectory("kubectl-home-"));
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) {
      kubectl.run("delete", "ksvc", "--all", "-A", "--wait=true", "--timeout=60s");
      ServicesEndToEndTest.deleteEveryPod(kubectl);
      server.close();
    }
  }

  static String url(String ns) {
    return ok(kubectl.run("-n", ns, "get", "ksvc", "helloworld-go", "-o", "jsonpath={.status.url}")).stdout().trim();
  }

  static void awaitReady(String ns) throws InterruptedException {
    eventually(120_000, "ksvc Ready in " + ns, () -> kubectl.run("-n", ns, "get", "ksvc", "helloworld-go", "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}").stdout().trim().equals("True"));
  }

  /** {@code n} requests in one curl (one connection); the bodies, one per line. */
  static String requests(String url, int n) {
    String[] all = new String[3 + 2 * n - 1];
    all[0] = "-s";
    all[1] = "-m";
    all[2] = "20";
    for (int i = 0; i < n; i++) {
      all[3 + 2 * i] = url;
      if (i < n - 1) {
        all[4 + 2 * i] = "--next";
      }
    }
    return curl(all).stdout();
  }

  static long count(String bodies, String line) {
    return bodies.lines().filter(line::equals).count();
  }

  @Test
  @Order(1)
  void theSeedsHelloWorldAnswersOnItsUrl() throws Exception {
    ok(kubectl.apply(hello("Go Sample v1")));
    awaitReady("default");
    String table = ok(kubectl.run("get", "ksvc")).stdout();
    assertThat(table).contains("URL").contains("LATESTCREATED").contains("helloworld-go-00001").contains("True");
    String url = url("default");
    assertThat(url).startsWith("http://helloworld-go.default.localhost");
    assertThat(ok(curl("-s", "-m", "20", url)).stdout()).isEqualTo("Hello Go Sample v1!\n");
    // Cluster-local: the Route's Service sends to the gateway of every node that runs one (its Lease).
    assertThat(ok(kubectl.run("get", "lease", "-n", "knative-serving", "-o", "name")).stdout()).contains("lease.coordination.k8s.io/gateway-");
    String clusterIp = ok(kubectl.run("get", "svc", "helloworld-go", "-o", "jsonpath={.spec.clusterIP}")).stdout().strip();
    assertThat(ok(curl("-s", "-m", "20", "-H", "Host: helloworld-go.default.svc.cluster.local", "http://" + clusterIp))
        .stdout()).isEqualTo("Hello Go Sample v1!\n");
  }

  @Test
  @Order(2)
  void theSeedsV1alpha1YamlWorksAsWritten() throws Exception {
    ok(kubectl.run("create", "namespace", "seed"));
    ok(kubectl.apply(SEED_V1ALPHA1));
    awaitReady("seed");
    assertThat(ok(curl("-s", "-m", "20", url("seed"))).stdout()).isEqualTo("Hello Go Sample v1!\n");
  }

  @Test
  @Order(3)
  void aNewRevisionTakesTheTrafficThenASplitWithTagsAndAPin() throws Exception {
    ok(kubectl.apply(hello("Go Sample v2")));
    eventually(120_000, "00002 ready and serving", () -> requests(url("default"), 1).equals("Hello Go Sample v2!\n"));
    assertThat(ok(kubectl.run("get", "rev")).stdout()).contains("helloworld-go-00001").contains("helloworld-go-00002");

    ok(kubectl.run("patch", "ksvc", "helloworld-go", "--type=merge", "-p", """
        {"spec":{"traffic":[{"revisionName":"helloworld-go-00001","percent":50,"tag":"one"},
                            {"revisionName":"helloworld-go-00002","percent":50,"tag":"two"}]}}"""));
    String url = url("default");
    String tagOne = url.replace("http://helloworld-go.", "http://one-helloworld-go.");
    eventually(60_000, "the tag route is published", () -> requests(tagOne, 1).equals("Hello Go Sample v1!\n"));
    String bodies = requests(url, 1000);
    long v1 = count(bodies, "Hello Go Sample v1!");
    long v2 = count(bodies, "Hello Go Sample v2!");
    assertThat(v1 + v2).isEqualTo(1000);
    assertThat(v1).as("share of 00001").isBetween(450L, 550L);
    assertThat(count(requests(tagOne, 50), "Hello Go Sample v1!")).isEqualTo(50);
    String tagTwo = url.replace("http://helloworld-go.", "http://two-helloworld-go.");
    assertThat(count(requests(tagTwo, 50), "Hello Go Sample v2!")).isEqualTo(50);

    ok(kubectl.run("patch", "ksvc", "helloworld-go", "--type=merge", "-p",
        "{\"spec\":{\"traffic\":[{\"revisionName\":\"helloworld-go-00001\",\"percent\":100}]}}"));
    eventually(60_000, "pinned to 00001", () -> count(requests(url, 20), "Hello Go Sample v1!") == 20);
  }

  @Test
  @Order(4)
  void anIdleRevisionScalesToZeroAndTheNextRequestIsAnswered() throws Exception {
    ok(kubectl.run("-n", "knative-serving", "create", "configmap", "config-autoscaler",
        "--from-literal=stable-window=6s", "--from-literal=scale-to-zero-grace-period=1s"));
    eventually(120_000, "00002 scaled to zero", () -> kubectl.run("get", "deployment", "helloworld-go-00002-deployment",
        "-o", "jsonpath={.spec.replicas}").stdout().trim().equals("0"));
    eventually(60_000, "00001 scaled to zero and inactive", () -> kubectl.run("get", "deployment",
        "helloworld-go-00001-deployment", "-o", "jsonpath={.spec.replicas}").stdout().trim().equals("0")
        && kubectl.run("get", "rev", "helloworld-go-00001", "-o",
            "jsonpath={.status.conditions[?(@.type==\"Active\")].status}").stdout().trim().equals("False"));
    assertThat(ok(curl("-s", "-m", "30", url("default"))).stdout()).isEqualTo("Hello Go Sample v1!\n");
    assertThat(ok(kubectl.run("describe", "rev", "helloworld-go-00001")).stdout()).contains("ScaledToZero");
  }

  static final String SLOW_APP = "import http.server,os,time\\nclass H(http.server.BaseHTTPRequestHandler):\\n"
      + " def do_GET(s):\\n  slow='sleep' in s.path\\n  time.sleep(2 if slow else 0)\\n"
      + "  b=b'slept\\\\n' if slow else b'ok\\\\n'; s.send_response(200);"
      + " s.send_header('Content-Length', str(len(b))); s.end_headers(); s.wfile.write(b)\\n"
      + " def log_message(s, *a): pass\\n"
      + "http.server.ThreadingHTTPServer(('',int(os.environ['PORT'])),H).serve_forever()";

  @Test
  @Order(5)
  void aDeletedPodFinishesItsInFlightRequestAndNoRequestFailsMeanwhile() throws Exception {
    ok(kubectl.apply("""
        apiVersion: serving.knative.dev/v1
        kind: Service
        metadata:
          name: drainer
          namespace: default
        spec:
          template:
            metadata:
              annotations: {autoscaling.knative.dev/min-scale: "1"}
            spec:
              timeoutSeconds: 30
              containers:
              - image: example/slow
                command: ["python3", "-c", "%s"]
        """.formatted(SLOW_APP)));
    eventually(120_000, "drainer Ready", () -> kubectl.run("get", "ksvc", "drainer", "-o",
        "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}").stdout().trim().equals("True"));
    String url = ok(kubectl.run("get", "ksvc", "drainer", "-o", "jsonpath={.status.url}")).stdout().trim();
    eventually(30_000, "drainer answers", () -> requests(url, 1).equals("ok\n"));
    String pod = ok(kubectl.run("get", "pods", "-l", "serving.knative.dev/service=drainer", "-o",
        "jsonpath={.items[0].metadata.name}")).stdout().trim();

    var slow = java.util.concurrent.CompletableFuture.supplyAsync(() -> curl("-s", "-m", "30", url + "/sleep"));
    java.util.concurrent.atomic.AtomicBoolean stop = new java.util.concurrent.atomic.AtomicBoolean();
    java.util.List<String> bad = java.util.Collections.synchronizedList(new java.util.ArrayList<>());
    java.util.concurrent.atomic.AtomicInteger answered = new java.util.concurrent.atomic.AtomicInteger();
    Thread load = Thread.ofVirtual().start(() -> {
      while (!stop.get()) {
        String bodies = requests(url, 10);
        long ok = count(bodies, "ok");
        answered.addAndGet((int) ok);
        if (ok != 10) {
          bad.add(bodies);
        }
      }
    });
    Thread.sleep(700); // the slow request is at the pod by now
    ok(kubectl.run("delete", "pod", pod, "--wait=false"));
    var slowResult = slow.get(40, TimeUnit.SECONDS);
    Thread.sleep(1000);
    stop.set(true);
    load.join();
    assertThat(slowResult.exitCode()).as("curl of the in-flight request: %s", slowResult.stderr()).isZero();
    assertThat(slowResult.stdout()).isEqualTo("slept\n");
    assertThat(bad).as("steady load while the pod drained").isEmpty();
    assertThat(answered.get()).isGreaterThan(0);
    assertThat(kubectl.run("get", "events", "--field-selector", "involvedObject.name=" + pod).stdout())
        .doesNotContain("FailedPreStopHook");
  }

  /** What is left of helloworld-go in {@code ns}: Knative objects, Deployments, ReplicaSets, pods, Services. */
  static String leftovers(String ns) {
    return kubectl.run("-n", ns, "get", "configuration,route,revision,deployment,replicaset,pod,service", "-o", "name")
        .stdout().lines().filter(l -> l.contains("helloworld-go")).collect(java.util.stream.Collectors.joining(" "));
  }

  @Test
  @Order(6)
  void deletingTheKnativeServiceDeletesEverythingItCreated() throws Exception {
    // The garbage collector follows ownerReferences through the custom resources: ksvc ->
    // Configuration and Route -> Revisions -> Deployment -> ReplicaSet -> pods (and the Route's
    // placeholder Service). Nothing is deleted by hand.
    assertThat(leftovers("seed")).contains("revision").contains("deployment").contains("replicaset");
    assertThat(leftovers("default")).contains("helloworld-go-00002");
    ok(kubectl.run("-n", "seed", "delete", "ksvc", "helloworld-go"));
    ok(kubectl.run("delete", "ksvc", "helloworld-go"));
    eventually(120_000, "everything of the seed's ksvc deleted", () -> leftovers("seed").isEmpty());
    eventually(120_000, "everything of both revisions deleted", () -> leftovers("default").isEmpty());
  }
}
