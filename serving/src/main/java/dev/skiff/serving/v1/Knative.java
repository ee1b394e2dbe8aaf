package dev.skiff.serving.v1;

import io.fabric8.kubernetes.client.utils.Serialization;

/**
 * Knative's well-known label and annotation keys (knative.dev/serving pkg/apis/serving/register.go,
 * pkg/apis/autoscaling/register.go) and model helpers. Stateless.
 */
public final class Knative {
  private Knative() {}

  public static final String GROUP = "serving.knative.dev";
  public static final String API_VERSION = GROUP + "/v1";

  public static final String SERVICE_LABEL = GROUP + "/service";
  public static final String SERVICE_UID_LABEL = GROUP + "/serviceUID";
  public static final String CONFIGURATION_LABEL = GROUP + "/configuration";
  public static final String CONFIGURATION_UID_LABEL = GROUP + "/configurationUID";
  public static final String CONFIGURATION_GENERATION_LABEL = GROUP + "/configurationGeneration";
  public static final String REVISION_LABEL = GROUP + "/revision";
  public static final String REVISION_UID_LABEL = GROUP + "/revisionUID";
  public static final String ROUTE_LABEL = GROUP + "/route";
  public static final String ROUTING_STATE_LABEL = GROUP + "/routingState";
  public static final String VISIBILITY_LABEL = "networking.knative.dev/visibility";

  public static final String CREATOR_ANNOTATION = GROUP + "/creator";
  public static final String LAST_MODIFIER_ANNOTATION = GROUP + "/lastModifier";
  public static final String ROUTES_ANNOTATION = GROUP + "/routes";
  public static final String ROUTING_STATE_MODIFIED_ANNOTATION = GROUP + "/routingStateModified";
  public static final String NO_GC_ANNOTATION = GROUP + "/no-gc";
  public static final String INITIAL_SCALE_ANNOTATION = "autoscaling.knative.dev/initial-scale";
  public static final String INITIAL_SCALE_ANNOTATION_OLD = "autoscaling.knative.dev/initialScale";

  /** The serving namespace whose ConfigMaps configure Knative (config-domain, config-gc, ...). */
  public static final String SYSTEM_NAMESPACE = "knative-serving";

  /** A deep copy (objects from informer caches are shared and must not be changed). */
  public static <T> T copy(T obj) {
    return Serialization.clone(obj);
  }
}
