package dev.skiff.apiserver.rbac;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.cache.CachedObject;
import dev.skiff.apiserver.cache.WatchFilter;
import dev.skiff.apiserver.cache.Watcher;
import dev.skiff.apiserver.registry.ResourceRegistry;
import dev.skiff.apiserver.registry.ResourceStore;
import dev.skiff.apiserver.registry.WriteOptions;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The ClusterRole aggregation controller (pkg/controller/clusterroleaggregation): a ClusterRole
 * with an aggregationRule gets as rules the union, without duplicates and in name order, of the
 * rules of every other ClusterRole its selectors match. Follows the clusterroles watch cache and
 * reconciles every aggregated role after each change until nothing moves.
 */
public final class ClusterRoleAggregator implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ClusterRoleAggregator.class);

  private final ResourceStore clusterRoles;
  private volatile boolean closed;
  private Thread thread;

  public ClusterRoleAggregator(ResourceRegistry registry) {
    this.clusterRoles = registry.storeForKind(RbacAuthorizer.GROUP, "ClusterRole");
  }

  public void start() {
    reconcileAll();
    thread = Thread.ofVirtual().name("clusterrole-aggregator").start(this::run);
  }

  private void run() {
    while (!closed) {
      try (Watcher w = clusterRoles.cache().watch(WatchFilter.ALL, 0, true).watcher()) {
        while (!closed && !w.isTerminated()) {
          Watcher.Item item = w.poll(5_000_000_000L);
          if (item == null) {
            continue;
          }
          while (w.pollNow() != null) {
            // coalesce a burst of changes into one pass
          }
          reconcileAll();
        }
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        LOG.warn("clusterrole aggregation: {}", e.toString());
      }
    }
  }

  /** Brings every aggregated ClusterRole up to date; repeats while roles feeding others change. */
  public void reconcileAll() {
    for (int pass = 0; pass < 5; pass++) {
      boolean changed = false;
      List<CachedObject> all = clusterRoles.list(WatchFilter.ALL, true).objects();
      for (CachedObject o : all) {
        ObjectNode role = Json.parseObject(o.json());
        JsonNode selectors = role.path("aggregationRule").path("clusterRoleSelectors");
        if (!selectors.isArray()) {
          continue;
        }
        Set<JsonNode> rules = new LinkedHashSet<>();
        for (CachedObject other : all) {
          if (other.name().equals(o.name()) || !selected(selectors, other.labels())) {
            continue;
          }
          for (JsonNode r : Json.parseObject(other.json()).path("rules")) {
            rules.add(r);
          }
        }
        ArrayNode want = Json.array();
        rules.forEach(want::add);
        if (want.equals(role.path("rules"))) {
          continue;
        }
        try {
          clusterRoles.guaranteedUpdate(null, o.name(), 0, cur -> {
            cur.set("rules", want.deepCopy());
            return cur;
          }, WriteOptions.internal("clusterrole-aggregation-controller"), false);
          changed = true;
        } catch (ApiException e) {
          LOG.debug("cannot aggregate {}: {}", o.name(), e.getMessage());
        }
      }
      if (!changed) {
        return;
      }
    }
  }

  /** Any selector matching means selected (the selectors are ORed). */
  static boolean selected(JsonNode selectors, Map<String, String> labels) {
    for (JsonNode s : selectors) {
      if (matches(s, labels)) {
        return true;
      }
    }
    return false;
  }

  /** metav1.LabelSelector semantics: matchLabels and every matchExpression must hold. */
  static boolean matches(JsonNode selector, Map<String, String> labels) {
    boolean any = false;
    var it = selector.path("matchLabels").fields();
    while (it.hasNext()) {
      var e = it.next();
      any = true;
      if (!e.getValue().asText().equals(labels.get(e.getKey()))) {
        return false;
      }
    }
    for (JsonNode ex : selector.path("matchExpressions")) {
      any = true;
      String key = ex.path("key").asText();
      Set<String> values = new LinkedHashSet<>();
      ex.path("values").forEach(v -> values.add(v.asText()));
      String have = labels.get(key);
      boolean ok = switch (ex.path("operator").asText()) {
        case "In" -> have != null && values.contains(have);
        case "NotIn" -> have == null || !values.contains(have);
        case "Exists" -> have != null;
        case "DoesNotExist" -> have == null;
        default -> false;
      };
      if (!ok) {
        return false;
      }
    }
    // An empty selector selects nothing for aggregation (upstream skips it: it would select all).
    return any;
  }

  @Override
  public void close() {
    closed = true;
    if (thread != null) {
      thread.interrupt();
    }
  }
}
