package dev.skiff.apiserver.registry;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Side effects a resource needs around its writes, such as allocating a Service's clusterIP and
 * nodePorts (apiserver pkg/registry/generic/registry/store.go BeginCreate, BeginUpdate and
 * AfterDelete). A begin hook runs after defaulting, admission and validation, right before the
 * write; it may still change the object or reject the write with an
 * {@link dev.skiff.apiserver.api.ApiException}. The {@link Finish} it returns is called exactly
 * once, with whether the write was committed, so that a failed or dry-run write undoes the hook's
 * work. Implementations must be thread-safe: writes run concurrently.
 */
public interface WriteHooks {
  /** Completes a begin hook: {@code committed} is false when nothing was stored. */
  @FunctionalInterface
  interface Finish {
    void finish(boolean committed);
  }

  Finish NOTHING = committed -> { };

  WriteHooks NONE = new WriteHooks() { };

  default Finish beginCreate(ObjectNode obj, WriteOptions opts) {
    return NOTHING;
  }

  default Finish beginUpdate(ObjectNode obj, ObjectNode old, WriteOptions opts) {
    return NOTHING;
  }

  /** Called after the object is gone from storage. */
  default void afterDelete(ObjectNode obj) { }
}
