package dev.skiff.apiserver.registry;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;

/**
 * Maintains {@code metadata.managedFields} on writes (apiserver's FieldManager). The store calls
 * it after admission and validation, with the object about to be stored; it sets or removes the
 * object's managedFields. Server-side apply computes its entries before the store (the patch
 * handler) and marks the write with operation {@code Apply}.
 */
public interface FieldTracker {
  void recordCreate(ResourceDescriptor d, ObjectNode obj, WriteOptions opts, Instant now);

  void recordUpdate(ResourceDescriptor d, ObjectNode next, ObjectNode old, WriteOptions opts, Instant now);

  /** The simplified tracker used until a schema-aware one is installed. */
  FieldTracker SIMPLE = new FieldTracker() {
    @Override
    public void recordCreate(ResourceDescriptor d, ObjectNode obj, WriteOptions opts, Instant now) {
      ManagedFields.recordCreate(obj, opts, now);
    }

    @Override
    public void recordUpdate(ResourceDescriptor d, ObjectNode next, ObjectNode old, WriteOptions opts, Instant now) {
      if (ResourceStore.sameIgnoringManagedFields(next, old)) {
        com.fasterxml.jackson.databind.JsonNode mf = old.path("metadata").get("managedFields");
        if (mf == null) {
          Meta.meta(next).remove("managedFields");
        } else {
          Meta.meta(next).set("managedFields", mf);
        }
        return;
      }
      ManagedFields.recordUpdate(next, old, opts, now);
    }
  };
}
