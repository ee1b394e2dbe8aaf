package dev.skiff.serving.autoscaler;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import java.util.Collection;

/**
 * What the {@link Autoscaler} reads besides the Deployments: the revisions to scale and the
 * traffic the gateways measured for them (the gateway is Skiff's queue-proxy and activator in
 * one, so the gateways are the only metrics source; there is no per-pod sidecar). Implementations
 * must be thread-safe; every method is called from the autoscaler's thread. Only
 * {@link #beginScrape} may block, and only briefly.
 */
public interface ScalingInputs {
  /** The measured traffic of a revision since the previous scrape. */
  record Sample(double averageConcurrency, long requests) {}

  /** Every serving.knative.dev/v1 Revision currently known. */
  Collection<GenericKubernetesResource> revisions();

  /**
   * Starts a scrape round: called once per round, before the round's {@link #scrape} calls.
   * May read remote gateways; must return within a few hundred milliseconds whatever they do.
   */
  default void beginScrape() {}

  /**
   * The time-averaged number of requests in flight (including requests held while the revision
   * has no ready pod) and the number of requests started, in the period between the previous
   * round and the current one ({@link #beginScrape}).
   */
  Sample scrape(String namespace, String revision);

  /**
   * Whether the current round read every source of measurements. When false (a live gateway
   * did not answer), a revision that looks idle may be served through that gateway, so the
   * autoscaler scales nothing to zero on that tick.
   */
  default boolean complete() {
    return true;
  }

  /** Pods of the revision that are Ready now. */
  int readyPods(String namespace, String revision);

  /** Whether any Route sends traffic to the revision (percent > 0 or a tag). */
  boolean reachable(String namespace, String revision);
}
