package dev.skiff.apiserver.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.cache.CachedObject;
import dev.skiff.apiserver.cache.WatchCache;
import dev.skiff.apiserver.cache.WatchFilter;
import dev.skiff.apiserver.registry.DeleteOptions;
import dev.skiff.apiserver.registry.Meta;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.ResourceStore;
import dev.skiff.apiserver.registry.WriteOptions;
import dev.skiff.apiserver.selector.FieldSelector;
import dev.skiff.apiserver.selector.LabelSelector;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The REST verbs of one resource over HTTP (apiserver pkg/endpoints/handlers): get, list, watch,
 * create, update, patch, delete, deletecollection, and the status, scale and binding
 * subresources. Turns requests into {@link ResourceStore} calls and results into responses in
 * the negotiated shape.
 */
final class ResourceHandler {
  private static final Set<String> PATCH_TYPES = Set.of(
      "application/json-patch+json", "application/merge-patch+json",
      "application/strategic-merge-patch+json", "application/apply-patch+yaml");

  private final SchemaCheck schema;
  private final PatchApplier patches;
  private final TableWriter tables;
  private final Clock clock;
  private final ListPager pager = new ListPager();
  private final java.util.Map<String, BodyDecoder> decoders = new java.util.concurrent.ConcurrentHashMap<>();

  void forgetPrinter(String group, String plural) {
    tables.forget(group, plural);
  }

  BodyDecoder decoder(String mediaType) {
    return decoders.get(mediaType);
  }

  void addDecoder(BodyDecoder d) {
    decoders.put(d.mediaType(), d);
  }

  ResourceHandler(SchemaCheck schema, PatchApplier patches, TableWriter tables, Clock clock) {
    this.schema = schema;
    this.patches = patches;
    this.tables = tables;
    this.clock = clock;
  }

  void handle(Exchange ex, RequestInfo info, ResourceStore store, Negotiation neg) throws Exception {
    ResourceDescriptor d = store.descriptor();
    String sub = info.subresource();
    if (sub != null && !d.has(sub)) {
      throw ApiException.notFound(d.group, d.plural + "/" + sub, info.name());
    }
    if (d.namespaced && info.namespace() == null && info.name() != null) {
      throw ApiException.notFound(d.group, d.plural, info.name());
    }
    if (!d.namespaced && info.namespace() != null) {
      throw ApiException.notFound(d.group, d.plural, info.name() == null ? "" : info.name());
    }
    if (sub != null) {
      Subresources.handle(ex, info, store, this, neg);
      return;
    }
    switch (info.verb()) {
      case "get" -> get(ex, info, store, neg);
      case "list" -> list(ex, info, store, neg);
      case "watch" -> watch(ex, info, store, neg);
      case "create" -> create(ex, info, store, neg);
      case "update" -> update(ex, info, store, neg, null);
      case "patch" -> patch(ex, info, store, neg, null);
      case "delete" -> delete(ex, info, store);
      case "deletecollection" -> deleteCollection(ex, info, store);
      default -> throw ApiException.methodNotAllowed("the server does not allow this method on the requested resource");
    }
  }

  // ------------------------------------------------------------------ reads

  private void get(Exchange ex, RequestInfo info, ResourceStore store, Negotiation neg) {
    String rv = ex.param("resourceVersion");
    CachedObject o;
    if ("0".equals(rv)) {
      o = store.cache().get(store.descriptor().key(info.namespace(), info.name()));
      if (o == null) {
        throw ApiException.notFound(store.descriptor().group, store.descriptor().plural, info.name());
      }
    } else {
      o = store.get(info.namespace(), info.name());
    }
    if (neg.shape() == Negotiation.Shape.TABLE) {
      ex.json(200, tables.table(store, List.of(o), true, ex.param("includeObject"), Long.toString(o.resourceVersion()), null));
    } else if (neg.shape() == Negotiation.Shape.PARTIAL_METADATA) {
      ex.json(200, Json.bytes(TableWriter.partial(Json.parseObject(o.json()), "PartialObjectMetadata")));
    } else {
      ex.json(200, served(store, o));
    }
  }

  static byte[] served(ResourceStore store, CachedObject o) {
    return store.descriptor().converter == null ? o.json() : Json.bytes(store.served(Json.parseObject(o.json())));
  }

