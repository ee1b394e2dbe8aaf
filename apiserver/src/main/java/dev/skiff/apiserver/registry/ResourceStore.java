package dev.skiff.apiserver.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.api.StoredObjects;
import dev.skiff.apiserver.cache.CacheHub;
import dev.skiff.apiserver.cache.CachedObject;
import dev.skiff.apiserver.cache.WatchCache;
import dev.skiff.apiserver.cache.WatchFilter;
import dev.skiff.store.KeyValue;
import dev.skiff.store.KeyValueStore;
import dev.skiff.store.TxnResult;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.UUID;
import java.util.function.UnaryOperator;

/**
 * The generic registry for one resource (apiserver pkg/registry/generic/registry/store.go): object
 * semantics on top of the revisioned store. Reads come from the watch cache (after waiting for it
 * to reflect every acknowledged write, so a client always reads its own writes); writes go to the
 * store with a modRevision precondition, so concurrent writers get 409 Conflict instead of lost
 * updates. Thread-safe.
 */
public final class ResourceStore {
  private static final int MAX_OBJECT_BYTES = 1_572_864; // 1.5 MiB, etcd's default request limit
  private static final char[] NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789".toCharArray();
  private static final SecureRandom RANDOM = new SecureRandom();

  private final ResourceDescriptor d;
  private final KeyValueStore kv;
  private final CacheHub hub;
  private final WatchCache cache;
  private final ResourceStrategy strategy;
  private final Admission admission;
  private final Clock clock;
  private volatile FieldTracker fieldTracker = dev.skiff.apiserver.ssa.FieldManager.untyped();
  private volatile WriteHooks hooks = WriteHooks.NONE;

  public ResourceStore(ResourceDescriptor d, KeyValueStore kv, CacheHub hub, WatchCache cache,
      ResourceStrategy strategy, Admission admission, Clock clock) {
    this.d = d;
    this.kv = kv;
    this.hub = hub;
    this.cache = cache;
    this.strategy = strategy;
    this.admission = admission;
    this.clock = clock;
  }

  /** Installs the managedFields tracker (ResourceRegistry.setFieldTracker). */
  void setFieldTracker(FieldTracker t) {
    this.fieldTracker = t;
  }

  /** Installs this resource's write side effects (e.g. Service IP and port allocation). */
  public void setWriteHooks(WriteHooks h) {
    this.hooks = Objects.requireNonNull(h);
  }

  public ResourceDescriptor descriptor() {
    return d;
  }

  public WatchCache cache() {
    return cache;
  }

  // ---------------------------------------------------------------- reads

  /** The current object (consistent read) as cached bytes. */
  public CachedObject get(String namespace, String name) {
    hub.awaitCurrent();
    CachedObject o = cache.get(d.key(namespace, name));
    if (o == null) {
      throw ApiException.notFound(d.group, d.plural, name);
    }
    return o;
  }

  /** The current object parsed, in the served version. */
  public ObjectNode getObject(String namespace, String name) {
    return served(Json.parseObject(get(namespace, name).json()));
  }

  public WatchCache.Snapshot list(WatchFilter filter, boolean consistent) {
    if (consistent) {
      hub.awaitCurrent();
    }
    return cache.list(filter);
  }

  /** Stored JSON in the served version (identity unless this version converts). */
  public ObjectNode served(ObjectNode stored) {
    return d.converter == null ? stored : d.converter.fromStorage(stored);
  }

  private ObjectNode toStorage(ObjectNode served) {
    return d.converter == null ? served : d.converter.toStorage(served);
  }

  // ---------------------------------------------------------------- create

