package dev.skiff.apiserver.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.Json;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;

/** Reading and writing {@code metadata} fields of JSON objects. */
public final class Meta {
  private Meta() {}

  public static ObjectNode meta(ObjectNode obj) {
    return Json.with(obj, "metadata");
  }

  public static String name(JsonNode obj) {
    return Json.text(obj.path("metadata"), "name");
  }

  public static String namespace(JsonNode obj) {
    return Json.text(obj.path("metadata"), "namespace");
  }

  public static String uid(JsonNode obj) {
    return Json.text(obj.path("metadata"), "uid");
  }

  public static String resourceVersion(JsonNode obj) {
    return Json.text(obj.path("metadata"), "resourceVersion");
  }

  public static boolean deleting(JsonNode obj) {
    JsonNode t = obj.path("metadata").get("deletionTimestamp");
    return t != null && !t.isNull();
  }

  public static List<String> finalizers(JsonNode obj) {
    List<String> out = new ArrayList<>();
    for (JsonNode f : obj.path("metadata").path("finalizers")) {
      out.add(f.asText());
    }
    return out;
  }

  public static void setFinalizers(ObjectNode obj, List<String> finalizers) {
    ObjectNode m = meta(obj);
    if (finalizers.isEmpty()) {
      m.remove("finalizers");
    } else {
      ArrayNode a = m.putArray("finalizers");
      finalizers.forEach(a::add);
    }
  }

  /** metav1.Time: RFC 3339 in UTC with second precision. */
  public static String time(Instant t) {
    return DateTimeFormatter.ISO_INSTANT.format(t.truncatedTo(ChronoUnit.SECONDS));
  }

  /** metav1.MicroTime: RFC 3339 with microseconds (leases, events.k8s.io eventTime). */
  public static String microTime(Instant t) {
    return DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSS'Z'").withZone(java.time.ZoneOffset.UTC)
        .format(t.truncatedTo(ChronoUnit.MICROS));
  }
}
