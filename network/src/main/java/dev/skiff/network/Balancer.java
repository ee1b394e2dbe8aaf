package dev.skiff.network;

import dev.skiff.runtime.Clock;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Chooses the upstream endpoint of each new connection (or UDP flow) of one Service port:
 * round-robin, or sticky per client IP when ClientIP session affinity is on. Modelled on the
 * removed user-space kube-proxy's load balancer (pkg/proxy/userspace/roundrobin.go, Kubernetes
 * 1.25): an affinity entry holds while it is used within the timeout and its endpoint is still
 * an upstream; a failed connect resets the client's affinity and moves on.
 *
 * <p>{@link #update} swaps the endpoint list atomically; it never touches established
 * connections (draining is the forwarders' business). Thread-safe and lock-free on the pick path.
 */
final class Balancer {
  private record State(List<InetSocketAddress> endpoints, Set<InetSocketAddress> members, long affinityNanos) {}

  private record Sticky(InetSocketAddress endpoint, long lastUsedNanos) {}

  private final Clock clock;
  private final AtomicInteger next = new AtomicInteger();
  private final Map<InetAddress, Sticky> sticky = new ConcurrentHashMap<>();
  private volatile State state = new State(List.of(), Set.of(), 0);

  Balancer(Clock clock) {
    this.clock = clock;
  }

  /**
   * Replaces the upstreams.
   *
   * @param affinitySeconds ClientIP affinity timeout; 0 turns affinity off
   */
  void update(List<InetSocketAddress> endpoints, int affinitySeconds) {
    State s = new State(List.copyOf(endpoints), Set.copyOf(new HashSet<>(endpoints)), affinitySeconds * 1_000_000_000L);
    state = s;
    if (s.affinityNanos == 0) {
      sticky.clear();
    } else {
      long now = clock.nanoTime();
      sticky.values().removeIf(st -> !s.members.contains(st.endpoint) || now - st.lastUsedNanos > s.affinityNanos);
    }
  }

  List<InetSocketAddress> endpoints() {
    return state.endpoints;
  }

  boolean contains(InetSocketAddress endpoint) {
    return state.members.contains(endpoint);
  }

  /**
   * The endpoint for a new connection from {@code client}, skipping {@code tried} (endpoints that
   * already refused this connection); null when none is left.
   */
  InetSocketAddress pick(InetAddress client, Set<InetSocketAddress> tried) {
    State s = state;
    int n = s.endpoints.size();
    if (n == 0) {
      return null;
    }
    long now = clock.nanoTime();
    if (s.affinityNanos > 0 && tried.isEmpty()) {
      Sticky st = sticky.get(client);
      if (st != null && s.members.contains(st.endpoint) && now - st.lastUsedNanos <= s.affinityNanos) {
        sticky.put(client, new Sticky(st.endpoint, now));
        return st.endpoint;
      }
    }
    int start = Math.floorMod(next.getAndIncrement(), n);
    for (int i = 0; i < n; i++) {
      InetSocketAddress e = s.endpoints.get((start + i) % n);
      if (!tried.contains(e)) {
        if (s.affinityNanos > 0) {
          sticky.put(client, new Sticky(e, now));
        }
        return e;
      }
    }
    return null;
  }
}
