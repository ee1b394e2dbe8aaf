/**
 * Skiff's controller runtime: the pieces every component builds its control loops from.
 *
 * <ul>
 *   <li>{@link dev.skiff.runtime.WorkQueue}, {@link dev.skiff.runtime.DelayingQueue},
 *       {@link dev.skiff.runtime.RateLimitingQueue} and {@link dev.skiff.runtime.RateLimiter}:
 *       client-go's work queue semantics (keys coalesce; a key is never processed by two workers
 *       at once; retries spaced by composable limiters).
 *   <li>{@link dev.skiff.runtime.SharedInformers}, {@link dev.skiff.runtime.Informer},
 *       {@link dev.skiff.runtime.Lister}, {@link dev.skiff.runtime.Indexers}: one shared,
 *       indexed list-watch cache per type, over fabric8's SharedIndexInformer.
 *   <li>{@link dev.skiff.runtime.Controller} ({@link dev.skiff.runtime.ControllerBuilder},
 *       {@link dev.skiff.runtime.Reconciler}, {@link dev.skiff.runtime.Result}): N workers
 *       reconciling keys.
 *   <li>{@link dev.skiff.runtime.Expectations}, {@link dev.skiff.runtime.LeaderElector},
 *       {@link dev.skiff.runtime.EventRecorder}, {@link dev.skiff.runtime.Clients},
 *       {@link dev.skiff.runtime.Clock} / {@link dev.skiff.runtime.FakeClock}.
 * </ul>
 *
 * <p>Components depend on this package and the fabric8 client, never on the API server or store.
 */
package dev.skiff.runtime;
