package dev.skiff.apiserver.registry;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import java.util.List;

/**
 * What differs between kinds when objects are written (apiserver pkg/registry/rest
 * RESTCreateStrategy / RESTUpdateStrategy): status reset on create, defaulting, validation.
 * The default methods are right for a plain object.
 */
public interface ResourceStrategy {
  /** Clears what a client may not set at create (e.g. status) and fills server-owned fields. */
  default void prepareForCreate(ResourceDescriptor d, ObjectNode obj) {}

  default void prepareForUpdate(ResourceDescriptor d, ObjectNode obj, ObjectNode old) {}

  /** Applies defaults (idempotent). */
  default void applyDefaults(ResourceDescriptor d, ObjectNode obj) {}

  /** Field problems making the object invalid (empty when valid). */
  default List<ApiException.Cause> validate(ResourceDescriptor d, ObjectNode obj, ObjectNode old) {
    return List.of();
  }
}