  WatchFilter filter(Exchange ex, RequestInfo info, ResourceDescriptor d) {
    LabelSelector labels = LabelSelector.parse(ex.param("labelSelector"));
    FieldSelector fields = FieldSelector.parse(ex.param("fieldSelector"));
    Set<String> supported = new HashSet<>(d.selectableFields);
    supported.add("metadata.name");
    if (d.namespaced) {
      supported.add("metadata.namespace");
    }
    for (String f : fields.fields()) {
      if (!supported.contains(f)) {
        throw ApiException.badRequest("field label not supported: " + f);
      }
    }
    return new WatchFilter(info.namespace(), labels, fields);
  }

  private void list(Exchange ex, RequestInfo info, ResourceStore store, Negotiation neg) {
    ResourceDescriptor d = store.descriptor();
    WatchFilter filter = filter(ex, info, d);
    String rv = ex.param("resourceVersion");
    String match = ex.param("resourceVersionMatch");
    String cont = ex.param("continue");
    int limit = parseInt(ex.param("limit"), 0);
    ListPager.Page page;
    if (cont != null && !cont.isEmpty()) {
      page = pager.next(cont, limit);
    } else {
      WatchCache.Snapshot snap;
      if (rv == null || rv.isEmpty()) {
        snap = store.list(filter, true);
      } else {
        long want = parseRv(rv);
        if ("Exact".equals(match) && want != 0) {
          store.list(filter, false);
          if (want != store.cache().revision()) {
            throw ApiException.expired("too old resource version: " + want + " (" + store.cache().revision() + ")");
          }
        }
        if (want > 0) {
          storeHub(store).awaitRevision(want);
        }
        snap = store.list(filter, false);
      }
      // kube-apiserver's cache ignores limit for resourceVersion=0 lists; informers rely on paging
      // otherwise, which the pager serves from the same snapshot.
      page = "0".equals(rv) ? new ListPager.Page(snap.objects(), snap.revision(), null, 0) : pager.first(snap, limit);
    }
    String rvText = Long.toString(page.revision());
    if (neg.shape() == Negotiation.Shape.TABLE) {
      ex.json(200, tables.table(store, page.objects(), true, ex.param("includeObject"), rvText, page.continueToken()));
      return;
    }
    boolean partial = neg.shape() == Negotiation.Shape.PARTIAL_METADATA;
    String kind = partial ? "PartialObjectMetadataList" : d.listKind();
    String apiVersion = partial ? "meta.k8s.io/v1" : d.apiVersion();
    StringBuilder head = new StringBuilder("{\"kind\":\"").append(kind).append("\",\"apiVersion\":\"")
        .append(apiVersion).append("\",\"metadata\":{\"resourceVersion\":\"").append(rvText).append('"');
    if (page.continueToken() != null) {
      head.append(",\"continue\":\"").append(page.continueToken()).append('"');
      head.append(",\"remainingItemCount\":").append(page.remaining());
    }
    head.append("},\"items\":[");
    List<byte[]> items = new ArrayList<>(page.objects().size());
    for (CachedObject o : page.objects()) {
      items.add(partial ? Json.bytes(TableWriter.partial(Json.parseObject(o.json()), "PartialObjectMetadata")) : served(store, o));
    }
    // The items are the cached bytes themselves: they are streamed out, never copied into one
    // response buffer (a 10,000-pod list is tens of megabytes).
    ex.jsonParts(200, head.toString().getBytes(StandardCharsets.UTF_8), items, "]}".getBytes(StandardCharsets.US_ASCII));
  }

  private static dev.skiff.apiserver.cache.CacheHub storeHub(ResourceStore store) {
    return ApiHandler.hub(store);
  }

  private void watch(Exchange ex, RequestInfo info, ResourceStore store, Negotiation neg) throws Exception {
    WatchFilter filter = filter(ex, info, store.descriptor());
    if (info.name() != null) {
      filter = new WatchFilter(filter.namespace(), filter.labels(),
          FieldSelector.parse(join(ex.param("fieldSelector"), "metadata.name=" + info.name())));
    }
    WatchStream stream = new WatchStream(ex, store, filter, neg, tables, storeHub(store));
    if (WebSocketWatch.requested(ex)) {
      WebSocketWatch.upgrade(ex, stream);
    } else {
      stream.run();
    }
  }

  private static String join(String a, String b) {
    return a == null || a.isEmpty() ? b : a + "," + b;
  }

  // ------------------------------------------------------------------ writes

