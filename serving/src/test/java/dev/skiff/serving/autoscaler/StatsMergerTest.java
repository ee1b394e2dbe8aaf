package dev.skiff.serving.autoscaler;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The publication format of a gateway's counters and the leader's diffing and merging of them. */
class StatsMergerTest {
  static GatewayStats.Counters c(long requests, double concurrencyMs, long sampledMs, int inFlight) {
    return new GatewayStats.Counters(requests, concurrencyMs, sampledMs, inFlight);
  }

  static GatewayStats g(String instance, Map<String, GatewayStats.Counters> revs) {
    return new GatewayStats(instance, revs);
  }

  @Test
  void jsonRoundTrips() throws Exception {
    GatewayStats s = g("i-1", Map.of("default/a-00001", c(12, 3400.5, 9000, 2), "x/b", c(0, 0, 0, 0)));
    assertThat(GatewayStats.fromJson(s.toJson())).isEqualTo(s);
    assertThat(new String(s.toJson())).contains("\"instance\":\"i-1\"", "\"default/a-00001\"", "\"requests\":12");
  }

  @Test
  void firstReadingOfAGatewayIsABaselineThenPeriodsAreDiffs() {
    StatsMerger m = new StatsMerger();
    var first = m.merge(List.of(g("i-1", Map.of("ns/r", c(100, 50_000, 60_000, 3)))));
    // Lifetime counters are not a period: only the current in-flight count, no requests.
    assertThat(first.get("ns/r")).isEqualTo(new ScalingInputs.Sample(3, 0));
    // One second later: 10 requests, on average 2.5 in flight (2500 request-ms over 1000 ms).
    var second = m.merge(List.of(g("i-1", Map.of("ns/r", c(110, 52_500, 61_000, 1)))));
    assertThat(second.get("ns/r").requests()).isEqualTo(10);
    assertThat(second.get("ns/r").averageConcurrency()).isCloseTo(2.5, within(1e-9));
  }

  @Test
  void twoReadersOfTheSameGatewayDoNotStealEachOthersPeriods() {
    StatsMerger oldLeader = new StatsMerger();
    StatsMerger newLeader = new StatsMerger();
    oldLeader.merge(List.of(g("i-1", Map.of("ns/r", c(0, 0, 0, 0)))));
    newLeader.merge(List.of(g("i-1", Map.of("ns/r", c(5, 1000, 1000, 1)))));
    GatewayStats later = g("i-1", Map.of("ns/r", c(20, 4000, 2000, 2)));
    // Each sees the traffic since its own previous reading; reading changes nothing.
    assertThat(oldLeader.merge(List.of(later)).get("ns/r")).isEqualTo(new ScalingInputs.Sample(2.0, 20));
    assertThat(newLeader.merge(List.of(later)).get("ns/r")).isEqualTo(new ScalingInputs.Sample(3.0, 15));
  }

  @Test
  void gatewaysAreSummedPerRevision() {
    StatsMerger m = new StatsMerger();
    m.merge(List.of(g("a", Map.of("ns/r", c(0, 0, 0, 0))), g("b", Map.of("ns/r", c(0, 0, 0, 0), "ns/s", c(0, 0, 0, 0)))));
    var round = m.merge(List.of(
        g("a", Map.of("ns/r", c(4, 1000, 1000, 1))),
        g("b", Map.of("ns/r", c(6, 3000, 1000, 3), "ns/s", c(1, 500, 1000, 0)))));
    assertThat(round.get("ns/r")).isEqualTo(new ScalingInputs.Sample(4.0, 10));
    assertThat(round.get("ns/s")).isEqualTo(new ScalingInputs.Sample(0.5, 1));
  }

  @Test
  void aRevisionNewInAKnownGatewayCountsFromZero() {
    StatsMerger m = new StatsMerger();
    m.merge(List.of(g("a", Map.of())));
    var round = m.merge(List.of(g("a", Map.of("ns/new", c(3, 400, 800, 1)))));
    assertThat(round.get("ns/new")).isEqualTo(new ScalingInputs.Sample(0.5, 3));
  }

  @Test
  void aRestartedGatewayIsRebaselinedNotDiffedAcrossItsRestart() {
    StatsMerger m = new StatsMerger();
    m.merge(List.of(g("old", Map.of("ns/r", c(1000, 900_000, 100_000, 0)))));
    var round = m.merge(List.of(g("new", Map.of("ns/r", c(2, 100, 100, 1)))));
    assertThat(round.get("ns/r")).isEqualTo(new ScalingInputs.Sample(1, 0));
  }

  @Test
  void aGatewayThatMissedARoundCountsNothingThenCoversBothPeriods() {
    StatsMerger m = new StatsMerger();
    m.merge(List.of(g("a", Map.of("ns/r", c(0, 0, 0, 0))), g("b", Map.of("ns/r", c(0, 0, 0, 0)))));
    // b did not answer in time: only a's period.
    var missed = m.merge(List.of(g("a", Map.of("ns/r", c(1, 1000, 1000, 1)))));
    assertThat(missed.get("ns/r")).isEqualTo(new ScalingInputs.Sample(1.0, 1));
    // b's next answer covers both seconds: no request lost, concurrency averaged over 2 s.
    var back = m.merge(List.of(g("a", Map.of("ns/r", c(2, 2000, 2000, 1))), g("b", Map.of("ns/r", c(8, 4000, 2000, 2)))));
    assertThat(back.get("ns/r")).isEqualTo(new ScalingInputs.Sample(3.0, 9));
  }

  @Test
  void noSampleInThePeriodFallsBackToTheInstantaneousCount() {
    assertThat(StatsMerger.diff(c(1, 100, 100, 0), c(3, 100, 100, 4))).isEqualTo(new ScalingInputs.Sample(4, 2));
  }
}
