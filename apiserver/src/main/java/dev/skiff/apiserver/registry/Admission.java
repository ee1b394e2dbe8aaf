package dev.skiff.apiserver.registry;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A mutating-then-validating admission step run by the registry on every create and update,
 * after defaulting and before storage (kube-apiserver's admission chain). Throwing an
 * {@link dev.skiff.apiserver.api.ApiException} rejects the request and nothing is stored.
 */
public interface Admission {
  /** @param old null on create */
  void admit(ResourceDescriptor resource, ObjectNode obj, ObjectNode old, WriteOptions options);
}