  WriteOptions writeOptions(Exchange ex, String subresource, String operation) {
    List<String> dry = ex.params("dryRun");
    for (String v : dry) {
      if (!v.equals("All")) {
        throw ApiException.badRequest("Invalid dry run value: " + v + "; valid values: All");
      }
    }
    String manager = ex.param("fieldManager");
    if (manager == null || manager.isEmpty()) {
      String ua = ex.header("User-Agent");
      manager = ua == null ? "unknown" : ua.split("/")[0];
    }
    if (manager.length() > 128) {
      throw ApiException.invalid("", "", "", List.of(ApiException.Cause.tooLong("fieldManager", 128)));
    }
    return new WriteOptions(manager, !dry.isEmpty(), subresource, operation);
  }

  /** Decodes a JSON or YAML body into an object and applies fieldValidation. */
  ObjectNode decode(Exchange ex, ResourceDescriptor d, byte[] body, boolean checkKind) {
    String ct = contentType(ex);
    BodyDecoder binary = decoders.get(ct);
    if (binary != null) {
      ObjectNode decoded = binary.decode(d, body);
      if (checkKind) {
        checkKind(d, decoded);
      }
      applySchema(ex, d, decoded);
      return decoded;
    }
    JsonNode n;
    try {
      if (ct.equals("application/yaml")) {
        n = Json.yaml().readTree(body);
      } else if (ct.equals("application/json") || ct.isEmpty()) {
        n = Json.MAPPER.readTree(body);
      } else if (ct.equals("application/vnd.kubernetes.protobuf")) {
        throw ApiException.unsupportedMediaType("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml");
      } else {
        throw ApiException.unsupportedMediaType("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml");
      }
    } catch (IOException e) {
      throw ApiException.badRequest("error decoding request body: " + firstLine(e.getMessage()));
    }
    if (!(n instanceof ObjectNode obj)) {
      throw ApiException.badRequest("Object 'Kind' is missing in '" + (n == null ? "" : n.toString()) + "'");
    }
    if (checkKind) {
      checkKind(d, obj);
    }
    applySchema(ex, d, obj);
    return obj;
  }

  /** A body that is not checked against the resource's schema (Scale, Binding): JSON, or a binary media type. */
  JsonNode readBody(Exchange ex, byte[] body) throws IOException {
    BodyDecoder binary = decoders.get(contentType(ex));
    return binary != null ? binary.decode(null, body) : Json.MAPPER.readTree(body);
  }

  void checkKind(ResourceDescriptor d, ObjectNode obj) {
    String kind = Json.text(obj, "kind");
    String apiVersion = Json.text(obj, "apiVersion");
    if (kind == null || kind.isEmpty()) {
      obj.put("kind", d.kind);
    } else if (!kind.equals(d.kind)) {
      throw ApiException.badRequest(d.kind + " in version \"" + d.version + "\" cannot be handled as a " + d.kind
          + ": the kind of the object (" + kind + ") does not match the kind of the resource (" + d.kind + ")");
    }
    if (apiVersion == null || apiVersion.isEmpty()) {
      obj.put("apiVersion", d.apiVersion());
    } else if (!apiVersion.equals(d.apiVersion())) {
      throw ApiException.badRequest("the API version in the data (" + apiVersion
          + ") does not match the expected API version (" + d.apiVersion() + ")");
    }
  }

  void applySchema(Exchange ex, ResourceDescriptor d, ObjectNode obj) {
    String mode = ex.param("fieldValidation");
    if (mode == null || mode.isEmpty()) {
      mode = "Warn";
    }
    if (!mode.equals("Strict") && !mode.equals("Warn") && !mode.equals("Ignore")) {
      throw ApiException.badRequest("fieldValidation parameter unsupported: " + mode);
    }
    SchemaCheck.Result r = schema.check(d, obj);
    if (r.typeError() != null) {
      throw ApiException.badRequest(r.typeError());
    }
    if (!r.unknownFields().isEmpty()) {
      if (mode.equals("Strict")) {
        StringBuilder sb = new StringBuilder("strict decoding error: ");
        for (int i = 0; i < r.unknownFields().size(); i++) {
          sb.append(i == 0 ? "" : ", ").append("unknown field \"").append(r.unknownFields().get(i)).append('"');
        }
        throw ApiException.badRequest(sb.toString());
      }
      if (mode.equals("Warn")) {
        for (String f : r.unknownFields()) {
          ex.warn("unknown field \"" + f + "\"");
        }
      }
    }
  }

  private void create(Exchange ex, RequestInfo info, ResourceStore store, Negotiation neg) {
    ResourceDescriptor d = store.descriptor();
    if (info.name() != null) {
      throw ApiException.methodNotAllowed("the server does not allow this method on the requested resource");
    }
    ObjectNode obj = decode(ex, d, ex.body(), true);
    WriteOptions opts = writeOptions(ex, null, "Update");
    ObjectNode created = store.create(info.namespace(), obj, opts);
    respondObject(ex, store, neg, 201, created);
  }

