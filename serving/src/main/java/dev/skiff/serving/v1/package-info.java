/**
 * Jackson/fabric8 model of serving.knative.dev/v1 (Knative's Go types in
 * knative.dev/serving/pkg/apis/serving/v1 have no Java counterpart on Maven Central): the four
 * custom resources {@link dev.skiff.serving.v1.KService}, {@link dev.skiff.serving.v1.Configuration},
 * {@link dev.skiff.serving.v1.Revision} and {@link dev.skiff.serving.v1.Route}, usable with
 * {@code client.resources(Route.class)} and {@code SharedInformers.informerFor(Route.class)}.
 * Unknown fields are kept ({@code additionalProperties}), so objects written back lose nothing.
 * Plain mutable beans: not thread-safe; informer caches hand out shared instances, so copy
 * ({@link dev.skiff.serving.v1.Knative#copy}) before changing one.
 */
package dev.skiff.serving.v1;
