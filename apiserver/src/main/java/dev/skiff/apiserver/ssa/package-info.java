/**
 * Server-side apply and field ownership (apiserver pkg/endpoints/handlers/fieldmanager,
 * apimachinery pkg/util/managedfields, sigs.k8s.io/structured-merge-diff v4):
 * {@link dev.skiff.apiserver.ssa.FieldSet} is the FieldsV1 path set,
 * {@link dev.skiff.apiserver.ssa.FieldManager} applies configurations (merge, prune, conflicts,
 * force) and records the Update entries of every other write.
 */
package dev.skiff.apiserver.ssa;
