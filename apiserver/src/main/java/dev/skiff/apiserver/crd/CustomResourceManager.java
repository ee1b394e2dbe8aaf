package dev.skiff.apiserver.crd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.cache.CachedObject;
import dev.skiff.apiserver.cache.WatchFilter;
import dev.skiff.apiserver.cache.Watcher;
import dev.skiff.apiserver.registry.DeleteOptions;
import dev.skiff.apiserver.registry.Meta;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.ResourceRegistry;
import dev.skiff.apiserver.registry.ResourceStore;
import dev.skiff.apiserver.registry.VersionConverter;
import dev.skiff.apiserver.registry.WriteOptions;
import dev.skiff.apiserver.schema.ApiSchemas;
import dev.skiff.apiserver.table.PrinterColumn;
import dev.skiff.apiserver.table.TablePrinter;
import dev.skiff.apiserver.table.TablePrinters;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Serves what CustomResourceDefinitions define, as apiextensions-apiserver's controllers do
 * (crdHandler, the naming and establishing controllers, the finalizer controller in
 * pkg/controller/finalizer/crd_finalizer.go): follows the CRD watch cache and, for every CRD,
 * registers one {@link ResourceDescriptor} per served version (all sharing the storage version's
 * store prefix; conversion strategy None only rewrites apiVersion), its OpenAPI schema and Table
 * printer, then sets status NamesAccepted / Established, acceptedNames and storedVersions. A CRD
 * being deleted is emptied first (every object deleted), then unregistered, then its cleanup
 * finalizer is removed so it goes.
 *
 * <p>It works on the registry directly because it is part of the API server, like
 * {@link dev.skiff.apiserver.registry.NamespaceFinalizer}.
 */
