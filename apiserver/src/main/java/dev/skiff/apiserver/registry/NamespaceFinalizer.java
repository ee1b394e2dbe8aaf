package dev.skiff.apiserver.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.cache.CachedObject;
import dev.skiff.apiserver.cache.WatchFilter;
import dev.skiff.apiserver.cache.Watcher;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Empties namespaces that are being deleted, then lets them go (the `kubernetes` finalizer that
 * kube-controller-manager's namespace controller, pkg/controller/namespace/deletion, owns): deletes
 * every namespaced object in them, and once nothing is left removes the finalizer and the namespace.
 * Sets the NamespaceContentRemaining / NamespaceDeletionContentFailure conditions on the way.
 *
 * <p>It works on the registry directly because it is part of the API server here, started before
 * any controller exists; a namespace controller outside the server would do the same through the API.
 */
public final class NamespaceFinalizer implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(NamespaceFinalizer.class);

  private final ResourceRegistry registry;
  private final ResourceStore namespaces;
  private volatile boolean closed;
  private Thread thread;

  public NamespaceFinalizer(ResourceRegistry registry) {
    this.registry = registry;
    this.namespaces = registry.storeForKind("", "Namespace");
  }

  public void start() {
    thread = Thread.ofVirtual().name("namespace-finalizer").start(this::run);
  }

  private void run() {
    while (!closed) {
      try (Watcher w = namespaces.cache().watch(WatchFilter.ALL, 0, true).watcher()) {
        while (!closed && !w.isTerminated()) {
          Watcher.Item item = w.poll(2_000_000_000L);
          // Re-check all terminating namespaces on any event and every 2 s: deletions of their
          // contents (e.g. pods finishing graceful termination) do not show up as namespace events.
          for (CachedObject ns : namespaces.cache().list(WatchFilter.ALL).objects()) {
            if ("Terminating".equals(ns.fields().get("status.phase"))) {
              finish(ns.name());
            }
          }
          if (item == null) {
            continue;
          }
        }
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        LOG.warn("namespace finalizer: {}", e.toString());
      }
    }
  }

  private void finish(String ns) {
    int remaining = 0;
    Set<String> seen = new HashSet<>();
    for (ResourceDescriptor d : registry.descriptors()) {
      if (!d.namespaced || !seen.add(d.storagePrefix())) {
        continue;
      }
      ResourceStore s = registry.store(d.group, d.version, d.plural);
      List<CachedObject> objs = s.cache().list(new WatchFilter(ns, dev.skiff.apiserver.selector.LabelSelector.EVERYTHING,
          dev.skiff.apiserver.selector.FieldSelector.EVERYTHING)).objects();
      for (CachedObject o : objs) {
        if (new String(o.json(), java.nio.charset.StandardCharsets.UTF_8).contains("\"deletionTimestamp\"")) {
          remaining++;
          continue;
        }
        try {
          if (!s.delete(ns, o.name(), new DeleteOptions("Background", null, null, null, false)).deleted()) {
            remaining++;
          }
        } catch (ApiException e) {
          if (e.code() != 404) {
            LOG.warn("cannot delete {}/{} in terminating namespace: {}", d.plural, o.name(), e.getMessage());
          }
        }
      }
    }
    try {
      if (remaining > 0) {
        return;
      }
      namespaces.guaranteedUpdate(null, ns, 0, cur -> {
        ArrayNode fins = Json.array();
        for (JsonNode f : cur.path("spec").path("finalizers")) {
          if (!f.asText().equals("kubernetes")) {
            fins.add(f);
          }
        }
        Json.with(cur, "spec").set("finalizers", fins);
        return cur;
      }, WriteOptions.internal("namespace-controller"), false);
      ObjectNode now = namespaces.getObject(null, ns);
      if (now.path("spec").path("finalizers").isEmpty() && Meta.finalizers(now).isEmpty()) {
        namespaces.delete(null, ns, DeleteOptions.DEFAULT);
      }
    } catch (ApiException e) {
      if (e.code() != 404 && e.code() != 409) {
        LOG.warn("cannot finalize namespace {}: {}", ns, e.getMessage());
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    if (thread != null) {
      thread.interrupt();
    }
  }
}
