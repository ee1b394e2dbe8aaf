package dev.skiff.network;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.xbill.DNS.Message;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.SimpleResolver;

/**
 * Forwards queries outside the cluster domain to the host's resolvers (CoreDNS's
 * {@code forward . /etc/resolv.conf}), in order, each with a timeout; when every one fails or
 * times out the answer is SERVFAIL, so a client never waits longer than
 * {@code resolvers x timeout}. The cluster DNS's own address and the cluster DNS Service IP are
 * never used, so a host whose resolv.conf points back at Skiff cannot loop. Thread-safe.
 */
final class UpstreamResolvers {
  private static final Logger log = LoggerFactory.getLogger(UpstreamResolvers.class);

  private final List<InetSocketAddress> servers;
  private final Duration timeout;

  UpstreamResolvers(List<InetSocketAddress> servers, Duration timeout) {
    this.servers = List.copyOf(servers);
    this.timeout = timeout;
  }

  List<InetSocketAddress> servers() {
    return servers;
  }

  /**
   * The resolvers from {@code resolv.conf} ("nameserver" lines, port 53), minus {@code self}
   * (this server) and {@code excluded} addresses (the cluster DNS ClusterIP).
   */
  static List<InetSocketAddress> fromResolvConf(Path resolvConf, InetSocketAddress self, Set<String> excluded) {
    List<InetSocketAddress> out = new ArrayList<>();
    List<String> lines;
    try {
      lines = Files.readAllLines(resolvConf);
    } catch (IOException e) {
      log.warn("cannot read {}: {}; names outside the cluster will not resolve", resolvConf, e.toString());
      return out;
    }
    for (String line : lines) {
      String[] f = line.trim().split("\\s+");
      if (f.length >= 2 && f[0].equals("nameserver")) {
        InetSocketAddress a = new InetSocketAddress(f[1], 53);
        if (a.isUnresolved() || excluded.contains(f[1]) || isSelf(a, self)) {
          continue;
        }
        out.add(a);
      }
    }
    return out;
  }

  private static boolean isSelf(InetSocketAddress a, InetSocketAddress self) {
    if (a.getPort() != self.getPort()) {
      return false;
    }
    InetAddress ip = a.getAddress();
    if (ip.equals(self.getAddress())) {
      return true;
    }
    // Bound to the wildcard, or the resolver is another local address of this host.
    try {
      return self.getAddress().isAnyLocalAddress() && (ip.isLoopbackAddress() || NetworkInterface.getByInetAddress(ip) != null);
    } catch (SocketException e) {
      return false;
    }
  }

  /** The upstream answer to {@code query} (over TCP when {@code tcp}), or SERVFAIL. */
  Message forward(Message query, boolean tcp) {
    for (InetSocketAddress server : servers) {
      try {
        SimpleResolver r = new SimpleResolver(server);
        r.setTimeout(timeout);
        r.setTCP(tcp);
        Message answer = r.send(query);
        answer.getHeader().setID(query.getHeader().getID());
        return answer;
      } catch (IOException | RuntimeException e) {
        log.debug("upstream {} failed for {}: {}", server, query.getQuestion(), e.toString());
      }
    }
    Message fail = ClusterZone.reply(query);
    fail.getHeader().setRcode(Rcode.SERVFAIL);
    return fail;
  }
}
