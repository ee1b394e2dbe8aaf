package dev.skiff.kubelet;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes pod status to the API only when it changed (pkg/kubelet/status/status_manager.go
 * needsUpdate): against what this agent last wrote, and against the object's current status
 * (so a restarted agent does not rewrite what is already there). Writes are merge patches of
 * the status subresource; lists (conditions, containerStatuses) are replaced whole.
 * Thread-safe; called from pod workers.
 */
final class StatusManager {
  private static final Logger log = LoggerFactory.getLogger(StatusManager.class);

  private final KubernetesClient client;
  private final Map<String, String> written = new ConcurrentHashMap<>();
  private final java.util.concurrent.atomic.AtomicLong writes = new java.util.concurrent.atomic.AtomicLong();

  StatusManager(KubernetesClient client) {
    this.client = client;
  }

  void update(Pod pod, PodStatus status) {
    String uid = pod.getMetadata().getUid();
    String json = Serialization.asJson(status);
    if (json.equals(written.get(uid))) {
      return;
    }
    if (pod.getStatus() != null && json.equals(Serialization.asJson(pod.getStatus()))) {
      written.put(uid, json);
      return;
    }
    try {
      client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName())
          .subresource("status").patch(PatchContext.of(PatchType.JSON_MERGE), "{\"status\":" + json + "}");
      written.put(uid, json);
      writes.incrementAndGet();
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404) {
        log.debug("pod {} is gone; status not written", pod.getMetadata().getName());
        return;
      }
      throw e;
    }
  }

  /** Number of status writes so far (for tests and figures). */
  long writes() {
    return writes.get();
  }

  void forget(String uid) {
    written.remove(uid);
  }
}