  void respondObject(Exchange ex, ResourceStore store, Negotiation neg, int code, ObjectNode obj) {
    if (neg.shape() == Negotiation.Shape.TABLE) {
      ex.json(code, tables.tableOfObject(store, obj, ex.param("includeObject")));
    } else {
      ex.json(code, Json.bytes(obj));
    }
  }

  void update(Exchange ex, RequestInfo info, ResourceStore store, Negotiation neg, String sub) {
    ResourceDescriptor d = store.descriptor();
    ObjectNode obj = decode(ex, d, ex.body(), true);
    WriteOptions opts = writeOptions(ex, sub, "Update");
    boolean existed = store.cache().get(d.key(info.namespace(), info.name())) != null;
    ObjectNode updated = store.update(info.namespace(), info.name(), obj, opts);
    respondObject(ex, store, neg, existed ? 200 : 201, updated);
  }

  void patch(Exchange ex, RequestInfo info, ResourceStore store, Negotiation neg, String sub) {
    ResourceDescriptor d = store.descriptor();
    String ct = contentType(ex);
    if (!PATCH_TYPES.contains(ct)) {
      throw ApiException.unsupportedMediaType("the body of the request was in an unknown format - accepted media types include: "
          + "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json");
    }
    byte[] body = ex.body();
    JsonNode patch;
    try {
      // kubectl sends apply configurations as JSON (a subset of YAML): the JSON parser is much faster.
      patch = !ct.equals("application/apply-patch+yaml") ? Json.MAPPER.readTree(body)
          : startsWithBrace(body) ? jsonOrYaml(body) : Json.yaml().readTree(body);
    } catch (IOException e) {
      throw ApiException.badRequest("error decoding patch: " + firstLine(e.getMessage()));
    }
    if (patch == null || patch.isMissingNode()) {
      throw ApiException.badRequest("error decoding patch: empty patch");
    }
    String operation = ct.equals("application/apply-patch+yaml") ? "Apply" : "Update";
    WriteOptions opts = writeOptions(ex, sub, operation);
    if (operation.equals("Apply") && (ex.param("fieldManager") == null || ex.param("fieldManager").isEmpty())) {
      throw ApiException.badRequest("PATCH, application/apply-patch+yaml requests must have a non-empty fieldManager");
    }
    boolean force = "true".equals(ex.param("force"));
    boolean[] created = {false};
    ObjectNode result = store.guaranteedUpdate(info.namespace(), info.name(), 0, current -> {
      if (current == null) {
        created[0] = true;
        ObjectNode fresh = patches.apply(ct, d, null, patch, opts, force);
        checkPatchedName(fresh, info.name());
        checkKind(d, fresh);
        applySchema(ex, d, fresh);
        return fresh;
      }
      ObjectNode patched = patches.apply(ct, d, current, patch, opts, force);
      if (operation.equals("Apply")) {
        checkPatchedName(patched, info.name());
      }
      checkKind(d, patched);
      applySchema(ex, d, patched);
      return patched;
    }, opts, operation.equals("Apply"));
    respondObject(ex, store, neg, created[0] ? 201 : 200, result);
  }

  /** apiserver handlers/patch.go checkName: the applied object must be the one on the URL. */
  private static void checkPatchedName(ObjectNode obj, String name) {
    String objName = obj.path("metadata").path("name").asText("");
    if (!objName.equals(name)) {
      throw ApiException.badRequest("the name of the object (" + objName + ") does not match the name on the URL (" + name + ")");
    }
  }

  /** A flow-style YAML mapping such as {@code {a: 1}} also starts with a brace. */
  private static JsonNode jsonOrYaml(byte[] body) throws IOException {
    try {
      return Json.MAPPER.readTree(body);
    } catch (IOException e) {
      return Json.yaml().readTree(body);
    }
  }

  private static boolean startsWithBrace(byte[] body) {
    for (byte b : body) {
      if (b != ' ' && b != '\n' && b != '\r' && b != '\t') {
        return b == '{';
      }
    }
    return false;
  }

