package dev.skiff.apiserver.admission;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.Kubectl;
import dev.skiff.apiserver.testing.TestServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** DefaultTolerationSeconds through kubectl: new pods tolerate not-ready/unreachable for 300 s. */
class DefaultTolerationSecondsTest {
  static TestServer server;
  static Kubectl kubectl;

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
    kubectl = server.kubectl();
  }

  @AfterAll
  static void stop() throws Exception {
    server.close();
  }

  static String tolerations(String pod) throws Exception {
    return kubectl.run("get", "pod", pod, "-o",
        "jsonpath={range .spec.tolerations[*]}{.key}/{.operator}/{.effect}/{.tolerationSeconds};{end}").ok().out();
  }

  @Test
  void podsGetBothTolerationsWithThreeHundredSeconds() throws Exception {
    kubectl.run("run", "plain", "--image=nginx").ok();
    assertThat(tolerations("plain")).isEqualTo(
        "node.kubernetes.io/not-ready/Exists/NoExecute/300;node.kubernetes.io/unreachable/Exists/NoExecute/300;");
  }

  @Test
  void existingTolerationsAreKept() throws Exception {
    kubectl.runWithInput("""
        apiVersion: v1
        kind: Pod
        metadata: {name: own}
        spec:
          tolerations:
          - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 10}
          containers:
          - {name: c, image: nginx}
        """, "apply", "-f", "-").ok();
    assertThat(tolerations("own")).isEqualTo(
        "node.kubernetes.io/unreachable/Exists/NoExecute/10;node.kubernetes.io/not-ready/Exists/NoExecute/300;");
    kubectl.runWithInput("""
        apiVersion: v1
        kind: Pod
        metadata: {name: all}
        spec:
          tolerations:
          - {operator: Exists}
          containers:
          - {name: c, image: nginx}
        """, "apply", "-f", "-").ok();
    assertThat(tolerations("all")).isEqualTo("/Exists//;");
    // Updates do not add anything.
    kubectl.run("label", "pod", "all", "x=y").ok();
    assertThat(tolerations("all")).isEqualTo("/Exists//;");
  }
}
