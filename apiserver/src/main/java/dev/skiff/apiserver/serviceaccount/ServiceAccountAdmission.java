package dev.skiff.apiserver.serviceaccount;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.registry.Admission;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.WriteOptions;

/**
 * The ServiceAccount admission plugin's defaulting (plugin/pkg/admission/serviceaccount/admission.go):
 * a new pod without spec.serviceAccountName runs as {@code default}. (Mounting the token volume
 * waits for a kubelet that would use it.)
 */
public final class ServiceAccountAdmission implements Admission {
  @Override
  public void admit(ResourceDescriptor resource, ObjectNode obj, ObjectNode old, WriteOptions options) {
    if (old != null || !resource.group.isEmpty() || !resource.kind.equals("Pod")) {
      return;
    }
    ObjectNode spec = obj.with("spec");
    String sa = spec.path("serviceAccountName").asText("");
    if (sa.isEmpty()) {
      sa = spec.path("serviceAccount").asText("");
    }
    if (sa.isEmpty()) {
      sa = DefaultServiceAccounts.NAME;
    }
    spec.put("serviceAccountName", sa);
    // The deprecated alias is kept in step, as the pod strategy does upstream.
    spec.put("serviceAccount", sa);
  }
}
