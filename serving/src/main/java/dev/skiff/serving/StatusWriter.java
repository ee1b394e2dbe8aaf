package dev.skiff.serving;

import dev.skiff.runtime.Result;
import dev.skiff.serving.v1.Knative;
import dev.skiff.serving.v1.Status;
import io.fabric8.kubernetes.client.CustomResource;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.Objects;

/**
 * Writes a Knative object's status through its status subresource, and only when it changed
 * (every reconciler computes the whole status each time; an unchanged one costs no request).
 * A conflict or a vanished object requeues the key: the next reconcile starts from fresh state.
 */
final class StatusWriter {
  private StatusWriter() {}

  /**
   * @param written run after a successful write (not when nothing changed), e.g. for an event
   */
  static <T extends CustomResource<?, Status>> Result write(KubernetesClient client, Class<T> type, T obj, Status status,
      Runnable written) {
    if (Objects.equals(Serialization.asJson(status), Serialization.asJson(obj.getStatus()))) {
      return Result.done();
    }
    T next = Knative.copy(obj);
    next.setStatus(status);
    try {
      client.resources(type).inNamespace(obj.getMetadata().getNamespace()).resource(next).updateStatus();
    } catch (KubernetesClientException e) {
      if (e.getCode() == 409 || e.getCode() == 404) {
        return Result.requeue();
      }
      throw e;
    }
    if (written != null) {
      written.run();
    }
    return Result.done();
  }
}
