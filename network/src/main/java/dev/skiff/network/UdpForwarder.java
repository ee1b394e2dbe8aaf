package dev.skiff.network;

import dev.skiff.runtime.Clock;
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Forwards UDP datagrams received on one address to the {@link Balancer}'s endpoints. Each client
 * address:port is a flow with its own socket connected to the chosen endpoint (the user-space
 * proxy's "UDP connection", pkg/proxy/userspace/proxysocket.go udpProxySocket); replies come back
 * to the client from the listening address. A flow ends after {@code idle} without traffic. A
 * flow whose endpoint left the Service is re-balanced on its next datagram, as kube-proxy clears
 * the conntrack entries of stale UDP endpoints. Thread-safe.
 */
final class UdpForwarder implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(UdpForwarder.class);

  private final DatagramSocket socket;
  private final Balancer balancer;
  private final ThreadFactory threads;
  private final String name;
  private final Duration idle;
  private final Clock clock;
  private final Map<InetSocketAddress, Flow> flows = new ConcurrentHashMap<>();
  private volatile boolean closed;

  private final class Flow {
    final InetSocketAddress client;
    final InetSocketAddress endpoint;
    final DatagramSocket upstream;
    volatile long lastUsed;

    Flow(InetSocketAddress client, InetSocketAddress endpoint) throws IOException {
      this.client = client;
      this.endpoint = endpoint;
      this.upstream = new DatagramSocket();
      upstream.connect(endpoint);
      upstream.setSoTimeout((int) Math.min(idle.toMillis(), 1000));
      lastUsed = clock.nanoTime();
    }

    void replies() {
      byte[] buf = new byte[65535];
      DatagramPacket p = new DatagramPacket(buf, buf.length);
      while (!closed && !upstream.isClosed()) {
        try {
          p.setLength(buf.length);
          upstream.receive(p);
          lastUsed = clock.nanoTime();
          socket.send(new DatagramPacket(buf, p.getLength(), client));
        } catch (SocketTimeoutException e) {
          if (clock.nanoTime() - lastUsed > idle.toNanos()) {
            break;
          }
        } catch (IOException e) {
          break; // closed, or ICMP port unreachable from the endpoint
        }
      }
      end();
    }

    void end() {
      flows.remove(client, this);
      upstream.close();
    }
  }

  UdpForwarder(InetSocketAddress bind, Balancer balancer, ThreadFactory threads, String name, Duration idle, Clock clock)
      throws IOException {
    this.balancer = balancer;
    this.threads = threads;
    this.name = name;
    this.idle = idle;
    this.clock = clock;
    DatagramSocket s = new DatagramSocket(null);
    try {
      s.setReuseAddress(true);
      s.bind(bind);
    } catch (IOException e) {
      s.close();
      throw e;
    }
    this.socket = s;
    threads.newThread(this::receiveLoop).start();
  }

  InetSocketAddress localAddress() {
    return (InetSocketAddress) socket.getLocalSocketAddress();
  }

  private void receiveLoop() {
    byte[] buf = new byte[65535];
    DatagramPacket p = new DatagramPacket(buf, buf.length);
    while (!closed) {
      try {
        p.setLength(buf.length);
        socket.receive(p);
      } catch (IOException e) {
        if (!closed) {
          log.warn("{}: receive failed: {}", name, e.toString());
        }
        return;
      }
      InetSocketAddress client = (InetSocketAddress) p.getSocketAddress();
      Flow f = flows.get(client);
      if (f != null && !balancer.contains(f.endpoint)) {
        f.end();
        f = null;
      }
      if (f == null) {
        InetSocketAddress ep = balancer.pick(client.getAddress(), Set.of());
        if (ep == null) {
          continue; // no endpoint: drop, as kube-proxy's REJECT would for TCP
        }
        try {
          f = new Flow(client, ep);
        } catch (IOException e) {
          log.debug("{}: cannot open a flow to {}: {}", name, ep, e.toString());
          continue;
        }
        flows.put(client, f);
        Flow started = f;
        threads.newThread(started::replies).start();
      }
      try {
        f.lastUsed = clock.nanoTime();
        f.upstream.send(new DatagramPacket(buf, p.getLength()));
      } catch (IOException e) {
        f.end();
      }
    }
  }

  /** Stops receiving and ends every flow. */
  @Override
  public void close() {
    closed = true;
    socket.close();
    flows.values().forEach(Flow::end);
  }
}
