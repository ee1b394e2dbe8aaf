package dev.skiff.controllers.network;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodIP;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Which pods back a Service and at which addresses and ports, shared by the EndpointSlice and
 * Endpoints controllers (pkg/controller/util/endpoint, staging endpointslice/util,
 * pkg/api/v1/pod FindPort). Stateless.
 */
final class EndpointPods {
  private EndpointPods() {}

  /** The Service's selector, or null when the controllers leave it alone (no selector, ExternalName). */
  /** Keys of the Services in the pod's namespace whose selector matches it. */
  static List<String> servicesSelecting(dev.skiff.runtime.Lister<Service> services, Pod pod) {
    List<String> keys = new ArrayList<>();
    for (Service svc : services.list(pod.getMetadata().getNamespace())) {
      Map<String, String> sel = selector(svc);
      if (sel != null && matches(sel, pod)) {
        keys.add(dev.skiff.runtime.Keys.of(svc));
      }
    }
    return keys;
  }

  static Map<String, String> selector(Service svc) {
    if (svc.getSpec() == null || "ExternalName".equals(svc.getSpec().getType())) {
      return null;
    }
    Map<String, String> sel = svc.getSpec().getSelector();
    // fabric8 cannot tell a missing selector from an empty one; both mean "endpoints are managed by hand".
    return sel == null || sel.isEmpty() ? null : sel;
  }

  static boolean matches(Map<String, String> selector, Pod pod) {
    Map<String, String> labels = pod.getMetadata().getLabels();
    if (labels == null) {
      return false;
    }
    for (var e : selector.entrySet()) {
      if (!e.getValue().equals(labels.get(e.getKey()))) {
        return false;
      }
    }
    return true;
  }

  /**
   * ShouldPodBeInEndpoints: not terminal, has an IP, and (unless {@code includeTerminating}) not
   * being deleted.
   */
  static boolean shouldBeInEndpoints(Pod pod, boolean includeTerminating) {
    String phase = pod.getStatus() == null ? null : pod.getStatus().getPhase();
    if ("Succeeded".equals(phase) || "Failed".equals(phase)) {
      return false;
    }
    if (ipv4Addresses(pod).isEmpty()) {
      return false;
    }
    return includeTerminating || pod.getMetadata().getDeletionTimestamp() == null;
  }

  /** The pod's IPv4 addresses (status.podIPs, else status.podIP). */
  static List<String> ipv4Addresses(Pod pod) {
    List<String> out = new ArrayList<>();
    if (pod.getStatus() == null) {
      return out;
    }
    if (pod.getStatus().getPodIPs() != null) {
      for (PodIP ip : pod.getStatus().getPodIPs()) {
        if (ip.getIp() != null && !ip.getIp().contains(":") && !out.contains(ip.getIp())) {
          out.add(ip.getIp());
        }
      }
    }
    String ip = pod.getStatus().getPodIP();
    if (out.isEmpty() && ip != null && !ip.isEmpty() && !ip.contains(":")) {
      out.add(ip);
    }
    return out;
  }

  static boolean isReady(Pod pod) {
    if (pod.getStatus() == null || pod.getStatus().getConditions() == null) {
      return false;
    }
    for (PodCondition c : pod.getStatus().getConditions()) {
      if ("Ready".equals(c.getType())) {
        return "True".equals(c.getStatus());
      }
    }
    return false;
  }

  static boolean terminating(Pod pod) {
    return pod.getMetadata().getDeletionTimestamp() != null;
  }

  static String protocol(ServicePort p) {
    return p.getProtocol() == null || p.getProtocol().isEmpty() ? "TCP" : p.getProtocol();
  }

  /**
   * FindPort: a numeric targetPort as is (the port itself when unset); a named one is the
   * containerPort of that name and protocol in the pod's containers (or restartable init
   * containers), or -1 when the pod has none.
   */
  static int findPort(Pod pod, ServicePort sp) {
    IntOrString target = sp.getTargetPort();
    if (target == null || (target.getStrVal() == null && target.getIntVal() == null)) {
      return sp.getPort();
    }
    if (target.getStrVal() == null) {
      return target.getIntVal() == 0 ? sp.getPort() : target.getIntVal();
    }
    String name = target.getStrVal();
    String proto = protocol(sp);
    List<Container> containers = new ArrayList<>();
    if (pod.getSpec() != null) {
      if (pod.getSpec().getContainers() != null) {
        containers.addAll(pod.getSpec().getContainers());
      }
      if (pod.getSpec().getInitContainers() != null) {
        for (Container c : pod.getSpec().getInitContainers()) {
          if ("Always".equals(c.getRestartPolicy())) {
            containers.add(c);
          }
        }
      }
    }
    for (Container c : containers) {
      if (c.getPorts() == null) {
        continue;
      }
      for (ContainerPort cp : c.getPorts()) {
        String cpProto = cp.getProtocol() == null ? "TCP" : cp.getProtocol();
        if (name.equals(cp.getName()) && proto.equals(cpProto)) {
          return cp.getContainerPort();
        }
      }
    }
    return -1;
  }

  /** ShouldSetHostname: the pod's hostname counts when its subdomain is this Service. */
  static String hostname(Pod pod, Service svc) {
    if (pod.getSpec() == null) {
      return null;
    }
    String h = pod.getSpec().getHostname();
    return h != null && !h.isEmpty() && svc.getMetadata().getName().equals(pod.getSpec().getSubdomain())
        && svc.getMetadata().getNamespace().equals(pod.getMetadata().getNamespace()) ? h : null;
  }

  static boolean headless(Service svc) {
    return "None".equals(svc.getSpec().getClusterIP());
  }
}
