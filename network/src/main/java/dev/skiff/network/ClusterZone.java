package dev.skiff.network;

import dev.skiff.runtime.Lister;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.api.model.discovery.v1.Endpoint;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import java.net.InetAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.xbill.DNS.ARecord;
import org.xbill.DNS.CNAMERecord;
import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SOARecord;
import org.xbill.DNS.SRVRecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.TextParseException;
import org.xbill.DNS.Type;

/**
 * Answers for names in the cluster domain from the informer caches, following the Kubernetes
 * DNS specification (kubernetes/dns docs/specification.md) as CoreDNS's kubernetes plugin
 * implements it (plugin/kubernetes/kubernetes.go, "pods insecure"):
 * <ul>
 *   <li>{@code <svc>.<ns>.svc.<domain>} A: the ClusterIP; headless: every ready endpoint's
 *       address; ExternalName: a CNAME to {@code spec.externalName} (for any type);
 *   <li>{@code _<port>._<proto>.<svc>.<ns>.svc.<domain>} SRV for named ports: target the Service
 *       name (ClusterIP) or each ready endpoint (headless, {@code <hostname|a-b-c-d>.<svc>...});
 *   <li>{@code <hostname>.<svc>.<ns>.svc.<domain>} A for endpoints with a hostname
 *       (StatefulSet pods) or named by their dashed address;
 *   <li>{@code <a-b-c-d>.<ns>.pod.<domain>} A: the address itself;
 *   <li>unknown names: NXDOMAIN; known names of another type (AAAA on an IPv4-only cluster):
 *       NOERROR with no data; both with the zone's SOA in the authority section.
 * </ul>
 * Records have a 5 s TTL (CoreDNS's default). Thread-safe (reads caches only).
 */
final class ClusterZone {
  static final long TTL = 5;

  private final String domain; // lower case, no trailing dot
  private final Name origin;
  private final SOARecord soa;
  private final Lister<Service> services;
  private final Lister<EndpointSlice> slices;

  /** Result of a lookup: a CNAME target to chase upstream, if any. */
  record Answer(Message message, Name chase) {}

  ClusterZone(String domain, Lister<Service> services, Lister<EndpointSlice> slices) {
    this.domain = domain.toLowerCase(Locale.ROOT).replaceAll("\\.$", "");
    this.services = services;
    this.slices = slices;
    try {
      this.origin = Name.fromString(this.domain + ".");
      this.soa = new SOARecord(origin, DClass.IN, TTL, Name.fromString("ns.dns." + this.domain + "."),
          Name.fromString("hostmaster." + this.domain + "."), System.currentTimeMillis() / 1000, 7200, 1800, 86400, TTL);
    } catch (TextParseException e) {
      throw new IllegalArgumentException("bad cluster domain " + domain, e);
    }
  }

  /** True when {@code name} is in the cluster domain (answered here, never forwarded). */
  boolean contains(Name name) {
    return name.subdomain(origin);
  }

  /** The answer to a query for a name in the zone (see {@link #contains}). */
  Answer answer(Message query) {
    return answer(query, 0);
  }

