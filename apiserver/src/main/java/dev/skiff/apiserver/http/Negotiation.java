package dev.skiff.apiserver.http;

import dev.skiff.apiserver.api.ApiException;
import java.util.Locale;

/**
 * The response shape a client asked for in its Accept header (apiserver
 * pkg/endpoints/handlers/negotiation): plain JSON, a meta.k8s.io Table, or PartialObjectMetadata.
 * Protobuf is accepted as a wish and answered with JSON, which client-go decodes by Content-Type.
 */
public record Negotiation(Shape shape) {
  public enum Shape { OBJECT, TABLE, PARTIAL_METADATA }

  public static final Negotiation JSON = new Negotiation(Shape.OBJECT);

  static Negotiation of(String accept) {
    if (accept == null || accept.isBlank()) {
      return JSON;
    }
    boolean anyJson = false;
    for (String clause : accept.split(",")) {
      String[] parts = clause.trim().split(";");
      String type = parts[0].trim().toLowerCase(Locale.ROOT);
      String as = null;
      String g = null;
      for (int i = 1; i < parts.length; i++) {
        String[] kv = parts[i].trim().split("=", 2);
        if (kv.length == 2) {
          if (kv[0].equals("as")) {
            as = kv[1];
          } else if (kv[0].equals("g")) {
            g = kv[1];
          }
        }
      }
      // Protobuf is answered as JSON: client-go picks its decoder from the response's Content-Type,
      // so a JSON answer works even for a client that offered only protobuf (a 406 would not).
      boolean json = type.equals("application/json") || type.equals("*/*") || type.equals("application/*")
          || type.equals("application/vnd.kubernetes.protobuf");
      if (!json) {
        continue;
      }
      if (as == null) {
        anyJson = true;
        break;
      }
      if ("meta.k8s.io".equals(g) && as.equals("Table")) {
        return new Negotiation(Shape.TABLE);
      }
      if ("meta.k8s.io".equals(g) && (as.equals("PartialObjectMetadata") || as.equals("PartialObjectMetadataList"))) {
        return new Negotiation(Shape.PARTIAL_METADATA);
      }
    }
    if (!anyJson && !accept.contains("application/yaml")) {
      throw ApiException.notAcceptable("only the following media types are accepted: application/json, application/yaml");
    }
    return JSON;
  }
}
