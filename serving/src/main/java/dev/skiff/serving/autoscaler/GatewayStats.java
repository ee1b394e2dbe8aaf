package dev.skiff.serving.autoscaler;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One reading of a gateway's measurements: cumulative counters per revision since the gateway
 * started, never reset by a read. A reader gets the traffic of a period by diffing two of its
 * own consecutive readings ({@link StatsMerger}), so any number of readers (a new leader, a
 * leader that has not noticed it lost its Lease yet) can read the same gateway without taking
 * each other's periods, unlike a "since the previous call" counter.
 *
 * <p>{@code instance} is a random id per gateway process: counters start from zero when it
 * changes, so a reader re-baselines instead of diffing across a restart. JSON form (what
 * {@code GET /.skiff/stats} answers):
 * <pre>{"instance":"…","revisions":{"ns/rev":{"requests":12,"concurrencyMs":3400.0,"sampledMs":9000,"inFlight":1}}}</pre>
 *
 * @param instance the gateway process's id
 * @param revisions counters by {@code namespace/revision}
 */
public record GatewayStats(String instance, Map<String, Counters> revisions) {
  private static final ObjectMapper JSON = new ObjectMapper();

  public GatewayStats {
    revisions = Map.copyOf(revisions);
  }

  /**
   * Cumulative counters of one revision in one gateway.
   *
   * @param requests requests started
   * @param concurrencyMs the integral over time of the requests in flight, in request-milliseconds
   * @param sampledMs the time the integral covers, in milliseconds
   * @param inFlight requests in flight now (held, queued or proxied)
   */
  public record Counters(long requests, double concurrencyMs, long sampledMs, int inFlight) {}

  public byte[] toJson() {
    ObjectNode root = JSON.createObjectNode();
    root.put("instance", instance);
    ObjectNode revs = root.putObject("revisions");
    revisions.forEach((k, c) -> revs.putObject(k).put("requests", c.requests()).put("concurrencyMs", c.concurrencyMs())
        .put("sampledMs", c.sampledMs()).put("inFlight", c.inFlight()));
    try {
      return JSON.writeValueAsBytes(root);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Parses {@link #toJson()}'s form; unknown fields are ignored. */
  public static GatewayStats fromJson(byte[] json) throws IOException {
    JsonNode root = JSON.readTree(json);
    if (root == null || !root.path("instance").isTextual() || !root.path("revisions").isObject()) {
      throw new IOException("not a gateway stats document");
    }
    Map<String, Counters> revs = new LinkedHashMap<>();
    root.path("revisions").properties().forEach(e -> {
      JsonNode c = e.getValue();
      revs.put(e.getKey(), new Counters(c.path("requests").asLong(), c.path("concurrencyMs").asDouble(),
          c.path("sampledMs").asLong(), c.path("inFlight").asInt()));
    });
    return new GatewayStats(root.path("instance").asText(), revs);
  }
}