  private Answer answer(Message query, int depth) {
    Record q = query.getQuestion();
    Name qname = q.getName();
    int qtype = q.getType();
    Message r = reply(query);
    r.getHeader().setFlag(Flags.AA);
    String rest = relative(qname);
    String[] l = rest.isEmpty() ? new String[0] : rest.split("\\.");
    List<Record> records = new ArrayList<>();
    boolean exists;
    Name chase = null;
    int n = l.length;
    if (n == 0) {
      exists = true;
      if (qtype == Type.SOA || qtype == Type.ANY) {
        records.add(soa);
      }
    } else if (n == 1) {
      exists = l[0].equals("svc") || l[0].equals("pod");
    } else if (l[n - 1].equals("pod")) {
      exists = n == 3 && podAddress(l[0]) != null;
      if (exists && (qtype == Type.A || qtype == Type.ANY)) {
        records.add(new ARecord(qname, DClass.IN, TTL, podAddress(l[0])));
      }
    } else if (l[n - 1].equals("svc")) {
      String ns = l[n - 2];
      if (n == 2) {
        exists = !services.list(ns).isEmpty();
      } else {
        Service svc = services.get(ns, l[n - 3]);
        exists = svc != null;
        if (svc != null) {
          if ("ExternalName".equals(svc.getSpec().getType())) {
            exists = n == 3;
            if (exists) {
              Name target = absolute(svc.getSpec().getExternalName());
              if (target != null) {
                records.add(new CNAMERecord(qname, DClass.IN, TTL, target));
                if (qtype != Type.CNAME && !target.subdomain(origin)) {
                  chase = target;
                } else if (qtype != Type.CNAME && depth < 8) {
                  // A target in the zone is answered here too, as CoreDNS's kubernetes plugin
                  // does: stub resolvers (glibc) do not chase a bare CNAME themselves.
                  Message inner = Message.newQuery(Record.newRecord(target, qtype, DClass.IN));
                  Answer a = answer(inner, depth + 1);
                  records.addAll(a.message().getSection(Section.ANSWER));
                  chase = a.chase();
                }
              }
            }
          } else {
            exists = service(svc, ns, l, qname, qtype, records, r);
          }
        }
      }
    } else {
      exists = false;
    }
    if (!exists) {
      r.getHeader().setRcode(Rcode.NXDOMAIN);
      r.addRecord(soa, Section.AUTHORITY);
    } else if (records.isEmpty()) {
      r.addRecord(soa, Section.AUTHORITY); // NOERROR, no data
    } else {
      records.forEach(rec -> r.addRecord(rec, Section.ANSWER));
    }
    return new Answer(r, chase);
  }

  /** Names under a Service; returns whether the name exists, adds matching records. */
  private boolean service(Service svc, String ns, String[] l, Name qname, int qtype, List<Record> out, Message r) {
    int n = l.length;
    String svcName = l[n - 3];
    boolean headless = "None".equals(svc.getSpec().getClusterIP());
    List<EndpointSlice> mine = slices.byIndex(ServiceProxy.BY_SERVICE, ns + "/" + svcName);
    Name svcFqdn = absolute(svcName + "." + ns + ".svc." + domain);
    boolean wantA = qtype == Type.A || qtype == Type.ANY;
    if (n == 3) { // <svc>.<ns>.svc
      if (wantA) {
        if (headless) {
          for (String a : Slices.readyAddresses(mine)) {
            out.add(a(qname, a));
          }
        } else if (svc.getSpec().getClusterIP() != null && !svc.getSpec().getClusterIP().isEmpty()) {
          out.add(a(qname, svc.getSpec().getClusterIP()));
        }
      }
      if (qtype == Type.SRV) {
        for (ServicePort p : ports(svc)) {
          if (p.getName() != null && !p.getName().isEmpty()) {
            srv(svc, headless, mine, p, qname, svcFqdn, out, r);
          }
        }
      }
      return true;
    }
    if (n == 5 && l[0].startsWith("_") && l[1].startsWith("_")) { // _<port>._<proto>.<svc>.<ns>.svc
      String portName = l[0].substring(1);
      String proto = l[1].substring(1).toUpperCase(Locale.ROOT);
      for (ServicePort p : ports(svc)) {
        if (portName.equals(p.getName()) && proto.equals(p.getProtocol() == null ? "TCP" : p.getProtocol())) {
          if (qtype == Type.SRV || qtype == Type.ANY) {
            srv(svc, headless, mine, p, qname, svcFqdn, out, r);
          }
          return true;
        }
      }
      return false;
    }
    if (n == 4) { // <hostname>.<svc>.<ns>.svc
      for (Endpoint e : Slices.readyEndpoints(mine)) {
        if (l[0].equals(endpointLabel(e))) {
          if (wantA) {
            out.add(a(qname, e.getAddresses().get(0)));
          }
          return true;
        }
      }
    }
    return false;
  }

