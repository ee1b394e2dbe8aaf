package dev.skiff.serving.autoscaler;

import java.util.Collection;
import java.util.HashMap;
import java.util.Map;

/**
 * The autoscaler's side of the gateways' {@link GatewayStats}: diffs each gateway's reading
 * against the same reader's previous reading of that gateway, and sums the periods of all
 * gateways per revision (concurrency and requests of different gateways add up: each counts
 * only the requests that went through it).
 *
 * <p>Rules: the first reading of a gateway instance (a new peer, a restarted one, the first
 * scrape of a new leader) is only a baseline; it contributes its current in-flight count as
 * concurrency and no requests. A revision that first appears in a known instance diffs against
 * zero (its counters started at zero). A gateway missing from a round (it did not answer in
 * time) contributes nothing that round, and its next reading covers both periods: no request is
 * lost, the concurrency is averaged over the longer period. Instances unseen for
 * {@link #FORGET_AFTER_ROUNDS} rounds are forgotten.
 *
 * <p>Not thread-safe: one reader (the autoscaler's thread) owns an instance.
 */
public final class StatsMerger {
  static final int FORGET_AFTER_ROUNDS = 60;

  private final Map<String, Previous> previous = new HashMap<>();
  private long round;

  private record Previous(GatewayStats stats, long round) {}

  /** The merged samples, by {@code namespace/revision}, of the period since the previous round. */
  public Map<String, ScalingInputs.Sample> merge(Collection<GatewayStats> readings) {
    round++;
    Map<String, double[]> sum = new HashMap<>(); // {concurrency, requests}
    for (GatewayStats now : readings) {
      Previous prev = previous.put(now.instance(), new Previous(now, round));
      now.revisions().forEach((rev, c) -> {
        ScalingInputs.Sample s = prev == null ? new ScalingInputs.Sample(c.inFlight(), 0)
            : diff(prev.stats().revisions().get(rev), c);
        double[] acc = sum.computeIfAbsent(rev, k -> new double[2]);
        acc[0] += s.averageConcurrency();
        acc[1] += s.requests();
      });
    }
    previous.values().removeIf(p -> round - p.round() > FORGET_AFTER_ROUNDS);
    Map<String, ScalingInputs.Sample> out = new HashMap<>();
    sum.forEach((rev, a) -> out.put(rev, new ScalingInputs.Sample(a[0], (long) a[1])));
    return out;
  }

  /** The period between two readings of one revision in one gateway ({@code before} null: from zero). */
  static ScalingInputs.Sample diff(GatewayStats.Counters before, GatewayStats.Counters now) {
    if (before == null) {
      before = new GatewayStats.Counters(0, 0, 0, 0);
    }
    long dt = now.sampledMs() - before.sampledMs();
    long requests = Math.max(0, now.requests() - before.requests());
    // No sample taken in the period (the 100 ms sampler has not run): the instantaneous count.
    double avg = dt > 0 ? Math.max(0, now.concurrencyMs() - before.concurrencyMs()) / dt : now.inFlight();
    return new ScalingInputs.Sample(avg, requests);
  }
}
