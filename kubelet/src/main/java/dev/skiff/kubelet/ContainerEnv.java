package dev.skiff.kubelet;

import dev.skiff.kubelet.cri.ContainerConfigException;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarSource;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A container's environment and argv, as the kubelet makes them
 * (pkg/kubelet/kubelet_pods.go makeEnvironmentVariables, third_party/forked/golang/expansion):
 * envFrom first, then env in order, each value expanded against the variables defined before it;
 * then command and args expanded against the result. Adds {@code PORT} (Knative's runtime
 * contract: the first declared containerPort, else a free port), {@code HOSTNAME} and a PATH.
 * Stateless; safe to share.
 */
final class ContainerEnv {
  static final String DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

  private final KubernetesClient client;
  private final Map<String, Quantity> allocatable;
  private final String nodeIp;
  private final ServiceEnv services;

  ContainerEnv(KubernetesClient client, Map<String, Quantity> allocatable, String nodeIp) {
    this(client, allocatable, nodeIp, null);
  }

  /** With the Service variables of {@code services} (null: none). */
  ContainerEnv(KubernetesClient client, Map<String, Quantity> allocatable, String nodeIp, ServiceEnv services) {
    this.services = services;
    this.client = client;
    this.allocatable = allocatable;
    this.nodeIp = nodeIp;
  }

  String nodeIp() {
    return nodeIp;
  }

  /** The container's command line (command + args, expanded); empty if it has no command. */
  static List<String> argv(Container c, Map<String, String> env) {
    List<String> out = new ArrayList<>();
    if (c.getCommand() == null || c.getCommand().isEmpty()) {
      return out;
    }
    c.getCommand().forEach(s -> out.add(expand(s, env)));
    if (c.getArgs() != null) {
      c.getArgs().forEach(s -> out.add(expand(s, env)));
    }
    return out;
  }

  Map<String, String> environment(Pod pod, Container c) throws ContainerConfigException {
    return environment(pod, c, null);
  }

  /**
   * The environment; {@code podIp} is the pod's own IP (null: host network, the node's IP). With
   * its own network a pod's PORT defaults to 8080 (nothing else listens in its namespace).
   */
  Map<String, String> environment(Pod pod, Container c, String podIp) throws ContainerConfigException {
    String ns = pod.getMetadata().getNamespace();
    Map<String, String> env = new LinkedHashMap<>();
    if (services != null) {
      env.putAll(services.forPod(pod)); // first: envFrom and env override them, $(VAR) sees them
    }
    env.put("PATH", DEFAULT_PATH);
    env.put("HOSTNAME", PodDns.hostname(pod));
    env.put("PORT", Integer.toString(podIp != null ? port(c, 8080) : port(c)));
    if (c.getEnvFrom() != null) {
      for (EnvFromSource from : c.getEnvFrom()) {
        String prefix = from.getPrefix() == null ? "" : from.getPrefix();
        if (from.getConfigMapRef() != null) {
          ConfigMap cm = client.configMaps().inNamespace(ns).withName(from.getConfigMapRef().getName()).get();
          if (cm == null) {
            if (Boolean.TRUE.equals(from.getConfigMapRef().getOptional())) {
              continue;
            }
            throw new ContainerConfigException("CreateContainerConfigError",
                "configmap \"" + from.getConfigMapRef().getName() + "\" not found");
          }
          if (cm.getData() != null) {
            cm.getData().forEach((k, v) -> env.put(prefix + k, v));
          }
        }
        if (from.getSecretRef() != null) {
          Secret s = client.secrets().inNamespace(ns).withName(from.getSecretRef().getName()).get();
          if (s == null) {
            if (Boolean.TRUE.equals(from.getSecretRef().getOptional())) {
              continue;
            }
            throw new ContainerConfigException("CreateContainerConfigError",
                "secret \"" + from.getSecretRef().getName() + "\" not found");
          }
          if (s.getData() != null) {
            s.getData().forEach((k, v) -> env.put(prefix + k, decode(v)));
          }
        }
      }
    }
    if (c.getEnv() != null) {
      for (EnvVar v : c.getEnv()) {
        String value;
        if (v.getValueFrom() != null) {
          value = valueFrom(pod, c, v.getName(), v.getValueFrom(), podIp == null ? nodeIp : podIp);
          if (value == null) {
            continue; // optional reference that is absent
          }
        } else {
          value = expand(v.getValue() == null ? "" : v.getValue(), env);
        }
        env.put(v.getName(), value);
      }
    }
    return env;
  }

  /** PORT: the first declared containerPort, else {@code fallback}. */
  static int port(Container c, int fallback) {
    if (c.getPorts() != null) {
      for (ContainerPort p : c.getPorts()) {
        if (p.getContainerPort() != null && p.getContainerPort() > 0) {
          return p.getContainerPort();
        }
      }
    }
    return fallback;
  }

