package dev.skiff.serving.autoscaler;

import dev.skiff.runtime.LeaderElector;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes one {@link Autoscaler} per cluster act: campaigns for Lease
 * {@code knative-serving/autoscaler} ({@link LeaderElector}, client-go semantics) and tells the
 * autoscaler to {@link Autoscaler#lead} while it holds it and to {@link Autoscaler#follow} as
 * soon as it does not; after losing the Lease (a failed renewal) it campaigns again. Knative's
 * autoscaler is leader-elected the same way (its buckets are per-revision; Skiff has one bucket).
 *
 * <p>Thread-safe.
 */
public final class AutoscalerElection implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(AutoscalerElection.class);
  public static final String LEASE_NAMESPACE = "knative-serving";
  public static final String LEASE_NAME = "autoscaler";

  private final KubernetesClient client;
  private final Autoscaler autoscaler;
  private final String identity;
  private final Duration lease;
  private boolean closed;
  private LeaderElector elector;

  private AutoscalerElection(KubernetesClient client, Autoscaler autoscaler, String identity, Duration lease) {
    this.client = client;
    this.autoscaler = autoscaler;
    this.identity = identity;
    this.lease = lease;
  }

  /**
   * Starts campaigning.
   *
   * @param identity unique per candidate (node name plus a random id)
   * @param lease the Lease duration; renew deadline 2/3 and retry period 1/7 of it (client-go's
   *     15/10/2 s proportions)
   */
  public static AutoscalerElection start(KubernetesClient client, Autoscaler autoscaler, String identity, Duration lease) {
    AutoscalerElection e = new AutoscalerElection(client, autoscaler, identity, lease);
    e.campaign();
    return e;
  }

  private synchronized void campaign() {
    if (closed) {
      return;
    }
    LeaderElector[] self = new LeaderElector[1];
    self[0] = LeaderElector.builder(client, LEASE_NAMESPACE, LEASE_NAME)
        .identity(identity)
        .timings(lease)
        .onStartedLeading(() -> autoscaler.lead(self[0]::isLeader))
        .onStoppedLeading(() -> {
          autoscaler.follow();
          log.info("{} stopped leading the autoscaler", identity);
        })
        .build();
    elector = self[0];
    elector.start();
  }

  /** Whether this candidate holds the Lease now. */
  public synchronized boolean isLeader() {
    return elector != null && elector.isLeader();
  }

  /** Stops campaigning; if leading, stops at once and releases the Lease for a successor. */
  @Override
  public void close() throws InterruptedException {
    LeaderElector e;
    synchronized (this) {
      closed = true;
      e = elector;
    }
    autoscaler.follow();
    if (e != null) {
      e.stop();
    }
  }
}
