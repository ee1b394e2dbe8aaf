package dev.skiff.apiserver.services;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException.Cause;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The clusterIP and nodePort rules of {@code ValidateService} / {@code ValidateServiceUpdate}
 * (pkg/apis/core/validation/validation.go, incl. validateUpgradeDowngradeClusterIPs), with
 * upstream's field paths and wording. Stateless.
 */
public final class ServiceValidation {
  private ServiceValidation() {}

  /** Adds the problems of {@code svc} (and of the change from {@code old}, null on create) to {@code out}. */
  public static void validate(ObjectNode svc, ObjectNode old, List<Cause> out) {
    JsonNode spec = svc.path("spec");
    String type = spec.path("type").asText("ClusterIP");
    List<String> ips = strings(spec.path("clusterIPs"));
    String ip = spec.path("clusterIP").asText("");
    if (type.equals("ExternalName")) {
      if (!ip.isEmpty() || !ips.isEmpty()) {
        out.add(Cause.forbidden("spec.clusterIPs", "may not be set for ExternalName services"));
      }
    } else {
      if (!ip.isEmpty() && !ips.isEmpty() && !ip.equals(ips.get(0))) {
        out.add(Cause.invalid("spec.clusterIPs", ServiceAllocator.goStrings(ips), "first value must match `clusterIP`"));
      }
      for (int i = 0; i < ips.size(); i++) {
        String v = ips.get(i);
        if (v.equals("None") ? i > 0 || ips.size() > 1 : !validIp(v)) {
          out.add(Cause.invalid("spec.clusterIPs[" + i + "]", v, v.equals("None")
              ? "must be 'None' only when it is the sole value"
              : "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"));
        }
      }
    }
    // Duplicate nodePorts within one Service (same number and protocol).
    Set<String> seen = new HashSet<>();
    JsonNode ports = spec.path("ports");
    for (int i = 0; i < ports.size(); i++) {
      JsonNode p = ports.get(i);
      int np = p.path("nodePort").asInt(0);
      if (np != 0 && !seen.add(np + "/" + p.path("protocol").asText("TCP"))) {
        out.add(Cause.duplicate("spec.ports[" + i + "].nodePort", np));
      }
    }
    if (old != null) {
      upgradeDowngradeClusterIPs(old.path("spec"), spec, out);
    }
  }

  private static void upgradeDowngradeClusterIPs(JsonNode oldSpec, JsonNode spec, List<Cause> out) {
    if ("ExternalName".equals(spec.path("type").asText()) || "ExternalName".equals(oldSpec.path("type").asText())) {
      return;
    }
    List<String> oldIPs = strings(oldSpec.path("clusterIPs"));
    List<String> newIPs = strings(spec.path("clusterIPs"));
    boolean oldHeadless = oldIPs.size() == 1 && oldIPs.get(0).equals("None");
    boolean newHeadless = newIPs.size() == 1 && newIPs.get(0).equals("None");
    if (oldHeadless && newHeadless) {
      return;
    }
    if (oldIPs.size() == newIPs.size()) {
      for (int i = 0; i < oldIPs.size(); i++) {
        if (!oldIPs.get(i).equals(newIPs.get(i))) {
          out.add(Cause.invalid("spec.clusterIPs[" + i + "]", ServiceAllocator.goStrings(newIPs), "may not change once set"));
        }
      }
    } else if (oldIPs.size() > newIPs.size()) {
      if (newIPs.isEmpty()) {
        out.add(Cause.invalid("spec.clusterIPs[0]", ServiceAllocator.goStrings(newIPs), "primary clusterIP can not be unset"));
      } else if (!newIPs.get(0).equals(oldIPs.get(0))) {
        out.add(Cause.invalid("spec.clusterIPs[0]", ServiceAllocator.goStrings(newIPs), "may not change once set"));
      }
    } else if (!oldIPs.isEmpty() && !newIPs.get(0).equals(oldIPs.get(0))) {
      out.add(Cause.invalid("spec.clusterIPs[0]", ServiceAllocator.goStrings(newIPs), "may not change once set"));
    }
  }

  private static boolean validIp(String s) {
    if (ServiceNetwork.parseIpv4(s) >= 0) {
      return true;
    }
    if (!s.contains(":") || !s.matches("[0-9a-fA-F:.]+")) {
      return false;
    }
    try {
      // A literal with ':' never triggers a name lookup.
      return java.net.InetAddress.getByName(s) instanceof java.net.Inet6Address;
    } catch (java.net.UnknownHostException e) {
      return false;
    }
  }

  private static List<String> strings(JsonNode arr) {
    List<String> out = new java.util.ArrayList<>();
    for (JsonNode n : arr) {
      out.add(n.asText(""));
    }
    return out;
  }
}
