package dev.skiff.apiserver.registry;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Converts a served version to the storage version and back (e.g. events.k8s.io/v1 Event is
 * stored as core/v1 Event, as kube-apiserver stores both in /registry/events). Both methods return
 * new objects and leave their argument unchanged.
 */
public interface VersionConverter {
  ObjectNode toStorage(ObjectNode served);

  ObjectNode fromStorage(ObjectNode stored);
}
