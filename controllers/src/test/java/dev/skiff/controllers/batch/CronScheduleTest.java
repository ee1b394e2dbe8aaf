package dev.skiff.controllers.batch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.ZoneId;
import java.time.ZonedDateTime;
import org.junit.jupiter.api.Test;

class CronScheduleTest {
  static final ZoneId UTC = ZoneId.of("UTC");

  static ZonedDateTime at(String iso) {
    return ZonedDateTime.parse(iso);
  }

  static String next(String spec, String after) {
    return CronSchedule.parse(spec).next(at(after)).toString();
  }

  @Test
  void fieldsListsRangesAndSteps() {
    assertThat(next("* * * * *", "2024-01-01T10:00:30Z")).isEqualTo("2024-01-01T10:01Z");
    assertThat(next("*/15 * * * *", "2024-01-01T10:01:00Z")).isEqualTo("2024-01-01T10:15Z");
    assertThat(next("5,35 * * * *", "2024-01-01T10:06:00Z")).isEqualTo("2024-01-01T10:35Z");
    assertThat(next("0 9-17/4 * * *", "2024-01-01T10:00:00Z")).isEqualTo("2024-01-01T13:00Z");
    assertThat(next("30 6 * * 1-5", "2024-01-06T00:00:00Z")).isEqualTo("2024-01-08T06:30Z"); // Sat -> Mon
    assertThat(next("0 0 1 FEB *", "2024-01-15T00:00:00Z")).isEqualTo("2024-02-01T00:00Z");
    assertThat(next("0 0 * * SUN", "2024-01-01T00:00:00Z")).isEqualTo("2024-01-07T00:00Z");
    assertThat(next("0 0 * * 7", "2024-01-01T00:00:00Z")).isEqualTo("2024-01-07T00:00Z");
    assertThat(next("0 0 29 2 *", "2023-03-01T00:00:00Z")).isEqualTo("2024-02-29T00:00Z");
    assertThat(next("0 12 ? * *", "2024-01-01T12:00:00Z")).isEqualTo("2024-01-02T12:00Z");
  }

  @Test
  void dayOfMonthAndDayOfWeekBothRestrictedMeansEither() {
    // The 15th, or any Monday: 2024-01-08 is a Monday before the 15th.
    assertThat(next("0 0 15 * 1", "2024-01-02T00:00:00Z")).isEqualTo("2024-01-08T00:00Z");
  }

  @Test
  void macros() {
    assertThat(next("@hourly", "2024-01-01T10:20:00Z")).isEqualTo("2024-01-01T11:00Z");
    assertThat(next("@daily", "2024-01-01T10:20:00Z")).isEqualTo("2024-01-02T00:00Z");
    assertThat(next("@midnight", "2024-01-01T10:20:00Z")).isEqualTo("2024-01-02T00:00Z");
    assertThat(next("@weekly", "2024-01-01T10:20:00Z")).isEqualTo("2024-01-07T00:00Z");
    assertThat(next("@monthly", "2024-01-01T10:20:00Z")).isEqualTo("2024-02-01T00:00Z");
    assertThat(next("@yearly", "2024-01-01T10:20:00Z")).isEqualTo("2025-01-01T00:00Z");
    assertThat(next("@annually", "2024-01-01T10:20:00Z")).isEqualTo("2025-01-01T00:00Z");
    assertThat(next("@every 1h30m", "2024-01-01T10:20:10.500Z")).isEqualTo("2024-01-01T11:50:10Z");
  }

  @Test
  void timeZones() {
    ZonedDateTime after = ZonedDateTime.parse("2024-07-01T00:00:00Z").withZoneSameInstant(ZoneId.of("Europe/Berlin"));
    ZonedDateTime n = CronSchedule.parse("0 9 * * *").next(after);
    assertThat(n.toInstant().toString()).isEqualTo("2024-07-01T07:00:00Z"); // 09:00 CEST
  }

  @Test
  void invalidSchedulesAreRejected() {
    for (String bad : new String[] {"* * * *", "60 * * * *", "* 24 * * *", "* * 0 * *", "*/0 * * * *", "@often",
        "TZ=UTC * * * * *", "a * * * *", "@every 0s"}) {
      assertThatThrownBy(() -> CronSchedule.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void completedIndexesAreCompressed() {
    IndexSet s = IndexSet.parse("1,3-5", 100);
    assertThat(s.size()).isEqualTo(4);
    s.add(7);
    s.add(2);
    assertThat(s.format()).isEqualTo("1-5,7");
    assertThat(IndexSet.parse("", 10).format()).isNull();
    assertThat(IndexSet.parse("0-20", 10).format()).isEqualTo("0-9"); // beyond completions dropped
  }
}