  public ObjectNode create(String namespace, ObjectNode obj, WriteOptions opts) {
    ObjectNode meta = Meta.meta(obj);
    if (d.namespaced) {
      String bodyNs = Json.text(meta, "namespace");
      if (bodyNs != null && !bodyNs.isEmpty() && !bodyNs.equals(namespace)) {
        throw ApiException.badRequest("the namespace of the provided object does not match the namespace sent on the request");
      }
      meta.put("namespace", namespace);
    } else {
      meta.remove("namespace");
    }
    String name = Json.text(meta, "name");
    if (name == null || name.isEmpty()) {
      String gen = Json.text(meta, "generateName");
      if (gen == null || gen.isEmpty()) {
        throw ApiException.invalid(d.group, d.kind, "",
            List.of(ApiException.Cause.required("metadata.name")));
      }
      name = generateName(gen);
      meta.put("name", name);
    }
    obj.put("apiVersion", d.apiVersion());
    obj.put("kind", d.kind);
    meta.remove("resourceVersion");
    meta.put("uid", UUID.randomUUID().toString());
    meta.put("creationTimestamp", Meta.time(clock.instant()));
    meta.remove("deletionTimestamp");
    meta.remove("deletionGracePeriodSeconds");
    if (d.generation) {
      meta.put("generation", 1);
    } else {
      meta.remove("generation");
    }
    strategy.prepareForCreate(d, obj);
    strategy.applyDefaults(d, obj);
    admission.admit(d, obj, null, opts);
    validate(obj, null);
    fieldTracker.recordCreate(d, obj, opts, clock.instant());
    WriteHooks.Finish finish = hooks.beginCreate(obj, opts);
    boolean committed = false;
    try {
      if (opts.dryRun()) {
        return obj;
      }
      byte[] bytes = encode(obj);
      TxnResult r = kv.create(d.key(namespace, name), bytes);
      if (!r.succeeded()) {
        throw ApiException.alreadyExists(d.group, d.plural, name);
      }
      committed = true;
      meta.put("resourceVersion", Long.toString(r.revision()));
      return obj;
    } finally {
      finish.finish(committed);
    }
  }

  private static String generateName(String base) {
    StringBuilder sb = new StringBuilder(base.length() > 58 ? base.substring(0, 58) : base);
    for (int i = 0; i < 5; i++) {
      sb.append(NAME_CHARS[RANDOM.nextInt(NAME_CHARS.length)]);
    }
    return sb.toString();
  }

  // ---------------------------------------------------------------- update

  /**
   * PUT semantics: replace the object, optimistic on metadata.resourceVersion when the body has one,
   * unconditional (retried) otherwise.
   */
  public ObjectNode update(String namespace, String name, ObjectNode obj, WriteOptions opts) {
    String bodyName = Meta.name(obj);
    if (bodyName != null && !bodyName.equals(name)) {
      throw ApiException.badRequest("the name of the object (" + bodyName
          + ") does not match the name on the URL (" + name + ")");
    }
    if (d.namespaced) {
      String bodyNs = Meta.namespace(obj);
      if (bodyNs != null && !bodyNs.isEmpty() && !bodyNs.equals(namespace)) {
        throw ApiException.badRequest("the namespace of the provided object does not match the namespace sent on the request");
      }
    }
    String rv = Meta.resourceVersion(obj);
    boolean conditional = rv != null && !rv.isEmpty();
    return guaranteedUpdate(namespace, name, conditional ? parseRv(rv) : 0, current -> obj.deepCopy(), opts,
        d.createOnUpdate && !opts.status());
  }

