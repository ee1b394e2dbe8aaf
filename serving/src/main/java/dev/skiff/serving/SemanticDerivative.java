package dev.skiff.serving;

import com.fasterxml.jackson.databind.JsonNode;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.util.Iterator;
import java.util.Map;

/**
 * Whether an object the API server holds still says everything a controller wants it to say,
 * however much the server added (defaults, status): Kubernetes' {@code equality.Semantic.DeepDerivative}
 * (apimachinery third_party/forked/golang/reflect/deep_equal.go), which Knative's reconcilers use so
 * that defaulted fields do not make every resync an update. Unset or empty values in the desired
 * object match anything; objects match key by key; a desired list matches an actual list at least
 * as long whose leading elements match one by one; everything else must be equal.
 */
final class SemanticDerivative {
  private SemanticDerivative() {
  }

  /** True when every value set in {@code desired} is present and equal in {@code actual}. */
  static boolean of(Object desired, Object actual) {
    return derives(Serialization.jsonMapper().valueToTree(desired), Serialization.jsonMapper().valueToTree(actual));
  }

  static boolean derives(JsonNode desired, JsonNode actual) {
    if (desired == null || desired.isNull() || desired.isMissingNode() || desired.isContainerNode() && desired.isEmpty()
        || desired.isTextual() && desired.asText().isEmpty()) {
      return true;
    }
    if (actual == null || actual.isNull() || actual.isMissingNode()) {
      return false;
    }
    if (desired.isObject()) {
      if (!actual.isObject()) {
        return false;
      }
      for (Iterator<Map.Entry<String, JsonNode>> it = desired.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        if (!derives(e.getValue(), actual.get(e.getKey()))) {
          return false;
        }
      }
      return true;
    }
    if (desired.isArray()) {
      if (!actual.isArray() || desired.size() > actual.size()) {
        return false;
      }
      for (int i = 0; i < desired.size(); i++) {
        if (!derives(desired.get(i), actual.get(i))) {
          return false;
        }
      }
      return true;
    }
    if (desired.isNumber() && actual.isNumber()) {
      return desired.decimalValue().compareTo(actual.decimalValue()) == 0;
    }
    return desired.equals(actual);
  }
}
