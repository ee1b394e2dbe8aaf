package dev.skiff.runtime;

import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.coordination.v1.LeaseSpec;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;

/**
 * A liveness Lease that one holder renews (a node's in kube-node-lease, a gateway's): not an
 * election ({@link LeaderElector}), just "I was alive at renewTime, believe it for
 * leaseDurationSeconds". Stateless.
 */
public final class Heartbeat {
  private Heartbeat() {}

  /**
   * Creates Lease {@code meta} (its namespace and name, plus whatever else it carries on create,
   * such as an owner) or renews it: holder {@code holder}, duration {@code seconds}, renewTime
   * {@code now}. An update is conditioned on the read's resourceVersion.
   */
  public static void renew(KubernetesClient client, ObjectMeta meta, String holder, int seconds, Instant now) {
    var leases = client.leases().inNamespace(meta.getNamespace());
    ZonedDateTime renewTime = ZonedDateTime.ofInstant(now, ZoneOffset.UTC);
    Lease lease = leases.withName(meta.getName()).get();
    if (lease == null) {
      leases.resource(new Lease("coordination.k8s.io/v1", "Lease", meta,
          new LeaseSpec(null, holder, seconds, null, null, renewTime, null))).create();
      return;
    }
    LeaseSpec spec = lease.getSpec() == null ? new LeaseSpec() : lease.getSpec();
    spec.setHolderIdentity(holder);
    spec.setLeaseDurationSeconds(seconds);
    spec.setRenewTime(renewTime);
    lease.setSpec(spec);
    leases.resource(lease).update();
  }
}