  /**
   * Read-modify-write with retries on conflict, as GuaranteedUpdate: {@code change} gets a copy of
   * the current object and returns the desired one. With {@code expectedRv > 0} the current object
   * must be at that resourceVersion (409 otherwise).
   */
  public ObjectNode guaranteedUpdate(String namespace, String name, long expectedRv,
      UnaryOperator<ObjectNode> change, WriteOptions opts, boolean createIfMissing) {
    String key = d.key(namespace, name);
    for (int attempt = 0; ; attempt++) {
      KeyValue current = kv.get(key);
      if (current == null) {
        if (createIfMissing) {
          ObjectNode created = change.apply(null);
          try {
            return create(namespace, created, opts);
          } catch (ApiException e) {
            if ("AlreadyExists".equals(e.reason()) && attempt < 10) {
              continue;
            }
            throw e;
          }
        }
        throw ApiException.notFound(d.group, d.plural, name);
      }
      if (expectedRv > 0 && current.modRevision() != expectedRv) {
        throw ApiException.modified(d.group, d.plural, name);
      }
      ObjectNode old = served(decode(current));
      // Comparisons with the old object treat numbers by value (equalsIgnoring): Jackson's
      // IntNode(30) from the store and a defaulted LongNode(30) are the same JSON.
      ObjectNode updated = change.apply(old.deepCopy());
      String patchedRv = Meta.resourceVersion(updated);
      if (patchedRv != null && !patchedRv.isEmpty() && parseRv(patchedRv) != current.modRevision()) {
        throw ApiException.modified(d.group, d.plural, name);
      }
      ObjectNode next = prepareUpdate(updated, old, opts);
      if (next == old) {
        return old; // nothing changed: no write, same resourceVersion (a no-op update)
      }
      if (Meta.deleting(next) && Meta.finalizers(next).isEmpty()) {
        // The last finalizer is gone from an object being deleted: the update completes the delete.
        if (opts.dryRun()) {
          return next;
        }
        TxnResult r = kv.delete(key, current.modRevision());
        if (!r.succeeded()) {
          if (expectedRv > 0) {
            throw ApiException.modified(d.group, d.plural, name);
          }
          continue;
        }
        hooks.afterDelete(next);
        Meta.meta(next).put("resourceVersion", Long.toString(r.revision()));
        return next;
      }
      WriteHooks.Finish finish = hooks.beginUpdate(next, old, opts);
      TxnResult r;
      boolean committed = false;
      try {
        if (opts.dryRun()) {
          Meta.meta(next).put("resourceVersion", Long.toString(current.modRevision()));
          return next;
        }
        r = kv.update(key, encode(next), current.modRevision());
        committed = r.succeeded();
      } finally {
        finish.finish(committed);
      }
      if (r.succeeded()) {
        Meta.meta(next).put("resourceVersion", Long.toString(r.revision()));
        return next;
      }
      // Lost a race with another writer. The resourceVersion the change carries is the one it was
      // computed from (a patch inherits it), not a precondition of the client's — those were
      // checked above — so re-read and apply the change again, as GuaranteedUpdate does.
      if (expectedRv > 0 || attempt > 50) {
        throw ApiException.modified(d.group, d.plural, name);
      }
    }
  }

  /** Returns the object to store, or {@code old} itself when the update changes nothing. */
  private ObjectNode prepareUpdate(ObjectNode updated, ObjectNode old, WriteOptions opts) {
    ObjectNode oldMeta = (ObjectNode) old.get("metadata");
    ObjectNode next;
    if (opts.status()) {
      // Status writes change status only (and the managedFields that record them).
      next = old.deepCopy();
      JsonNode status = updated.get("status");
      if (status == null) {
        next.remove("status");
      } else {
        next.set("status", status);
      }
      JsonNode conditions = updated.path("metadata").get("managedFields");
      if (conditions != null) {
        Meta.meta(next).set("managedFields", conditions);
      }
    } else {
      next = updated;
      ObjectNode meta = Meta.meta(next);
      next.put("apiVersion", d.apiVersion());
      next.put("kind", d.kind);
      // Immutable or server-owned metadata.
      for (String f : new String[] {"uid", "creationTimestamp", "namespace", "name", "generateName"}) {
        JsonNode v = oldMeta.get(f);
        if (v == null) {
          meta.remove(f);
        } else {
          meta.set(f, v);
        }
      }
      for (String f : new String[] {"deletionTimestamp", "deletionGracePeriodSeconds", "generation"}) {
        JsonNode v = oldMeta.get(f);
        if (v == null) {
          meta.remove(f);
        } else {
          meta.set(f, v);
        }
      }
      if (d.has("status") && !"binding".equals(opts.subresource())) {
        JsonNode st = old.get("status");
        if (st == null) {
          next.remove("status");
        } else {
          next.set("status", st);
        }
      }
      if (Meta.deleting(old)) {
        // New finalizers may not be added to an object being deleted (store.go).
        List<String> oldF = Meta.finalizers(old);
        for (String f : Meta.finalizers(next)) {
          if (!oldF.contains(f)) {
            throw ApiException.forbidden("Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers []string{\"" + f + "\"}");
          }
        }
      }
      strategy.prepareForUpdate(d, next, old);
      strategy.applyDefaults(d, next);
      if (d.generation && specChanged(next, old)) {
        meta.put("generation", oldMeta.path("generation").asLong(0) + 1);
      }
    }
    Meta.meta(next).remove("resourceVersion");
    // A write that only changes managedFields (kubectl's client-side to server-side apply
    // migration replaces them with a JSON patch) is still a write.
    boolean unchanged = sameIgnoringManagedFields(next, old);
    if (!unchanged) {
      admission.admit(d, next, old, opts);
      validate(next, old);
    }
    fieldTracker.recordUpdate(d, next, old, opts, clock.instant());
    if (unchanged && Objects.equals(next.path("metadata").get("managedFields"), old.path("metadata").get("managedFields"))) {
      return old;
    }
    return next;
  }

