package dev.skiff.cli;

import dev.skiff.runtime.Clients;
import dev.skiff.runtime.Component;
import dev.skiff.runtime.ComponentContext;
import dev.skiff.runtime.InProcessApi;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Starts the in-JVM components against an API server (the local one, or a remote one for
 * {@code skiff agent}) and stops them in reverse order.
 */
final class ComponentRunner implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ComponentRunner.class);

  private final Path kubeconfig;
  private final Path dataDir;
  private final String nodeName;
  private final Map<String, String> options;
  private final Set<String> disabled;
  private final Deque<AutoCloseable> running = new ArrayDeque<>();
  private final InProcessApi inJvm;
  private KubernetesClient client;
  private volatile boolean closed;

  ComponentRunner(Path kubeconfig, Path dataDir, String nodeName, Map<String, String> options, Set<String> disabled) {
    this(kubeconfig, null, dataDir, nodeName, options, disabled);
  }

  /**
   * @param inJvm the API server in this JVM to reach in-JVM, or null to connect over the
   *     kubeconfig's URL (loopback, or a remote server for {@code skiff agent})
   */
  ComponentRunner(Path kubeconfig, InProcessApi inJvm, Path dataDir, String nodeName, Map<String, String> options,
      Set<String> disabled) {
    this.kubeconfig = kubeconfig;
    this.inJvm = inJvm;
    this.dataDir = dataDir;
    this.nodeName = nodeName;
    Map<String, String> withDefaults = new java.util.HashMap<>(options);
    if (!withDefaults.containsKey("sandbox-pool")) {
      withDefaults.putIfAbsent("kubelet.sandbox-pool", Integer.toString(dev.skiff.kubelet.NodeAgent.SERVER_SANDBOX_POOL));
    }
    this.options = withDefaults;
    this.disabled = disabled;
  }

  synchronized void start(List<Component> components) {
    if (components.isEmpty() || closed) {
      return;
    }
    client = inJvm != null ? Clients.inProcess(kubeconfig, inJvm) : Clients.forKubeconfig(kubeconfig);
    ComponentContext ctx = new ComponentContext(client, dataDir, nodeName, options);
    for (Component c : components) {
      if (disabled.contains(c.name()) || closed) {
        continue;
      }
      long t0 = System.nanoTime();
      try {
        running.push(c.start(ctx));
        LOG.info("started {} in {} ms", c.name(), (System.nanoTime() - t0) / 1_000_000);
      } catch (Exception e) {
        LOG.error("cannot start {}: {}", c.name(), e.toString());
      }
    }
  }

  @Override
  public synchronized void close() {
    closed = true;
    while (!running.isEmpty()) {
      try {
        running.pop().close();
      } catch (Exception e) {
        LOG.warn("stopping component: {}", e.toString());
      }
    }
    if (client != null) {
      client.close();
    }
  }

  static String hostName() {
    try {
      String h = Files.readString(Path.of("/proc/sys/kernel/hostname")).trim();
      if (!h.isEmpty()) {
        return h.toLowerCase();
      }
    } catch (Exception e) {
      // not Linux
    }
    try {
      return InetAddress.getLocalHost().getHostName().toLowerCase();
    } catch (Exception e) {
      return "localhost";
    }
  }
}
