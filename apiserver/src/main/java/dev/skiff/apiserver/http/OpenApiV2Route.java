package dev.skiff.apiserver.http;

import dev.skiff.apiserver.api.ApiException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * GET /openapi/v2 and the legacy /swagger-2.0.0.pb-v1, which client-go's {@code OpenAPISchema()} falls back to on a
 * 404 or 406 ({@code client-go discovery/discovery_client.go}).
 *
 * <p>Content negotiation follows kube-openapi {@code pkg/handler/handler.go}: clauses in q order, a missing Accept
 * meaning {@code *}{@code /*}; JSON is offered before protobuf, so only a client naming the protobuf type (as client-go
 * does) gets it; nothing acceptable is a 406.
 */
final class OpenApiV2Route {
  static final String PROTO_ACCEPT = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf";
  /** What upstream answers in Content-Type: '@' is not a valid token character there. */
  static final String PROTO_CONTENT_TYPE = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf";

  private OpenApiV2Route() {
  }

  static boolean matches(String path) {
    return path.equals("/openapi/v2") || path.equals("/swagger-2.0.0.pb-v1");
  }

  static void serve(Exchange ex, OpenApiEndpoint openapi, String path) {
    if (path.equals("/swagger-2.0.0.pb-v1")) {
      send(ex, openapi.v2(true), "application/octet-stream");
      return;
    }
    Boolean protobuf = wantsProtobuf(ex.header("Accept"));
    if (protobuf == null) {
      throw ApiException.notAcceptable("only the following media types are accepted: application/json, "
          + PROTO_ACCEPT + ", " + PROTO_CONTENT_TYPE);
    }
    send(ex, openapi.v2(protobuf), protobuf ? PROTO_CONTENT_TYPE : "application/json");
  }

  /** true for protobuf, false for JSON, null when the client accepts neither. */
  static Boolean wantsProtobuf(String accept) {
    if (accept == null || accept.isBlank()) {
      return false;
    }
    record Clause(String type, double q) {
    }
    List<Clause> clauses = new ArrayList<>();
    for (String clause : accept.split(",")) {
      String[] parts = clause.trim().split(";");
      double q = 1;
      for (int i = 1; i < parts.length; i++) {
        String[] kv = parts[i].trim().split("=", 2);
        if (kv.length == 2 && kv[0].trim().equals("q")) {
          try {
            q = Double.parseDouble(kv[1].trim());
          } catch (NumberFormatException e) {
            q = 0;
          }
        }
      }
      clauses.add(new Clause(parts[0].trim().toLowerCase(Locale.ROOT), q));
    }
    clauses.sort(Comparator.comparingDouble(Clause::q).reversed()); // stable: equal q keep their order
    for (Clause c : clauses) {
      if (c.q() <= 0) {
        continue;
      }
      switch (c.type()) {
        case "application/json", "application/*", "*/*", "*" -> {
          return false;
        }
        case PROTO_ACCEPT, PROTO_CONTENT_TYPE -> {
          return true;
        }
        default -> {
        }
      }
    }
    return null;
  }

  private static void send(Exchange ex, byte[] doc, String contentType) {
    if (doc == null) {
      throw new ApiException(404, "NotFound", "the server could not find the requested resource",
          dev.skiff.apiserver.api.Json.object());
    }
    ex.send(200, contentType, doc);
  }
}