  DeleteOptions deleteOptions(Exchange ex) {
    String policy = ex.param("propagationPolicy");
    Long grace = ex.param("gracePeriodSeconds") == null ? null : (long) parseInt(ex.param("gracePeriodSeconds"), 0);
    String uid = null;
    String rv = null;
    boolean dry = !ex.params("dryRun").isEmpty();
    byte[] body = ex.body();
    if (body.length > 0) {
      JsonNode opts;
      try {
        opts = readBody(ex, body);
      } catch (IOException e) {
        throw ApiException.badRequest("error decoding DeleteOptions: " + firstLine(e.getMessage()));
      }
      if (opts != null && opts.isObject()) {
        if (opts.hasNonNull("propagationPolicy")) {
          policy = opts.get("propagationPolicy").asText();
        }
        if (opts.hasNonNull("gracePeriodSeconds")) {
          grace = opts.get("gracePeriodSeconds").asLong();
        }
        if (opts.has("orphanDependents") && opts.get("orphanDependents").isBoolean()) {
          policy = opts.get("orphanDependents").asBoolean() ? "Orphan" : "Background";
        }
        uid = Json.text(opts.path("preconditions"), "uid");
        rv = Json.text(opts.path("preconditions"), "resourceVersion");
        for (JsonNode v : opts.path("dryRun")) {
          dry = true;
          if (!v.asText().equals("All")) {
            throw ApiException.badRequest("Invalid dry run value: " + v.asText() + "; valid values: All");
          }
        }
      }
    }
    if (policy != null && !Set.of("Orphan", "Background", "Foreground").contains(policy)) {
      throw ApiException.invalid("", "DeleteOptions", "", List.of(ApiException.Cause.notSupported(
          "propagationPolicy", policy, List.of("Foreground", "Background", "Orphan"))));
    }
    return new DeleteOptions(policy, grace, uid, rv, dry);
  }

  private void delete(Exchange ex, RequestInfo info, ResourceStore store) {
    ResourceDescriptor d = store.descriptor();
    DeleteOptions opts = deleteOptions(ex);
    ResourceStore.DeleteResult r = store.delete(info.namespace(), info.name(), opts);
    if (!r.deleted()) {
      ex.json(200, Json.bytes(r.object()));
      return;
    }
    ObjectNode s = Json.object();
    s.put("kind", "Status");
    s.put("apiVersion", "v1");
    s.putObject("metadata");
    s.put("status", "Success");
    ObjectNode det = s.putObject("details");
    det.put("name", info.name());
    if (!d.group.isEmpty()) {
      det.put("group", d.group);
    }
    det.put("kind", d.plural);
    det.put("uid", Meta.uid(r.object()));
    ex.json(200, Json.bytes(s));
  }

  private void deleteCollection(Exchange ex, RequestInfo info, ResourceStore store) {
    ResourceDescriptor d = store.descriptor();
    WatchFilter filter = filter(ex, info, d);
    DeleteOptions opts = deleteOptions(ex);
    ArrayNode items = Json.array();
    for (CachedObject o : store.list(filter, true).objects()) {
      try {
        ResourceStore.DeleteResult r = store.delete(o.namespace(), o.name(), opts);
        items.add(r.object());
      } catch (ApiException e) {
        if (e.code() != 404) {
          throw e;
        }
      }
    }
    ObjectNode list = Json.object();
    list.put("kind", d.listKind());
    list.put("apiVersion", d.apiVersion());
    list.putObject("metadata").put("resourceVersion", Long.toString(store.cache().revision()));
    list.set("items", items);
    ex.json(200, Json.bytes(list));
  }

  // ------------------------------------------------------------------ helpers

  static String contentType(Exchange ex) {
    String ct = ex.header("Content-Type");
    if (ct == null) {
      return "";
    }
    int semi = ct.indexOf(';');
    return (semi >= 0 ? ct.substring(0, semi) : ct).trim().toLowerCase(Locale.ROOT);
  }

  static int parseInt(String s, int dflt) {
    if (s == null || s.isEmpty()) {
      return dflt;
    }
    try {
      return Integer.parseInt(s);
    } catch (NumberFormatException e) {
      throw ApiException.badRequest("invalid integer: " + s);
    }
  }

  static long parseRv(String rv) {
    try {
      long v = Long.parseLong(rv);
      if (v < 0) {
        throw new NumberFormatException();
      }
      return v;
    } catch (NumberFormatException e) {
      throw ApiException.badRequest("invalid resource version: " + rv);
    }
  }

  private static String firstLine(String s) {
    if (s == null) {
      return "";
    }
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }

  Clock clock() {
    return clock;
  }

  static String encodeToken(String s) {
    return Base64.getUrlEncoder().withoutPadding().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }

  static List<CachedObject> copy(List<CachedObject> l) {
    return new ArrayList<>(l);
  }
}
