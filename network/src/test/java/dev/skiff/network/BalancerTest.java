package dev.skiff.network;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.runtime.FakeClock;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class BalancerTest {
  static final InetSocketAddress A = new InetSocketAddress("10.42.0.2", 80);
  static final InetSocketAddress B = new InetSocketAddress("10.42.0.3", 80);
  static final InetSocketAddress C = new InetSocketAddress("10.42.0.4", 80);
  final FakeClock clock = new FakeClock();
  final Balancer balancer = new Balancer(clock);

  static InetAddress client(int i) throws Exception {
    return InetAddress.getByName("192.168.0." + i);
  }

  @Test
  void roundRobinVisitsEveryEndpointInTurn() throws Exception {
    balancer.update(List.of(A, B, C), 0);
    List<InetSocketAddress> picks = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      picks.add(balancer.pick(client(1), Set.of()));
    }
    assertThat(picks).containsExactly(A, B, C, A, B, C);
  }

  @Test
  void noEndpointsMeansNoPick() throws Exception {
    assertThat(balancer.pick(client(1), Set.of())).isNull();
    balancer.update(List.of(A), 0);
    assertThat(balancer.pick(client(1), Set.of(A))).as("every endpoint already tried").isNull();
  }

  @Test
  void retriesSkipTriedEndpoints() throws Exception {
    balancer.update(List.of(A, B, C), 0);
    assertThat(balancer.pick(client(1), Set.of(A, B))).isEqualTo(C);
  }

  @Test
  void clientIpAffinityHoldsWhileUsedWithinTheTimeout() throws Exception {
    balancer.update(List.of(A, B, C), 60);
    InetSocketAddress first = balancer.pick(client(1), Set.of());
    InetSocketAddress second = balancer.pick(client(2), Set.of());
    assertThat(second).isNotEqualTo(first);
    for (int i = 0; i < 5; i++) {
      clock.step(Duration.ofSeconds(59)); // each use refreshes the timer
      assertThat(balancer.pick(client(1), Set.of())).isEqualTo(first);
    }
    clock.step(Duration.ofSeconds(61));
    balancer.pick(client(3), Set.of()); // move the round-robin on
    assertThat(balancer.pick(client(1), Set.of())).as("expired: round-robin again").isNotNull();
  }

  @Test
  void affinityExpiresAfterTheTimeout() throws Exception {
    balancer.update(List.of(A, B), 10);
    InetSocketAddress first = balancer.pick(client(1), Set.of());
    clock.step(Duration.ofSeconds(11));
    assertThat(balancer.pick(client(1), Set.of())).isNotEqualTo(first);
  }

  @Test
  void affinityToARemovedEndpointMovesOn() throws Exception {
    balancer.update(List.of(A, B), 10800);
    InetSocketAddress first = balancer.pick(client(1), Set.of());
    InetSocketAddress other = first.equals(A) ? B : A;
    balancer.update(List.of(other), 10800);
    assertThat(balancer.pick(client(1), Set.of())).isEqualTo(other);
    balancer.update(List.of(A, B), 10800);
    assertThat(balancer.pick(client(1), Set.of())).as("sticks to the new choice").isEqualTo(other);
  }
}
