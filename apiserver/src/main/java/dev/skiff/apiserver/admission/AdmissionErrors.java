package dev.skiff.apiserver.admission;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.registry.Meta;
import dev.skiff.apiserver.registry.ResourceDescriptor;

/** How admission plugins refuse a request, in apiserver/pkg/admission/errors.go's words. */
public final class AdmissionErrors {
  private AdmissionErrors() {}

  /** admission.NewForbidden: "<resource> \"<name>\" is forbidden: <why>". */
  public static ApiException forbidden(ResourceDescriptor d, ObjectNode obj, String why) {
    String name = Meta.name(obj);
    String q = ApiException.qualified(d.group, d.plural);
    ObjectNode details = Json.object();
    if (name != null && !name.isEmpty()) {
      details.put("name", name);
    }
    if (!d.group.isEmpty()) {
      details.put("group", d.group);
    }
    details.put("kind", d.plural);
    return new ApiException(403, "Forbidden",
        (name == null || name.isEmpty() ? q : q + " \"" + name + "\"") + " is forbidden: " + why, details);
  }
}
