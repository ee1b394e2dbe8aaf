package dev.skiff.apiserver.registry;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Everything the generic registry needs to serve one resource at one version: names, scope,
 * subresources, and the few behaviours that differ between kinds. Built with
 * {@link #builder(String, String, String, String)}; immutable.
 */
public final class ResourceDescriptor {
  public static final List<String> ALL_VERBS =
      List.of("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch");

  public final String group;
  public final String version;
  public final String kind;
  public final String plural;
  public final String singular;
  public final boolean namespaced;
  public final List<String> shortNames;
  public final List<String> categories;
  /** "status", "scale", "binding", "log", "exec", "attach", "portforward", "eviction", "finalize", "token" ... */
  public final Set<String> subresources;
  public final List<String> verbs;
  /** Field selectors beyond metadata.name / metadata.namespace, and how to read them. */
  public final Function<ObjectNode, Map<String, String>> fields;
  public final Set<String> selectableFields;
  /** Spec changes bump metadata.generation (kinds with a spec and a status). */
  public final boolean generation;
  /** PUT of a missing object creates it (events, leases, endpoints... as upstream strategies say). */
  public final boolean createOnUpdate;
  /** Where to find replicas for the scale subresource: the status field holding the label selector. */
  public final String scaleSelectorPath;
  /**
   * Custom resources' scale subresource (CRD subresources.scale): dotted paths without the leading
   * dot, e.g. "spec.replicas"; null for built-ins (spec.replicas / status.replicas / spec.selector).
   */
  public final String scaleSpecReplicasPath;
  public final String scaleStatusReplicasPath;
  public final String scaleLabelSelectorPath;
  /** Storage identity: objects of every served version of a resource share one store prefix. */
  public final String storageGroup;
  public final String storageResource;
  /** Converts between this version and the storage version; null when they are the same shape. */
  public final VersionConverter converter;

  private ResourceDescriptor(Builder b) {
    this.group = b.group;
    this.version = b.version;
    this.kind = b.kind;
    this.plural = b.plural;
    this.singular = b.singular != null ? b.singular : b.kind.toLowerCase();
    this.namespaced = b.namespaced;
    this.shortNames = List.copyOf(b.shortNames);
    this.categories = List.copyOf(b.categories);
    this.subresources = Set.copyOf(b.subresources);
    this.verbs = List.copyOf(b.verbs);
    this.fields = b.fields;
    this.selectableFields = Set.copyOf(b.selectableFields);
    this.generation = b.generation;
    this.createOnUpdate = b.createOnUpdate;
    this.scaleSelectorPath = b.scaleSelectorPath;
    this.scaleSpecReplicasPath = b.scaleSpecReplicasPath;
    this.scaleStatusReplicasPath = b.scaleStatusReplicasPath;
    this.scaleLabelSelectorPath = b.scaleLabelSelectorPath;
    this.storageGroup = b.storageGroup == null ? b.group : b.storageGroup;
    this.storageResource = b.storageResource == null ? b.plural : b.storageResource;
    this.converter = b.converter;
  }

  public String apiVersion() {
    return group.isEmpty() ? version : group + "/" + version;
  }

  public String groupVersion() {
    return apiVersion();
  }

  public String listKind() {
    return kind + "List";
  }

  /** "/registry/core/pods/" — the store prefix of this resource. */
  public String storagePrefix() {
    return "/registry/" + (storageGroup.isEmpty() ? "core" : storageGroup) + "/" + storageResource + "/";
  }

  public String key(String namespace, String name) {
    return namespaced ? storagePrefix() + namespace + "/" + name : storagePrefix() + name;
  }

  public boolean has(String subresource) {
    return subresources.contains(subresource);
  }

  @Override
  public String toString() {
    return plural + (group.isEmpty() ? "" : "." + group) + "/" + version;
  }

  public static Builder builder(String group, String version, String kind, String plural) {
    return new Builder(group, version, kind, plural);
  }

  /** Collects a descriptor's settings; defaults match a plain namespaced resource. */
  public static final class Builder {
    private final String group;
    private final String version;
    private final String kind;
    private final String plural;
    private boolean namespaced = true;
    private List<String> shortNames = List.of();
    private List<String> categories = List.of();
    private Set<String> subresources = Set.of();
    private List<String> verbs = ALL_VERBS;
    private Function<ObjectNode, Map<String, String>> fields = o -> Map.of();
    private Set<String> selectableFields = Set.of();
    private boolean generation;
    private boolean createOnUpdate;
    private String scaleSelectorPath;
    private String scaleSpecReplicasPath;
    private String scaleStatusReplicasPath;
    private String scaleLabelSelectorPath;
    private String storageGroup;
    private String storageResource;
    private VersionConverter converter;
    private String singular;

    Builder(String group, String version, String kind, String plural) {
      this.group = group;
      this.version = version;
      this.kind = kind;
      this.plural = plural;
    }

    /** The singular name when it is not the lower-cased kind (CRD spec.names.singular). */
    public Builder singular(String s) {
      this.singular = s == null || s.isEmpty() ? null : s;
      return this;
    }

    public Builder clusterScoped() {
      this.namespaced = false;
      return this;
    }

    public Builder shortNames(String... s) {
      this.shortNames = List.of(s);
      return this;
    }

    public Builder categories(String... c) {
      this.categories = List.of(c);
      return this;
    }

    public Builder subresources(String... s) {
      this.subresources = Set.of(s);
      return this;
    }

    public Builder verbs(String... v) {
      this.verbs = List.of(v);
      return this;
    }

    /** Selectable fields and the function reading them from an object. */
    public Builder fields(Function<ObjectNode, Map<String, String>> f, String... names) {
      this.fields = f;
      this.selectableFields = Set.of(names);
      return this;
    }

    public Builder generation() {
      this.generation = true;
      return this;
    }

    public Builder createOnUpdate() {
      this.createOnUpdate = true;
      return this;
    }

    public Builder scale(String selectorPath) {
      this.scaleSelectorPath = selectorPath;
      return this;
    }

    /** Custom resource scale paths (dotted, no leading dot); labelSelector may be null. */
    public Builder scalePaths(String specReplicas, String statusReplicas, String labelSelector) {
      this.scaleSpecReplicasPath = specReplicas;
      this.scaleStatusReplicasPath = statusReplicas;
      this.scaleLabelSelectorPath = labelSelector;
      return this;
    }

    public Builder storage(String group, String resource) {
      this.storageGroup = group;
      this.storageResource = resource;
      return this;
    }

    public Builder converter(VersionConverter c) {
      this.converter = c;
      return this;
    }

    public ResourceDescriptor build() {
      return new ResourceDescriptor(this);
    }
  }
}