  private void srv(Service svc, boolean headless, List<EndpointSlice> mine, ServicePort p, Name qname, Name svcFqdn,
      List<Record> out, Message r) {
    if (!headless) {
      String ip = svc.getSpec().getClusterIP();
      if (ip == null || ip.isEmpty()) {
        return; // not allocated yet
      }
      out.add(new SRVRecord(qname, DClass.IN, TTL, 0, 100, p.getPort(), svcFqdn));
      r.addRecord(a(svcFqdn, ip), Section.ADDITIONAL);
      return;
    }
    String proto = p.getProtocol() == null ? "TCP" : p.getProtocol();
    List<Endpoint> eps = new ArrayList<>();
    List<Integer> ports = new ArrayList<>();
    for (EndpointSlice s : mine) {
      Integer port = Slices.slicePort(s, p.getName(), proto);
      if (port != null) {
        for (Endpoint e : Slices.readyEndpoints(List.of(s))) {
          eps.add(e);
          ports.add(port);
        }
      }
    }
    int weight = eps.isEmpty() ? 0 : Math.max(1, 100 / eps.size()); // CoreDNS splits 100 over the records
    for (int i = 0; i < eps.size(); i++) {
      Name target = absolute(endpointLabel(eps.get(i)) + "." + svcFqdn.toString(true));
      out.add(new SRVRecord(qname, DClass.IN, TTL, 0, weight, ports.get(i), target));
      r.addRecord(a(target, eps.get(i).getAddresses().get(0)), Section.ADDITIONAL);
    }
  }

  private static List<ServicePort> ports(Service svc) {
    return svc.getSpec().getPorts() == null ? List.of() : svc.getSpec().getPorts();
  }

  /** An endpoint's DNS label: its hostname, else its dashed address (CoreDNS endpointHostname). */
  static String endpointLabel(Endpoint e) {
    if (e.getHostname() != null && !e.getHostname().isEmpty()) {
      return e.getHostname().toLowerCase(Locale.ROOT);
    }
    return e.getAddresses().get(0).replace('.', '-').replace(':', '-');
  }

  /** {@code a-b-c-d} as an IPv4 address, or null. */
  static InetAddress podAddress(String label) {
    return label.indexOf('.') >= 0 ? null : Slices.ipv4Literal(label.replace('-', '.'));
  }

  private String relative(Name qname) {
    String s = qname.toString(true).toLowerCase(Locale.ROOT);
    return s.length() <= domain.length() ? "" : s.substring(0, s.length() - domain.length() - 1);
  }

  /** An A record of an IPv4 literal (callers pass only literals: names are never resolved here). */
  private static ARecord a(Name name, String ip) {
    InetAddress addr = Slices.ipv4Literal(ip);
    if (addr == null) {
      throw new IllegalArgumentException("not an IPv4 address: " + ip);
    }
    return new ARecord(name, DClass.IN, TTL, addr);
  }

  private static ARecord a(Name name, InetAddress ip) {
    return new ARecord(name, DClass.IN, TTL, ip);
  }

  static Name absolute(String name) {
    try {
      return Name.fromString(name.endsWith(".") ? name : name + ".");
    } catch (TextParseException e) {
      return null;
    }
  }

  /** An empty response to {@code query}: same id, QR, RD copied, RA set, the question. */
  static Message reply(Message query) {
    Message r = new Message(query.getHeader().getID());
    r.getHeader().setFlag(Flags.QR);
    if (query.getHeader().getFlag(Flags.RD)) {
      r.getHeader().setFlag(Flags.RD);
    }
    r.getHeader().setFlag(Flags.RA);
    if (query.getQuestion() != null) {
      r.addRecord(query.getQuestion(), Section.QUESTION);
    }
    return r;
  }
}
