package dev.skiff.serving;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.utils.Serialization;
import org.junit.jupiter.api.Test;

class SemanticDerivativeTest {
  static JsonNode json(String s) {
    return Serialization.unmarshal(s, JsonNode.class);
  }

  static boolean derives(String desired, String actual) {
    return SemanticDerivative.derives(json(desired), json(actual));
  }

  @Test
  void whatTheServerAddsDoesNotMatter() {
    assertThat(derives("{\"a\":1,\"b\":{\"c\":\"x\"}}", "{\"a\":1,\"b\":{\"c\":\"x\",\"d\":2},\"e\":true}")).isTrue();
    assertThat(derives("{\"ports\":[{\"containerPort\":80}]}",
        "{\"ports\":[{\"containerPort\":80,\"protocol\":\"TCP\"}]}")).isTrue();
    // unset and empty values in the desired object match anything
    assertThat(derives("{\"a\":null,\"b\":\"\",\"c\":[],\"d\":{}}", "{}")).isTrue();
    assertThat(derives("{\"n\":1}", "{\"n\":1.0}")).isTrue();
  }

  @Test
  void whatTheControllerWantsMustBeThere() {
    assertThat(derives("{\"a\":1}", "{\"a\":2}")).isFalse();
    assertThat(derives("{\"a\":{\"b\":\"x\"}}", "{}")).isFalse();
    assertThat(derives("{\"l\":[1,2]}", "{\"l\":[1]}")).isFalse();
    assertThat(derives("{\"l\":[{\"x\":1}]}", "{\"l\":[{\"x\":2}]}")).isFalse();
    assertThat(derives("{\"a\":\"1\"}", "{\"a\":1}")).isFalse();
  }
}
