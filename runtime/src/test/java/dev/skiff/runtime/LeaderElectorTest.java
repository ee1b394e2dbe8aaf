package dev.skiff.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.skiff.apiserver.testing.TestServer;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Leader election on a real Lease. */
class LeaderElectorTest extends ClusterTest {
  static final Duration LEASE = Duration.ofSeconds(2);
  static final Duration RENEW = Duration.ofMillis(1000);
  static final Duration RETRY = Duration.ofMillis(200);



  static LeaderElector elector(String lease, String id, List<String> log) {
    return LeaderElector.builder(client, "default", lease).identity(id)
        .leaseDuration(LEASE).renewDeadline(RENEW).retryPeriod(RETRY)
        .onStartedLeading(() -> log.add("start " + id))
        .onStoppedLeading(() -> log.add("stop " + id))
        .build();
  }

  static long leaders(LeaderElector... electors) {
    return java.util.Arrays.stream(electors).filter(LeaderElector::isLeader).count();
  }

  @Test
  void exactlyOneLeadsAndAbandonedLeaseIsTakenOverAfterItExpires() throws Exception {
    List<String> log = new CopyOnWriteArrayList<>();
    LeaderElector a = elector("one", "a", log);
    LeaderElector b = elector("one", "b", log);
    a.start();
    b.start();
    assertThat(Poll.until(Duration.ofSeconds(10), () -> leaders(a, b) == 1)).isTrue();
    for (int i = 0; i < 30; i++) { // 1.5 s: longer than the lease, so renewals happened
      assertThat(leaders(a, b)).isLessThanOrEqualTo(1);
      Thread.sleep(50);
    }
    assertThat(leaders(a, b)).isEqualTo(1);
    LeaderElector leader = a.isLeader() ? a : b;
    LeaderElector other = leader == a ? b : a;
    Lease lease = client.leases().inNamespace("default").withName("one").get();
    assertThat(lease.getSpec().getHolderIdentity()).isEqualTo(leader.identity());
    assertThat(lease.getSpec().getLeaseDurationSeconds()).isEqualTo(2);
    assertThat(lease.getSpec().getLeaseTransitions()).isZero();

    long killed = System.nanoTime();
    leader.abandon();
    assertThat(Poll.until(Duration.ofSeconds(10), other::isLeader)).isTrue();
    long handover = System.nanoTime() - killed;
    // Expiry is judged from the last time the follower saw the record change (its own clock):
    // at most leaseDuration after the last renewal plus one jittered retry period.
    assertThat(Duration.ofNanos(handover)).isBetween(Duration.ofMillis(500),
        LEASE.plus(Duration.ofMillis((long) (RETRY.toMillis() * 2.2))).plusMillis(700)); // slack: loaded 2-core CI
    Lease after = client.leases().inNamespace("default").withName("one").get();
    assertThat(after.getSpec().getHolderIdentity()).isEqualTo(other.identity());
    assertThat(after.getSpec().getLeaseTransitions()).isEqualTo(1);
    assertThat(log).contains("start " + leader.identity(), "start " + other.identity());
    other.stop();
  }

  @Test
  void cleanStopReleasesImmediately() throws Exception {
    List<String> log = new CopyOnWriteArrayList<>();
    LeaderElector a = elector("two", "a", log);
    a.start();
    assertThat(Poll.until(Duration.ofSeconds(10), a::isLeader)).isTrue();
    LeaderElector b = elector("two", "b", log);
    b.start();
    Thread.sleep(500);
    assertThat(b.isLeader()).isFalse();
    long stopped = System.nanoTime();
    a.stop();
    Lease released = client.leases().inNamespace("default").withName("two").get();
    assertThat(released.getSpec().getHolderIdentity()).satisfiesAnyOf(
        h -> assertThat(h).isNullOrEmpty(), h -> assertThat(h).isEqualTo("b"));
    assertThat(Poll.until(Duration.ofSeconds(10), b::isLeader)).isTrue();
    // Under the lease duration: b only waits for its next retry (<= 440 ms), not for expiry.
    assertThat(Duration.ofNanos(System.nanoTime() - stopped)).isLessThan(LEASE.minusMillis(300));
    assertThat(Poll.until(Duration.ofSeconds(2), () -> log.contains("stop a"))).isTrue();

    // The Lease on the wire: MicroTime timestamps, transitions counted.
    var res = server.request("GET", "/apis/coordination.k8s.io/v1/namespaces/default/leases/two", null, null);
    JsonNode spec = new ObjectMapper().readTree(res.body()).get("spec");
    assertThat(spec.get("holderIdentity").asText()).isEqualTo("b");
    assertThat(spec.get("renewTime").asText()).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z");
    assertThat(spec.get("acquireTime").asText()).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{6}Z");
    assertThat(spec.get("leaseTransitions").asInt()).isEqualTo(1);
    b.stop();
    assertThat(b.isLeader()).isFalse();
  }

  @Test
  void aLeaderThatLostItsLeaseCampaignsAgainAndCallbacksStayInOrder() throws Exception {
    List<String> log = new CopyOnWriteArrayList<>();
    LeaderElector a = elector("three", "a", log);
    a.start();
    assertThat(Poll.until(Duration.ofSeconds(10), a::isLeader)).isTrue();
    // Someone else takes the Lease over (as after a renewal that could not reach the API server
    // in time): a cannot renew within its deadline and stops leading...
    for (boolean taken = false; !taken; ) {
      Lease lease = client.leases().inNamespace("default").withName("three").get();
      lease.getSpec().setHolderIdentity("intruder");
      lease.getSpec().setLeaseDurationSeconds(1);
      try {
        client.leases().inNamespace("default").resource(lease).update();
        taken = true;
      } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
        assertThat(e.getCode()).isEqualTo(409); // a's renewal came first: read again
      }
    }
    assertThat(Poll.until(Duration.ofSeconds(10), () -> log.contains("stop a"))).isTrue();
    // ...and, the intruder never renewing, takes it back once it expires: leading again, with
    // the work started, stopped and started in that order.
    assertThat(Poll.until(Duration.ofSeconds(10), () -> a.isLeader() && log.size() == 3)).isTrue();
    assertThat(log).containsExactly("start a", "stop a", "start a");
    assertThat(client.leases().inNamespace("default").withName("three").get().getSpec().getHolderIdentity()).isEqualTo("a");
    a.stop();
    assertThat(Poll.until(Duration.ofSeconds(2), () -> log.size() == 4)).isTrue();
    assertThat(log).containsExactly("start a", "stop a", "start a", "stop a");
  }
}
