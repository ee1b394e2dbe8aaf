package dev.skiff.controllers.gc;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.http.HttpClient;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.HttpResponse;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * client-go's metadata client over the fabric8 HTTP client (its TLS and credentials): lists and
 * watches any resource as {@code meta.k8s.io/v1} PartialObjectMetadata by sending
 * {@code Accept: application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1} (lists) or
 * {@code ...as=PartialObjectMetadata...} (watches, gets), as
 * {@code staging/src/k8s.io/client-go/metadata/metadata.go} does, so the server never sends
 * specs or statuses. Also deletes objects and merge-patches their metadata, and reads discovery
 * documents. Thread-safe; blocking calls.
 */
public final class MetadataClient {
  static final String ACCEPT_OBJECT = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";
  static final String ACCEPT_LIST =
      "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
  private static final ObjectMapper MAPPER = new ObjectMapper();

  /** A non-2xx answer (or an ERROR watch event) with its HTTP code and Status message. */
  public static final class StatusException extends Exception {
    private final int code;

    public StatusException(int code, String message) {
      super(code + ": " + message);
      this.code = code;
    }

    public int code() {
      return code;
    }
  }

  /** One list: the items' metadata and the list's resourceVersion. */
  public record ListResult(List<ObjectMetadata> items, String resourceVersion) {}

  /** A watch event: ADDED, MODIFIED, DELETED or BOOKMARK (for which only resourceVersion is set). */
  public record WatchEvent(String type, ObjectMetadata object) {}

  private final HttpClient http;
  private final String base;

  public MetadataClient(KubernetesClient client) {
    this.http = client.getHttpClient();
    String url = client.getMasterUrl().toString();
    this.base = url.endsWith("/") ? url.substring(0, url.length() - 1) : url;
  }

  /** GETs a JSON document (discovery); null on 404. */
  public JsonNode getJson(String path) throws IOException, StatusException, InterruptedException {
    HttpResponse<byte[]> r = send(http.newHttpRequestBuilder().uri(base + path).setHeader("Accept", "application/json")
        .build());
    return r.code() == 404 ? null : MAPPER.readTree(ok(r));
  }

  /** The metadata of one object; null if it does not exist. */
  public ObjectMetadata get(ApiResource r, String namespace, String name)
      throws IOException, StatusException, InterruptedException {
    HttpResponse<byte[]> resp = send(http.newHttpRequestBuilder().uri(base + r.objectPath(namespace, name))
        .setHeader("Accept", ACCEPT_OBJECT).build());
    return resp.code() == 404 ? null : ObjectMetadata.of(MAPPER.readTree(ok(resp)));
  }

  /** Lists every object of {@code r} in all namespaces (from the watch cache: resourceVersion=0). */
  public ListResult list(ApiResource r) throws IOException, StatusException, InterruptedException {
    HttpResponse<byte[]> resp = send(http.newHttpRequestBuilder().uri(base + r.collectionPath() + "?resourceVersion=0")
        .setHeader("Accept", ACCEPT_LIST).build());
    JsonNode list = MAPPER.readTree(ok(resp));
    List<ObjectMetadata> items = new ArrayList<>(list.path("items").size());
    list.path("items").forEach(i -> items.add(ObjectMetadata.of(i)));
    return new ListResult(items, list.path("metadata").path("resourceVersion").asText());
  }

  /**
   * Watches {@code r} from {@code resourceVersion} (with bookmarks) and hands each event to
   * {@code sink} until the server ends the watch (normal: returns) or {@code onOpen}'s stream is
   * closed by the caller. An ERROR event throws its Status code (410 = relist).
   *
   * @param onOpen receives the response stream as soon as it is open, so another thread can
   *     close it to stop the watch
   */
  public void watch(ApiResource r, String resourceVersion, int timeoutSeconds, Consumer<InputStream> onOpen,
      Consumer<WatchEvent> sink) throws IOException, StatusException, InterruptedException {
    String uri = base + r.collectionPath() + "?watch=true&allowWatchBookmarks=true&resourceVersion="
        + URLEncoder.encode(resourceVersion, StandardCharsets.UTF_8) + "&timeoutSeconds=" + timeoutSeconds;
    HttpRequest req = http.newHttpRequestBuilder().uri(uri).setHeader("Accept", ACCEPT_OBJECT).forStreaming().build();
    HttpResponse<InputStream> resp = await(http.sendAsync(req, InputStream.class));
    try (InputStream in = resp.body()) {
      if (!resp.isSuccessful()) {
        throw new StatusException(resp.code(), new String(in.readAllBytes(), StandardCharsets.UTF_8));
      }
      onOpen.accept(in);
      try (MappingIterator<JsonNode> events = MAPPER.readerFor(JsonNode.class).readValues(in)) {
        while (events.hasNextValue()) {
          JsonNode e = events.nextValue();
          String type = e.path("type").asText();
          if ("ERROR".equals(type)) {
            throw new StatusException(e.path("object").path("code").asInt(500), e.path("object").path("message").asText());
          }
          sink.accept(new WatchEvent(type, ObjectMetadata.of(e.path("object"))));
        }
      }
    }
  }

  /**
   * Deletes one object with a propagation policy, preconditioned on its UID (a newer object of
   * the same name is never deleted). False if it was already gone or replaced.
   */
  public boolean delete(ApiResource r, String namespace, String name, String uid, String propagationPolicy)
      throws IOException, StatusException, InterruptedException {
    ObjectNode opts = JsonNodeFactory.instance.objectNode();
    opts.put("kind", "DeleteOptions").put("apiVersion", "v1").put("propagationPolicy", propagationPolicy);
    opts.putObject("preconditions").put("uid", uid);
    HttpResponse<byte[]> resp = send(http.newHttpRequestBuilder().uri(base + r.objectPath(namespace, name))
        .setHeader("Accept", "application/json").delete("application/json", opts.toString()).build());
    if (resp.code() == 404 || resp.code() == 409) {
      return false;
    }
    ok(resp);
    return true;
  }

  /** Applies a JSON merge patch; false on 404. A 409 (resourceVersion precondition) throws. */
  public boolean mergePatch(ApiResource r, String namespace, String name, JsonNode patch)
      throws IOException, StatusException, InterruptedException {
    HttpResponse<byte[]> resp = send(http.newHttpRequestBuilder().uri(base + r.objectPath(namespace, name))
        .setHeader("Accept", "application/json").patch("application/merge-patch+json", patch.toString()).build());
    if (resp.code() == 404) {
      return false;
    }
    ok(resp);
    return true;
  }

  private HttpResponse<byte[]> send(HttpRequest req) throws IOException, InterruptedException {
    return await(http.sendAsync(req, byte[].class));
  }

  private static <T> T await(java.util.concurrent.CompletableFuture<T> f) throws IOException, InterruptedException {
    try {
      return f.get(60, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      throw c instanceof IOException io ? io : new IOException(c);
    } catch (java.util.concurrent.TimeoutException e) {
      f.cancel(true);
      throw new InterruptedIOException("request timed out");
    }
  }

  private static byte[] ok(HttpResponse<byte[]> r) throws StatusException {
    if (!r.isSuccessful()) {
      byte[] b = r.body();
      String msg = b == null ? "" : new String(b, StandardCharsets.UTF_8);
      try {
        msg = MAPPER.readTree(b).path("message").asText(msg);
      } catch (IOException | RuntimeException e) {
        // not a Status: keep the raw body
      }
      throw new StatusException(r.code(), msg);
    }
    return r.body();
  }
}
