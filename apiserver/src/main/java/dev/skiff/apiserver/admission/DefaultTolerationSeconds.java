package dev.skiff.apiserver.admission;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.registry.Admission;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.WriteOptions;

/**
 * The DefaultTolerationSeconds admission plugin
 * ({@code plugin/pkg/admission/defaulttolerationseconds/admission.go}): a new pod without a
 * toleration for the {@code node.kubernetes.io/not-ready} (or {@code unreachable}) NoExecute taint
 * gets one with {@code tolerationSeconds: 300}, so the node lifecycle controller's taint eviction
 * removes it five minutes after its node goes not-ready or unreachable rather than at once. A
 * toleration with an empty key (all taints) or an empty effect (all effects) counts as present.
 * Stateless, thread-safe.
 */
public final class DefaultTolerationSeconds implements Admission {
  static final String NOT_READY = "node.kubernetes.io/not-ready";
  static final String UNREACHABLE = "node.kubernetes.io/unreachable";
  /** --default-not-ready-toleration-seconds and --default-unreachable-toleration-seconds. */
  public static final long DEFAULT_SECONDS = 300;

  private final long notReadySeconds;
  private final long unreachableSeconds;

  public DefaultTolerationSeconds() {
    this(DEFAULT_SECONDS, DEFAULT_SECONDS);
  }

  public DefaultTolerationSeconds(long notReadySeconds, long unreachableSeconds) {
    this.notReadySeconds = notReadySeconds;
    this.unreachableSeconds = unreachableSeconds;
  }

  @Override
  public void admit(ResourceDescriptor resource, ObjectNode obj, ObjectNode old, WriteOptions options) {
    if (old != null || !resource.group.isEmpty() || !resource.kind.equals("Pod")) {
      return;
    }
    ObjectNode spec = Json.with(obj, "spec");
    boolean notReady = false;
    boolean unreachable = false;
    JsonNode existing = spec.get("tolerations");
    if (existing != null && existing.isArray()) {
      for (JsonNode t : existing) {
        String key = t.path("key").asText("");
        String effect = t.path("effect").asText("");
        boolean noExecute = effect.isEmpty() || effect.equals("NoExecute");
        notReady |= (key.isEmpty() || key.equals(NOT_READY)) && noExecute;
        unreachable |= (key.isEmpty() || key.equals(UNREACHABLE)) && noExecute;
      }
    }
    if (notReady && unreachable) {
      return;
    }
    ArrayNode list = existing != null && existing.isArray() ? (ArrayNode) existing : spec.putArray("tolerations");
    if (!notReady) {
      list.addObject().put("key", NOT_READY).put("operator", "Exists").put("effect", "NoExecute")
          .put("tolerationSeconds", notReadySeconds);
    }
    if (!unreachable) {
      list.addObject().put("key", UNREACHABLE).put("operator", "Exists").put("effect", "NoExecute")
          .put("tolerationSeconds", unreachableSeconds);
    }
  }
}
