package dev.skiff.apiserver.registry;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;

/**
 * Maintains {@code metadata.managedFields} on writes (apiserver's FieldManager). The store calls
 * it after admission and validation, with the object about to be stored; it sets or removes the
 * object's managedFields. Server-side apply computes its entries before the store (the patch
 * handler) and marks the write with operation {@code Apply}. The implementation is
 * {@code dev.skiff.apiserver.ssa.FieldManager}.
 */
public interface FieldTracker {
  void recordCreate(ResourceDescriptor d, ObjectNode obj, WriteOptions opts, Instant now);

  void recordUpdate(ResourceDescriptor d, ObjectNode next, ObjectNode old, WriteOptions opts, Instant now);
}
