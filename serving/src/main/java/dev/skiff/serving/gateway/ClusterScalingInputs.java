package dev.skiff.serving.gateway;

import dev.skiff.serving.autoscaler.GatewayStats;
import dev.skiff.serving.autoscaler.ScalingInputs;
import dev.skiff.serving.autoscaler.StatsMerger;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The autoscaler's inputs in a cluster with several gateways: revisions, ready pods and
 * reachability from this gateway's {@link ServingView} (every gateway watches the same
 * objects), and traffic from every live gateway: this one's counters directly, the others'
 * from their {@link StatsServer} ({@code GET http://<stats-address>/.skiff/stats}), found
 * through their {@link GatewayLease} ({@link GatewayLease#STATS_ADDRESS}, live by renewTime).
 * Each scrape round reads all peers in parallel and waits at most {@link #PEER_TIMEOUT_MS}; a
 * peer that has not answered by then counts as no data for that round (its next answer covers
 * the missed period, see {@link StatsMerger}), and the round is not {@link #complete()}: nothing
 * is scaled to zero while a live gateway cannot be read. Only the leading autoscaler scrapes, so
 * followers cost nothing.
 *
 * <p>Thread-safe as {@link ScalingInputs} requires: rounds are serialized by the autoscaler's
 * thread; the Lease informer runs on its own.
 */
final class ClusterScalingInputs implements ScalingInputs, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ClusterScalingInputs.class);
  static final long PEER_TIMEOUT_MS = 200;

  private final KubernetesClient client;
  private final ServingView view;
  private final String instance;
  private final String ownLease;
  private final StatsMerger merger = new StatsMerger();
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofMillis(PEER_TIMEOUT_MS)).build();
  private volatile SharedIndexInformer<Lease> leases;
  private volatile Map<String, Sample> round = Map.of();
  private volatile int peersRead;
  private volatile boolean complete = true;

  /**
   * @param instance this gateway's {@link GatewayStats#instance()}
   * @param node this gateway's node (its own Lease is not a peer)
   */
  ClusterScalingInputs(KubernetesClient client, ServingView view, String instance, String node) {
    this.client = client;
    this.view = view;
    this.instance = instance;
    this.ownLease = GatewayLease.PREFIX + node;
  }

  ClusterScalingInputs start() {
    leases = client.leases().inNamespace(Gateway.NAMESPACE).inform();
    return this;
  }

  /** The peers' stats addresses: live gateway Leases other than this gateway's, with an address. */
  List<String> peers() {
    List<String> out = new ArrayList<>();
    SharedIndexInformer<Lease> l = leases;
    if (l == null) {
      return out;
    }
    Instant now = Instant.now();
    for (Lease lease : l.getStore().list()) {
      String addr = lease.getMetadata().getAnnotations() == null ? null
          : lease.getMetadata().getAnnotations().get(GatewayLease.STATS_ADDRESS);
      if (addr != null && !ownLease.equals(lease.getMetadata().getName()) && GatewayLease.live(lease, now)) {
        out.add(addr);
      }
    }
    return out;
  }

  /** How many peers answered in the last round (diagnostics, tests). */
  int peersRead() {
    return peersRead;
  }

  @Override
  public void beginScrape() {
    List<GatewayStats> readings = new ArrayList<>();
    readings.add(view.stats(instance));
    List<CompletableFuture<HttpResponse<byte[]>>> calls = new ArrayList<>();
    for (String peer : peers()) {
      HttpRequest req = HttpRequest.newBuilder(URI.create("http://" + peer + StatsServer.PATH))
          .timeout(Duration.ofMillis(PEER_TIMEOUT_MS)).GET().build();
      calls.add(http.sendAsync(req, HttpResponse.BodyHandlers.ofByteArray()));
    }
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(PEER_TIMEOUT_MS);
    int read = 0;
    for (CompletableFuture<HttpResponse<byte[]>> call : calls) {
      try {
        HttpResponse<byte[]> r = call.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        if (r.statusCode() == 200) {
          readings.add(GatewayStats.fromJson(r.body()));
          read++;
        }
      } catch (TimeoutException e) {
        call.cancel(true);
        log.debug("a gateway's stats did not arrive within {} ms", PEER_TIMEOUT_MS);
      } catch (ExecutionException | java.io.IOException e) {
        log.debug("reading a gateway's stats failed: {}", e.toString());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
    peersRead = read;
    complete = read == calls.size();
    round = merger.merge(readings);
  }

  /** False when a live peer did not answer in the last round (see {@link ScalingInputs#complete}). */
  @Override
  public boolean complete() {
    return complete;
  }

  @Override
  public Sample scrape(String namespace, String revision) {
    return round.getOrDefault(namespace + "/" + revision, new Sample(0, 0));
  }

  @Override
  public Collection<GenericKubernetesResource> revisions() {
    return view.revisions();
  }

  @Override
  public int readyPods(String namespace, String revision) {
    return view.readyPods(namespace, revision);
  }

  @Override
  public boolean reachable(String namespace, String revision) {
    return view.reachable(namespace, revision);
  }

  @Override
  public void close() {
    SharedIndexInformer<Lease> l = leases;
    if (l != null) {
      l.close();
    }
    http.close();
  }
}
