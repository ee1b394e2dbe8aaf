package dev.skiff.apiserver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.http.PatchApplier;
import dev.skiff.apiserver.patch.JsonPatch;
import dev.skiff.apiserver.patch.MergePatch;
import dev.skiff.apiserver.patch.PatchException;
import dev.skiff.apiserver.patch.PatchSchema;
import dev.skiff.apiserver.patch.StrategicMergePatch;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.schema.ApiSchemas;
import dev.skiff.apiserver.schema.SchemaNode;
import dev.skiff.apiserver.registry.WriteOptions;
import dev.skiff.apiserver.ssa.FieldManager;
import java.time.Instant;
import java.util.Optional;

/**
 * Chooses the patch algorithm by media type (apiserver pkg/endpoints/handlers/patch.go): JSON
 * patch, JSON merge patch, strategic merge patch with the kind's patch metadata (415 for kinds
 * without a Go-typed schema, as upstream refuses SMP for custom resources), and server-side apply
 * ({@link FieldManager}).
 */
final class PatchDispatcher implements PatchApplier {
  private final ApiSchemas schemas;
  private final FieldManager fields;

  PatchDispatcher(ApiSchemas schemas, FieldManager fields) {
    this.schemas = schemas;
    this.fields = fields;
  }

  /** Server-side apply goes to the field manager (structured merge with ownership and conflicts). */
  @Override
  public ObjectNode apply(String mediaType, ResourceDescriptor d, ObjectNode current, JsonNode patch,
      WriteOptions opts, boolean force) {
    if (mediaType.equals("application/apply-patch+yaml")) {
      return fields.apply(d, current, patch, opts.fieldManager(), force, opts.subresource(), Instant.now());
    }
    return apply(mediaType, d, current, patch);
  }

  @Override
  public ObjectNode apply(String mediaType, ResourceDescriptor d, ObjectNode current, JsonNode patch) {
    try {
      JsonNode out = switch (mediaType) {
        case "application/json-patch+json" -> JsonPatch.apply(current, patch);
        case "application/merge-patch+json" -> MergePatch.apply(current, patch);
        case "application/strategic-merge-patch+json" -> {
          Optional<SchemaNode> s = schemas.kind(d.group, d.version, d.kind);
          if (s.isEmpty()) {
            throw ApiException.unsupportedMediaType("the body of the request was in an unknown format - accepted media types include: "
                + "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml");
          }
          yield StrategicMergePatch.apply(current, patch, new SchemaPatchMeta(s.get(), null, null));
        }
        case "application/apply-patch+yaml" -> fields.apply(d, current, patch, "unknown", false, null, Instant.now());
        default -> throw ApiException.unsupportedMediaType("unsupported patch type " + mediaType);
      };
      if (!(out instanceof ObjectNode o)) {
        throw ApiException.badRequest("the patch did not produce an object");
      }
      return o;
    } catch (PatchException e) {
      throw new ApiException(e.code(), e.reason(), e.statusMessage(), null);
    }
  }

  /** PatchSchema over a schema node; the strategy and key are the containing field's. */
  private record SchemaPatchMeta(SchemaNode node, String strategy, String mergeKey) implements PatchSchema {
    @Override
    public PatchSchema field(String name) {
      return node.field(name).map(f -> new SchemaPatchMeta(f, f.patchStrategy().orElse(null), f.patchMergeKey().orElse(null)))
          .orElse(null);
    }

    @Override
    public PatchSchema items() {
      Optional<SchemaNode> n = node.items().or(node::additionalProperties);
      return n.map(i -> new SchemaPatchMeta(i, null, null)).orElse(null);
    }

    @Override
    public String patchStrategy() {
      return strategy;
    }

    @Override
    public String patchMergeKey() {
      return mergeKey;
    }
  }
}
