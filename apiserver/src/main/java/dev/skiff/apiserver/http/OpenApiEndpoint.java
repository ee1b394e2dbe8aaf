package dev.skiff.apiserver.http;

/** Serves /openapi/v3 (the index, for path "" or "/") and /openapi/v3/&lt;group-version path&gt;, and /openapi/v2. */
public interface OpenApiEndpoint {
  /** @return the JSON document, or null when there is none at {@code subPath} */
  byte[] document(String subPath);

  /**
   * The single /openapi/v2 document: gnostic {@code openapi.v2.Document} protobuf when {@code protobuf}, else
   * Swagger 2.0 JSON; null when the server does not publish v2.
   */
  default byte[] v2(boolean protobuf) {
    return null;
  }
}
