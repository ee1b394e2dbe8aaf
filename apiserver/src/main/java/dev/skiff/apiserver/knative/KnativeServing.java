package dev.skiff.apiserver.knative;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.cache.CachedObject;
import dev.skiff.apiserver.cache.WatchFilter;
import dev.skiff.apiserver.cache.Watcher;
import dev.skiff.apiserver.crd.CustomResources;
import dev.skiff.apiserver.registry.Meta;
import dev.skiff.apiserver.registry.ResourceRegistry;
import dev.skiff.apiserver.registry.ResourceStore;
import dev.skiff.apiserver.registry.WriteOptions;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Knative Serving's API inside the API server: installs the serving.knative.dev CRDs shipped in
 * {@code crds/serving.knative.dev.yaml} (Service, Configuration, Revision, Route), the v1alpha1
 * Service conversion and the Knative webhook rules (defaulting and validation) as an admission
 * plugin.
 *
 * <p>The CRDs are written before the CRD manager starts, so they are served from the first
 * request. A restart only compares a digest annotation ({@code skiff.dev/crd-digest}) with the
 * shipped file and parses nothing when they match; a stored CRD that differs (edited, or from an
 * older Skiff) is put back to the shipped one. Deleting one works as for any CRD (its objects go,
 * then the CRD), after which it is installed again, empty: the API never stays half-deleted or
 * missing. Thread-safe; {@link #close} stops the re-installing watch.
 */
public final class KnativeServing implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(KnativeServing.class);
  static final String RESOURCE = "crds/serving.knative.dev.yaml";
  static final String DIGEST = "skiff.dev/crd-digest";
  /** The CRDs installed, by name. */
  public static final Set<String> CRD_NAMES = Set.of("services.serving.knative.dev", "configurations.serving.knative.dev",
      "revisions.serving.knative.dev", "routes.serving.knative.dev");
  /** Knative's system namespace. */
  public static final String SYSTEM_NAMESPACE = "knative-serving";
  private static final long REINSTALL_DELAY_MS = 1000;
  private static final WriteOptions WRITER = WriteOptions.internal("skiff-knative-install");

  private final ResourceStore crds;
  private final byte[] shipped;
  private final String digest;
  private volatile List<ObjectNode> parsed;
  private volatile boolean closed;
  private Thread watch;

  private KnativeServing(ResourceRegistry registry) {
    this.crds = registry.store(CustomResources.CRD.group, CustomResources.CRD.version, CustomResources.CRD.plural);
    try (InputStream in = KnativeServing.class.getClassLoader().getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException(RESOURCE + " is missing from the classpath");
      }
      shipped = in.readAllBytes();
      digest = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(shipped)).substring(0, 16);
    } catch (IOException | NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /**
   * Registers the conversion and admission plugin and installs the CRDs; call before the CRD
   * manager starts. The returned object keeps re-installing deleted CRDs until closed.
   */
  public static KnativeServing install(ResourceRegistry registry, CustomResources crs) {
    long t0 = System.nanoTime();
    crs.addConversion(KnativeAdmission.GROUP, "services", new ServiceConversion());
    registry.addAdmission(new KnativeAdmission(registry));
    KnativeServing k = new KnativeServing(registry);
    ensureNamespace(registry);
    k.ensureAll();
    LOG.info("serving.knative.dev CRDs checked/installed in {} ms", (System.nanoTime() - t0) / 1_000_000);
    k.watch = Thread.ofVirtual().name("knative-crds").start(k::run);
    return k;
  }

  /**
   * Knative's system namespace, where its ConfigMaps live (config-domain, config-network,
   * config-defaults, config-gc, ...), created at start as Knative's install does, so every
   * component (controllers, gateway) and user finds it there.
   */
  private static void ensureNamespace(ResourceRegistry registry) {
    ResourceStore ns = registry.storeForKind("", "Namespace");
    if (ns == null || ns.cache().get(ns.descriptor().key(null, SYSTEM_NAMESPACE)) != null) {
      return;
    }
    ObjectNode obj = Json.object();
    obj.put("apiVersion", "v1");
    obj.put("kind", "Namespace");
    Json.with(Json.with(obj, "metadata").put("name", SYSTEM_NAMESPACE), "labels")
        .put("kubernetes.io/metadata.name", SYSTEM_NAMESPACE).put("app.kubernetes.io/name", "knative-serving");
    try {
      ns.create(null, obj, WRITER);
    } catch (ApiException e) {
      if (e.code() != 409) {
        LOG.warn("cannot create namespace {}: {}", SYSTEM_NAMESPACE, e.getMessage());
      }
    }
  }

  /** The shipped CRDs (parsed on first use). */
  List<ObjectNode> definitions() {
    List<ObjectNode> p = parsed;
    if (p == null) {
      try {
        p = new ArrayList<>();
        var parser = Json.yaml().getFactory().createParser(shipped);
        var it = Json.yaml().readValues(parser, ObjectNode.class);
        while (it.hasNext()) {
          ObjectNode crd = it.next();
          Json.with(Json.with(crd, "metadata"), "annotations").put(DIGEST, digest);
          p.add(crd);
        }
      } catch (IOException e) {
        throw new IllegalStateException("cannot read " + RESOURCE, e);
      }
      parsed = p;
    }
    return p;
  }

  private void ensureAll() {
    for (String name : CRD_NAMES) {
      try {
        ensure(name);
      } catch (RuntimeException e) {
        LOG.warn("cannot install {}: {}", name, e.toString());
      }
    }
  }

  /** Creates the CRD, or puts back the shipped spec when the stored one differs. */
  private void ensure(String name) {
    CachedObject current = crds.cache().get(crds.descriptor().key(null, name));
    if (current != null) {
      ObjectNode cur = Json.parseObject(current.json());
      if (Meta.deleting(cur) || digest.equals(cur.path("metadata").path("annotations").path(DIGEST).asText())) {
        return; // being deleted (installed again once gone), or already the shipped one
      }
    }
    ObjectNode want = null;
    for (ObjectNode d : definitions()) {
      if (name.equals(Meta.name(d))) {
        want = d;
      }
    }
    if (want == null) {
      throw new IllegalStateException(name + " is not in " + RESOURCE);
    }
    ObjectNode shippedCrd = want;
    if (current == null) {
      try {
        crds.create(null, shippedCrd.deepCopy(), WRITER);
        return;
      } catch (ApiException e) {
        if (e.code() != 409) {
          throw e;
        }
      }
    }
    crds.guaranteedUpdate(null, name, 0, cur -> {
      if (Meta.deleting(cur)) {
        return cur;
      }
      cur.set("spec", shippedCrd.get("spec").deepCopy());
      ObjectNode meta = Meta.meta(cur);
      Json.with(meta, "labels").setAll((ObjectNode) shippedCrd.path("metadata").path("labels"));
      Json.with(meta, "annotations").put(DIGEST, digest);
      return cur;
    }, WRITER, false);
  }

  private void run() {
    while (!closed) {
      try (Watcher w = crds.cache().watch(WatchFilter.ALL, crds.cache().revision(), false).watcher()) {
        ensureAll(); // anything deleted between install and this watch
        while (!closed && !w.isTerminated()) {
          Watcher.Item item = w.poll(1_000_000_000L);
          if (item != null && "DELETED".equals(item.type()) && CRD_NAMES.contains(item.object().name())) {
            LOG.info("{} was deleted: installing it again", item.object().name());
            // A moment later, so that clients waiting for the deletion (kubectl delete --wait)
            // observe the CRD gone before it is back.
            Thread.sleep(REINSTALL_DELAY_MS);
            ensure(item.object().name());
          }
        }
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        if (closed) {
          return;
        }
        LOG.warn("knative CRDs: {}", e.toString());
        try {
          Thread.sleep(500);
        } catch (InterruptedException ie) {
          return;
        }
      }
    }
  }

  @Override
  public void close() {
    closed = true;
    if (watch != null) {
      watch.interrupt();
    }
  }

}
