package dev.skiff.serving.gateway;

import static dev.skiff.serving.gateway.ServingFixture.traffic;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpHeader;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

/**
 * Two gateways in one JVM (nodes node-a and node-b, ephemeral ports), one API server: one
 * autoscaler leads; traffic through the other gateway alone keeps a revision up (the leader
 * reads its stats); a request through the follower to a revision at zero gets a pod; when the
 * leader stops, the other leads and scales. A stand-in kubelet keeps one Ready pod (a local
 * {@link TestApp}) per replica of each revision's Deployment. Short windows (stable 6 s, grace
 * 1 s, election Lease 3 s) keep it quick; nothing asserts a duration.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SeveralGatewaysTest {
  static final Map<String, String> OPTIONS = Map.of("autoscaler.leaseDurationSeconds", "3");
  static ServingFixture fx;
  static final List<Gateway.Running> gateways = new CopyOnWriteArrayList<>();
  static Gateway.Running leader;
  static Gateway.Running follower;
  static HttpClient http;
  static StandInKubelet kubelet;

  @BeforeAll
  static void start() throws Exception {
    fx = new ServingFixture(Map.of("stable-window", "6s", "scale-to-zero-grace-period", "1s"), OPTIONS);
    gateways.add(fx.gateway);
    gateways.add(fx.startGateway("node-b", OPTIONS));
    http = new HttpClient();
    http.start();
    kubelet = new StandInKubelet(fx);
  }

  @AfterAll
  static void stop() throws Exception {
    kubelet.close();
    http.stop();
    for (Gateway.Running g : gateways) {
      if (g != fx.gateway) {
        g.close();
      }
    }
    if (!gateways.contains(fx.gateway)) {
      fx.gateway = null; // closed by the test
    }
    fx.close();
  }

  static ContentResponse get(Gateway.Running g, String host, String path) throws Exception {
    return http.newRequest("127.0.0.1", g.port()).path(path).headers(h -> h.put(HttpHeader.HOST, host))
        .timeout(60, TimeUnit.SECONDS).send();
  }

  /** A revision with a Deployment at {@code replicas}, served by its own Route at host {@code <route>.default.localhost}. */
  static void service(String route, String rev, int replicas, Map<String, String> annotations) {
    kubelet.watch(rev);
    fx.revision(rev, 0, 300, annotations);
    fx.deployment(rev, replicas);
    fx.route(route, "http://" + route + ".default.localhost", List.of(traffic(rev, 100, null, null)));
  }

  @Test
  @Order(1)
  void exactlyOneGatewayLeads() throws Exception {
    assertThat(ServingFixture.until(Duration.ofSeconds(30), () -> gateways.stream().anyMatch(Gateway.Running::leading))).isTrue();
    List<Gateway.Running> leading = gateways.stream().filter(Gateway.Running::leading).toList();
    assertThat(leading).hasSize(1);
    leader = leading.get(0);
    follower = gateways.stream().filter(g -> g != leader).findFirst().orElseThrow();
    assertThat(follower.autoscaler().isLeading()).isFalse();
    var lease = fx.client.leases().inNamespace("knative-serving").withName("autoscaler").get();
    assertThat(lease.getSpec().getHolderIdentity()).isNotBlank();
  }

  @Test
  @Order(2)
  void trafficOnlyThroughTheFollowerKeepsTheRevisionUpThenItGoesToZero() throws Exception {
    service("busy", "busy-00001", 1, Map.of());
    assertThat(ServingFixture.until(Duration.ofSeconds(20), () -> {
      try {
        return get(follower, "busy.default.localhost", "/").getStatus() == 200;
      } catch (Exception e) {
        return false;
      }
    })).isTrue();
    // Longer than the stable window plus grace (7 s) with traffic through the follower only:
    // a leader blind to the follower would scale the revision to zero meanwhile.
    AtomicInteger failed = new AtomicInteger();
    AtomicInteger zeroSeen = new AtomicInteger();
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(12);
    while (System.nanoTime() < end) {
      if (get(follower, "busy.default.localhost", "/?sleep=200").getStatus() != 200) {
        failed.incrementAndGet();
      }
      if (fx.replicas("busy-00001") == 0) {
        zeroSeen.incrementAndGet();
      }
    }
    assertThat(failed.get()).isZero();
    assertThat(zeroSeen.get()).as("times the Deployment was seen at zero under traffic").isZero();
    assertThat(leader.inputs().peersRead()).as("peers the leader read in its last scrape").isEqualTo(1);
    // No more traffic: the leader does scale it to zero (so the traffic above is what kept it up).
    assertThat(ServingFixture.until(Duration.ofSeconds(30), () -> fx.replicas("busy-00001") == 0)).isTrue();
  }

  @Test
  @Order(3)
  void aRequestThroughTheFollowerToARevisionAtZeroGetsAPodAndIsAnswered() throws Exception {
    service("cold", "cold-00001", 0, Map.of());
    assertThat(ServingFixture.until(Duration.ofSeconds(10),
        () -> follower.view().lookup("cold.default.localhost") != null)).isTrue();
    ContentResponse r = get(follower, "cold.default.localhost", "/");
    assertThat(r.getStatus()).isEqualTo(200);
    assertThat(r.getContentAsString()).startsWith("cold-00001-pod-");
    assertThat(fx.replicas("cold-00001")).isEqualTo(1);
    assertThat(ServingFixture.until(Duration.ofSeconds(10), () -> fx.client.v1().events().inNamespace("default").list()
        .getItems().stream().anyMatch(e -> "cold-00001".equals(e.getInvolvedObject().getName())
            && e.getMessage().contains("activating from zero")))).isTrue();
  }

  /** What activation from any gateway relies on: a scale write with a stale resourceVersion is refused. */
  @Test
  @Order(0)
  void aScaleWriteConditionedOnAStaleResourceVersionIsAConflict() {
    var d = fx.deployment("cond-00001", 0);
    var deployments = fx.client.apps().deployments().inNamespace("default").withName("cond-00001-deployment");
    deployments.scale(new io.fabric8.kubernetes.api.model.autoscaling.v1.ScaleBuilder().withNewMetadata()
        .withName("cond-00001-deployment").withNamespace("default").withResourceVersion(d.getMetadata().getResourceVersion())
        .endMetadata().withNewSpec().withReplicas(1).endSpec().build());
    assertThat(fx.replicas("cond-00001")).isEqualTo(1);
    var stale = new io.fabric8.kubernetes.api.model.autoscaling.v1.ScaleBuilder().withNewMetadata()
        .withName("cond-00001-deployment").withNamespace("default").withResourceVersion(d.getMetadata().getResourceVersion())
        .endMetadata().withNewSpec().withReplicas(3).endSpec().build();
    assertThatThrownBy(() -> deployments.scale(stale)).isInstanceOfSatisfying(
        io.fabric8.kubernetes.client.KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(409));
    assertThat(fx.replicas("cond-00001")).isEqualTo(1);
  }

  @Test
  @Order(4)
  void whenTheLeaderStopsTheOtherGatewayLeadsAndScales() throws Exception {
    gateways.remove(leader);
    leader.close();
    assertThat(ServingFixture.until(Duration.ofSeconds(30), follower::leading)).isTrue();
    // A revision routed with min-scale 2 and a Deployment at 1: the new leader scales it up.
    service("floor", "floor-00001", 1, Map.of("autoscaling.knative.dev/min-scale", "2"));
    assertThat(ServingFixture.until(Duration.ofSeconds(30), () -> fx.replicas("floor-00001") == 2)).isTrue();
    // And it still activates revisions at zero.
    service("late", "late-00001", 0, Map.of());
    assertThat(ServingFixture.until(Duration.ofSeconds(10),
        () -> follower.view().lookup("late.default.localhost") != null)).isTrue();
    assertThat(get(follower, "late.default.localhost", "/").getStatus()).isEqualTo(200);
  }

  @Test
  @Order(5)
  void aPeerThatDoesNotAnswerIsNoDataDoesNotStopScalingAndHoldsScaleToZero() throws Exception {
    try (java.net.ServerSocket silent = new java.net.ServerSocket(0, 50, java.net.InetAddress.getLoopbackAddress())) {
      // A gateway Lease naming a stats address that accepts connections and never answers.
      var now = java.time.ZonedDateTime.now(java.time.ZoneOffset.UTC);
      fx.client.leases().inNamespace("knative-serving").resource(new io.fabric8.kubernetes.api.model.coordination.v1.LeaseBuilder()
          .withNewMetadata().withName("gateway-node-z").withNamespace("knative-serving")
          .addToAnnotations(GatewayLease.STATS_ADDRESS, "127.0.0.1:" + silent.getLocalPort()).endMetadata()
          .withNewSpec().withHolderIdentity("node-z").withLeaseDurationSeconds(40).withRenewTime(now).endSpec().build()).create();
      assertThat(ServingFixture.until(Duration.ofSeconds(10),
          () -> follower.inputs().peers().contains("127.0.0.1:" + silent.getLocalPort()))).isTrue();
      service("slow", "slow-00001", 1, Map.of("autoscaling.knative.dev/min-scale", "3"));
      service("idle", "idle-00001", 1, Map.of());
      assertThat(ServingFixture.until(Duration.ofSeconds(30), () -> fx.replicas("slow-00001") == 3)).isTrue();
      assertThat(follower.inputs().peersRead()).isZero();
      assertThat(follower.inputs().complete()).isFalse();
      // An idle revision is not scaled to zero while a live gateway cannot be read: longer than
      // the stable window plus grace (7 s) at 1 replica.
      long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (System.nanoTime() < end) {
        assertThat(fx.replicas("idle-00001")).isEqualTo(1);
        Thread.sleep(200);
      }
      fx.client.leases().inNamespace("knative-serving").withName("gateway-node-z").delete();
      // Once that gateway is gone, it is.
      assertThat(ServingFixture.until(Duration.ofSeconds(30), () -> fx.replicas("idle-00001") == 0)).isTrue();
    }
  }

  /** The second case: a gateway that never leads still gets a pod for a request it holds. */
  @Test
  @Order(6)
  void aGatewayThatNeverLeadsStillActivatesWhenNobodyLeads() throws Exception {
    Gateway.Running passive = fx.startGateway("node-c", Map.of("gateway.autoscaler", "false"));
    gateways.add(passive);
    gateways.remove(follower);
    follower.close(); // the last campaigning gateway: nobody leads now
    assertThat(passive.leading()).isFalse();
    service("lone", "lone-00001", 0, Map.of());
    assertThat(ServingFixture.until(Duration.ofSeconds(10),
        () -> passive.view().lookup("lone.default.localhost") != null)).isTrue();
    ContentResponse r = get(passive, "lone.default.localhost", "/");
    assertThat(r.getStatus()).isEqualTo(200);
    assertThat(r.getContentAsString()).startsWith("lone-00001-pod-");
    assertThat(passive.leading()).isFalse();
    assertThat(fx.client.leases().inNamespace("knative-serving").withName("autoscaler").get().getSpec().getHolderIdentity())
        .isNullOrEmpty();
  }
}
