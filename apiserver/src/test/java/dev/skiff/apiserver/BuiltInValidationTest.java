package dev.skiff.apiserver;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException.Cause;
import dev.skiff.apiserver.api.Json;
import java.util.List;
import org.junit.jupiter.api.Test;

class BuiltInValidationTest {
  private static ObjectNode obj(String json) {
    return Json.parseObject(json.getBytes());
  }

  private static List<String> messages(List<Cause> causes) {
    return causes.stream().map(c -> c.field() + ": " + c.message()).toList();
  }

  @Test
  void deploymentSelectorMustMatchTemplate() {
    var d = obj("{\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"a\"}},\"template\":{\"metadata\":{\"labels\":{\"app\":\"b\"}},"
        + "\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}}");
    assertThat(messages(BuiltInValidation.validate("Deployment", d, null))).containsExactly(
        "spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"b\"}: `selector` does not match template `labels`");
  }

  @Test
  void missingSelectorImageAndNegativeReplicas() {
    var d = obj("{\"spec\":{\"replicas\":-1,\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\"}]}}}}");
    assertThat(messages(BuiltInValidation.validate("Deployment", d, null))).containsExactly(
        "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
        "spec.selector: Required value",
        "spec.template.spec.containers[0].image: Required value");
  }

  @Test
  void jobNeedsOnFailureOrNever() {
    var j = obj("{\"spec\":{\"template\":{\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}}");
    assertThat(messages(BuiltInValidation.validate("Job", j, null))).containsExactly(
        "spec.template.spec.restartPolicy: Required value: valid values: \"OnFailure\", \"Never\"");
    var rs = obj("{\"spec\":{\"selector\":{\"matchLabels\":{\"a\":\"b\"}},\"template\":{\"metadata\":{\"labels\":{\"a\":\"b\"}},"
        + "\"spec\":{\"restartPolicy\":\"Never\",\"containers\":[{\"name\":\"c\",\"image\":\"i\"}]}}}}");
    assertThat(messages(BuiltInValidation.validate("ReplicaSet", rs, null))).containsExactly(
        "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"");
  }

  @Test
  void podContainersAndServicePorts() {
    assertThat(messages(BuiltInValidation.validate("Pod", obj("{\"spec\":{}}"), null))).containsExactly("spec.containers: Required value");
    var pod = obj("{\"spec\":{\"containers\":[{\"name\":\"a\",\"image\":\"i\",\"ports\":[{\"containerPort\":70000}]},{\"name\":\"a\",\"image\":\"i\"}]}}");
    assertThat(messages(BuiltInValidation.validate("Pod", pod, null))).containsExactly(
        "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        "spec.containers[1].name: Duplicate value: \"a\"");
    assertThat(messages(BuiltInValidation.validate("Service", obj("{\"spec\":{\"type\":\"Bogus\"}}"), null))).containsExactly(
        "spec.type: Unsupported value: \"Bogus\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"");
    assertThat(messages(BuiltInValidation.validate("Service", obj("{\"spec\":{}}"), null))).containsExactly("spec.ports: Required value");
  }

  @Test
  void cronSchedules() {
    assertThat(CronSyntax.valid("*/5 * * * *")).isTrue();
    assertThat(CronSyntax.valid("0 9-17 * jan-jun mon-fri")).isTrue();
    assertThat(CronSyntax.valid("@hourly")).isTrue();
    assertThat(CronSyntax.valid("61 * * * *")).isFalse();
    assertThat(CronSyntax.valid("* * * *")).isFalse();
    assertThat(CronSyntax.valid("bad")).isFalse();
  }
}
