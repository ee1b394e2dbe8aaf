package dev.skiff.apiserver.pki;

import java.io.IOException;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.CertificateParsingException;
import java.security.cert.X509Certificate;
import java.util.Collection;
import java.util.Enumeration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The DNS names and IP addresses a serving certificate must carry.
 *
 * <p>IP addresses are kept as address-only {@link InetAddress} values (no host name, no IPv6 scope)
 * so that set comparison is by address bytes.
 */
record SubjectAltNames(Set<String> dnsNames, Set<InetAddress> ipAddresses) {
  private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");

  SubjectAltNames {
    dnsNames = Set.copyOf(dnsNames);
    ipAddresses = Set.copyOf(ipAddresses);
  }

  /**
   * localhost, loopback addresses, the host name, every non-link-local address of an up interface,
   * plus {@code extra} (IP literals become IP SANs, anything else a DNS SAN).
   *
   * <p>Link-local IPv6 addresses are left out on purpose: no client puts them in a URL, and they
   * come and go with every container veth, which would otherwise force a new certificate per start.
   */
  static SubjectAltNames forHost(List<String> extra) {
    Set<String> dns = new LinkedHashSet<>();
    Set<InetAddress> ips = new LinkedHashSet<>();
    dns.add("localhost");
    ips.add(literal("127.0.0.1"));
    ips.add(literal("::1"));
    String host = hostName();
    if (host != null && !host.isEmpty()) dns.add(host.toLowerCase(Locale.ROOT));
    try {
      Enumeration<NetworkInterface> nis = NetworkInterface.getNetworkInterfaces();
      while (nis != null && nis.hasMoreElements()) {
        NetworkInterface ni = nis.nextElement();
        if (!ni.isUp()) continue;
        for (Enumeration<InetAddress> as = ni.getInetAddresses(); as.hasMoreElements(); ) {
          InetAddress a = as.nextElement();
          if (!a.isLinkLocalAddress()) ips.add(strip(a));
        }
      }
    } catch (SocketException e) {
      // Interfaces are a convenience; loopback + host name still make a usable certificate.
    }
    SubjectAltNames e = parse(extra);
    dns.addAll(e.dnsNames);
    ips.addAll(e.ipAddresses);
    return new SubjectAltNames(dns, ips);
  }

  static SubjectAltNames parse(List<String> names) {
    Set<String> dns = new LinkedHashSet<>();
    Set<InetAddress> ips = new LinkedHashSet<>();
    for (String n : names) {
      String s = n.strip();
      if (s.startsWith("[") && s.endsWith("]")) s = s.substring(1, s.length() - 1);
      if (s.isEmpty()) continue;
      if (IPV4.matcher(s).matches() || s.indexOf(':') >= 0) {
        ips.add(literal(s));
      } else {
        dns.add(s.toLowerCase(Locale.ROOT));
      }
    }
    return new SubjectAltNames(dns, ips);
  }

  static SubjectAltNames of(X509Certificate cert) {
    Set<String> dns = new LinkedHashSet<>();
    Set<InetAddress> ips = new LinkedHashSet<>();
    try {
      Collection<List<?>> sans = cert.getSubjectAlternativeNames();
      if (sans != null) {
        for (List<?> san : sans) {
          int type = (Integer) san.get(0);
          if (type == 2) dns.add(((String) san.get(1)).toLowerCase(Locale.ROOT));
          if (type == 7) ips.add(literal((String) san.get(1)));
        }
      }
    } catch (CertificateParsingException | IllegalArgumentException e) {
      // An unreadable SAN extension covers nothing; the caller will reissue.
    }
    return new SubjectAltNames(dns, ips);
  }

  boolean covers(SubjectAltNames required) {
    return dnsNames.containsAll(required.dnsNames) && ipAddresses.containsAll(required.ipAddresses);
  }

  /**
   * The kernel's host name, read without a resolver round trip: {@code InetAddress.getLocalHost()}
   * resolves the name and can block for seconds on a host with broken DNS.
   */
  static String hostName() {
    try {
      Path p = Path.of("/proc/sys/kernel/hostname");
      if (Files.isReadable(p)) return Files.readString(p).strip();
    } catch (IOException | SecurityException e) {
      // fall through
    }
    String env = System.getenv("COMPUTERNAME");
    if (env == null) env = System.getenv("HOSTNAME");
    if (env != null) return env;
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      return null;
    }
  }

  /** Parses an IP literal; getByName does no lookup for literals. */
  static InetAddress literal(String ip) {
    try {
      return strip(InetAddress.getByName(ip));
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("not an IP address: " + ip, e);
    }
  }

  private static InetAddress strip(InetAddress a) {
    try {
      return InetAddress.getByAddress(a.getAddress());
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }
}
