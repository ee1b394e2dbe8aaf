package dev.skiff.apiserver.serviceaccount;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.registry.Admission;
import dev.skiff.apiserver.registry.Meta;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.ResourceStore;
import dev.skiff.apiserver.registry.WriteOptions;

/**
 * The ServiceAccount admission plugin for new pods (plugin/pkg/admission/serviceaccount/admission.go):
 * spec.serviceAccountName defaults to {@code default}, and the account must exist ("error looking
 * up service account ns/x: serviceaccount \"x\" not found"). Upstream a pod created right after
 * its namespace can lose the race with the serviceaccounts controller; here the missing
 * {@code default} account is created on the spot instead. (Mounting the token volume waits for a
 * kubelet that would use it.)
 */
public final class ServiceAccountAdmission implements Admission {
  private final ResourceStore serviceAccounts;
  private final DefaultServiceAccounts defaults;

  public ServiceAccountAdmission(ResourceStore serviceAccounts, DefaultServiceAccounts defaults) {
    this.serviceAccounts = serviceAccounts;
    this.defaults = defaults;
  }

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
    if (obj.path("metadata").path("annotations").has("kubernetes.io/config.mirror")) {
      return; // mirror pods are exempt upstream
    }
    String ns = Meta.namespace(obj);
    if (serviceAccounts.cache().get(serviceAccounts.descriptor().key(ns, sa)) != null) {
      return;
    }
    if (sa.equals(DefaultServiceAccounts.NAME)) {
      defaults.ensure(ns);
      return;
    }
    // A just-created account may not have reached the cache yet: ask the store before refusing.
    try {
      serviceAccounts.get(ns, sa);
    } catch (dev.skiff.apiserver.api.ApiException notFound) {
      throw dev.skiff.apiserver.admission.AdmissionErrors.forbidden(resource, obj,
          "error looking up service account " + ns + "/" + sa + ": serviceaccount \"" + sa + "\" not found");
    }
  }
}
