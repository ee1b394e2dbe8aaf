package dev.skiff.apiserver.table;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Cases from apimachinery pkg/util/duration/duration_test.go plus the boundaries. */
class HumanDurationPrinterTest {

  @ParameterizedTest(name = "{0}s -> {1}")
  @CsvSource({
    "0, 0s",
    "1, 1s",
    "59, 59s",
    "60, 60s", // seconds are shown up to two minutes
    "119, 119s",
    "120, 2m",
    "123, 2m3s",
    "599, 9m59s",
    "600, 10m",
    "601, 10m",
    "10799, 179m",
    "10800, 3h",
    "11100, 3h5m",
    "28740, 7h59m",
    "28800, 8h",
    "169200, 47h",
    "172800, 2d",
    "183600, 2d3h",
    "259200, 3d",
    "691200, 8d",
    "63071999, 729d",
    "63072000, 2y",
    "65664000, 2y30d",
    "252288000, 8y",
    "315360000, 10y",
    "-1, 0s",
    "-2, <invalid>",
  })
  void humanDuration(long seconds, String expected) {
    assertThat(HumanDuration.format(Duration.ofSeconds(seconds))).isEqualTo(expected);
  }

  @ParameterizedTest(name = "{0}ms -> {1}")
  @CsvSource({"-1500, 0s", "-1999, 0s", "-2000, <invalid>", "1999, 1s"})
  void truncatesTowardZeroLikeGo(long millis, String expected) {
    assertThat(HumanDuration.format(Duration.ofMillis(millis))).isEqualTo(expected);
  }

  @ParameterizedTest(name = "short {0}s -> {1}")
  @CsvSource({"59, 59s", "60, 1m", "3599, 59m", "3600, 1h", "86400, 1d", "31536000, 1y"})
  void shortHumanDuration(long seconds, String expected) {
    assertThat(HumanDuration.formatShort(Duration.ofSeconds(seconds))).isEqualTo(expected);
  }
}
