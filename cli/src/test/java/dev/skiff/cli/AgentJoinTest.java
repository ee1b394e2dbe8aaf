package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** `skiff agent --server --token`: a second node joins a running server with the node token. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class AgentJoinTest {
  static SkiffProcess server;
  static Path home;
  static Kubectl admin;
  static String token;
  static String url;

  @BeforeAll
  static void start() throws Exception {
    server = SkiffProcess.start();
    home = Files.createTempDirectory("kubectl-home-");
    admin = new Kubectl(Kubectl.DISPATCHER, server.kubeconfig(), home);
    token = Files.readString(server.dataDir().resolve("server/node-token")).trim();
    url = "https://127.0.0.1:" + server.port();
  }

  @AfterAll
  static void stop() throws Exception {
    if (server != null) server.close();
  }

  @Test
  void nodeJoinsRunsPodsAndRestartsWithItsCredentials() throws Exception {
    assertThat(token).matches("K10[0-9a-f]{64}::node:[0-9a-f]{32}");
    Path data = Files.createTempDirectory("skiff-agent-");
    Process agent = agent(data, "--server", url, "--token", token, "--node-name", "joined-node");
    try {
      KubectlCompatibilityTest.eventually(60_000, "joined-node Ready", () -> admin.run("get", "node", "joined-node",
          "-o", "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}").stdout().equals("True"));
      var created = admin.apply("""
          apiVersion: v1
          kind: Pod
          metadata: {name: on-joined, namespace: default}
          spec:
            nodeName: joined-node
            terminationGracePeriodSeconds: 1
            containers:
            - name: c
              image: busybox
              command: ["sh", "-c", "echo hello from the joined node; sleep 3600"]
          """);
      assertThat(created.exitCode()).as(created.toString()).isZero();
      KubectlCompatibilityTest.eventually(60_000, "pod Running on joined-node", () -> admin.run("get", "pod", "on-joined",
          "-o", "jsonpath={.status.phase}").stdout().equals("Running"));
      KubectlCompatibilityTest.eventually(20_000, "log via the API server", () -> admin.run("logs", "on-joined").stdout()
          .contains("hello from the joined node"));
      // The agent serves mutual TLS on the node's address (its serving certificate came with the
      // join); exec goes through it too, over WebSocket (1.32) and plain SPDY (1.27).
      assertThat(admin.run("get", "node", "joined-node", "-o",
          "jsonpath={.metadata.annotations.skiff\\.dev/kubelet-serving}").stdout()).isEqualTo("https");
      assertThat(data.resolve("agent/" + NodeJoin.SERVING_CERT)).exists();
      for (String binary : List.of(Kubectl.DISPATCHER, Kubectl.V1_27)) {
        var exec = new Kubectl(binary, server.kubeconfig(), home).run("exec", "on-joined", "--", "echo", "exec via mTLS");
        assertThat(exec.stdout()).as(binary + exec).isEqualTo("exec via mTLS\n");
      }

      // The agent acts as system:node:<name>, in group system:nodes: a node, not an admin.
      Path nodeConfig = data.resolve(NodeJoin.KUBECONFIG);
      Kubectl asNode = new Kubectl(Kubectl.DISPATCHER, nodeConfig, home);
      assertThat(asNode.run("auth", "whoami").stdout()).contains("system:node:joined-node").contains("system:nodes");
      assertThat(asNode.run("auth", "can-i", "update", "pods/status").stdout().trim()).isEqualTo("yes");
      assertThat(asNode.run("auth", "can-i", "delete", "namespaces").stdout().trim()).isEqualTo("no");

      // A restart reuses the issued credentials instead of asking again.
      byte[] before = Files.readAllBytes(nodeConfig);
      agent.destroy();
      agent.waitFor(30, TimeUnit.SECONDS);
      agent = agent(data, "--server", url, "--token", token, "--node-name", "joined-node");
      KubectlCompatibilityTest.eventually(30_000, "agent restarted", () -> log(data).contains("skiff: node joined-node joined"));
      assertThat(Files.readAllBytes(nodeConfig)).isEqualTo(before);
      assertThat(admin.run("get", "pod", "on-joined", "-o", "jsonpath={.status.phase}").stdout()).isEqualTo("Running");
    } finally {
      admin.run("delete", "pod", "on-joined", "--wait=true", "--timeout=60s");
      agent.destroy();
      agent.waitFor(30, TimeUnit.SECONDS);
      dev.skiff.kubelet.cri.ProcessRuntime.removeAll(data.resolve("kubelet")); // whatever the agent left
    }
  }

  @Test
  void badTokensAreRefusedWithOneLine() throws Exception {
    Path data = Files.createTempDirectory("skiff-agent-");
    String secret = token.substring(token.lastIndexOf(':') + 1);
    String hash = token.substring(3, 67);

    String wrongSecret = "K10" + hash + "::node:" + "0".repeat(32);
    assertThat(runToExit(data, "--server", url, "--token", wrongSecret, "--node-name", "x"))
        .contains("skiff: cannot join: the server rejected the token (401 Unauthorized)");

    String wrongCa = "K10" + "0".repeat(64) + "::node:" + secret;
    assertThat(runToExit(data, "--server", url, "--token", wrongCa, "--node-name", "x"))
        .contains("does not present the CA named by the token (CA hash mismatch)");

    assertThat(runToExit(data, "--server", url, "--token", "letmein", "--node-name", "x"))
        .contains("--token is not a node token");
    assertThat(Files.exists(data.resolve(NodeJoin.KUBECONFIG))).isFalse();
    assertThat(admin.run("get", "node", "x").exitCode()).isNotZero();
  }

  @Test
  void theTokenAloneGrantsNothingButNodeCredentials() throws Exception {
    String secret = token.substring(token.lastIndexOf(':') + 1);
    Path none = Files.writeString(home.resolve("empty-kubeconfig"), "apiVersion: v1\nkind: Config\n");
    // kubectl with only the bearer token (and the server's CA) may not list pods.
    var r = new Kubectl(Kubectl.DISPATCHER, none, home).run("--server", url, "--token", secret,
        "--certificate-authority", server.dataDir().resolve("pki/ca.crt").toString(), "get", "pods");
    assertThat(r.stderr()).contains("forbidden").contains("system:node-bootstrap");
  }

  private static Process agent(Path data, String... args) throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>(List.of(java, "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
        "dev.skiff.cli.Main", "agent", "--data-dir", data.toString(),
        // On the server's own host the server's proxy and DNS already own the ClusterIPs and :53.
        "--disable", "service-proxy,cluster-dns"));
    cmd.addAll(List.of(args));
    Path log = data.resolve("agent.log");
    Files.deleteIfExists(log);
    return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
  }

  private static String log(Path data) {
    try {
      return Files.readString(data.resolve("agent.log"), StandardCharsets.UTF_8);
    } catch (Exception e) {
      return "";
    }
  }

  private static String runToExit(Path data, String... args) throws Exception {
    Process p = agent(data, args);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).isEqualTo(1);
    return log(data);
  }
}