public final class CustomResourceManager implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(CustomResourceManager.class);
  private static final String META = "io.k8s.apimachinery.pkg.apis.meta.v1.";
  private static final Pattern KUBE_VERSION = Pattern.compile("v(\\d+)(?:(alpha|beta)(\\d+))?");
  private static final WriteOptions STATUS = new WriteOptions("kube-apiserver", false, "status", "Update");

  /** Where Table printers go (ApiServer.setPrinter); a null printer removes one. */
  public interface Printers {
    void set(String group, String version, String plural, TablePrinter printer);
  }

  /** What is registered for one CRD. */
  private record Registered(String descriptorKey, String specKey, List<ResourceDescriptor> descriptors,
      List<String> definitions) {}

  private final ResourceRegistry registry;
  private final ApiSchemas schemas;
  private final CustomResources crs;
  private final Printers printers;
  private final ResourceStore crds;
  private final Map<String, Registered> registered = new HashMap<>(); // by CRD name; manager thread only
  private final Map<String, Long> reconciled = new HashMap<>(); // resourceVersion last reconciled, by CRD name
  private final Set<String> refused = new HashSet<>(); // CRDs naming built-in resources, warned about once
  private volatile boolean closed;
  private Thread thread;

  public CustomResourceManager(ResourceRegistry registry, ApiSchemas schemas, CustomResources crs, Printers printers) {
    this.registry = registry;
    this.schemas = schemas;
    this.crs = crs;
    this.printers = printers;
    this.crds = registry.store(CustomResources.CRD.group, CustomResources.CRD.version, CustomResources.CRD.plural);
  }

  /** Serves the CRDs already stored (so their resources are there when the server opens), then follows changes. */
  public void start() {
    try {
      reconcileAll();
    } catch (RuntimeException e) {
      LOG.warn("custom resources: {}", e.toString());
    }
    thread = Thread.ofVirtual().name("crd-manager").start(this::run);
  }

  private void run() {
    warmUp();
    while (!closed) {
      try (Watcher w = crds.cache().watch(WatchFilter.ALL, 0, true).watcher()) {
        while (!closed && !w.isTerminated()) {
          Watcher.Item item = w.poll(1_000_000_000L);
          while (item != null && w.pollNow() != null) {
            // Coalesce a burst of events into one pass.
          }
          reconcileAll();
        }
      } catch (InterruptedException e) {
        return;
      } catch (RuntimeException e) {
        LOG.warn("custom resources: {}", e.toString());
        try {
          Thread.sleep(200);
        } catch (InterruptedException ie) {
          return;
        }
      }
    }
  }

  /**
   * Loads and exercises the classes the first CRD needs (validation, schemas, printers), so that
   * it is served as fast as later ones; costs a few hundred ms of one virtual thread at start-up.
   */
  private static void warmUp() {
    try {
      ObjectNode crd = Json.object();
      crd.putObject("metadata").put("name", "warms.up.example");
      CrdValidation.validate(crd);
      StructuralSchema s = new StructuralSchema(Json.object().put("type", "object"));
      ObjectNode o = Json.object().put("a", "b");
      s.prune(o);
      s.applyDefaults(o);
      s.validate(o);
      printer(Json.object()).cells(o, Instant.now());
    } catch (RuntimeException e) {
      LOG.debug("warm-up: {}", e.toString());
    }
  }

  private void reconcileAll() {
    Set<String> present = new HashSet<>();
    for (CachedObject o : crds.cache().list(WatchFilter.ALL).objects()) {
      present.add(o.name());
      Long seen = reconciled.get(o.name());
      if (seen != null && seen == o.resourceVersion() && registered.containsKey(o.name())
          && !new String(o.json(), java.nio.charset.StandardCharsets.UTF_8).contains("\"deletionTimestamp\"")) {
        continue; // unchanged and served (a CRD being deleted is retried until its objects are gone)
      }
      try {
        reconcile(Json.parseObject(o.json()));
        reconciled.put(o.name(), o.resourceVersion());
      } catch (ApiException e) {
        if (e.code() != 404 && e.code() != 409) {
          LOG.warn("custom resource definition {}: {}", o.name(), e.getMessage());
        }
      }
    }
    for (String name : new ArrayList<>(registered.keySet())) {
      if (!present.contains(name)) {
        unregister(name);
      }
    }
    reconciled.keySet().retainAll(present);
  }

  private void reconcile(ObjectNode crd) {
    String name = Meta.name(crd);
    if (Meta.deleting(crd)) {
      crs.terminating(name, true);
      if (!Meta.finalizers(crd).contains(CustomResources.CLEANUP_FINALIZER)) {
        unregister(name);
        return;
      }
      if (!hasCondition(crd, "Terminating", "True")) {
        crds.guaranteedUpdate(null, name, 0, cur -> {
          setCondition(cur, "Terminating", "True", "InstanceDeletionInProgress", "CustomResource deletion is in progress");
          return cur;
        }, STATUS, false);
      }
      if (!deleteAll(name)) {
        return; // objects with finalizers remain: check again on the next pass
      }
      unregister(name);
      crds.guaranteedUpdate(null, name, 0, cur -> {
        List<String> fins = new ArrayList<>(Meta.finalizers(cur));
        fins.remove(CustomResources.CLEANUP_FINALIZER);
        Meta.setFinalizers(cur, fins);
        return cur;
      }, WriteOptions.internal("kube-apiserver"), false);
      crs.terminating(name, false);
      return;
    }
    crs.terminating(name, false);
    if (!CrdValidation.validate(crd).isEmpty()) {
      return; // stored before validation existed, or invalid: not served
    }
    if (register(name, crd)) {
      updateStatus(name, crd);
    }
  }

  // ---------------------------------------------------------------- registration

  /** Serves the CRD's versions; false when it cannot be served (it names a built-in resource). */
  private boolean register(String name, ObjectNode crd) {
    JsonNode spec = crd.path("spec");
    String specKey = spec.toString();
    Registered current = registered.get(name);
    if (current != null && current.specKey().equals(specKey)) {
      return true;
    }
    String group = spec.path("group").asText();
    JsonNode names = spec.path("names");
    String kind = names.path("kind").asText();
    String plural = names.path("plural").asText();
    if (current == null) {
      for (ResourceDescriptor d : registry.descriptors()) {
        if (d.group.equals(group) && d.plural.equals(plural) && !crs.isCustom(d)) {
          if (refused.add(name)) {
            LOG.warn("custom resource definition {} names a built-in resource: not served", name);
          }
          return false;
        }
      }
    }
    String storageVersion = null;
    List<JsonNode> versions = new ArrayList<>();
    for (JsonNode v : spec.path("versions")) {
      if (v.path("storage").asBoolean(false)) {
        storageVersion = v.path("name").asText();
      }
      if (v.path("served").asBoolean(false)) {
        versions.add(v);
      }
    }
    versions.sort(Comparator.comparing((JsonNode v) -> v.path("name").asText(), CustomResourceManager::compareVersions));
    String storage = storageVersion;
    ObjectNode descriptorShape = Json.object();
    descriptorShape.set("names", names);
    descriptorShape.put("scope", spec.path("scope").asText());
    ArrayNode shapes = descriptorShape.putArray("versions");
    for (JsonNode v : versions) {
      shapes.addObject().put("name", v.path("name").asText()).set("subresources", v.path("subresources"));
    }
    descriptorShape.put("storage", storage);
    String descriptorKey = descriptorShape.toString();

    List<ResourceDescriptor> descriptors;
    if (current != null && current.descriptorKey().equals(descriptorKey)) {
      descriptors = current.descriptors();
    } else {
      if (current != null) {
        unregister(name, false);
      }
      descriptors = new ArrayList<>();
      for (JsonNode v : versions) {
        descriptors.add(descriptor(spec, v, storage));
      }
    }
    // Schemas and printers first, so the resource is complete when discovery lists it.
    List<String> definitions = new ArrayList<>();
    for (int i = 0; i < versions.size(); i++) {
      JsonNode v = versions.get(i);
      ResourceDescriptor d = descriptors.get(i);
      JsonNode schema = v.path("schema").path("openAPIV3Schema");
      crs.put(new CustomResources.Served(d, new StructuralSchema(schema.isObject() ? schema : null),
          v.path("subresources").has("status"), name));
      definitions.addAll(registerSchemas(group, d.version, kind, schema));
      printers.set(group, d.version, plural, printer(v));
    }
    if (current != null) {
      for (String def : current.definitions()) {
        if (!definitions.contains(def)) {
          schemas.unregister(def);
        }
      }
    }
    if (current == null || !current.descriptorKey().equals(descriptorKey)) {
      for (ResourceDescriptor d : descriptors) {
        registry.add(d);
      }
    }
    registered.put(name, new Registered(descriptorKey, specKey, descriptors, definitions));
    return true;
  }

  private ResourceDescriptor descriptor(JsonNode spec, JsonNode v, String storageVersion) {
    String group = spec.path("group").asText();
    JsonNode names = spec.path("names");
    String version = v.path("name").asText();
    ResourceDescriptor.Builder b = ResourceDescriptor.builder(group, version, names.path("kind").asText(),
        names.path("plural").asText());
    if ("Cluster".equals(spec.path("scope").asText())) {
      b.clusterScoped();
    }
    b.singular(names.path("singular").asText(""));
    b.shortNames(strings(names.path("shortNames")));
    b.categories(strings(names.path("categories")));
    JsonNode subs = v.path("subresources");
    List<String> sub = new ArrayList<>();
    if (subs.has("status")) {
      sub.add("status");
    }
    JsonNode scale = subs.get("scale");
    if (scale != null && scale.isObject()) {
      sub.add("scale");
      String sel = scale.path("labelSelectorPath").asText("");
      b.scalePaths(scale.path("specReplicasPath").asText().substring(1), scale.path("statusReplicasPath").asText().substring(1),
          sel.isEmpty() ? null : sel.substring(1));
    }
    b.subresources(sub.toArray(String[]::new));
    b.storage(group, names.path("plural").asText());
    CustomResources.Conversion conversion = crs.conversion(group, names.path("plural").asText());
    b.converter(conversion != null && !version.equals(storageVersion)
        ? new BuiltInConverter(conversion, group + "/" + storageVersion, group + "/" + version)
        : new ApiVersionConverter(group + "/" + storageVersion, group + "/" + version));
    return b.build();
  }

  private static String[] strings(JsonNode arr) {
    List<String> out = new ArrayList<>();
    arr.forEach(n -> out.add(n.asText()));
    return out.toArray(String[]::new);
  }

  /** The CR kind's and list kind's definitions, named as apiextensions-apiserver's builder does (com.example.v1.Widget). */
  private List<String> registerSchemas(String group, String version, String kind, JsonNode openApi) {
    List<String> parts = new ArrayList<>(List.of(group.split("\\.")));
    java.util.Collections.reverse(parts);
    String base = String.join(".", parts) + "." + version + ".";
    ObjectNode s = openApi.isObject() ? ((ObjectNode) openApi).deepCopy() : Json.object().put("type", "object");
    ObjectNode props = Json.with(s, "properties");
    props.set("apiVersion", Json.object().put("description", "APIVersion defines the versioned schema of this representation of "
        + "an object. Servers should convert recognized schemas to the latest internal value, and may reject unrecognized "
        + "values. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#resources")
        .put("type", "string"));
    props.set("kind", Json.object().put("description", "Kind is a string value representing the REST resource this object "
        + "represents. Servers may infer this from the endpoint the client submits requests to. Cannot be updated. In "
        + "CamelCase. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds")
        .put("type", "string"));
    ObjectNode meta = Json.object();
    meta.putArray("allOf").addObject().put("$ref", "#/components/schemas/" + META + "ObjectMeta");
    meta.put("description", "Standard object's metadata. More info: "
        + "https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata");
    props.set("metadata", meta);
    s.putArray("x-kubernetes-group-version-kind").addObject().put("group", group).put("kind", kind).put("version", version);
    schemas.register(base + kind, s);

    ObjectNode list = Json.object();
    list.put("description", kind + "List is a list of " + kind);
    list.put("type", "object");
    list.putArray("required").add("items");
    ObjectNode lp = list.putObject("properties");
    lp.set("apiVersion", props.get("apiVersion"));
    ObjectNode items = lp.putObject("items");
    items.put("description", "List of " + kind.toLowerCase() + "s. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md");
    items.put("type", "array");
    items.putObject("items").put("$ref", "#/components/schemas/" + base + kind);
    lp.set("kind", props.get("kind"));
    ObjectNode lm = lp.putObject("metadata");
    lm.putArray("allOf").addObject().put("$ref", "#/components/schemas/" + META + "ListMeta");
    lm.put("description", "Standard list metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#types-kinds");
    list.putArray("x-kubernetes-group-version-kind").addObject().put("group", group).put("kind", kind + "List").put("version", version);
    schemas.register(base + kind + "List", list);
    return List.of(base + kind, base + kind + "List");
  }

  /** additionalPrinterColumns, or Age when none are declared (crdHandler serveDefaultColumnsIfEmpty). */
  private static TablePrinter printer(JsonNode version) {
    List<PrinterColumn> cols = new ArrayList<>();
    for (JsonNode c : version.path("additionalPrinterColumns")) {
      cols.add(new PrinterColumn(c.path("name").asText(), c.path("type").asText(), c.path("format").asText(""),
          c.path("description").asText(""), c.path("priority").asInt(0), c.path("jsonPath").asText()));
    }
    if (cols.isEmpty()) {
      cols = TablePrinters.defaultCustomResourceColumns();
    }
    try {
      return TablePrinters.fromColumns(cols);
    } catch (IllegalArgumentException e) {
      return TablePrinters.fromColumns(TablePrinters.defaultCustomResourceColumns());
    }
  }

  private void unregister(String name) {
    unregister(name, true);
  }

  /** Stops serving a CRD's resources; {@code gone}: for good, so its cache and watches end too. */
  private void unregister(String name, boolean gone) {
    Registered r = registered.remove(name);
    if (r == null) {
      return;
    }
    if (gone && !r.descriptors().isEmpty()) {
      String prefix = r.descriptors().get(0).storagePrefix();
      var cache = registry.hub().cache(prefix);
      registry.hub().unregister(prefix);
      if (cache != null) {
        cache.closeWatchers();
      }
    }
    for (ResourceDescriptor d : r.descriptors()) {
      registry.remove(d);
      crs.remove(d);
      printers.set(d.group, d.version, d.plural, null);
    }
    for (String def : r.definitions()) {
      schemas.unregister(def);
    }
  }

  // ---------------------------------------------------------------- deletion

  /** Deletes every object of the CRD; true once none is left. */
  private boolean deleteAll(String name) {
    Registered r = registered.get(name);
    if (r == null || r.descriptors().isEmpty()) {
      return true;
    }
    ResourceDescriptor d = r.descriptors().get(0);
    ResourceStore store = registry.store(d.group, d.version, d.plural);
    if (store == null) {
      return true;
    }
    int remaining = 0;
    for (CachedObject o : store.list(WatchFilter.ALL, true).objects()) {
      try {
        if (!store.delete(d.namespaced ? o.namespace() : null, o.name(),
            new DeleteOptions("Background", null, null, null, false)).deleted()) {
          remaining++;
        }
      } catch (ApiException e) {
        if (e.code() != 404) {
          remaining++;
          LOG.warn("cannot delete {}/{}: {}", d.plural, o.name(), e.getMessage());
        }
      }
    }
    return remaining == 0;
  }

  // ---------------------------------------------------------------- status

  private void updateStatus(String name, ObjectNode crd) {
    JsonNode names = crd.path("spec").path("names");
    JsonNode status = crd.path("status");
    if (hasCondition(crd, "NamesAccepted", "True") && hasCondition(crd, "Established", "True")
        && names.equals(status.path("acceptedNames")) && storedVersionPresent(crd)) {
      return;
    }
    crds.guaranteedUpdate(null, name, 0, cur -> {
      ObjectNode st = Json.with(cur, "status");
      st.set("acceptedNames", cur.path("spec").path("names").deepCopy());
      setCondition(cur, "NamesAccepted", "True", "NoConflicts", "no conflicts found");
      setCondition(cur, "Established", "True", "InitialNamesAccepted", "the initial names have been accepted");
      if (!storedVersionPresent(cur)) {
        for (JsonNode v : cur.path("spec").path("versions")) {
          if (v.path("storage").asBoolean(false)) {
            ArrayNode sv = st.has("storedVersions") && st.get("storedVersions").isArray()
                ? (ArrayNode) st.get("storedVersions") : st.putArray("storedVersions");
            sv.add(v.path("name").asText());
          }
        }
      }
      return cur;
    }, STATUS, false);
  }

  private static boolean storedVersionPresent(JsonNode crd) {
    for (JsonNode v : crd.path("spec").path("versions")) {
      if (v.path("storage").asBoolean(false)) {
        for (JsonNode s : crd.path("status").path("storedVersions")) {
          if (s.asText().equals(v.path("name").asText())) {
            return true;
          }
        }
        return false;
      }
    }
    return true;
  }

  private static boolean hasCondition(JsonNode crd, String type, String status) {
    for (JsonNode c : crd.path("status").path("conditions")) {
      if (type.equals(c.path("type").asText()) && status.equals(c.path("status").asText())) {
        return true;
      }
    }
    return false;
  }

  private static void setCondition(ObjectNode crd, String type, String status, String reason, String message) {
    ObjectNode st = Json.with(crd, "status");
    ArrayNode conds = st.has("conditions") && st.get("conditions").isArray() ? (ArrayNode) st.get("conditions")
        : st.putArray("conditions");
    ObjectNode cond = null;
    for (JsonNode c : conds) {
      if (type.equals(c.path("type").asText())) {
        cond = (ObjectNode) c;
      }
    }
    if (cond == null) {
      cond = conds.addObject();
      cond.put("type", type);
    }
    if (!status.equals(cond.path("status").asText()) || !cond.has("lastTransitionTime")) {
      cond.put("lastTransitionTime", Meta.time(Instant.now()));
    }
    cond.put("status", status);
    cond.put("reason", reason);
    cond.put("message", message);
  }

  /**
   * Kubernetes version priority (k8s.io/apimachinery/pkg/version CompareKubeAwareVersionStrings):
   * GA before beta before alpha, higher numbers first, other strings last in alphabetical order.
   */
  static int compareVersions(String a, String b) {
    Matcher ma = KUBE_VERSION.matcher(a);
    Matcher mb = KUBE_VERSION.matcher(b);
    boolean ka = ma.matches();
    boolean kb = mb.matches();
    if (!ka || !kb) {
      return ka ? -1 : kb ? 1 : a.compareTo(b);
    }
    int ra = rank(ma.group(2));
    int rb = rank(mb.group(2));
    if (ra != rb) {
      return Integer.compare(rb, ra);
    }
    int c = Long.compare(Long.parseLong(mb.group(1)), Long.parseLong(ma.group(1)));
    if (c != 0) {
      return c;
    }
    return ma.group(3) == null ? 0 : Long.compare(Long.parseLong(mb.group(3)), Long.parseLong(ma.group(3)));
  }

  private static int rank(String stage) {
    return stage == null ? 2 : stage.equals("beta") ? 1 : 0;
  }

  @Override
  public void close() {
    closed = true;
    if (thread != null) {
      thread.interrupt();
    }
  }

  /** A version converted by a built-in {@link CustomResources.Conversion}. */
  private record BuiltInConverter(CustomResources.Conversion conversion, String storageApiVersion, String servedApiVersion)
      implements VersionConverter {
    @Override
    public ObjectNode toStorage(ObjectNode served) {
      ObjectNode o = conversion.convert(served, storageApiVersion);
      o.put("apiVersion", storageApiVersion);
      return o;
    }

    @Override
    public ObjectNode fromStorage(ObjectNode stored) {
      ObjectNode o = conversion.convert(stored, servedApiVersion);
      o.put("apiVersion", servedApiVersion);
      return o;
    }
  }

  /** Conversion strategy None: objects are the same in every version but for apiVersion. */
  private record ApiVersionConverter(String storageApiVersion, String servedApiVersion) implements VersionConverter {
    @Override
    public ObjectNode toStorage(ObjectNode served) {
      ObjectNode o = served.deepCopy();
      o.put("apiVersion", storageApiVersion);
      return o;
    }

    @Override
    public ObjectNode fromStorage(ObjectNode stored) {
      ObjectNode o = stored.deepCopy();
      o.put("apiVersion", servedApiVersion);
      return o;
    }
  }
}
