package dev.skiff.apiserver.table;

import static dev.skiff.apiserver.table.ColumnDefinition.ageColumn;
import static dev.skiff.apiserver.table.ColumnDefinition.nameColumn;
import static dev.skiff.apiserver.table.ColumnDefinition.of;
import static dev.skiff.apiserver.table.ColumnDefinition.wide;
import static dev.skiff.apiserver.table.Obj.*;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * Services, Endpoints, EndpointSlices, Ingresses, IngressClasses, NetworkPolicies:
 * {@code printService}, {@code formatEndpoints}, {@code printEndpointSlice}, {@code printIngress}
 * ... in printers.go.
 */
final class NetworkPrinters {
  private NetworkPrinters() {}

  static TablePrinter services() {
    return SimplePrinter.of(
        (obj, now) -> {
          JsonNode spec = obj.path("spec");
          String clusterIP = str(at(spec, "clusterIPs").path(0));
          if (clusterIP.isEmpty()) {
            // v1 defaulting mirrors clusterIP into clusterIPs; honour objects stored before that.
            clusterIP = str(spec, "clusterIP");
          }
          String ports = portString(list(spec, "ports"));
          return new Object[] {
            name(obj),
            str(spec, "type"),
            clusterIP.isEmpty() ? "<none>" : clusterIP,
            externalIP(obj),
            ports.isEmpty() ? "<none>" : ports,
            age(obj, now),
            formatLabels(map(spec, "selector"))
          };
        },
        nameColumn(),
        of(
            "Type",
            "string",
            "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are"
                + " ExternalName, ClusterIP, NodePort, and LoadBalancer. \"ClusterIP\" allocates a"
                + " cluster-internal IP address for load-balancing to endpoints. Endpoints are"
                + " determined by the selector or if that is not specified, by manual construction"
                + " of an Endpoints object or EndpointSlice objects. If clusterIP is \"None\", no"
                + " virtual IP is allocated and the endpoints are published as a set of endpoints"
                + " rather than a virtual IP. \"NodePort\" builds on ClusterIP and allocates a port"
                + " on every node which routes to the same endpoints as the clusterIP."
                + " \"LoadBalancer\" builds on NodePort and creates an external load-balancer (if"
                + " supported in the current cloud) which routes to the same endpoints as the"
                + " clusterIP. \"ExternalName\" aliases this service to the specified"
                + " externalName. Several other fields do not apply to ExternalName services. More"
                + " info:"
                + " https://kubernetes.io/docs/concepts/services-networking/service/#publishing-services-service-types"),
        of(
            "Cluster-IP",
            "string",
            "clusterIP is the IP address of the service and is usually assigned randomly. If an"
                + " address is specified manually, is in-range (as per system configuration), and"
                + " is not in use, it will be allocated to the service; otherwise creation of the"
                + " service will fail. This field may not be changed through updates unless the"
                + " type field is also being changed to ExternalName (which requires this field to"
                + " be blank) or the type field is being changed from ExternalName (in which case"
                + " this field may optionally be specified, as describe above).  Valid values are"
                + " \"None\", empty string (\"\"), or a valid IP address. Setting this to \"None\""
                + " makes a \"headless service\" (no virtual IP), which is useful when direct"
                + " endpoint connections are preferred and proxying is not required.  Only applies"
                + " to types ClusterIP, NodePort, and LoadBalancer. If this field is specified when"
                + " creating a Service of type ExternalName, creation will fail. This field will be"
                + " wiped when updating a Service to type ExternalName. More info:"
                + " https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"),
        of(
            "External-IP",
            "string",
            "externalIPs is a list of IP addresses for which nodes in the cluster will also accept"
                + " traffic for this service.  These IPs are not managed by Kubernetes.  The user"
                + " is responsible for ensuring that traffic arrives at a node with this IP.  A"
                + " common example is external load-balancers that are not part of the Kubernetes"
                + " system."),
        of(
            "Port(s)",
            "string",
            "The list of ports that are exposed by this service. More info:"
                + " https://kubernetes.io/docs/concepts/services-networking/service/#virtual-ips-and-service-proxies"),
        ageColumn(),
        wide(
            "Selector",
            "string",
            "Route service traffic to pods with label keys and values matching this selector. If"
                + " empty or not present, the service is assumed to have an external process"
                + " managing its endpoints, which Kubernetes will not modify. Only applies to types"
                + " ClusterIP, NodePort, and LoadBalancer. Ignored if type is ExternalName. More"
                + " info: https://kubernetes.io/docs/concepts/services-networking/service/"));
  }

