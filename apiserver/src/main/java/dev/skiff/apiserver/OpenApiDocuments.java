package dev.skiff.apiserver;

import dev.skiff.apiserver.http.OpenApiEndpoint;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.ResourceRegistry;
import dev.skiff.apiserver.schema.OpenApiV2;
import dev.skiff.apiserver.schema.OpenApiV3;
import dev.skiff.apiserver.schema.ServedResource;
import java.util.ArrayList;
import java.util.List;

/** /openapi/v3 and /openapi/v2 from the registry's served resources; documents are built once per change. */
final class OpenApiDocuments implements OpenApiEndpoint {
  private final ResourceRegistry registry;
  private final OpenApiV3 openapi;
  private final OpenApiV2 openapiV2;

  OpenApiDocuments(ResourceRegistry registry, OpenApiV3 openapi, OpenApiV2 openapiV2) {
    this.registry = registry;
    this.openapi = openapi;
    this.openapiV2 = openapiV2;
  }

  @Override
  public byte[] document(String subPath) {
    OpenApiV3.Snapshot snap = openapi.snapshot(served());
    if (subPath.isEmpty() || subPath.equals("/")) {
      return snap.index();
    }
    return snap.document(subPath.substring(1)).orElse(null);
  }

  @Override
  public byte[] v2(boolean protobuf) {
    OpenApiV2.Snapshot snap = openapiV2.snapshot(served());
    return protobuf ? snap.protobuf() : snap.json();
  }

  private List<ServedResource> served() {
    List<ServedResource> served = new ArrayList<>();
    for (ResourceDescriptor d : registry.descriptors()) {
      served.add(new ServedResource(d.group, d.version, d.kind, d.plural, d.namespaced,
          List.copyOf(d.subresources), d.verbs));
    }
    return served;
  }
}
