package dev.skiff.apiserver.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.WriteOptions;

/** Applies a PATCH body of a given media type to the current object, returning a new object. */
public interface PatchApplier {
  ObjectNode apply(String mediaType, ResourceDescriptor d, ObjectNode current, JsonNode patch);

  /**
   * With the writer's options and the {@code force} parameter, which server-side apply needs;
   * {@code current} is null when an apply creates the object.
   */
  default ObjectNode apply(String mediaType, ResourceDescriptor d, ObjectNode current, JsonNode patch,
      WriteOptions opts, boolean force) {
    return apply(mediaType, d, current, patch);
  }
}