  /** {@code getServiceExternalIP} with {@code wide=true} (the server always prints wide). */
  static String externalIP(JsonNode svc) {
    JsonNode spec = svc.path("spec");
    List<String> externalIPs = new ArrayList<>();
    list(spec, "externalIPs").forEach(n -> externalIPs.add(n.asText()));
    switch (str(spec, "type")) {
      case "ClusterIP", "NodePort":
        return externalIPs.isEmpty() ? "<none>" : String.join(",", externalIPs);
      case "LoadBalancer":
        String lbIps = loadBalancerIngress(at(svc, "status", "loadBalancer"));
        if (!externalIPs.isEmpty()) {
          List<String> results = new ArrayList<>();
          if (!lbIps.isEmpty()) {
            results.addAll(List.of(lbIps.split(",")));
          }
          results.addAll(externalIPs);
          return String.join(",", results);
        }
        return lbIps.isEmpty() ? "<pending>" : lbIps;
      case "ExternalName":
        return str(spec, "externalName");
      default:
        return "<unknown>";
    }
  }

  /** {@code loadBalancerStatusStringer}: sorted unique ingress IPs (or hostnames). */
  static String loadBalancerIngress(JsonNode lbStatus) {
    TreeSet<String> result = new TreeSet<>();
    for (JsonNode ing : list(lbStatus, "ingress")) {
      if (!str(ing, "ip").isEmpty()) {
        result.add(str(ing, "ip"));
      } else if (!str(ing, "hostname").isEmpty()) {
        result.add(str(ing, "hostname"));
      }
    }
    return String.join(",", result);
  }

  /** {@code makePortString}: {@code 80/TCP} or {@code 80:30080/TCP}. */
  static String portString(List<JsonNode> ports) {
    List<String> pieces = new ArrayList<>();
    for (JsonNode p : ports) {
      long nodePort = num(p, "nodePort");
      pieces.add(
          nodePort > 0
              ? num(p, "port") + ":" + nodePort + "/" + str(p, "protocol")
              : num(p, "port") + "/" + str(p, "protocol"));
    }
    return String.join(",", pieces);
  }

  static TablePrinter endpoints() {
    return SimplePrinter.of(
        (obj, now) -> new Object[] {name(obj), formatEndpoints(obj), age(obj, now)},
        nameColumn(),
        of(
            "Endpoints",
            "string",
            "The set of all endpoints is the union of all subsets. Addresses are placed into"
                + " subsets according to the IPs they share. A single address with multiple ports,"
                + " some of which are ready and some of which are not (because they come from"
                + " different containers) will result in the address being displayed in different"
                + " subsets for the different ports. No address will appear in both Addresses and"
                + " NotReadyAddresses in the same subset. Sets of addresses and ports that comprise"
                + " a service."),
        ageColumn());
  }

  /** {@code formatEndpoints(endpoints, nil)}: at most three {@code ip:port}, then "+ N more...". */
  static String formatEndpoints(JsonNode ep) {
    List<JsonNode> subsets = list(ep, "subsets");
    if (subsets.isEmpty()) {
      return "<none>";
    }
    List<String> list = new ArrayList<>();
    final int max = 3;
    boolean more = false;
    int count = 0;
    for (JsonNode ss : subsets) {
      List<JsonNode> addresses = list(ss, "addresses");
      List<JsonNode> ports = list(ss, "ports");
      if (ports.isEmpty()) {
        // Headless services may have no ports.
        count += addresses.size();
        for (JsonNode a : addresses) {
          if (list.size() == max) {
            more = true;
            break;
          }
          list.add(str(a, "ip"));
        }
        continue;
      }
      for (JsonNode port : ports) {
        count += addresses.size();
        for (JsonNode a : addresses) {
          if (list.size() == max) {
            more = true;
            break;
          }
          list.add(joinHostPort(str(a, "ip"), num(port, "port")));
        }
      }
    }
    String ret = String.join(",", list);
    return more ? ret + " + " + (count - max) + " more..." : ret;
  }

