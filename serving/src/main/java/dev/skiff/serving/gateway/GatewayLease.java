package dev.skiff.serving.gateway;

import dev.skiff.runtime.Heartbeat;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Instant;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A gateway's heartbeat: Lease {@code knative-serving/gateway-<node>} held by the node it runs
 * on, renewed every 10 s with a 40 s duration (as a node's Lease in kube-node-lease), deleted
 * when the gateway stops. A Route's Kubernetes Service sends cluster traffic to the gateway on
 * every node with a live Lease (RouteReconciler), so a node that runs no gateway (a plain
 * {@code skiff agent}) or whose gateway died is never an endpoint.
 *
 * <p>Thread-safe; renewals run on one daemon thread.
 */
public final class GatewayLease implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(GatewayLease.class);
  public static final String PREFIX = "gateway-";
  public static final int DURATION_SECONDS = 40;
  static final long RENEW_SECONDS = 10;

  private final KubernetesClient client;
  private final String node;
  private final ScheduledExecutorService renewer;

  private GatewayLease(KubernetesClient client, String node) {
    this.client = client;
    this.node = node;
    this.renewer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "gateway-lease");
      t.setDaemon(true);
      return t;
    });
  }

  /** Takes the Lease for {@code node} now and keeps renewing it. */
  public static GatewayLease hold(KubernetesClient client, String node) {
    GatewayLease l = new GatewayLease(client, node);
    l.renew();
    l.renewer.scheduleAtFixedRate(l::renew, RENEW_SECONDS, RENEW_SECONDS, TimeUnit.SECONDS);
    return l;
  }

  /** Whether {@code lease} is a gateway's and was renewed within its duration before {@code now}. */
  public static boolean live(Lease lease, Instant now) {
    if (lease.getMetadata() == null || lease.getMetadata().getName() == null
        || !lease.getMetadata().getName().startsWith(PREFIX) || lease.getSpec() == null
        || lease.getSpec().getRenewTime() == null || lease.getSpec().getHolderIdentity() == null) {
      return false;
    }
    return expiry(lease).isAfter(now);
  }

  /** When {@code lease} expires unless renewed. */
  public static Instant expiry(Lease lease) {
    Integer d = lease.getSpec().getLeaseDurationSeconds();
    return lease.getSpec().getRenewTime().toInstant().plusSeconds(d == null ? DURATION_SECONDS : d);
  }

  private String name() {
    return PREFIX + node;
  }

  private void renew() {
    try {
      Heartbeat.renew(client, new ObjectMetaBuilder().withName(name()).withNamespace(Gateway.NAMESPACE).build(), node,
          DURATION_SECONDS, Instant.now());
    } catch (KubernetesClientException e) {
      log.warn("renewing the gateway lease {}/{} failed: {}", Gateway.NAMESPACE, name(), e.getMessage());
    } catch (RuntimeException e) {
      log.warn("renewing the gateway lease {}/{} failed", Gateway.NAMESPACE, name(), e);
    }
  }

  /** Stops renewing and deletes the Lease: this node stops being an endpoint at once. */
  @Override
  public void close() {
    renewer.shutdownNow();
    try {
      client.leases().inNamespace(Gateway.NAMESPACE).withName(name()).delete();
    } catch (RuntimeException e) {
      log.debug("deleting the gateway lease failed: {}", e.toString());
    }
  }
}