  private static boolean specChanged(ObjectNode next, ObjectNode old) {
    return !equalsIgnoring(next, old, Set.of("metadata", "status"));
  }

  private static boolean sameIgnoringManagedFields(ObjectNode next, ObjectNode old) {
    JsonNode a = next.get("metadata");
    JsonNode b = old.get("metadata");
    if (a instanceof ObjectNode am && b instanceof ObjectNode bm) {
      return equalsIgnoring(next, old, Set.of("metadata")) && equalsIgnoring(am, bm, Set.of("managedFields", "resourceVersion"));
    }
    return next.equals(old);
  }

  /** JSON equality: 30 stored as an int equals 30 defaulted as a long. */
  private static final java.util.Comparator<JsonNode> SAME_JSON = (x, y) -> x.equals(y)
      || (x.isNumber() && y.isNumber() && x.decimalValue().compareTo(y.decimalValue()) == 0) ? 0 : 1;

  /** Equality of two objects without some of their fields, without copying them (hot on every write). */
  private static boolean equalsIgnoring(ObjectNode a, ObjectNode b, Set<String> ignored) {
    int na = 0;
    for (var e : a.properties()) {
      if (ignored.contains(e.getKey())) {
        continue;
      }
      na++;
      JsonNode other = b.get(e.getKey());
      if (other == null || !e.getValue().equals(SAME_JSON, other)) {
        return false;
      }
    }
    int nb = 0;
    for (var e : b.properties()) {
      if (!ignored.contains(e.getKey())) {
        nb++;
      }
    }
    return na == nb;
  }

  // ---------------------------------------------------------------- delete

  /** Outcome of a delete: the object is gone ({@code deleted}) or marked for deletion. */
  public record DeleteResult(ObjectNode object, boolean deleted) {}