  static TablePrinter endpointSlices() {
    return SimplePrinter.of(
        (obj, now) -> {
          List<String> ports = new ArrayList<>();
          int portCount = 0;
          boolean portsMore = false;
          for (JsonNode p : list(obj, "ports")) {
            if (ports.size() < 3) {
              String portNum = "*";
              if (p.path("port").isNumber()) {
                portNum = Long.toString(p.path("port").asLong());
              } else if (has(p, "name")) {
                portNum = str(p, "name");
              }
              ports.add(portNum);
            } else if (ports.size() == 3) {
              portsMore = true;
            }
            portCount++;
          }
          List<String> addrs = new ArrayList<>();
          int addrCount = 0;
          boolean addrsMore = false;
          for (JsonNode e : list(obj, "endpoints")) {
            for (JsonNode a : list(e, "addresses")) {
              if (addrs.size() < 3) {
                addrs.add(a.asText());
              } else if (addrs.size() == 3) {
                addrsMore = true;
              }
              addrCount++;
            }
          }
          return new Object[] {
            name(obj),
            str(obj, "addressType"),
            listWithMore(ports, portsMore, portCount, 3),
            listWithMore(addrs, addrsMore, addrCount, 3),
            age(obj, now)
          };
        },
        nameColumn(),
        of(
            "AddressType",
            "string",
            "addressType specifies the type of address carried by this EndpointSlice. All"
                + " addresses in this slice must be the same type. This field is immutable after"
                + " creation. The following address types are currently supported: * IPv4:"
                + " Represents an IPv4 Address. * IPv6: Represents an IPv6 Address. * FQDN:"
                + " Represents a Fully Qualified Domain Name."),
        of(
            "Ports",
            "string",
            "ports specifies the list of network ports exposed by each endpoint in this slice."
                + " Each port must have a unique name. When ports is empty, it indicates that there"
                + " are no defined ports. When a port is defined with a nil port value, it"
                + " indicates \"all ports\". Each slice may include a maximum of 100 ports."),
        of(
            "Endpoints",
            "string",
            "endpoints is a list of unique endpoints in this slice. Each slice may include a"
                + " maximum of 1000 endpoints."),
        ageColumn());
  }

  /** {@code listWithMoreString}: "&lt;unset&gt;" when empty. */
  static String listWithMore(List<String> list, boolean more, int count, int max) {
    String ret = String.join(",", list);
    if (more) {
      return ret + " + " + (count - max) + " more...";
    }
    return ret.isEmpty() ? "<unset>" : ret;
  }

  static TablePrinter ingresses() {
    return SimplePrinter.of(
        (obj, now) -> {
          JsonNode spec = obj.path("spec");
          String className = has(spec, "ingressClassName") ? str(spec, "ingressClassName") : "<none>";
          // formatHosts: first three hosts, "*" if none.
          List<JsonNode> rules = list(spec, "rules");
          List<String> hosts = new ArrayList<>();
          boolean more = false;
          for (JsonNode rule : rules) {
            if (hosts.size() == 3) {
              more = true;
            }
            if (!more && !str(rule, "host").isEmpty()) {
              hosts.add(str(rule, "host"));
            }
          }
          String hostStr =
              hosts.isEmpty()
                  ? "*"
                  : more
                      ? String.join(",", hosts) + " + " + (rules.size() - 3) + " more..."
                      : String.join(",", hosts);
          return new Object[] {
            name(obj),
            className,
            hostStr,
            loadBalancerIngress(at(obj, "status", "loadBalancer")),
            size(spec, "tls") != 0 ? "80, 443" : "80",
            age(obj, now)
          };
        },
        nameColumn(),
        of(
            "Class",
            "string",
            "The name of the IngressClass resource that should be used for additional"
                + " configuration"),
        of(
            "Hosts",
            "string",
            "Hosts that incoming requests are matched against before the ingress rule"),
        of(
            "Address",
            "string",
            "Address is a list containing ingress points for the load-balancer"),
        of("Ports", "string", "Ports of TLS configurations that open"),
        ageColumn());
  }

  static TablePrinter ingressClasses() {
    return SimplePrinter.of(
        (obj, now) -> {
          JsonNode params = at(obj, "spec", "parameters");
          String parameters = "<none>";
          if (params.isObject()) {
            parameters = str(params, "kind");
            if (has(params, "apiGroup")) {
              parameters += "." + str(params, "apiGroup");
            }
            parameters += "/" + str(params, "name");
          }
          return new Object[] {
            name(obj), str(obj, "spec", "controller"), parameters, age(obj, now)
          };
        },
        nameColumn(),
        of("Controller", "string", "Controller that is responsible for handling this class"),
        of("Parameters", "string", "A reference to a resource with additional parameters"),
        ageColumn());
  }

  static TablePrinter networkPolicies() {
    return SimplePrinter.of(
        (obj, now) -> {
          JsonNode sel = at(obj, "spec", "podSelector");
          return new Object[] {
            name(obj),
            // podSelector is a value (not a pointer) upstream: absent means the empty selector.
            formatLabelSelector(sel.isObject() ? sel : obj.objectNode()),
            age(obj, now)
          };
        },
        nameColumn(),
        of(
            "Pod-Selector",
            "string",
            "Selects the pods to which this NetworkPolicy object applies. The array of ingress"
                + " rules is applied to any pods selected by this field. Multiple network policies"
                + " can select the same set of pods. In this case, the ingress rules for each are"
                + " combined additively. This field is NOT optional and follows standard label"
                + " selector semantics. An empty podSelector matches all pods in this namespace."),
        ageColumn());
  }
}
