package dev.skiff.kubelet;

import dev.skiff.kubelet.cri.Mount;
import io.fabric8.kubernetes.api.model.HostAlias;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodDNSConfig;
import io.fabric8.kubernetes.api.model.PodDNSConfigOption;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * A pod's /etc/resolv.conf and /etc/hosts, as the kubelet makes them
 * (pkg/kubelet/network/dns/dns.go GetPodDNS; kubelet_pods.go makeHostsMount), written into the
 * pod's directory and bind-mounted over the host's files inside each container's own mount
 * namespace only.
 *
 * <ul>
 *   <li>dnsPolicy ClusterFirst (the default; Default for a hostNetwork pod) and
 *       ClusterFirstWithHostNet: {@code nameserver <cluster-dns>}, {@code search <ns>.svc.<domain>
 *       svc.<domain> <domain>} plus the host's search domains, {@code options ndots:5};
 *       Default: the host's resolv.conf; None: nothing; then spec.dnsConfig is merged in
 *       (nameservers and searches appended without duplicates, options merged by name), cut to
 *       3 nameservers and 32 search domains.
 *   <li>/etc/hosts: the localhost lines, {@code <podIP> <hostname>[.<subdomain>.<ns>.svc.<domain>]}
 *       and hostAliases; a hostNetwork pod gets the node's file plus its hostAliases.
 * </ul>
 * Stateless apart from its configuration; thread-safe.
 */
final class PodDns {
  static final int MAX_NAMESERVERS = 3;
  static final int MAX_SEARCHES = 32;
  static final int MAX_SEARCH_CHARS = 2048;

  private final List<String> clusterDns;
  private final String clusterDomain;
  private final Path hostResolvConf;
  private final Path hostHosts;

  /**
   * @param clusterDns the cluster DNS addresses (comma-separated {@code cluster-dns} option)
   */
  PodDns(String clusterDns, String clusterDomain, Path hostResolvConf, Path hostHosts) {
    this.clusterDns = clusterDns == null || clusterDns.isBlank() ? List.of() : List.of(clusterDns.split("\\s*,\\s*"));
    this.clusterDomain = clusterDomain == null ? "" : clusterDomain;
    this.hostResolvConf = hostResolvConf;
    this.hostHosts = hostHosts;
  }

  /** Writes the pod's files into {@code podDir} and returns their mounts (none where the host's files serve as they are). */
  List<Mount> mounts(Pod pod, Path podDir, String podIp) throws IOException {
    List<Mount> out = new ArrayList<>();
    boolean hostNetwork = Boolean.TRUE.equals(pod.getSpec().getHostNetwork());
    String hostResolv = read(hostResolvConf);
    String resolv = resolvConf(pod, hostResolv);
    if (!resolv.equals(hostResolv)) {
      out.add(new Mount("/etc/resolv.conf", write(podDir.resolve("resolv.conf"), resolv).toString(), false));
    }
    String hosts = hostNetwork ? read(hostHosts) + aliases(pod) : hosts(pod, podIp, clusterDomain);
    if (!hostNetwork || !aliases(pod).isEmpty()) {
      out.add(new Mount("/etc/hosts", write(podDir.resolve("etc-hosts"), hosts).toString(), false));
    }
    return out;
  }

