package dev.skiff.apiserver.selector;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.skiff.apiserver.api.ApiException;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class SelectorTest {
  private static final Map<String, String> LABELS = Map.of("app", "web", "tier", "fe", "n", "5");

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "app=web|true", "app==web|true", "app!=web|false", "app!=db|true", "app in (db, web)|true",
      "app notin (web)|false", "app|true", "!app|false", "missing|false", "!missing|true",
      "app=web,tier=fe|true", "app=web,tier=be|false", "n>4|true", "n<4|false", "missing!=x|true",
      "app in (web),tier notin (be)|true"})
  void labelSelectorsMatchAsUpstream(String selector, boolean matches) {
    assertThat(LabelSelector.parse(selector).matches(LABELS)).isEqualTo(matches);
  }

  @Test
  void badLabelSelectorIs400() {
    assertThatThrownBy(() -> LabelSelector.parse("app in web"))
        .isInstanceOfSatisfying(ApiException.class, e -> assertThat(e.code()).isEqualTo(400));
    assertThatThrownBy(() -> LabelSelector.parse("a b"))
        .isInstanceOf(ApiException.class);
  }

  @Test
  void fieldSelectors() {
    Map<String, String> f = Map.of("metadata.name", "x", "status.phase", "Running");
    assertThat(FieldSelector.parse("metadata.name=x").matches(f)).isTrue();
    assertThat(FieldSelector.parse("metadata.name==x,status.phase!=Pending").matches(f)).isTrue();
    assertThat(FieldSelector.parse("status.phase=Pending").matches(f)).isFalse();
    assertThat(FieldSelector.parse("spec.nodeName=").matches(f)).isTrue();
    assertThat(FieldSelector.parse("metadata.name=x").requiredValue("metadata.name")).isEqualTo("x");
  }
}
