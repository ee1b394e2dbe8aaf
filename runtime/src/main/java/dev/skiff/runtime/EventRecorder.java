package dev.skiff.runtime;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.EventBuilder;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ObjectReference;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Records core/v1 Events about objects, as client-go's legacy recorder does
 * ({@code tools/record/event.go}, {@code events_cache.go}): {@code source.component} and
 * {@code reportingComponent} are the component name; an event identical to one already recorded
 * (same object, type, reason, message) patches that Event's {@code count} and
 * {@code lastTimestamp} instead of creating a new one (an LRU of 4096 entries remembers them).
 *
 * <p>{@link #event} never blocks on the API server: writes happen in order on one virtual thread,
 * and failures are logged, never thrown, since events are best-effort. Thread-safe.
 */
public final class EventRecorder implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EventRecorder.class);
  private static final int CACHE_SIZE = 4096;
  private static final DateTimeFormatter RFC3339 = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss'Z'").withZone(ZoneOffset.UTC);

  public static final String NORMAL = "Normal";
  public static final String WARNING = "Warning";

  private record Seen(String namespace, String name, int count) {}

  private final KubernetesClient client;
  private final String component;
  private final String host;
  private final Clock clock;
  private final ExecutorService writer = Executors.newSingleThreadExecutor(Thread.ofVirtual().name("event-recorder").factory());
  private long lastNanos; // only touched on the writer thread
  private final Map<String, Seen> seen = new LinkedHashMap<>(16, 0.75f, true) {
    @Override
    protected boolean removeEldestEntry(Map.Entry<String, Seen> eldest) {
      return size() > CACHE_SIZE;
    }
  };

  public EventRecorder(KubernetesClient client, String component) {
    this(client, component, null, Clock.system());
  }

  /** {@code host} goes to source.host and reportingInstance; may be null. */
  public EventRecorder(KubernetesClient client, String component, String host, Clock clock) {
    this.client = client;
    this.component = component;
    this.host = host;
    this.clock = clock;
  }

  /**
   * Records an event about {@code obj}; {@code type} is {@link #NORMAL} or {@link #WARNING}
   * (others are logged and dropped); {@code reason} is UpperCamelCase; the message is
   * {@code String.format(messageFormat, args)}.
   */
  public void event(HasMetadata obj, String type, String reason, String messageFormat, Object... args) {
    if (!NORMAL.equals(type) && !WARNING.equals(type)) {
      log.error("unsupported event type '{}' for reason {}", type, reason);
      return;
    }
    String message = args.length == 0 ? messageFormat : String.format(messageFormat, args);
    ObjectReference ref = new ObjectReferenceBuilder()
        .withApiVersion(obj.getApiVersion())
        .withKind(obj.getKind())
        .withNamespace(obj.getMetadata().getNamespace())
        .withName(obj.getMetadata().getName())
        .withUid(obj.getMetadata().getUid())
        .withResourceVersion(obj.getMetadata().getResourceVersion())
        .build();
    long nowMillis = clock.currentTimeMillis();
    try {
      writer.submit(() -> write(ref, type, reason, message, nowMillis));
    } catch (java.util.concurrent.RejectedExecutionException e) {
      log.debug("event recorder closed; dropping {} {}", reason, message);
    }
  }

  /** Waits until every event recorded so far has been written (or failed). */
  public void flush() throws Exception {
    Future<?> f = writer.submit(() -> { });
    f.get(30, TimeUnit.SECONDS);
  }

  private void write(ObjectReference ref, String type, String reason, String message, long nowMillis) {
    // events_cache.go getEventKey: source, involved object, type, reason, message.
    String key = String.join("\u0000", component, String.valueOf(host), ref.getApiVersion(), ref.getKind(),
        String.valueOf(ref.getNamespace()), ref.getName(), String.valueOf(ref.getUid()), type, reason, message);
    String now = RFC3339.format(Instant.ofEpochMilli(nowMillis));
    Seen prior = seen.get(key);
    if (prior != null) {
      int count = prior.count + 1;
      try {
        client.v1().events().inNamespace(prior.namespace).withName(prior.name)
            .patch(PatchContext.of(PatchType.STRATEGIC_MERGE),
                "{\"count\":" + count + ",\"lastTimestamp\":\"" + now + "\",\"message\":" + quote(message) + "}");
        seen.put(key, new Seen(prior.namespace, prior.name, count));
        return;
      } catch (KubernetesClientException e) {
        if (e.getCode() != 404) {
          log.warn("could not update event {}/{}: {}", prior.namespace, prior.name, e.getMessage());
          return;
        }
        // The event expired (TTL) or was deleted: record a fresh one.
      }
    }
    // Events about cluster-scoped objects live in "default" (event.go makeEvent).
    String namespace = ref.getNamespace() == null || ref.getNamespace().isEmpty() ? "default" : ref.getNamespace();
    // event.go names events <object>.<hex unix nanos>; strictly increasing so two events about
    // one object in the same millisecond do not collide.
    lastNanos = Math.max(lastNanos + 1, nowMillis * 1_000_000L);
    String name = ref.getName() + "." + Long.toHexString(lastNanos);
    Event event = new EventBuilder()
        .withNewMetadata().withName(name).withNamespace(namespace).endMetadata()
        .withInvolvedObject(ref)
        .withType(type)
        .withReason(reason)
        .withMessage(message)
        .withNewSource().withComponent(component).withHost(host).endSource()
        .withReportingComponent(component)
        .withReportingInstance(host == null ? "" : host)
        .withFirstTimestamp(now)
        .withLastTimestamp(now)
        .withCount(1)
        .build();
    try {
      client.v1().events().inNamespace(namespace).resource(event).create();
      seen.put(key, new Seen(namespace, name, 1));
    } catch (KubernetesClientException e) {
      log.warn("could not record event {} about {}/{}: {}", reason, namespace, ref.getName(), e.getMessage());
    }
  }

  private static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        default -> {
          if (c < 0x20) {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"').toString();
  }

  /** Writes what is pending, then stops accepting events. */
  @Override
  public void close() {
    writer.shutdown();
    try {
      writer.awaitTermination(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