  /** PORT: the first declared containerPort, else a port that is free now. */
  static int port(Container c) {
    if (c.getPorts() != null) {
      for (ContainerPort p : c.getPorts()) {
        if (p.getContainerPort() != null && p.getContainerPort() > 0) {
          return p.getContainerPort();
        }
      }
    }
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    } catch (IOException e) {
      return 8080;
    }
  }

  private String valueFrom(Pod pod, Container c, String name, EnvVarSource src, String podIp)
      throws ContainerConfigException {
    String ns = pod.getMetadata().getNamespace();
    if (src.getFieldRef() != null) {
      String path = src.getFieldRef().getFieldPath();
      var m = pod.getMetadata();
      switch (path) {
        case "metadata.name": return m.getName();
        case "metadata.namespace": return m.getNamespace();
        case "metadata.uid": return m.getUid();
        case "spec.nodeName": return pod.getSpec().getNodeName();
        case "spec.serviceAccountName": return pod.getSpec().getServiceAccountName();
        case "status.hostIP", "status.hostIPs": return nodeIp;
        case "status.podIP", "status.podIPs": return podIp;
        default:
          break;
      }
      var lbl = java.util.regex.Pattern.compile("metadata\\.(labels|annotations)\\['(.*)'\\]").matcher(path);
      if (lbl.matches()) {
        Map<String, String> map = lbl.group(1).equals("labels") ? m.getLabels() : m.getAnnotations();
        return map == null ? "" : map.getOrDefault(lbl.group(2), "");
      }
      throw new ContainerConfigException("CreateContainerConfigError", "unsupported fieldPath " + path + " for env " + name);
    }
    if (src.getResourceFieldRef() != null) {
      return resource(c, src.getResourceFieldRef().getResource(), src.getResourceFieldRef().getDivisor());
    }
    if (src.getConfigMapKeyRef() != null) {
      var ref = src.getConfigMapKeyRef();
      ConfigMap cm = client.configMaps().inNamespace(ns).withName(ref.getName()).get();
      String v = cm == null || cm.getData() == null ? null : cm.getData().get(ref.getKey());
      if (v == null && !Boolean.TRUE.equals(ref.getOptional())) {
        throw new ContainerConfigException("CreateContainerConfigError", cm == null
            ? "configmap \"" + ref.getName() + "\" not found"
            : "couldn't find key " + ref.getKey() + " in ConfigMap " + ns + "/" + ref.getName());
      }
      return v;
    }
    if (src.getSecretKeyRef() != null) {
      var ref = src.getSecretKeyRef();
      Secret s = client.secrets().inNamespace(ns).withName(ref.getName()).get();
      String v = s == null || s.getData() == null ? null : s.getData().get(ref.getKey());
      if (v == null && !Boolean.TRUE.equals(ref.getOptional())) {
        throw new ContainerConfigException("CreateContainerConfigError", s == null
            ? "secret \"" + ref.getName() + "\" not found"
            : "couldn't find key " + ref.getKey() + " in Secret " + ns + "/" + ref.getName());
      }
      return v == null ? null : decode(v);
    }
    return "";
  }

  /** resourceFieldRef (pkg/api/v1/resource/helpers.go ExtractContainerResourceValue): limits default to allocatable. */
  String resource(Container c, String resource, Quantity divisor) {
    var r = c.getResources();
    Map<String, Quantity> limits = r == null || r.getLimits() == null ? Map.of() : r.getLimits();
    Map<String, Quantity> requests = r == null || r.getRequests() == null ? Map.of() : r.getRequests();
    String[] parts = resource.split("\\.", 2);
    String kind = parts[1];
    Quantity q = parts[0].equals("limits") ? limits.getOrDefault(kind, allocatable.get(kind))
        : requests.getOrDefault(kind, parts[1].equals("cpu") ? new Quantity("0") : new Quantity("0"));
    if (q == null) {
      q = new Quantity("0");
    }
    BigDecimal d = divisor == null || divisor.getAmount() == null ? BigDecimal.ONE : Quantity.getAmountInBytes(divisor);
    if (d.signum() == 0) {
      d = BigDecimal.ONE;
    }
    return Quantity.getAmountInBytes(q).divide(d, 0, RoundingMode.CEILING).toPlainString();
  }

  private static String decode(String b64) {
    return new String(Base64.getDecoder().decode(b64), StandardCharsets.UTF_8);
  }

  /** $(VAR) expansion (expansion.Expand): $$ escapes, unknown references stay as written. */
  static String expand(String in, Map<String, String> env) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < in.length(); i++) {
      char ch = in.charAt(i);
      if (ch == '$' && i + 1 < in.length()) {
        char next = in.charAt(i + 1);
        if (next == '$') {
          out.append('$');
          i++;
          continue;
        }
        if (next == '(') {
          int close = in.indexOf(')', i + 2);
          if (close > 0) {
            String name = in.substring(i + 2, close);
            String v = env.get(name);
            out.append(v != null ? v : in, v != null ? 0 : i, v != null ? v.length() : close + 1);
            i = close;
            continue;
          }
        }
      }
      out.append(ch);
    }
    return out.toString();
  }
}
