package dev.skiff.apiserver.admission;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class QuantityTest {
  @Test
  void parsesAndPrintsCanonically() {
    assertThat(Quantity.parse("500m").toString()).isEqualTo("500m");
    assertThat(Quantity.parse("0.5").toString()).isEqualTo("500m");
    assertThat(Quantity.parse("1000m").toString()).isEqualTo("1");
    assertThat(Quantity.parse("128Mi").toString()).isEqualTo("128Mi");
    assertThat(Quantity.parse("2").add(Quantity.parse("1")).toString()).isEqualTo("3");
    assertThat(Quantity.parse("1Gi").compareTo(Quantity.parse("1000Mi"))).isPositive();
    assertThat(Quantity.parse("1k")).isEqualTo(Quantity.parse("1000"));
  }
}
