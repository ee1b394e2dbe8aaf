package dev.skiff.apiserver.registry;

/**
 * metav1.DeleteOptions as the registry uses them.
 *
 * @param propagationPolicy Orphan, Background, Foreground or null (resource default)
 * @param gracePeriodSeconds null for the object's own default
 */
public record DeleteOptions(
    String propagationPolicy,
    Long gracePeriodSeconds,
    String preconditionUid,
    String preconditionResourceVersion,
    boolean dryRun) {
  public static final DeleteOptions DEFAULT = new DeleteOptions(null, null, null, null, false);
}
