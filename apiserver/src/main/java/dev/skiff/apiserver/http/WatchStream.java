package dev.skiff.apiserver.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.cache.CacheHub;
import dev.skiff.apiserver.cache.WatchCache;
import dev.skiff.apiserver.cache.WatchFilter;
import dev.skiff.apiserver.cache.Watcher;
import dev.skiff.apiserver.registry.ResourceStore;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ThreadLocalRandom;

/**
 * One watch request (apiserver pkg/endpoints/handlers/watch.go): a chunked stream of
 * {@code {"type":...,"object":...}} lines, flushed whenever the queue runs dry so bursts share a
 * write. Runs on the request's own virtual thread until the timeout, the client going away, or the
 * watcher being dropped for falling behind.
 */
final class WatchStream {
  private static final long BOOKMARK_NANOS = 60_000_000_000L;

  private final Exchange ex;
  private final ResourceStore store;
  private final WatchFilter filter;
  private final Negotiation neg;
  private final TableWriter tables;
  private final CacheHub hub;

  WatchStream(Exchange ex, ResourceStore store, WatchFilter filter, Negotiation neg, TableWriter tables, CacheHub hub) {
    this.ex = ex;
    this.store = store;
    this.filter = filter;
    this.neg = neg;
    this.tables = tables;
    this.hub = hub;
  }

  /** Serves the watch as a chunked HTTP response. */
  void run() throws IOException {
    run(new HttpSink(ex));
  }

  /** Serves the watch into {@code out}, which is closed at the end. */
  void run(FrameSink out) throws IOException {
    String rv = ex.param("resourceVersion");
    boolean sendInitial = ex.flag("sendInitialEvents");
    boolean bookmarks = ex.flag("allowWatchBookmarks");
    long timeoutSeconds = ResourceHandler.parseInt(ex.param("timeoutSeconds"), 0);
    if (timeoutSeconds <= 0) {
      // kube-apiserver: minRequestTimeout (1800 s) times a random factor in [1, 2).
      timeoutSeconds = 1800 + ThreadLocalRandom.current().nextLong(1800);
    }
    boolean initial;
    long from = 0;
    if (rv == null || rv.isEmpty() || rv.equals("0")) {
      initial = true;
      if (rv == null || rv.isEmpty()) {
        hub.awaitCurrent();
      }
    } else {
      from = ResourceHandler.parseRv(rv);
      hub.awaitRevision(from);
      initial = sendInitial;
    }
    if (ex.param("sendInitialEvents") != null && !sendInitial && (rv == null || rv.isEmpty())) {
      initial = false;
    }
    WatchCache.Start start;
    try {
      try {
        start = store.cache().watch(filter, from, initial);
      } catch (ApiException e) {
        // An expired resourceVersion is reported in-band as an ERROR event (watch_cache.go).
        write(out, frame("ERROR", Json.bytes(e.status())));
        out.flush();
        return;
      }
      try (Watcher w = start.watcher()) {
        // A client that closes its watch frees the watcher now, not at the next event.
        ex.onClientGone(w::close);
        long deadline = System.nanoTime() + timeoutSeconds * 1_000_000_000L;
        long lastSent = System.nanoTime();
        boolean firstTable = true;
        boolean initialPending = sendInitial && bookmarks;
        while (true) {
          long now = System.nanoTime();
          if (now >= deadline) {
            break;
          }
          Watcher.Item item = w.poll(Math.min(deadline - now, initialPending ? 1 : 1_000_000_000L));
          if (item == null) {
            if (w.isTerminated()) {
              break;
            }
            if (initialPending) {
              write(out, bookmark(true));
              out.flush();
              initialPending = false;
              lastSent = System.nanoTime();
            } else if (bookmarks && System.nanoTime() - lastSent > BOOKMARK_NANOS) {
              write(out, bookmark(false));
              out.flush();
              lastSent = System.nanoTime();
            }
            continue;
          }
          do {
            firstTable = send(out, item, firstTable);
            item = w.pollNow();
          } while (item != null);
          out.flush();
          lastSent = System.nanoTime();
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (IOException e) {
      // the client went away
    } finally {
      out.close();
    }
  }

  private boolean send(FrameSink out, Watcher.Item item, boolean firstTable) throws IOException {
    if (neg.shape() == Negotiation.Shape.TABLE) {
      byte[] table = tables.table(store, java.util.List.of(item.object()), firstTable, ex.param("includeObject"),
          Long.toString(item.object().resourceVersion()), null);
      write(out, frame(item.type(), table));
      return false;
    }
    if (neg.shape() == Negotiation.Shape.PARTIAL_METADATA || store.descriptor().converter != null) {
      byte[] obj = neg.shape() == Negotiation.Shape.PARTIAL_METADATA
          ? Json.bytes(TableWriter.partial(Json.parseObject(item.object().json()), "PartialObjectMetadata"))
          : ResourceHandler.served(store, item.object());
      write(out, frame(item.type(), obj));
      return firstTable;
    }
    write(out, item.event() == null ? frame(item.type(), item.object().json()) : item.frame());
    return firstTable;
  }

  private byte[] bookmark(boolean initialEnd) {
    ObjectNode o = Json.object();
    // The watch encoder transforms every event's object alike (handlers/watch.go), bookmarks
    // included: a metadata-only watcher gets PartialObjectMetadata bookmarks.
    boolean partial = neg.shape() == Negotiation.Shape.PARTIAL_METADATA;
    o.put("kind", partial ? "PartialObjectMetadata" : store.descriptor().kind);
    o.put("apiVersion", partial ? "meta.k8s.io/v1" : store.descriptor().apiVersion());
    ObjectNode m = o.putObject("metadata");
    m.put("resourceVersion", Long.toString(hub.revision()));
    if (initialEnd) {
      m.putObject("annotations").put("k8s.io/initial-events-end", "true");
    }
    return frame("BOOKMARK", Json.bytes(o));
  }

  static byte[] frame(String type, byte[] object) {
    return dev.skiff.apiserver.cache.CacheEvent.encode(type, object);
  }

  private static void write(FrameSink out, byte[] b) throws IOException {
    out.write(b);
  }

  /** Where watch frames go: a chunked HTTP body or WebSocket messages. */
  interface FrameSink {
    void write(byte[] frame) throws IOException;

    /** Sends what was written so far. */
    void flush() throws IOException;

    void close();
  }

  /** The chunked HTTP body. */
  private static final class HttpSink implements FrameSink {
    private final Exchange ex;
    private final OutputStream out;

    HttpSink(Exchange ex) throws IOException {
      this.ex = ex;
      // Buffered: Jetty turns every write on the raw stream into its own HTTP/2 frame and TLS
      // record; with a buffer a burst of events goes out as one write at the flush after it.
      this.out = new java.io.BufferedOutputStream(ex.stream(200, "application/json"), 32 * 1024);
      // Headers go out at once, as kube-apiserver's serveWatch flushes them: clients (kubectl
      // wait's informer) block until they arrive, even when no event is due for minutes.
      out.flush();
    }

    @Override
    public void write(byte[] frame) throws IOException {
      out.write(frame);
    }

    @Override
    public void flush() throws IOException {
      out.flush();
    }

    @Override
    public void close() {
      ex.endStream(out);
    }
  }
}
