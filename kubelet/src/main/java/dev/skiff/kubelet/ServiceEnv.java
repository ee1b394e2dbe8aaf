package dev.skiff.kubelet;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.ServicePort;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * The Service environment variables of a container (pkg/kubelet/kubelet_pods.go
 * getServiceEnvVarMap, pkg/kubelet/envvars/envvars.go FromServices): for every Service with a
 * cluster IP in the pod's namespace (when spec.enableServiceLinks is not false) and always the
 * {@code kubernetes} Service of {@code default}: {@code <SVC>_SERVICE_HOST},
 * {@code <SVC>_SERVICE_PORT}, {@code <SVC>_SERVICE_PORT_<PORTNAME>} and the Docker link variables
 * {@code <SVC>_PORT}, {@code <SVC>_PORT_<port>_<PROTO>[_PROTO|_PORT|_ADDR]}. Explicit env wins
 * (the caller adds these first). Services come from an informer on all namespaces.
 * Thread-safe; {@link #close()} stops the informer.
 */
final class ServiceEnv implements AutoCloseable {
  static final String MASTER_NAMESPACE = "default";
  static final String MASTER_SERVICE = "kubernetes";

  private final SharedIndexInformer<Service> informer;

  ServiceEnv(KubernetesClient client) {
    this.informer = client.services().inAnyNamespace().runnableInformer(0);
    informer.start();
  }

  /** The variables for the pod (empty until the informer has synced once). */
  Map<String, String> forPod(Pod pod) {
    // The kubelet does not start containers before its Service cache synced (serviceHasSynced):
    // a container must not miss variables only because the agent just started.
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (!informer.hasSynced() && System.nanoTime() < deadline) {
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    return forPod(pod, informer.getIndexer().list());
  }

  static Map<String, String> forPod(Pod pod, Collection<Service> services) {
    String ns = pod.getMetadata().getNamespace();
    boolean links = !Boolean.FALSE.equals(pod.getSpec().getEnableServiceLinks());
    Map<String, Service> byName = new TreeMap<>();
    for (Service s : services) {
      if (!ipSet(s)) {
        continue;
      }
      String name = s.getMetadata().getName();
      if (MASTER_NAMESPACE.equals(s.getMetadata().getNamespace()) && MASTER_SERVICE.equals(name)) {
        byName.putIfAbsent(name, s);
      } else if (ns.equals(s.getMetadata().getNamespace()) && links) {
        byName.put(name, s);
      }
    }
    Map<String, String> env = new LinkedHashMap<>();
    byName.values().forEach(s -> env.putAll(fromService(s)));
    return env;
  }

  private static boolean ipSet(Service s) {
    String ip = s.getSpec() == null ? null : s.getSpec().getClusterIP();
    return ip != null && !ip.isEmpty() && !"None".equals(ip) && s.getSpec().getPorts() != null
        && !s.getSpec().getPorts().isEmpty();
  }

  static Map<String, String> fromService(Service s) {
    Map<String, String> env = new LinkedHashMap<>();
    String prefix = name(s.getMetadata().getName());
    String ip = s.getSpec().getClusterIP();
    List<ServicePort> ports = s.getSpec().getPorts();
    env.put(prefix + "_SERVICE_HOST", ip);
    env.put(prefix + "_SERVICE_PORT", Integer.toString(ports.get(0).getPort()));
    for (ServicePort p : ports) {
      if (p.getName() != null && !p.getName().isEmpty()) {
        env.put(prefix + "_SERVICE_PORT_" + name(p.getName()), Integer.toString(p.getPort()));
      }
    }
    for (int i = 0; i < ports.size(); i++) {
      ServicePort p = ports.get(i);
      String proto = p.getProtocol() == null || p.getProtocol().isEmpty() ? "TCP" : p.getProtocol();
      String lower = proto.toLowerCase(Locale.ROOT);
      String hostPort = (ip.contains(":") ? "[" + ip + "]" : ip) + ":" + p.getPort();
      if (i == 0) {
        env.put(prefix + "_PORT", lower + "://" + hostPort); // Docker special-cases the first port
      }
      String pp = prefix + "_PORT_" + p.getPort() + "_" + proto.toUpperCase(Locale.ROOT);
      env.put(pp, lower + "://" + hostPort);
      env.put(pp + "_PROTO", lower);
      env.put(pp + "_PORT", Integer.toString(p.getPort()));
      env.put(pp + "_ADDR", ip);
    }
    return env;
  }

  /** envvars.go makeEnvVariableName. */
  static String name(String s) {
    return s.replace('-', '_').toUpperCase(Locale.ROOT);
  }

  @Override
  public void close() {
    informer.close();
  }
}
