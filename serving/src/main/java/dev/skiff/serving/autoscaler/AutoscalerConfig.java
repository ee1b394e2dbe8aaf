package dev.skiff.serving.autoscaler;

import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Cluster-wide KPA defaults, read from ConfigMap {@code knative-serving/config-autoscaler}, and
 * their resolution against a Revision's {@code autoscaling.knative.dev/*} annotations into the
 * {@link Params} one revision is scaled with. Defaults and key names follow Knative's
 * {@code pkg/autoscaler/config/config.go}; the target resolution follows
 * {@code pkg/reconciler/autoscaling/resources/target.go}. Immutable, thread-safe.
 */
public record AutoscalerConfig(
    double containerConcurrencyTargetDefault,
    double rpsTargetDefault,
    double targetUtilization,
    Duration stableWindow,
    double panicWindowPercentage,
    double panicThresholdPercentage,
    double maxScaleUpRate,
    double maxScaleDownRate,
    boolean enableScaleToZero,
    Duration scaleToZeroGracePeriod,
    Duration scaleToZeroPodRetention,
    double targetBurstCapacity,
    int initialScale,
    boolean allowZeroInitialScale,
    int minScale,
    int maxScale,
    Duration scaleDownDelay) {

  /** The ConfigMap the cluster defaults come from. */
  public static final String NAMESPACE = "knative-serving";
  public static final String CONFIG_MAP = "config-autoscaler";
  public static final String PREFIX = "autoscaling.knative.dev/";

  public static AutoscalerConfig defaults() {
    return new AutoscalerConfig(100, 200, 0.7, Duration.ofSeconds(60), 10, 200, 1000, 2, true,
        Duration.ofSeconds(30), Duration.ZERO, 211, 1, false, 0, 0, Duration.ZERO);
  }

  /** Parses the ConfigMap's data; unknown keys are ignored, bad values keep the default. */
  public static AutoscalerConfig fromConfigMap(Map<String, String> data) {
    AutoscalerConfig d = defaults();
    if (data == null) {
      return d;
    }
    double util = num(data, "container-concurrency-target-percentage", d.targetUtilization * 100);
    // Values <= 1 in the ConfigMap are fractions (config.go: "percentage" may be given as 0.7).
    util = util <= 1 ? util : util / 100;
    return new AutoscalerConfig(
        num(data, "container-concurrency-target-default", d.containerConcurrencyTargetDefault),
        num(data, "requests-per-second-target-default", d.rpsTargetDefault),
        util,
        dur(data, "stable-window", d.stableWindow),
        num(data, "panic-window-percentage", d.panicWindowPercentage),
        num(data, "panic-threshold-percentage", d.panicThresholdPercentage),
        num(data, "max-scale-up-rate", d.maxScaleUpRate),
        num(data, "max-scale-down-rate", d.maxScaleDownRate),
        !"false".equalsIgnoreCase(data.getOrDefault("enable-scale-to-zero", "true").trim()),
        dur(data, "scale-to-zero-grace-period", d.scaleToZeroGracePeriod),
        dur(data, "scale-to-zero-pod-retention-period", d.scaleToZeroPodRetention),
        num(data, "target-burst-capacity", d.targetBurstCapacity),
        (int) num(data, "initial-scale", d.initialScale),
        "true".equalsIgnoreCase(data.getOrDefault("allow-zero-initial-scale", "false").trim()),
        (int) num(data, "min-scale", d.minScale),
        (int) num(data, "max-scale", d.maxScale),
        dur(data, "scale-down-delay", d.scaleDownDelay));
  }

  /**
   * What one revision is scaled with.
   *
   * @param metric {@code concurrency} or {@code rps}
   * @param target the per-pod target value the decider divides by ({@code max(0.01, total × utilization)})
   * @param total the per-pod capacity before utilization (for burst capacity)
   */
  public record Params(
      String metric,
      double target,
      double total,
      Duration stableWindow,
      Duration panicWindow,
      double panicThreshold,
      double maxScaleUpRate,
      double maxScaleDownRate,
      boolean enableScaleToZero,
      Duration scaleToZeroGracePeriod,
      Duration scaleToZeroPodRetention,
      double targetBurstCapacity,
      int initialScale,
      int minScale,
      int maxScale,
      int activationScale,
      Duration scaleDownDelay) {}

  /**
   * Resolves the parameters of a revision from its annotations and {@code spec.containerConcurrency}
   * (0 = unlimited). Old camelCase annotation names are accepted as aliases
   * ({@code pkg/apis/autoscaling/register.go}).
   */
  public Params resolve(Map<String, String> annotations, long containerConcurrency) {
    Map<String, String> a = annotations == null ? Map.of() : annotations;
    String metric = ann(a, "metric", null);
    metric = metric == null ? "concurrency" : metric.toLowerCase(Locale.ROOT);
    double total;
    double tu;
    if (metric.equals("rps")) {
      total = rpsTargetDefault;
      tu = targetUtilization;
    } else {
      total = containerConcurrency > 0 ? containerConcurrency : containerConcurrencyTargetDefault;
      tu = targetUtilization;
    }
    String t = ann(a, "target", null);
    if (t != null) {
      try {
        total = Double.parseDouble(t.trim());
        if (!metric.equals("rps") && containerConcurrency > 0) {
          total = Math.min(total, containerConcurrency);
        }
      } catch (NumberFormatException ignored) {
        // keep the default, as Knative's validation would have rejected it anyway
      }
    }
    String tup = ann(a, "target-utilization-percentage", "targetUtilizationPercentage");
    if (tup != null) {
      try {
        tu = Double.parseDouble(tup.trim()) / 100;
      } catch (NumberFormatException ignored) {
        // keep the default
      }
    }
    Duration stable = parseDuration(ann(a, "window", null), stableWindow);
    double pwp = parseNum(ann(a, "panic-window-percentage", "panicWindowPercentage"), panicWindowPercentage);
    double ptp = parseNum(ann(a, "panic-threshold-percentage", "panicThresholdPercentage"), panicThresholdPercentage);
    // panic window = round(stable × pct / 100), at least 1 s (config.go / autoscaler.go).
    long panicMs = Math.max(1000, Math.round(stable.toMillis() * pwp / 100 / 1000.0) * 1000);
    int init = (int) parseNum(ann(a, "initial-scale", "initialScale"), initialScale);
    if (init == 0 && !allowZeroInitialScale) {
      init = 1;
    }
    return new Params(metric, Math.max(0.01, total * tu), total, stable, Duration.ofMillis(panicMs), ptp / 100,
        maxScaleUpRate, maxScaleDownRate, enableScaleToZero, scaleToZeroGracePeriod,
        parseDuration(ann(a, "scale-to-zero-pod-retention-period", null), scaleToZeroPodRetention),
        parseNum(ann(a, "target-burst-capacity", "targetBurstCapacity"), targetBurstCapacity),
        init,
        (int) parseNum(ann(a, "min-scale", "minScale"), minScale),
        (int) parseNum(ann(a, "max-scale", "maxScale"), maxScale),
        Math.max(1, (int) parseNum(ann(a, "activation-scale", null), 1)),
        parseDuration(ann(a, "scale-down-delay", null), scaleDownDelay));
  }

  private static String ann(Map<String, String> a, String key, String alias) {
    String v = a.get(PREFIX + key);
    if (v == null && alias != null) {
      v = a.get(PREFIX + alias);
    }
    return v;
  }

  private static double num(Map<String, String> data, String key, double def) {
    return parseNum(data.get(key), def);
  }

  private static Duration dur(Map<String, String> data, String key, Duration def) {
    return parseDuration(data.get(key), def);
  }

  static double parseNum(String v, double def) {
    if (v == null || v.isBlank()) {
      return def;
    }
    try {
      return Double.parseDouble(v.trim());
    } catch (NumberFormatException e) {
      return def;
    }
  }

  private static final Pattern DURATION_PART = Pattern.compile("(\\d+(?:\\.\\d+)?)(ms|h|m|s)");

  /** Go-style durations as Knative writes them ({@code 60s}, {@code 1m30s}, {@code 500ms}); a bare number is seconds. */
  static Duration parseDuration(String v, Duration def) {
    if (v == null || v.isBlank()) {
      return def;
    }
    String s = v.trim();
    if (s.matches("\\d+")) {
      return Duration.ofSeconds(Long.parseLong(s));
    }
    Matcher m = DURATION_PART.matcher(s);
    double ms = 0;
    int end = 0;
    while (m.find()) {
      if (m.start() != end) {
        return def;
      }
      end = m.end();
      double n = Double.parseDouble(m.group(1));
      ms += switch (m.group(2)) {
        case "h" -> n * 3_600_000;
        case "m" -> n * 60_000;
        case "s" -> n * 1000;
        default -> n;
      };
    }
    return end == s.length() && end > 0 ? Duration.ofMillis(Math.round(ms)) : def;
  }
}
