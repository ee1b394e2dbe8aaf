package dev.skiff.serving.autoscaler;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import java.util.Collection;

/**
 * What the {@link Autoscaler} reads besides the Deployments: the revisions to scale and the
 * traffic the gateway measured for them (the gateway is Skiff's queue-proxy and activator in
 * one, so it is the only metrics source; there is no per-pod sidecar). Implementations must be
 * thread-safe; every method is called from the autoscaler's thread and must not block.
 */
public interface ScalingInputs {
  /** The measured traffic of a revision since the previous scrape. */
  record Sample(double averageConcurrency, long requests) {}

  /** Every serving.knative.dev/v1 Revision currently known. */
  Collection<GenericKubernetesResource> revisions();

  /**
   * The time-averaged number of requests in flight (including requests held while the revision
   * has no ready pod) and the number of requests started, since the previous call for the same
   * revision; each call starts a new period.
   */
  Sample scrape(String namespace, String revision);

  /** Pods of the revision that are Ready now. */
  int readyPods(String namespace, String revision);

  /** Whether any Route sends traffic to the revision (percent > 0 or a tag). */
  boolean reachable(String namespace, String revision);
}
