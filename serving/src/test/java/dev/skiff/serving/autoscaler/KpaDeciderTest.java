package dev.skiff.serving.autoscaler;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The KPA formulas, with time passed in as milliseconds (no sleeping, no real clock). */
class KpaDeciderTest {
  static final AutoscalerConfig DEFAULTS = AutoscalerConfig.defaults();
  static final AutoscalerConfig.Params P = DEFAULTS.resolve(Map.of(), 0);

  @Test
  void defaultTargetIsOneHundredTimesSeventyPercent() {
    assertThat(P.target()).isEqualTo(70.0);
    assertThat(P.stableWindow()).isEqualTo(Duration.ofSeconds(60));
    assertThat(P.panicWindow()).isEqualTo(Duration.ofSeconds(6));
    assertThat(P.panicThreshold()).isEqualTo(2.0);
    assertThat(P.maxScaleUpRate()).isEqualTo(1000);
    assertThat(P.maxScaleDownRate()).isEqualTo(2);
    assertThat(P.scaleToZeroGracePeriod()).isEqualTo(Duration.ofSeconds(30));
    assertThat(P.targetBurstCapacity()).isEqualTo(211);
  }

  @Test
  void containerConcurrencyDerivesTheTargetAndCapsTheAnnotation() {
    assertThat(DEFAULTS.resolve(Map.of(), 10).target()).isEqualTo(7.0);
    assertThat(DEFAULTS.resolve(Map.of("autoscaling.knative.dev/target", "50"), 10).target()).isEqualTo(7.0);
    assertThat(DEFAULTS.resolve(Map.of("autoscaling.knative.dev/target", "5"), 10).target()).isEqualTo(3.5);
    assertThat(DEFAULTS.resolve(Map.of("autoscaling.knative.dev/target", "10",
        "autoscaling.knative.dev/target-utilization-percentage", "50"), 0).target()).isEqualTo(5.0);
    AutoscalerConfig.Params rps = DEFAULTS.resolve(Map.of("autoscaling.knative.dev/metric", "rps"), 0);
    assertThat(rps.metric()).isEqualTo("rps");
    assertThat(rps.target()).isEqualTo(140.0);
  }

  @Test
  void annotationsAndConfigMapOverrideDefaults() {
    AutoscalerConfig cfg = AutoscalerConfig.fromConfigMap(Map.of("stable-window", "6s", "scale-to-zero-grace-period", "1s",
        "container-concurrency-target-percentage", "80", "max-scale-down-rate", "4", "enable-scale-to-zero", "false"));
    AutoscalerConfig.Params p = cfg.resolve(Map.of("autoscaling.knative.dev/min-scale", "2", "autoscaling.knative.dev/maxScale", "9",
        "autoscaling.knative.dev/initial-scale", "3", "autoscaling.knative.dev/scale-down-delay", "1m30s",
        "autoscaling.knative.dev/target-burst-capacity", "-1", "autoscaling.knative.dev/panic-window-percentage", "50"), 0);
    assertThat(p.stableWindow()).isEqualTo(Duration.ofSeconds(6));
    assertThat(p.panicWindow()).isEqualTo(Duration.ofSeconds(3));
    assertThat(p.scaleToZeroGracePeriod()).isEqualTo(Duration.ofSeconds(1));
    assertThat(p.target()).isEqualTo(80.0);
    assertThat(p.maxScaleDownRate()).isEqualTo(4);
    assertThat(p.enableScaleToZero()).isFalse();
    assertThat(p.minScale()).isEqualTo(2);
    assertThat(p.maxScale()).isEqualTo(9);
    assertThat(p.initialScale()).isEqualTo(3);
    assertThat(p.scaleDownDelay()).isEqualTo(Duration.ofSeconds(90));
    assertThat(p.targetBurstCapacity()).isEqualTo(-1);
    assertThat(cfg.resolve(Map.of("autoscaling.knative.dev/window", "20s"), 0).panicWindow()).isEqualTo(Duration.ofSeconds(2));
    // A 0.7 fraction in the ConfigMap means 70%.
    assertThat(AutoscalerConfig.fromConfigMap(Map.of("container-concurrency-target-percentage", "0.5")).targetUtilization()).isEqualTo(0.5);
  }

  @Test
  void stableModeDividesObservedConcurrencyByTheTarget() {
    KpaDecider d = new KpaDecider();
    // 150 concurrent requests on 3 pods, target 70: ceil(150/70) = 3; below the panic threshold.
    KpaDecider.Decision dec = d.decide(P, 0, 150, 150, 3, true);
    assertThat(dec.desired()).isEqualTo(3);
    assertThat(dec.panicking()).isFalse();
    // The docs' example: 50 concurrent requests with target 10 (×1.0) -> 5 pods.
    AutoscalerConfig.Params ten = DEFAULTS.resolve(Map.of("autoscaling.knative.dev/target", "10",
        "autoscaling.knative.dev/target-utilization-percentage", "100"), 0);
    assertThat(new KpaDecider().decide(ten, 0, 50, 50, 5, true).desired()).isEqualTo(5);
  }

