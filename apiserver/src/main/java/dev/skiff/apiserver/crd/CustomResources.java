package dev.skiff.apiserver.crd;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.http.PatchApplier;
import dev.skiff.apiserver.http.SchemaCheck;
import dev.skiff.apiserver.registry.Meta;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.ResourceStrategy;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The custom resources currently served, and the per-kind behaviour that goes with them: the
 * CustomResourceDefinition resource itself (validation, defaulting, the cleanup finalizer,
 * storedVersions) and custom resource objects (schema pruning, defaulting and validation,
 * generation, status reset, no strategic merge patch). {@link CustomResourceManager} fills it;
 * the API server wraps its built-in strategy, schema check and patcher with {@link #strategy},
 * {@link #schemaCheck} and {@link #patches}, which fall through to them for every other kind.
 */
public final class CustomResources {
  /** apiextensions.k8s.io/v1 customresourcedefinitions (apiextensions-apiserver's own resource). */
  public static final ResourceDescriptor CRD = ResourceDescriptor.builder(
          "apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions")
      .clusterScoped().shortNames("crd", "crds").categories("api-extensions").subresources("status").generation().build();

  /** Added on create, removed once every object of the CRD is gone (apiextensions.CustomResourceCleanupFinalizer). */
  public static final String CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io";

  /** One served version of a custom resource. */
  record Served(ResourceDescriptor descriptor, StructuralSchema schema, boolean statusSubresource, String crdName) {}

  private final Map<String, Served> served = new ConcurrentHashMap<>();
  private final Map<String, Conversion> conversions = new ConcurrentHashMap<>();

  /**
   * A built-in converter between the versions of one custom resource, standing in for a conversion
   * webhook (which Skiff does not call): the API server's own code converts objects of a CRD it
   * installs itself (Knative's v1alpha1 Service). Must be thread-safe; returns a new object.
   */
  public interface Conversion {
    /** {@code obj} converted to {@code toApiVersion} ("group/version"); the argument is left unchanged. */
    ObjectNode convert(ObjectNode obj, String toApiVersion);
  }

  /**
   * Converts objects of {@code plural.group} between versions with {@code c} instead of rewriting
   * only apiVersion (conversion strategy None). Register before the CRD is served (descriptors pick
   * it up when they are built).
   */
  public void addConversion(String group, String plural, Conversion c) {
    conversions.put(plural + "." + group, c);
  }

  /** The built-in conversion of {@code plural.group}, or null. */
  Conversion conversion(String group, String plural) {
    return conversions.get(plural + "." + group);
  }
  private final java.util.Set<String> terminating = ConcurrentHashMap.newKeySet();

  void put(Served s) {
    served.put(key(s.descriptor()), s);
  }

  void remove(ResourceDescriptor d) {
    served.remove(key(d));
  }

  void terminating(String crdName, boolean on) {
    if (on) {
      terminating.add(crdName);
    } else {
      terminating.remove(crdName);
    }
  }

  /** Whether the descriptor is a custom resource served from a CRD. */
  public boolean isCustom(ResourceDescriptor d) {
    return lookup(d) != null;
  }

  Served lookup(ResourceDescriptor d) {
    return served.get(key(d));
  }

  private static String key(ResourceDescriptor d) {
    return d.group + "/" + d.version + "/" + d.plural;
  }

  private static boolean isCrd(ResourceDescriptor d) {
    return d.group.equals(CRD.group) && d.plural.equals(CRD.plural);
  }

  // ---------------------------------------------------------------- strategy

  /** The registry's strategy: CRDs and custom resources here, everything else to {@code builtins}. */
  public ResourceStrategy strategy(ResourceStrategy builtins) {
    return new ResourceStrategy() {
      @Override
      public void prepareForCreate(ResourceDescriptor d, ObjectNode obj) {
        if (isCrd(d)) {
          builtins.prepareForCreate(d, obj);
          // crd strategy.go PrepareForCreate: empty status, storedVersions = the storage version.
          obj.remove("status");
          List<String> fins = new ArrayList<>(Meta.finalizers(obj));
          if (!fins.contains(CLEANUP_FINALIZER)) {
            fins.add(CLEANUP_FINALIZER);
            Meta.setFinalizers(obj, fins);
          }
          addStoredVersion(obj);
          return;
        }
        Served s = lookup(d);
        if (s == null) {
          builtins.prepareForCreate(d, obj);
          return;
        }
        if (terminating.contains(s.crdName())) {
          throw ApiException.methodNotAllowed("create not allowed while custom resource definition is terminating");
        }
        if (s.statusSubresource()) {
          obj.remove("status");
        }
        Meta.meta(obj).put("generation", 1);
      }

      @Override
      public void prepareForUpdate(ResourceDescriptor d, ObjectNode obj, ObjectNode old) {
        if (isCrd(d)) {
          builtins.prepareForUpdate(d, obj, old);
          addStoredVersion(obj);
          return;
        }
        Served s = lookup(d);
        if (s == null) {
          builtins.prepareForUpdate(d, obj, old);
          return;
        }
        // customresource strategy.go PrepareForUpdate: any change but metadata (and status, when it
        // is a subresource) bumps the generation.
        ObjectNode a = obj.deepCopy();
        ObjectNode b = old.deepCopy();
        a.remove("metadata");
        b.remove("metadata");
        if (s.statusSubresource()) {
          a.remove("status");
          b.remove("status");
        }
        if (!a.equals(b)) {
          Meta.meta(obj).put("generation", old.path("metadata").path("generation").asLong(0) + 1);
        }
      }

      @Override
      public void applyDefaults(ResourceDescriptor d, ObjectNode obj) {
        if (isCrd(d)) {
          defaultCrd(obj);
          return;
        }
        Served s = lookup(d);
        if (s == null) {
          builtins.applyDefaults(d, obj);
          return;
        }
        s.schema().applyDefaults(obj);
      }

      @Override
      public List<ApiException.Cause> validate(ResourceDescriptor d, ObjectNode obj, ObjectNode old) {
        if (isCrd(d)) {
          return old == null ? CrdValidation.validate(obj) : CrdValidation.validateUpdate(obj, old);
        }
        Served s = lookup(d);
        if (s == null) {
          return builtins.validate(d, obj, old);
        }
        return s.schema().validate(obj);
      }
    };
  }

  /** SetDefaults_CustomResourceDefinition(Spec) of apiextensions v1. */
  static void defaultCrd(ObjectNode crd) {
    ObjectNode spec = Json.with(crd, "spec");
    ObjectNode names = Json.with(spec, "names");
    String kind = names.path("kind").asText("");
    if (names.path("singular").asText("").isEmpty() && !kind.isEmpty()) {
      names.put("singular", kind.toLowerCase());
    }
    if (names.path("listKind").asText("").isEmpty() && !kind.isEmpty()) {
      names.put("listKind", kind + "List");
    }
    ObjectNode conv = Json.with(spec, "conversion");
    if (!conv.has("strategy")) {
      conv.put("strategy", "None");
    }
    for (JsonNode v : spec.path("versions")) {
      for (JsonNode c : v.path("additionalPrinterColumns")) {
        if (c instanceof ObjectNode col && col.has("priority") && col.get("priority").asInt() == 0) {
          col.remove("priority");
        }
      }
    }
  }

  private static void addStoredVersion(ObjectNode crd) {
    for (JsonNode v : crd.path("spec").path("versions")) {
      if (v.path("storage").asBoolean(false)) {
        String name = v.path("name").asText();
        ObjectNode status = Json.with(crd, "status");
        ArrayNode stored = status.has("storedVersions") && status.get("storedVersions").isArray()
            ? (ArrayNode) status.get("storedVersions") : status.putArray("storedVersions");
        for (JsonNode s : stored) {
          if (s.asText().equals(name)) {
            return;
          }
        }
        stored.add(name);
        return;
      }
    }
  }

  // ---------------------------------------------------------------- decoding and patching

  /**
   * Custom resources are pruned silently (unknown fields go to fieldValidation like the built-ins'
   * decoder reports); type errors are validation errors (422) for them, not decode errors.
   */
  public SchemaCheck schemaCheck(SchemaCheck builtins) {
    return (d, obj) -> {
      Served s = lookup(d);
      if (s == null) {
        return builtins.check(d, obj);
      }
      return new SchemaCheck.Result(s.schema().prune(obj), null);
    };
  }

  /** Strategic merge patch is refused for custom resources (415), and apply merges as a merge patch. */
  public PatchApplier patches(PatchApplier builtins) {
    return new PatchApplier() {
      @Override
      public ObjectNode apply(String mediaType, ResourceDescriptor d, ObjectNode current, JsonNode patch) {
        refuseStrategicMerge(mediaType, d);
        return builtins.apply(mediaType, d, current, patch);
      }

      @Override
      public ObjectNode apply(String mediaType, ResourceDescriptor d, ObjectNode current, JsonNode patch,
          dev.skiff.apiserver.registry.WriteOptions opts, boolean force) {
        // Server-side apply goes to the field manager like any kind: custom resources get field
        // ownership too, with list semantics from their structural schema.
        refuseStrategicMerge(mediaType, d);
        return builtins.apply(mediaType, d, current, patch, opts, force);
      }
    };
  }

  /** Custom resources have no Go struct tags: upstream answers SMP with 415. */
  private void refuseStrategicMerge(String mediaType, ResourceDescriptor d) {
    if (lookup(d) != null && mediaType.equals("application/strategic-merge-patch+json")) {
      throw ApiException.unsupportedMediaType("the body of the request was in an unknown format - accepted media types include: "
          + "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
    }
  }
}
