package dev.skiff.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class ExpectationsTest {
  private final FakeClock clock = new FakeClock();
  private final Expectations exp = new Expectations(clock);

  @Test
  void noRecordIsSatisfied() {
    assertThat(exp.satisfied("ns/rs")).isTrue();
  }

  @Test
  void creationsMustAllBeObserved() {
    exp.expectCreations("ns/rs", 2);
    assertThat(exp.satisfied("ns/rs")).isFalse();
    exp.creationObserved("ns/rs");
    assertThat(exp.satisfied("ns/rs")).isFalse();
    exp.creationObserved("ns/rs");
    assertThat(exp.satisfied("ns/rs")).isTrue();
    exp.creationObserved("ns/rs"); // extra observations keep it satisfied
    assertThat(exp.satisfied("ns/rs")).isTrue();
  }

  @Test
  void deletionsAndRaise() {
    exp.expectDeletions("ns/rs", 1);
    exp.raise("ns/rs", 1, 0);
    exp.deletionObserved("ns/rs");
    assertThat(exp.satisfied("ns/rs")).isFalse();
    exp.creationObserved("ns/rs");
    assertThat(exp.satisfied("ns/rs")).isTrue();
  }

  @Test
  void expiresAfterFiveMinutes() {
    exp.expectCreations("ns/rs", 3);
    clock.step(Duration.ofMinutes(5));
    assertThat(exp.satisfied("ns/rs")).isFalse();
    clock.step(Duration.ofNanos(1));
    assertThat(exp.satisfied("ns/rs")).isTrue();
  }

  @Test
  void trackedDeletionsCountEachChildOnce() {
    exp.expectDeletions("ns/rs", List.of("ns/p1", "ns/p2"));
    exp.deletionObserved("ns/rs", "ns/p1");
    exp.deletionObserved("ns/rs", "ns/p1");
    exp.deletionObserved("ns/rs", "ns/other");
    assertThat(exp.satisfied("ns/rs")).isFalse();
    exp.deletionObserved("ns/rs", "ns/p2");
    assertThat(exp.satisfied("ns/rs")).isTrue();
  }

  @Test
  void deleteForgets() {
    exp.expectCreations("ns/rs", 1);
    exp.delete("ns/rs");
    assertThat(exp.satisfied("ns/rs")).isTrue();
  }
}
