package dev.skiff.kubelet;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.http.HttpResponse;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
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
    // One PATCH request: fabric8's patch() GETs the object first, doubling the API traffic.
    // The uid in the patch is a precondition: a recreated pod of the same name is not touched.
    String body = "{\"metadata\":{\"uid\":\"" + uid + "\"},\"status\":" + json + "}";
    String url = client.getMasterUrl().toString().replaceAll("/$", "") + "/api/v1/namespaces/"
        + pod.getMetadata().getNamespace() + "/pods/" + pod.getMetadata().getName() + "/status";
    var http = client.getHttpClient();
    var req = http.newHttpRequestBuilder().uri(url)
        .method("PATCH", "application/merge-patch+json", body).build();
    HttpResponse<String> resp;
    try {
      resp = http.sendAsync(req, String.class).get(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new KubernetesClientException("interrupted writing pod status");
    } catch (ExecutionException | TimeoutException e) {
      throw new KubernetesClientException("writing status of pod " + pod.getMetadata().getName() + ": " + e);
    }
    if (resp.code() == 404) {
      log.debug("pod {} is gone; status not written", pod.getMetadata().getName());
      return;
    }
    if (resp.code() >= 300) {
      throw new KubernetesClientException("writing status of pod " + pod.getMetadata().getName() + ": "
          + resp.code() + " " + resp.body(), resp.code(), null);
    }
    written.put(uid, json);
    writes.incrementAndGet();
  }

  /** Number of status writes so far (for tests and figures). */
  long writes() {
    return writes.get();
  }

  void forget(String uid) {
    written.remove(uid);
  }
}
