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
  /**
   * Annotation: {@code host:port} where the gateway answers {@code GET /.skiff/stats}
   * ({@link StatsServer}); the autoscaler's leader reads every live gateway there.
   */
  public static final String STATS_ADDRESS = "serving.skiff.dev/stats-address";
  static final long RENEW_SECONDS = 10;

  private final KubernetesClient client;
  private final String node;
  private final java.util.Map<String, String> annotations;
  private final ScheduledExecutorService renewer;

  private GatewayLease(KubernetesClient client, String node, java.util.Map<String, String> annotations) {
    this.client = client;
    this.node = node;
    this.annotations = java.util.Map.copyOf(annotations);
    this.renewer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "gateway-lease");
      t.setDaemon(true);
      return t;
    });
  }

  /** Takes the Lease for {@code node} now and keeps renewing it. */
  public static GatewayLease hold(KubernetesClient client, String node) {
    return hold(client, node, java.util.Map.of());
  }

  /**
   * Takes the Lease for {@code node} now, with {@code annotations} (replacing those a previous
   * gateway on the node left, e.g. its stats address), and keeps renewing it.
   */
  public static GatewayLease hold(KubernetesClient client, String node, java.util.Map<String, String> annotations) {
    GatewayLease l = new GatewayLease(client, node, annotations);
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

  private volatile boolean annotated;

  private String name() {
    return PREFIX + node;
  }

  private void renew() {
    try {
      Heartbeat.renew(client, new ObjectMetaBuilder().withName(name()).withNamespace(Gateway.NAMESPACE)
          .withAnnotations(annotations.isEmpty() ? null : annotations).build(), node, DURATION_SECONDS, Instant.now());
      if (!annotated && !annotations.isEmpty()) {
        // Heartbeat sets annotations on create only: a Lease left by a previous gateway on this
        // node (it crashed) still names that gateway's address.
        client.leases().inNamespace(Gateway.NAMESPACE).withName(name()).edit(l -> {
          java.util.Map<String, String> a = new java.util.HashMap<>(
              l.getMetadata().getAnnotations() == null ? java.util.Map.of() : l.getMetadata().getAnnotations());
          a.putAll(annotations);
          l.getMetadata().setAnnotations(a);
          return l;
        });
        annotated = true;
      }
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
