package dev.skiff.network;

import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointConditions;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointPort;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Reading EndpointSlices the way kube-proxy does (pkg/proxy/endpointslicecache.go and
 * pkg/proxy/topology.go): slices belong to a Service through the label
 * {@code kubernetes.io/service-name}, whoever wrote them (the EndpointSlice controller or a user
 * for a selector-less Service); a Service port matches the slice port with the same name and
 * protocol. Stateless and thread-safe.
 */
final class Slices {
  static final String SERVICE_NAME_LABEL = "kubernetes.io/service-name";

  private Slices() {}

  /** The Service key ("ns/name") a slice belongs to, or null. */
  static String serviceKey(EndpointSlice slice) {
    Map<String, String> labels = slice.getMetadata().getLabels();
    String svc = labels == null ? null : labels.get(SERVICE_NAME_LABEL);
    return svc == null || svc.isEmpty() ? null : slice.getMetadata().getNamespace() + "/" + svc;
  }

  /** A nil ready condition means ready (discovery/v1 EndpointConditions). */
  static boolean ready(Endpoint e) {
    EndpointConditions c = e.getConditions();
    return c == null || c.getReady() == null || c.getReady();
  }

  /** A nil serving condition takes the value of ready. */
  static boolean serving(Endpoint e) {
    EndpointConditions c = e.getConditions();
    return c == null || c.getServing() == null ? ready(e) : c.getServing();
  }

  static boolean terminating(Endpoint e) {
    EndpointConditions c = e.getConditions();
    return c != null && Boolean.TRUE.equals(c.getTerminating());
  }

  static boolean ipv4(EndpointSlice s) {
    return "IPv4".equals(s.getAddressType());
  }

  /**
   * The upstreams for one Service port: ready endpoints; when none is ready, the serving and
   * terminating ones (kube-proxy's ProxyTerminatingEndpoints, pkg/proxy/topology.go
   * CategorizeEndpoints). Deduplicated across slices, in slice order.
   *
   * @param portName the Service port's name ("" when unnamed)
   * @param protocol TCP, UDP or SCTP
   */
  static List<InetSocketAddress> upstreams(Collection<EndpointSlice> slices, String portName, String protocol) {
    Set<InetSocketAddress> ready = new LinkedHashSet<>();
    Set<InetSocketAddress> terminating = new LinkedHashSet<>();
    for (EndpointSlice s : slices) {
      if (!ipv4(s)) {
        continue;
      }
      Integer port = slicePort(s, portName, protocol);
      if (port == null || s.getEndpoints() == null) {
        continue;
      }
      for (Endpoint e : s.getEndpoints()) {
        if (e.getAddresses() == null || e.getAddresses().isEmpty()) {
          continue;
        }
        // kube-proxy uses the first address only (endpointslicecache.go addEndpoints).
        java.net.InetAddress ip = ipv4Literal(e.getAddresses().get(0));
        if (ip == null) {
          continue; // never resolve names here: that could block, or ask the cluster DNS itself
        }
        InetSocketAddress a = new InetSocketAddress(ip, port);
        if (ready(e)) {
          ready.add(a);
        } else if (serving(e) && terminating(e)) {
          terminating.add(a);
        }
      }
    }
    return List.copyOf(ready.isEmpty() ? terminating : ready);
  }

  /** The slice's port number for a Service port name and protocol, or null. */
  static Integer slicePort(EndpointSlice s, String portName, String protocol) {
    if (s.getPorts() == null) {
      return null;
    }
    for (EndpointPort p : s.getPorts()) {
      String name = p.getName() == null ? "" : p.getName();
      String proto = p.getProtocol() == null ? "TCP" : p.getProtocol();
      if (name.equals(portName == null ? "" : portName) && proto.equals(protocol) && p.getPort() != null) {
        return p.getPort();
      }
    }
    return null;
  }

  /** Ready endpoints' first addresses (IPv4), deduplicated: the A records of a headless Service. */
  static List<String> readyAddresses(Collection<EndpointSlice> slices) {
    Set<String> out = new LinkedHashSet<>();
    for (EndpointSlice s : slices) {
      if (ipv4(s) && s.getEndpoints() != null) {
        for (Endpoint e : s.getEndpoints()) {
          if (ready(e) && e.getAddresses() != null && !e.getAddresses().isEmpty()
              && ipv4Literal(e.getAddresses().get(0)) != null) {
            out.add(e.getAddresses().get(0));
          }
        }
      }
    }
    return new ArrayList<>(out);
  }

  /** Ready endpoints of the slices (IPv4), each once by address. */
  static List<Endpoint> readyEndpoints(Collection<EndpointSlice> slices) {
    List<Endpoint> out = new ArrayList<>();
    Set<String> seen = new LinkedHashSet<>();
    for (EndpointSlice s : slices) {
      if (ipv4(s) && s.getEndpoints() != null) {
        for (Endpoint e : s.getEndpoints()) {
          if (ready(e) && e.getAddresses() != null && !e.getAddresses().isEmpty()
              && ipv4Literal(e.getAddresses().get(0)) != null && seen.add(e.getAddresses().get(0))) {
            out.add(e);
          }
        }
      }
    }
    return out;
  }

  /** {@code a.b.c.d} as an address, or null when it is not an IPv4 literal (no DNS lookup). */
  static java.net.InetAddress ipv4Literal(String s) {
    if (s == null) {
      return null;
    }
    String[] p = s.split("\\.", -1);
    if (p.length != 4) {
      return null;
    }
    byte[] b = new byte[4];
    for (int i = 0; i < 4; i++) {
      if (!p[i].matches("[0-9]{1,3}") || Integer.parseInt(p[i]) > 255) {
        return null;
      }
      b[i] = (byte) Integer.parseInt(p[i]);
    }
    try {
      return java.net.InetAddress.getByAddress(b);
    } catch (java.net.UnknownHostException e) {
      return null;
    }
  }
}
