package dev.skiff.apiserver.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.registry.ResourceDescriptor;

/** Applies a PATCH body of a given media type to the current object, returning a new object. */
public interface PatchApplier {
  ObjectNode apply(String mediaType, ResourceDescriptor d, ObjectNode current, JsonNode patch);
}