  private static Path write(Path f, String content) throws IOException {
    if (Files.exists(f) && Files.readString(f).equals(content)) {
      return f;
    }
    dev.skiff.kubelet.sandbox.SpareInodes.writeAtomically(f, content.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    return f;
  }

  private static String read(Path f) {
    try {
      return Files.readString(f);
    } catch (IOException e) {
      return "";
    }
  }

  /** The pod's resolv.conf; equals {@code hostResolv} when the pod uses the host's file unchanged. */
  String resolvConf(Pod pod, String hostResolv) {
    String policy = pod.getSpec().getDnsPolicy() == null || pod.getSpec().getDnsPolicy().isEmpty() ? "ClusterFirst"
        : pod.getSpec().getDnsPolicy();
    boolean hostNetwork = Boolean.TRUE.equals(pod.getSpec().getHostNetwork());
    String type = switch (policy) {
      case "None" -> "none";
      case "ClusterFirstWithHostNet" -> "cluster";
      case "ClusterFirst" -> hostNetwork ? "host" : "cluster";
      default -> "host";
    };
    if (type.equals("cluster") && clusterDns.isEmpty()) {
      type = "host"; // no cluster DNS known: the kubelet falls back to the host's (with an event)
    }
    PodDNSConfig extra = pod.getSpec().getDnsConfig();
    if (type.equals("host") && extra == null) {
      return hostResolv;
    }
    List<String> servers = new ArrayList<>();
    List<String> searches = new ArrayList<>();
    List<String> options = new ArrayList<>();
    List<String> hostSearches = new ArrayList<>();
    List<String> hostServers = new ArrayList<>();
    List<String> hostOptions = new ArrayList<>();
    for (String line : hostResolv.split("\n")) {
      String[] f = line.trim().split("\\s+");
      if (f.length < 2 || f[0].startsWith("#") || f[0].startsWith(";")) {
        continue;
      }
      switch (f[0]) {
        case "nameserver" -> hostServers.add(f[1]);
        case "search" -> {
          hostSearches.clear(); // the last search line wins
          for (int i = 1; i < f.length; i++) {
            hostSearches.add(f[i].endsWith(".") ? f[i].substring(0, f[i].length() - 1) : f[i]);
          }
        }
        case "options" -> {
          for (int i = 1; i < f.length; i++) {
            hostOptions.add(f[i]);
          }
        }
        default -> { }
      }
    }
    switch (type) {
      case "cluster" -> {
        servers.addAll(clusterDns);
        if (!clusterDomain.isEmpty()) {
          String ns = pod.getMetadata().getNamespace();
          searches.addAll(List.of(ns + ".svc." + clusterDomain, "svc." + clusterDomain, clusterDomain));
        }
        searches.addAll(hostSearches);
        options.add("ndots:5");
      }
      case "host" -> {
        servers.addAll(hostServers);
        searches.addAll(hostSearches);
        options.addAll(hostOptions);
      }
      default -> { }
    }
    if (extra != null) {
      if (extra.getNameservers() != null) {
        servers.addAll(extra.getNameservers());
      }
      if (extra.getSearches() != null) {
        searches.addAll(extra.getSearches());
      }
      options = mergeOptions(options, extra.getOptions());
    }
    servers = new ArrayList<>(new LinkedHashSet<>(servers));
    searches = new ArrayList<>(new LinkedHashSet<>(searches));
    // formDNSConfigFitsLimits
    if (servers.size() > MAX_NAMESERVERS) {
      servers = servers.subList(0, MAX_NAMESERVERS);
    }
    if (searches.size() > MAX_SEARCHES) {
      searches = searches.subList(0, MAX_SEARCHES);
    }
    while (!searches.isEmpty() && String.join(" ", searches).length() > MAX_SEARCH_CHARS) {
      searches = searches.subList(0, searches.size() - 1);
    }
    StringBuilder sb = new StringBuilder();
    if (!searches.isEmpty()) {
      sb.append("search ").append(String.join(" ", searches)).append('\n');
    }
    servers.forEach(s -> sb.append("nameserver ").append(s).append('\n'));
    if (!options.isEmpty()) {
      sb.append("options ").append(String.join(" ", options)).append('\n');
    }
    return sb.toString();
  }

  /** dns.go mergeDNSOptions: by name, a later value wins. */
  private static List<String> mergeOptions(List<String> existing, List<PodDNSConfigOption> extra) {
    Map<String, String> m = new LinkedHashMap<>();
    for (String op : existing) {
      int i = op.indexOf(':');
      m.put(i < 0 ? op : op.substring(0, i), i < 0 ? "" : op.substring(i + 1));
    }
    if (extra != null) {
      for (PodDNSConfigOption op : extra) {
        m.put(op.getName(), op.getValue() == null ? "" : op.getValue());
      }
    }
    List<String> out = new ArrayList<>();
    m.forEach((k, v) -> out.add(v.isEmpty() ? k : k + ":" + v));
    return out;
  }

  /** The pod's host name (GeneratePodHostNameAndDomain): spec.hostname, else the pod's name, at most 63 characters. */
  static String hostname(Pod pod) {
    String hostname = pod.getSpec().getHostname() != null && !pod.getSpec().getHostname().isEmpty()
        ? pod.getSpec().getHostname() : pod.getMetadata().getName();
    if (hostname.length() > 63) {
      hostname = hostname.substring(0, 63);
      while (hostname.endsWith("-") || hostname.endsWith(".")) {
        hostname = hostname.substring(0, hostname.length() - 1);
      }
    }
    return hostname;
  }

  /** kubelet_pods.go managedHostsFileContent. */
  static String hosts(Pod pod, String podIp, String clusterDomain) {
    String hostname = hostname(pod);
    StringBuilder sb = new StringBuilder();
    sb.append("# Kubernetes-managed hosts file.\n");
    sb.append("127.0.0.1\tlocalhost\n");
    sb.append("::1\tlocalhost ip6-localhost ip6-loopback\n");
    sb.append("fe00::0\tip6-localnet\n");
    sb.append("fe00::0\tip6-mcastprefix\n");
    sb.append("fe00::1\tip6-allnodes\n");
    sb.append("fe00::2\tip6-allrouters\n");
    String sub = pod.getSpec().getSubdomain();
    if (sub != null && !sub.isEmpty()) {
      sb.append(podIp).append('\t').append(hostname).append('.').append(sub).append('.')
          .append(pod.getMetadata().getNamespace()).append(".svc.").append(clusterDomain).append('\t').append(hostname).append('\n');
    } else {
      sb.append(podIp).append('\t').append(hostname).append('\n');
    }
    return sb + aliases(pod);
  }

  private static String aliases(Pod pod) {
    List<HostAlias> aliases = pod.getSpec().getHostAliases();
    if (aliases == null || aliases.isEmpty()) {
      return "";
    }
    StringBuilder sb = new StringBuilder("\n# Entries added by HostAliases.\n");
    for (HostAlias a : aliases) {
      sb.append(a.getIp()).append('\t').append(String.join("\t", a.getHostnames() == null ? List.of() : a.getHostnames()))
          .append('\n');
    }
    return sb.toString();
  }
}