  @Test
  void maxScaleDownRateHalvesAtMostPerDecisionWhileReachable() {
    KpaDecider d = new KpaDecider();
    assertThat(d.decide(P, 0, 0, 0, 10, true).desired()).isEqualTo(5);
    assertThat(d.decide(P, 2000, 0, 0, 5, true).desired()).isEqualTo(2);
    assertThat(d.decide(P, 4000, 0, 0, 1, true).desired()).isZero();
    // Unreachable (no Route): no rate limit downwards.
    assertThat(new KpaDecider().decide(P, 0, 0, 0, 10, false).desired()).isZero();
  }

  @Test
  void maxScaleUpRateBoundsTheIncrease() {
    AutoscalerConfig.Params slow = AutoscalerConfig.fromConfigMap(Map.of("max-scale-up-rate", "2")).resolve(Map.of(), 0);
    KpaDecider d = new KpaDecider();
    // 7000 concurrent on 1 pod wants 100 pods, but at most ceil(2 × 1) = 2.
    assertThat(d.decide(slow, 0, 7000, 7000, 1, true).desired()).isEqualTo(2);
    assertThat(new KpaDecider().decide(P, 0, 7000, 7000, 1, true).desired()).isEqualTo(100);
  }

  @Test
  void panicModeStartsAtTwiceTheCapacityAndNeverScalesDownUntilAStableWindowPasses() {
    KpaDecider d = new KpaDecider();
    // Stable still low (a burst just began), panic window sees 700: 10 pods wanted on 2 -> 5x >= 2x.
    KpaDecider.Decision burst = d.decide(P, 0, 100, 700, 2, true);
    assertThat(burst.panicking()).isTrue();
    assertThat(burst.desired()).isEqualTo(10);
    // The burst ends: the panic window drops, but panic mode holds the max for a stable window.
    KpaDecider.Decision after = d.decide(P, 30_000, 100, 0, 10, true);
    assertThat(after.panicking()).isTrue();
    assertThat(after.desired()).isEqualTo(10);
    KpaDecider.Decision done = d.decide(P, 60_001, 100, 0, 10, true);
    assertThat(done.panicking()).isFalse();
    assertThat(done.desired()).isEqualTo(5); // ceil(100/70)=2, bounded by max scale-down 10/2
  }

  @Test
  void belowThePanicThresholdThereIsNoPanic() {
    KpaDecider d = new KpaDecider();
    // 4 pods wanted on 3 ready: 1.33x < 2x.
    assertThat(d.decide(P, 0, 250, 280, 3, true).panicking()).isFalse();
  }

  @Test
  void scaleDownDelayKeepsTheMaximumOfTheDelayWindow() {
    AutoscalerConfig.Params p = DEFAULTS.resolve(Map.of("autoscaling.knative.dev/scale-down-delay", "10s"), 0);
    KpaDecider d = new KpaDecider();
    assertThat(d.decide(p, 0, 350, 350, 5, true).desired()).isEqualTo(5);
    assertThat(d.decide(p, 2000, 0, 0, 5, true).desired()).isEqualTo(5);
    assertThat(d.decide(p, 8000, 0, 0, 5, true).desired()).isEqualTo(5);
    assertThat(d.decide(p, 10_001, 0, 0, 5, true).desired()).isEqualTo(2);
  }

  @Test
  void activationScaleRaisesANonZeroDecision() {
    AutoscalerConfig.Params p = DEFAULTS.resolve(Map.of("autoscaling.knative.dev/activation-scale", "3"), 0);
    assertThat(new KpaDecider().decide(p, 0, 1, 1, 0, true).desired()).isEqualTo(3);
    assertThat(new KpaDecider().decide(p, 0, 0, 0, 0, true).desired()).isZero();
  }

  @Test
  void excessBurstCapacityFollowsKnative() {
    // 2 pods × 100 − 211 − 50 = −61: the activator stays in the path.
    assertThat(new KpaDecider().decide(P, 0, 50, 50, 2, true).excessBurstCapacity()).isEqualTo(-61);
  }

  @Test
  void metricWindowAveragesOverRecordedSecondsAndCountsGapsAsZero() {
    MetricWindow w = new MetricWindow(60);
    assertThat(w.average(0, 6000)).isZero();
    w.record(0, 10);
    w.record(1000, 20);
    // Partial window: two recorded seconds.
    assertThat(w.average(1500, 6000)).isEqualTo(15.0);
    // Seconds 2..5 pass without records: they are zeros.
    w.record(5000, 0);
    assertThat(w.average(5000, 6000)).isEqualTo(5.0);
    w.record(12_000, 6);
    assertThat(w.average(12_000, 6000)).isEqualTo(1.0);
    assertThat(w.average(12_000, 1000)).isEqualTo(6.0);
  }
}
