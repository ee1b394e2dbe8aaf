package dev.skiff.apiserver.serviceaccount;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.cache.CachedObject;
import dev.skiff.apiserver.cache.WatchFilter;
import dev.skiff.apiserver.cache.Watcher;
import dev.skiff.apiserver.registry.ResourceRegistry;
import dev.skiff.apiserver.registry.ResourceStore;
import dev.skiff.apiserver.registry.WriteOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a {@code default} ServiceAccount in every active namespace (kube-controller-manager's
 * serviceaccounts controller, pkg/controller/serviceaccount/serviceaccounts_controller.go): follows
 * namespaces and service accounts, and re-creates the account when it is missing.
 */
public final class DefaultServiceAccounts implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(DefaultServiceAccounts.class);
  public static final String NAME = "default";

  private final ResourceStore namespaces;
  private final ResourceStore serviceAccounts;
  private volatile boolean closed;
  private Thread thread;

  public DefaultServiceAccounts(ResourceRegistry registry) {
    this.namespaces = registry.storeForKind("", "Namespace");
    this.serviceAccounts = registry.storeForKind("", "ServiceAccount");
  }

  public void start() {
    syncAll();
    thread = Thread.ofVirtual().name("serviceaccounts-controller").start(this::run);
  }

  private void run() {
    while (!closed) {
      try (Watcher ns = namespaces.cache().watch(WatchFilter.ALL, 0, true).watcher();
          Watcher sa = serviceAccounts.cache().watch(WatchFilter.ALL, 0, true).watcher()) {
        while (!closed && !ns.isTerminated() && !sa.isTerminated()) {
          Watcher.Item item = ns.poll(200_000_000L);
          boolean any = item != null;
          while (ns.pollNow() != null || sa.pollNow() != null) {
            any = true;
          }
          if (any) {
            syncAll();
          }
        }
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        LOG.warn("serviceaccounts controller: {}", e.toString());
      }
    }
  }

  /** Creates the default account of every active namespace that lacks one. */
  public void syncAll() {
    for (CachedObject n : namespaces.cache().list(WatchFilter.ALL).objects()) {
      if ("Terminating".equals(n.fields().get("status.phase"))) {
        continue;
      }
      ensure(n.name());
    }
  }

  /** Creates {@code default} in a namespace if it is missing. */
  public void ensure(String namespace) {
    if (serviceAccounts.cache().get(serviceAccounts.descriptor().key(namespace, NAME)) != null) {
      return;
    }
    ObjectNode sa = Json.object();
    sa.put("apiVersion", "v1");
    sa.put("kind", "ServiceAccount");
    sa.putObject("metadata").put("name", NAME).put("namespace", namespace);
    try {
      serviceAccounts.create(namespace, sa, WriteOptions.internal("kube-controller-manager"));
    } catch (ApiException e) {
      if (!"AlreadyExists".equals(e.reason()) && e.code() != 403 && e.code() != 404) {
        LOG.warn("cannot create default service account in {}: {}", namespace, e.getMessage());
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
