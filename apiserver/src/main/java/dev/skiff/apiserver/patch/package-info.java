/**
 * The three PATCH flavours kube-apiserver accepts besides server-side apply: RFC 6902 JSON patch
 * ({@link dev.skiff.apiserver.patch.JsonPatch}), RFC 7386 JSON merge patch
 * ({@link dev.skiff.apiserver.patch.MergePatch}) and strategic merge patch
 * ({@link dev.skiff.apiserver.patch.StrategicMergePatch}).
 *
 * <p>All functions are pure: they never mutate their arguments and return fresh Jackson trees. Failures
 * are reported as {@link dev.skiff.apiserver.patch.PatchException}, which already says which HTTP code
 * and Status reason kube-apiserver would answer with.
 */
package dev.skiff.apiserver.patch;
