package dev.skiff.apiserver.services;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Service address space of a cluster: the IPv4 service CIDR that clusterIPs come from
 * ({@code --service-cluster-ip-range}, Skiff's {@code --service-cidr}, default 10.43.0.0/16 as in
 * k3s) and the NodePort range ({@code --service-node-port-range}, default 30000-32767).
 * Immutable.
 */
public final class ServiceNetwork {
  public static final String DEFAULT_CIDR = "10.43.0.0/16";
  public static final String DEFAULT_NODE_PORTS = "30000-32767";
  private static final Pattern CIDR = Pattern.compile("(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})\\.(\\d{1,3})/(\\d{1,2})");
  private static final Pattern PORTS = Pattern.compile("(\\d{1,5})-(\\d{1,5})");
  public static final ServiceNetwork DEFAULT = parse(DEFAULT_CIDR, DEFAULT_NODE_PORTS);

  private final String cidr;
  private final int network;
  private final int prefix;
  private final int firstPort;
  private final int lastPort;

  private ServiceNetwork(String cidr, int network, int prefix, int firstPort, int lastPort) {
    this.cidr = cidr;
    this.network = network;
    this.prefix = prefix;
    this.firstPort = firstPort;
    this.lastPort = lastPort;
  }

  /**
   * @param cidr an IPv4 CIDR with room for at least one Service ({@code /30} or larger), null for the default
   * @param nodePorts {@code FIRST-LAST}, null for the default
   * @throws IllegalArgumentException when either does not parse
   */
  public static ServiceNetwork parse(String cidr, String nodePorts) {
    String c = cidr == null || cidr.isBlank() ? DEFAULT_CIDR : cidr.trim();
    Matcher m = CIDR.matcher(c);
    if (!m.matches()) {
      throw new IllegalArgumentException("service CIDR must be an IPv4 CIDR such as 10.43.0.0/16, got " + c);
    }
    int ip = 0;
    for (int i = 1; i <= 4; i++) {
      int octet = Integer.parseInt(m.group(i));
      if (octet > 255) {
        throw new IllegalArgumentException("invalid service CIDR " + c);
      }
      ip = (ip << 8) | octet;
    }
    int prefix = Integer.parseInt(m.group(5));
    if (prefix < 12 || prefix > 30) {
      // kube-apiserver refuses ranges above 2^20 addresses for IPv4 (--service-cluster-ip-range).
      throw new IllegalArgumentException("service CIDR prefix must be between /12 and /30, got " + c);
    }
    int mask = (int) (0xFFFFFFFFL << (32 - prefix));
    String p = nodePorts == null || nodePorts.isBlank() ? DEFAULT_NODE_PORTS : nodePorts.trim();
    Matcher pm = PORTS.matcher(p);
    if (!pm.matches()) {
      throw new IllegalArgumentException("node port range must look like 30000-32767, got " + p);
    }
    int first = Integer.parseInt(pm.group(1));
    int last = Integer.parseInt(pm.group(2));
    if (first < 1 || last > 65535 || first > last) {
      throw new IllegalArgumentException("invalid node port range " + p);
    }
    int net = ip & mask;
    return new ServiceNetwork(format(net) + "/" + prefix, net, prefix, first, last);
  }

  /** The CIDR in canonical form (host bits cleared). */
  public String cidr() {
    return cidr;
  }

  /** The node port range as {@code FIRST-LAST}. */
  public String nodePortRange() {
    return firstPort + "-" + lastPort;
  }

  public int firstNodePort() {
    return firstPort;
  }

  public int lastNodePort() {
    return lastPort;
  }

  /**
   * The {@code n}-th usable address (1 = the first, the {@code kubernetes} Service's; 10 = the
   * cluster DNS Service's).
   */
  public String address(int n) {
    if (n < 1 || n > usableAddresses()) {
      throw new IllegalArgumentException("the service CIDR " + cidr + " has no address #" + n);
    }
    return format(network + n);
  }

  /** Addresses Services can get: the CIDR without its network and broadcast addresses. */
  int usableAddresses() {
    return (int) ((1L << (32 - prefix)) - 2);
  }

  /** The offset (0-based over usable addresses) of an IPv4 address, or -1 when outside the range. */
  int offsetOf(String ip) {
    long v = parseIpv4(ip);
    if (v < 0) {
      return -1;
    }
    long off = v - (network & 0xFFFFFFFFL) - 1;
    return off >= 0 && off < usableAddresses() ? (int) off : -1;
  }

  String addressAt(int offset) {
    return format(network + offset + 1);
  }

  /** An IPv4 dotted quad as an unsigned value, or -1 when it is not one. */
  static long parseIpv4(String s) {
    if (s == null) {
      return -1;
    }
    String[] parts = s.split("\\.", -1);
    if (parts.length != 4) {
      return -1;
    }
    long v = 0;
    for (String part : parts) {
      if (part.isEmpty() || part.length() > 3 || !part.chars().allMatch(Character::isDigit)) {
        return -1;
      }
      int o = Integer.parseInt(part);
      if (o > 255) {
        return -1;
      }
      v = (v << 8) | o;
    }
    return v;
  }

  private static String format(int ip) {
    return ((ip >>> 24) & 255) + "." + ((ip >>> 16) & 255) + "." + ((ip >>> 8) & 255) + "." + (ip & 255);
  }

  @Override
  public String toString() {
    return cidr + " ports " + nodePortRange();
  }
}
