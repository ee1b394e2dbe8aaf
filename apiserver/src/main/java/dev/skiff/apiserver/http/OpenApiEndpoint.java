package dev.skiff.apiserver.http;

/** Serves /openapi/v3 (the index, for path "" or "/") and /openapi/v3/&lt;group-version path&gt;. */
public interface OpenApiEndpoint {
  /** @return the JSON document, or null when there is none at {@code subPath} */
  byte[] document(String subPath);
}
