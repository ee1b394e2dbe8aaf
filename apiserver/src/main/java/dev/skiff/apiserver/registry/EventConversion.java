package dev.skiff.apiserver.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * events.k8s.io/v1 Event &lt;-&gt; core/v1 Event, field for field as upstream's conversion
 * (pkg/apis/events/v1/conversion.go): regarding/involvedObject, note/message,
 * deprecatedSource/source, deprecatedFirstTimestamp/firstTimestamp, deprecatedLastTimestamp/
 * lastTimestamp, deprecatedCount/count, reportingController/reportingComponent.
 */
final class EventConversion implements VersionConverter {
  private static final String[][] RENAMES = {
    {"regarding", "involvedObject"},
    {"note", "message"},
    {"deprecatedSource", "source"},
    {"deprecatedFirstTimestamp", "firstTimestamp"},
    {"deprecatedLastTimestamp", "lastTimestamp"},
    {"deprecatedCount", "count"},
    {"reportingController", "reportingComponent"},
  };

  @Override
  public ObjectNode toStorage(ObjectNode served) {
    ObjectNode out = rename(served, 0, 1);
    out.put("apiVersion", "v1");
    return out;
  }

  @Override
  public ObjectNode fromStorage(ObjectNode stored) {
    ObjectNode out = rename(stored, 1, 0);
    out.put("apiVersion", "events.k8s.io/v1");
    return out;
  }

  private static ObjectNode rename(ObjectNode in, int from, int to) {
    ObjectNode out = in.deepCopy();
    for (String[] r : RENAMES) {
      JsonNode v = out.remove(r[from]);
      if (v != null) {
        out.set(r[to], v);
      }
    }
    return out;
  }
}
