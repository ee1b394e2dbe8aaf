package dev.skiff.apiserver.ssa;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.registry.FieldTracker;
import dev.skiff.apiserver.registry.Meta;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.WriteOptions;
import dev.skiff.apiserver.schema.ApiSchemas;
import dev.skiff.apiserver.schema.SchemaNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Field ownership as kube-apiserver keeps it (apimachinery pkg/util/managedfields and
 * structured-merge-diff merge/update.go): server-side apply ({@link #apply}) and the
 * {@code Update} entries of every other write ({@link FieldTracker}). Schemas come from
 * {@link ApiSchemas}: list types and map types drive the merge; kinds without a schema merge
 * objects field by field and replace lists whole. Thread-safe.
 */
public final class FieldManager implements FieldTracker {
  private final ApiSchemas schemas;
  private final ConcurrentHashMap<String, Shape> roots = new ConcurrentHashMap<>();
  private volatile long generation = -1;

  private static final FieldManager UNTYPED = new FieldManager(null);

  /** {@code schemas} may be null: every kind is then treated as having no schema. */
  public FieldManager(ApiSchemas schemas) {
    this.schemas = schemas;
  }

  /** The tracker registries use until one with schemas is installed (objects granular, lists atomic). */
  public static FieldManager untyped() {
    return UNTYPED;
  }

  private Shape root(ResourceDescriptor d) {
    if (schemas == null) {
      return Shape.UNTYPED;
    }
    long g = schemas.generation();
    if (g != generation) {
      roots.clear();
      generation = g;
    }
    return roots.computeIfAbsent(d.group + "/" + d.version + "/" + d.kind,
        k -> Shape.of(schemas.kind(d.group, d.version, d.kind).orElse(null)));
  }

  /** Shape of a schema (tests). */
  static Shape shapeOf(SchemaNode n) {
    return Shape.of(n);
  }

  // ------------------------------------------------------------------ apply

  /**
   * Server-side apply of {@code applied} by {@code manager} to {@code live} (null: the object does
   * not exist yet). Returns the new object carrying its new managedFields. Throws a 409 Conflict
   * listing the fields other managers own with a different value, unless {@code force}.
   */
  public ObjectNode apply(ResourceDescriptor d, ObjectNode live, JsonNode applied, String manager, boolean force,
      String subresource, Instant now) {
    if (!(applied instanceof ObjectNode)) {
      throw ApiException.badRequest("error decoding patch: the applied configuration must be an object");
    }
    ObjectNode cfg = (ObjectNode) applied; // read only: the merge copies what it takes
    JsonNode cfgMf = cfg.path("metadata").get("managedFields");
    if (cfgMf != null && !cfgMf.isNull()) {
      throw ApiException.badRequest("metadata.managedFields must be nil");
    }
    Shape root = root(d);
    ObjectNode base = live == null ? Json.object() : live;
    List<Entry> entries = live == null ? new ArrayList<>() : decodeOrEmpty(live.path("metadata").get("managedFields"));
    if (live != null && entries.isEmpty()) {
      // An object nobody owns fields of yet (written before tracking, or reset): its current
      // fields go to "before-first-apply" so that applying different values conflicts
      // (managedfields internal/skipnonapplied.go).
      FieldSet existing = StructuredMerge.compare(Json.object(), live, root).changed();
      entries.add(new Entry("before-first-apply", "Update", d.apiVersion(), null, Meta.time(now), filter(existing, d, subresource)));
    }
    FieldSet set = filter(StructuredMerge.toSet(cfg, root), d, subresource);
    Entry mine = find(entries, manager, "Apply", null, subresource);
    FieldSet last = mine == null ? null : mine.set;

    ObjectNode merged = base.deepCopy();
    StructuredMerge.mergeObject(merged, cfg, root);
    String apiVersion = Json.text(cfg, "apiVersion") == null ? d.apiVersion() : Json.text(cfg, "apiVersion");
    Entry next = new Entry(manager, "Apply", apiVersion, subresource, mine == null ? null : mine.time, set);
    if (mine != null) {
      entries.set(entries.indexOf(mine), next);
    } else {
      entries.add(next);
    }
    boolean lastCovered = last != null && last.isSubsetOf(set);
    if (lastCovered && set.isSubsetOf(last)) {
      next.fieldsV1 = mine.fieldsV1; // the same fields as last time: reuse their encoding
    }
    if (last != null && !lastCovered) { // nothing to prune when everything is still applied
      FieldSet owned = new FieldSet();
      entries.forEach(e -> owned.addAll(e.set));
      StructuredMerge.prune(merged, root, filter(last.copy(), d, subresource), owned, 0, "");
    }

    StructuredMerge.Comparison cmp = StructuredMerge.compare(base, merged, root);
    FieldSet changed = filter(cmp.changed(), d, subresource);
    FieldSet removed = filter(cmp.removed, d, subresource);
    List<String[]> conflicts = new ArrayList<>();
    for (Entry e : entries) {
      if (e == next) {
        continue;
      }
      FieldSet c = e.set.intersection(changed);
      for (String p : c.paths()) {
        conflicts.add(new String[] {e.describe(), p});
      }
    }
    if (!conflicts.isEmpty() && !force) {
      throw conflict(conflicts);
    }
    for (Entry e : entries) {
      if (e != next) {
        e.take(changed);
        e.take(removed);
      }
    }
    if (next.time == null || !changed.isEmpty() || !removed.isEmpty()) {
      next.time = Meta.time(now);
    }
    store(merged, entries);
    return merged;
  }

  /** Fields reset by the strategy are not owned through this endpoint (rest.ResetFieldsStrategy). */
  private static FieldSet filter(FieldSet s, ResourceDescriptor d, String subresource) {
    if ("status".equals(subresource)) {
      FieldSet out = new FieldSet();
      FieldSet st = s.child("f:status");
      if (st != null) {
        out.childOrCreate("f:status").addAll(st);
      }
      return out;
    }
    if (d.has("status")) {
      s.removeChild("f:status");
    }
    return s;
  }

  /** apimachinery managedfields/internal/conflict.go NewConflictError. */
  private static ApiException conflict(List<String[]> conflicts) {
    ObjectNode details = Json.object();
    ArrayNode causes = details.putArray("causes");
    for (String[] c : conflicts) {
      ObjectNode cause = causes.addObject();
      cause.put("reason", "FieldManagerConflict");
      cause.put("message", "conflict with " + c[0]);
      cause.put("field", c[1]);
    }
    String message;
    if (conflicts.size() == 1) {
      message = "Apply failed with 1 conflict: conflict with " + conflicts.get(0)[0] + ": " + conflicts.get(0)[1];
    } else {
      java.util.TreeMap<String, List<String>> byManager = new java.util.TreeMap<>();
      for (String[] c : conflicts) {
        byManager.computeIfAbsent(c[0], k -> new ArrayList<>()).add(c[1]);
      }
      List<String> lines = new ArrayList<>();
      byManager.forEach((m, paths) -> {
        lines.add("conflicts with " + m + ":");
        paths.forEach(p -> lines.add("- " + p));
      });
      message = "Apply failed with " + conflicts.size() + " conflicts: " + String.join("\n", lines);
    }
    return new ApiException(409, "Conflict", message, details);
  }

  // ------------------------------------------------------------------ updates

  @Override
  public void recordCreate(ResourceDescriptor d, ObjectNode obj, WriteOptions opts, Instant now) {
    if ("Apply".equals(opts.operation())) {
      return; // computed by apply()
    }
    record(d, obj, null, opts, now);
  }

  @Override
  public void recordUpdate(ResourceDescriptor d, ObjectNode next, ObjectNode old, WriteOptions opts, Instant now) {
    if ("Apply".equals(opts.operation())) {
      return;
    }
    record(d, next, old, opts, now);
  }

  /**
   * The Update workflow (managedfields internal/fieldmanager.go, managedfieldsupdater.go and SMD
   * Updater.Update): the writer owns what it added or modified, others lose it; removed fields
   * leave every set. managedFields sent in the request replace the stored ones (an empty list or
   * {@code [{}]} clears them); subresource writes always start from the stored ones.
   */
  private void record(ResourceDescriptor d, ObjectNode next, ObjectNode old, WriteOptions opts, Instant now) {
    JsonNode provided = next.path("metadata").get("managedFields");
    JsonNode stored = old == null ? null : old.path("metadata").get("managedFields");
    List<Entry> entries;
    if (opts.subresource() != null) {
      entries = decodeOrEmpty(stored);
    } else if (isReset(provided)) {
      entries = new ArrayList<>();
    } else {
      List<Entry> p = null;
      try {
        p = provided == null || provided.isNull() ? null : decode(provided);
      } catch (IllegalArgumentException e) {
        p = null;
      }
      entries = p == null || p.isEmpty() ? decodeOrEmpty(stored) : p;
    }
    Shape root = root(d);
    StructuredMerge.Comparison cmp = StructuredMerge.compare(old == null ? Json.object() : old, next, root);
    FieldSet changed = cmp.changed();
    for (Entry e : entries) {
      e.take(changed);
      e.take(cmp.removed);
    }
    if (!changed.isEmpty()) {
      String manager = opts.fieldManager() == null || opts.fieldManager().isEmpty() ? "unknown" : opts.fieldManager();
      Entry mine = find(entries, manager, "Update", d.apiVersion(), opts.subresource());
      if (mine == null) {
        mine = new Entry(manager, "Update", d.apiVersion(), opts.subresource(), null, new FieldSet());
        entries.add(mine);
      }
      mine.set.addAll(changed);
      mine.fieldsV1 = null;
      mine.time = Meta.time(now);
    }
    capUpdateManagers(entries);
    store(next, entries);
  }

  static final int MAX_UPDATE_MANAGERS = 10;

  /**
   * At most ten Update entries: the oldest are merged into "ancient-changes"
   * (managedfields internal/capmanagers.go).
   */
  private static void capUpdateManagers(List<Entry> entries) {
    List<Entry> updates = new ArrayList<>();
    for (Entry e : entries) {
      if (e.operation.equals("Update") && !e.set.isEmpty()) {
        updates.add(e);
      }
    }
    if (updates.size() <= MAX_UPDATE_MANAGERS) {
      return;
    }
    updates.sort(Comparator.comparing((Entry e) -> e.time == null ? "" : e.time));
    Entry ancient = find(entries, "ancient-changes", "Update", null, null);
    int excess = updates.size() - MAX_UPDATE_MANAGERS + (ancient == null ? 1 : 0);
    for (Entry e : updates) {
      if (excess <= 0) {
        break;
      }
      if (e == ancient) {
        continue;
      }
      if (ancient == null) {
        ancient = new Entry("ancient-changes", "Update", e.apiVersion, null, e.time, new FieldSet());
        entries.add(ancient);
      }
      ancient.set.addAll(e.set);
      ancient.fieldsV1 = null;
      if (e.time != null && (ancient.time == null || ancient.time.compareTo(e.time) < 0)) {
        ancient.time = e.time;
      }
      entries.remove(e);
      excess--;
    }
  }

  /** managedfields internal/fieldmanager.go isResetManagedFields: {@code []} or {@code [{}]}. */
  private static boolean isReset(JsonNode mf) {
    if (mf == null || !mf.isArray()) {
      return false;
    }
    return mf.isEmpty() || (mf.size() == 1 && mf.get(0).isObject() && mf.get(0).isEmpty());
  }

  // ------------------------------------------------------------------ entries

  /** One managedFields entry with its decoded set. */
  private static final class Entry {
    final String manager;
    final String operation;
    final String apiVersion;
    final String subresource;
    String time;
    final FieldSet set;
    JsonNode fieldsV1; // as decoded, reused when the set did not change (encoding is the costly part)

    Entry(String manager, String operation, String apiVersion, String subresource, String time, FieldSet set) {
      this.manager = manager;
      this.operation = operation;
      this.apiVersion = apiVersion;
      this.subresource = subresource == null || subresource.isEmpty() ? null : subresource;
      this.time = time;
      this.set = set;
    }

    /** Removes fields from this entry's set. */
    void take(FieldSet fields) {
      if (set.removeAllChanged(fields)) {
        fieldsV1 = null;
      }
    }

    /** As upstream's printManager renders the manager identifier in conflict messages. */
    String describe() {
      String s = Json.string(manager);
      if (subresource != null) {
        s += " with subresource " + Json.string(subresource);
      }
      return "Update".equals(operation) ? s + " using " + apiVersion : s;
    }
  }

  /** Apply entries are identified without their apiVersion (BuildManagerIdentifier). */
  private static Entry find(List<Entry> entries, String manager, String operation, String apiVersion, String subresource) {
    String sub = subresource == null || subresource.isEmpty() ? null : subresource;
    for (Entry e : entries) {
      if (e.manager.equals(manager) && e.operation.equals(operation) && Objects.equals(e.subresource, sub)
          && (apiVersion == null || apiVersion.equals(e.apiVersion))) {
        return e;
      }
    }
    return null;
  }

  private static List<Entry> decodeOrEmpty(JsonNode mf) {
    try {
      return decode(mf);
    } catch (IllegalArgumentException e) {
      return new ArrayList<>();
    }
  }

  static List<Entry> decode(JsonNode mf) {
    List<Entry> out = new ArrayList<>();
    if (mf == null || mf.isNull() || mf.isMissingNode()) {
      return out;
    }
    if (!mf.isArray()) {
      throw new IllegalArgumentException("managedFields must be a list");
    }
    for (JsonNode e : mf) {
      if (!e.isObject()) {
        throw new IllegalArgumentException("managedFields entries must be objects");
      }
      String op = Json.text(e, "operation");
      if (!"Apply".equals(op) && !"Update".equals(op)) {
        throw new IllegalArgumentException("invalid operation " + op);
      }
      String fieldsType = Json.text(e, "fieldsType");
      if (fieldsType != null && !fieldsType.equals("FieldsV1")) {
        throw new IllegalArgumentException("invalid fieldsType " + fieldsType);
      }
      String manager = Json.text(e, "manager");
      Entry entry = new Entry(manager == null ? "" : manager, op, Json.text(e, "apiVersion"), Json.text(e, "subresource"),
          Json.text(e, "time"), FieldSet.fromFieldsV1(e.get("fieldsV1")));
      entry.fieldsV1 = e.get("fieldsV1");
      out.add(entry);
    }
    return out;
  }

  /** Encodes non-empty entries, Apply first, then by time, manager, apiVersion, subresource (encodeManagedFields). */
  private static void store(ObjectNode obj, List<Entry> entries) {
    List<Entry> keep = new ArrayList<>();
    for (Entry e : entries) {
      if (!e.set.isEmpty()) {
        keep.add(e);
      }
    }
    keep.sort(Comparator.comparing((Entry e) -> e.operation)
        .thenComparing(e -> e.time == null ? "" : e.time)
        .thenComparing(e -> e.manager)
        .thenComparing(e -> e.apiVersion == null ? "" : e.apiVersion)
        .thenComparing(e -> e.subresource == null ? "" : e.subresource));
    ObjectNode meta = Meta.meta(obj);
    if (keep.isEmpty()) {
      meta.remove("managedFields");
      return;
    }
    ArrayNode mf = Json.array();
    for (Entry e : keep) {
      ObjectNode o = mf.addObject();
      o.put("manager", e.manager);
      o.put("operation", e.operation);
      if (e.apiVersion != null) {
        o.put("apiVersion", e.apiVersion);
      }
      if (e.time != null) {
        o.put("time", e.time);
      }
      o.put("fieldsType", "FieldsV1");
      o.set("fieldsV1", e.fieldsV1 != null ? e.fieldsV1 : e.set.toFieldsV1());
      if (e.subresource != null) {
        o.put("subresource", e.subresource);
      }
    }
    meta.set("managedFields", mf);
  }
}