  public DeleteResult delete(String namespace, String name, DeleteOptions opts) {
    String key = d.key(namespace, name);
    for (int attempt = 0; ; attempt++) {
      KeyValue current = kv.get(key);
      if (current == null) {
        throw ApiException.notFound(d.group, d.plural, name);
      }
      ObjectNode obj = served(decode(current));
      if (opts.preconditionUid() != null && !opts.preconditionUid().equals(Meta.uid(obj))) {
        throw ApiException.conflict(d.group, d.plural, name,
            "Precondition failed: UID in precondition: " + opts.preconditionUid() + ", UID in object meta: " + Meta.uid(obj));
      }
      if (opts.preconditionResourceVersion() != null
          && parseRv(opts.preconditionResourceVersion()) != current.modRevision()) {
        throw ApiException.conflict(d.group, d.plural, name,
            "Precondition failed: ResourceVersion in precondition: " + opts.preconditionResourceVersion()
                + ", ResourceVersion in object meta: " + current.modRevision());
      }
      List<String> finalizers = new ArrayList<>(Meta.finalizers(obj));
      String policy = opts.propagationPolicy();
      if ("Foreground".equals(policy) && !finalizers.contains("foregroundDeletion")) {
        finalizers.add("foregroundDeletion");
      } else if ("Orphan".equals(policy) && !finalizers.contains("orphan")) {
        finalizers.add("orphan");
      }
      long grace = gracePeriod(obj, opts);
      boolean graceful = grace > 0 && isGracefulPod(obj);
      boolean namespaceFinalizers = "Namespace".equals(d.kind) && !obj.path("spec").path("finalizers").isEmpty();
      if (finalizers.isEmpty() && !graceful && !namespaceFinalizers) {
        if (opts.dryRun()) {
          return new DeleteResult(obj, true);
        }
        TxnResult r = kv.delete(key, current.modRevision());
        if (!r.succeeded()) {
          continue;
        }
        hooks.afterDelete(obj);
        Meta.meta(obj).put("resourceVersion", Long.toString(r.revision()));
        return new DeleteResult(obj, true);
      }
      // Mark for deletion: finalizers (or the kubelet, or the namespace controller) finish it.
      ObjectNode next = obj.deepCopy();
      ObjectNode meta = Meta.meta(next);
      boolean changed = false;
      if (!Meta.deleting(next)) {
        java.time.Instant at = clock.instant().plusSeconds(graceful ? grace : 0);
        meta.put("deletionTimestamp", Meta.time(at));
        meta.put("deletionGracePeriodSeconds", graceful ? grace : 0);
        changed = true;
      } else if (graceful && meta.path("deletionGracePeriodSeconds").asLong(Long.MAX_VALUE) > grace) {
        // A shorter grace period may replace a longer one (never the reverse).
        meta.put("deletionTimestamp", Meta.time(clock.instant().plusSeconds(grace)));
        meta.put("deletionGracePeriodSeconds", grace);
        changed = true;
      }
      if (!finalizers.equals(Meta.finalizers(obj))) {
        Meta.setFinalizers(next, finalizers);
        changed = true;
      }
      if ("Namespace".equals(d.kind) && !"Terminating".equals(next.path("status").path("phase").asText())) {
        Json.with(next, "status").put("phase", "Terminating");
        changed = true;
      }
      if (!changed || opts.dryRun()) {
        return new DeleteResult(obj, false);
      }
      meta.remove("resourceVersion");
      TxnResult r = kv.update(key, encode(toStorage(next)), current.modRevision());
      if (!r.succeeded()) {
        continue;
      }
      meta.put("resourceVersion", Long.toString(r.revision()));
      return new DeleteResult(next, false);
    }
  }

  private boolean isGracefulPod(ObjectNode obj) {
    // Only pods already on a node wait for their kubelet; others go at once (pod strategy CheckGracefulDelete).
    if (!"Pod".equals(d.kind)) {
      return false;
    }
    String node = Json.text(obj.path("spec"), "nodeName");
    String phase = obj.path("status").path("phase").asText("");
    return node != null && !node.isEmpty() && !phase.equals("Succeeded") && !phase.equals("Failed");
  }

  private static long gracePeriod(ObjectNode obj, DeleteOptions opts) {
    if (opts.gracePeriodSeconds() != null) {
      return opts.gracePeriodSeconds();
    }
    JsonNode g = obj.path("spec").get("terminationGracePeriodSeconds");
    return g != null && g.canConvertToLong() ? g.asLong() : 30;
  }

  // ---------------------------------------------------------------- helpers

  private void validate(ObjectNode obj, ObjectNode old) {
    List<ApiException.Cause> causes = new ArrayList<>(ObjectMetaValidation.validate(d, obj, old));
    causes.addAll(strategy.validate(d, obj, old));
    if (!causes.isEmpty()) {
      throw ApiException.invalid(d.group, d.kind, Objects.requireNonNullElse(Meta.name(obj), ""), causes);
    }
  }

  private byte[] encode(ObjectNode obj) {
    byte[] bytes = StoredObjects.encode(toStorage(obj));
    if (bytes.length > MAX_OBJECT_BYTES) {
      throw ApiException.tooLarge("Request entity too large: limit is " + MAX_OBJECT_BYTES);
    }
    return bytes;
  }

  private static ObjectNode decode(KeyValue current) {
    ObjectNode o = Json.parseObject(current.value());
    Meta.meta(o).put("resourceVersion", Long.toString(current.modRevision()));
    return o;
  }

  static long parseRv(String rv) {
    try {
      return Long.parseLong(rv);
    } catch (NumberFormatException e) {
      throw ApiException.badRequest("invalid resource version: " + rv);
    }
  }
}
