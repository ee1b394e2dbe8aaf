package dev.skiff.controllers.gc;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * The part of an object's metadata the garbage collector needs, as decoded from a
 * PartialObjectMetadata: identity, resourceVersion, deletion state, finalizers and owner
 * references. Labels, annotations and managedFields are dropped to keep the cache small.
 * Repeated strings (namespaces, apiVersions, kinds, finalizers) are interned. Immutable.
 *
 * @param namespace namespace, null for cluster-scoped objects
 * @param name name
 * @param uid UID
 * @param resourceVersion resourceVersion the decision is conditioned on
 * @param deleting whether metadata.deletionTimestamp is set
 * @param finalizers metadata.finalizers (never null)
 * @param owners metadata.ownerReferences (never null)
 */
public record ObjectMetadata(String namespace, String name, String uid, String resourceVersion, boolean deleting,
    List<String> finalizers, List<Owner> owners) {

  /**
   * One ownerReference, kept whole so that a rewrite of the list round-trips it unchanged.
   *
   * @param controller null when absent
   * @param blockOwnerDeletion null when absent
   */
  public record Owner(String apiVersion, String kind, String name, String uid, Boolean controller,
      Boolean blockOwnerDeletion) {

    /** Whether the reference blocks its owner's foreground deletion. */
    public boolean blocks() {
      return Boolean.TRUE.equals(blockOwnerDeletion);
    }
  }

  /** {@code namespace/name}, or {@code name} when cluster-scoped (the cache key). */
  public String key() {
    return namespace == null ? name : namespace + "/" + name;
  }

  /** Decodes {@code metadata} of a (partial) object. */
  public static ObjectMetadata of(JsonNode object) {
    JsonNode m = object.path("metadata");
    String ns = text(m, "namespace");
    List<String> finalizers = List.of();
    if (m.path("finalizers").isArray() && !m.path("finalizers").isEmpty()) {
      List<String> f = new ArrayList<>(m.path("finalizers").size());
      m.path("finalizers").forEach(n -> f.add(n.asText().intern()));
      finalizers = List.copyOf(f);
    }
    List<Owner> owners = List.of();
    if (m.path("ownerReferences").isArray() && !m.path("ownerReferences").isEmpty()) {
      List<Owner> o = new ArrayList<>(m.path("ownerReferences").size());
      for (JsonNode r : m.path("ownerReferences")) {
        o.add(new Owner(internOrNull(text(r, "apiVersion")), internOrNull(text(r, "kind")), text(r, "name"),
            text(r, "uid"), bool(r, "controller"), bool(r, "blockOwnerDeletion")));
      }
      owners = List.copyOf(o);
    }
    return new ObjectMetadata(ns == null || ns.isEmpty() ? null : ns.intern(), text(m, "name"), text(m, "uid"),
        text(m, "resourceVersion"), m.hasNonNull("deletionTimestamp"), finalizers, owners);
  }

  private static String text(JsonNode n, String field) {
    JsonNode v = n.get(field);
    return v == null || v.isNull() ? null : v.asText();
  }

  private static Boolean bool(JsonNode n, String field) {
    JsonNode v = n.get(field);
    return v == null || v.isNull() ? null : v.asBoolean();
  }

  private static String internOrNull(String s) {
    return s == null ? null : s.intern();
  }
}
