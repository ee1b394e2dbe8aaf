package dev.skiff.kubelet;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeAddress;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.NodeCondition;
import io.fabric8.kubernetes.api.model.NodeStatus;
import io.fabric8.kubernetes.api.model.NodeSystemInfo;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.io.IOException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Registers this machine's Node and keeps it alive (pkg/kubelet/kubelet_node_status.go and
 * nodelease): the Lease in kube-node-lease is renewed every 10 s (duration 40 s); node status is
 * computed every 10 s but posted only when it changed or every 5 minutes
 * (nodeStatusReportFrequency). Capacity comes from the host: CPUs, MemTotal, the data
 * directory's file system, pods=110. Not thread-safe: driven by one scheduled thread.
 */
final class NodeStatusReporter {
  private static final Logger log = LoggerFactory.getLogger(NodeStatusReporter.class);
  static final String KUBELET_VERSION = "v1.32.4-skiff";
  static final Duration LEASE_RENEW = Duration.ofSeconds(10);
  static final int LEASE_DURATION_SECONDS = 40;
  static final Duration REPORT_FREQUENCY = Duration.ofMinutes(5);

  private final KubernetesClient client;
  private final String nodeName;
  private final String nodeIp;
  private final int kubeletPort;
  private final String runtimeVersion;
  private final Path dataDir;
  private final Clock clock;
  private Instant lastPostedAt = Instant.EPOCH;
  private String nodeUid;

  NodeStatusReporter(KubernetesClient client, String nodeName, String nodeIp, int kubeletPort, String runtimeVersion,
      Path dataDir, Clock clock) {
    this.client = client;
    this.nodeName = nodeName;
    this.nodeIp = nodeIp;
    this.kubeletPort = kubeletPort;
    this.runtimeVersion = runtimeVersion;
    this.dataDir = dataDir;
    this.clock = clock;
  }

  /** Creates the Node if absent (else refreshes labels and status). */
  void register() {
    Node existing = client.nodes().withName(nodeName).get();
    if (existing == null) {
      Node node = new NodeBuilder().withMetadata(new ObjectMetaBuilder().withName(nodeName).withLabels(labels()).build())
          .withNewSpec().endSpec().build();
      try {
        existing = client.nodes().resource(node).create();
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          throw e;
        }
        existing = client.nodes().withName(nodeName).get();
      }
    } else {
      client.nodes().withName(nodeName).patch(PatchContext.of(PatchType.JSON_MERGE),
          "{\"metadata\":{\"labels\":" + Serialization.asJson(labels()) + "}}");
    }
    nodeUid = existing.getMetadata().getUid();
    postStatus(true);
  }

  private Map<String, String> labels() {
    Map<String, String> l = new LinkedHashMap<>();
    l.put("kubernetes.io/hostname", nodeName);
    l.put("kubernetes.io/os", "linux");
    l.put("kubernetes.io/arch", arch());
    l.put("beta.kubernetes.io/os", "linux");
    l.put("beta.kubernetes.io/arch", arch());
    l.put("skiff.dev/runtime", "process");
    return l;
  }

  /**
   * Computes the status and posts it if it differs from the server's copy (heartbeat times aside),
   * on {@code force}, or every 5 minutes. Comparing with the server rather than with our own last
   * post matters: when the node lifecycle controller has marked the node Unknown while this agent
   * was alive but stalled, the next tick puts Ready=True back at once instead of up to 5 minutes
   * later (pkg/kubelet/kubelet_node_status.go tryUpdateNodeStatus, nodeStatusHasChanged).
   */
  void postStatus(boolean force) {
    Node current = client.nodes().withName(nodeName).get();
    NodeStatus server = current == null ? null : current.getStatus();
    Instant now = clock.instant();
    NodeStatus desired = status(now, server);
    boolean changed = !comparable(desired).equals(comparable(server));
    if (!force && !changed && Duration.between(lastPostedAt, now).compareTo(REPORT_FREQUENCY) < 0) {
      return;
    }
    client.nodes().withName(nodeName).subresource("status").patch(PatchContext.of(PatchType.JSON_MERGE),
        "{\"status\":" + Serialization.asJson(desired) + "}");
    lastPostedAt = now;
  }

  /** The fields this reporter owns, without heartbeat or transition times, as JSON. */
  static String comparable(NodeStatus s) {
    if (s == null) {
      return "";
    }
    NodeStatus c = new NodeStatus();
    c.setCapacity(s.getCapacity());
    c.setAllocatable(s.getAllocatable());
    c.setAddresses(s.getAddresses());
    c.setNodeInfo(s.getNodeInfo());
    c.setDaemonEndpoints(s.getDaemonEndpoints());
    List<NodeCondition> conditions = new ArrayList<>();
    for (NodeCondition nc : s.getConditions() == null ? List.<NodeCondition>of() : s.getConditions()) {
      conditions.add(new NodeCondition(null, null, nc.getMessage(), nc.getReason(), nc.getStatus(), nc.getType()));
    }
    conditions.sort(java.util.Comparator.comparing(NodeCondition::getType));
    c.setConditions(conditions);
    return Serialization.asJson(c);
  }

  /** Renews (or creates) the node's Lease. */
  void renewLease() {
    var meta = new ObjectMetaBuilder().withName(nodeName).withNamespace("kube-node-lease");
    if (nodeUid != null) {
      meta.withOwnerReferences(new OwnerReferenceBuilder().withApiVersion("v1").withKind("Node").withName(nodeName)
          .withUid(nodeUid).build());
    }
    dev.skiff.runtime.Heartbeat.renew(client, meta.build(), nodeName, LEASE_DURATION_SECONDS, clock.instant());
  }

  /**
   * The status with heartbeats at {@code at}; a condition keeps the server's lastTransitionTime
   * while its status is unchanged, else it transitions at {@code at}.
   */
  NodeStatus status(Instant at, NodeStatus server) {
    Map<String, Quantity> capacity = capacity(dataDir);
    NodeStatus s = new NodeStatus();
    s.setCapacity(capacity);
    s.setAllocatable(capacity);
    s.setAddresses(List.of(new NodeAddress(nodeIp, "InternalIP"), new NodeAddress(nodeName, "Hostname")));
    NodeSystemInfo info = new NodeSystemInfo();
    info.setArchitecture(arch());
    info.setOperatingSystem("linux");
    info.setKernelVersion(System.getProperty("os.version"));
    info.setOsImage(osImage());
    info.setKubeletVersion(KUBELET_VERSION);
    info.setKubeProxyVersion("");
    info.setContainerRuntimeVersion(runtimeVersion);
    info.setMachineID(read("/etc/machine-id"));
    info.setBootID(read("/proc/sys/kernel/random/boot_id"));
    info.setSystemUUID("");
    s.setNodeInfo(info);
    var endpoints = new io.fabric8.kubernetes.api.model.NodeDaemonEndpoints();
    endpoints.setKubeletEndpoint(new io.fabric8.kubernetes.api.model.DaemonEndpoint(kubeletPort));
    s.setDaemonEndpoints(endpoints);
    String t = PodStatusBuilder.time(at);
    List<NodeCondition> old = server == null || server.getConditions() == null ? List.of() : server.getConditions();
    List<NodeCondition> c = new ArrayList<>();
    c.add(condition("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available", t, old));
    c.add(condition("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure", t, old));
    c.add(condition("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available", t, old));
    c.add(condition("Ready", "True", "KubeletReady", "kubelet is posting ready status", t, old));
    s.setConditions(c);
    return s;
  }

  private static NodeCondition condition(String type, String status, String reason, String message, String t,
      List<NodeCondition> old) {
    String transition = old.stream().filter(o -> type.equals(o.getType()) && status.equals(o.getStatus()))
        .map(NodeCondition::getLastTransitionTime).filter(java.util.Objects::nonNull).findFirst().orElse(t);
    return new NodeCondition(t, transition, message, reason, status, type);
  }

  static Map<String, Quantity> capacity(Path dataDir) {
    Map<String, Quantity> m = new LinkedHashMap<>();
    m.put("cpu", new Quantity(Integer.toString(Runtime.getRuntime().availableProcessors())));
    m.put("memory", new Quantity(memTotalKi() + "Ki"));
    long disk;
    try {
      disk = Files.getFileStore(dataDir).getTotalSpace();
    } catch (IOException e) {
      disk = 0;
    }
    m.put("ephemeral-storage", new Quantity((disk / 1024) + "Ki"));
    m.put("pods", new Quantity("110"));
    return m;
  }

  private static long memTotalKi() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (line.startsWith("MemTotal:")) {
          return Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
      }
    } catch (IOException | NumberFormatException e) {
      // fall through
    }
    return Runtime.getRuntime().maxMemory() / 1024;
  }

  private static String arch() {
    String a = System.getProperty("os.arch");
    return switch (a) {
      case "x86_64", "amd64" -> "amd64";
      case "aarch64" -> "arm64";
      default -> a;
    };
  }

  private static String osImage() {
    try {
      for (String line : Files.readAllLines(Path.of("/etc/os-release"))) {
        if (line.startsWith("PRETTY_NAME=")) {
          return line.substring(12).replace("\"", "");
        }
      }
    } catch (IOException e) {
      // fall through
    }
    return System.getProperty("os.name");
  }

  private static String read(String file) {
    try {
      return Files.readString(Path.of(file)).trim();
    } catch (IOException e) {
      return "";
    }
  }

  /** The first site-local IPv4 address of an up, non-loopback interface; else 127.0.0.1. */
  static String hostIp() {
    try {
      // The interface of the default route first (/proc/net/route): the pod bridges (10.42.N.1)
      // and service dummies (10.43.x.x) that Skiff itself adds must never become the node's IP.
      String defaultNic = null;
      try {
        for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/net/route"))) {
          String[] f = line.trim().split("\\s+");
          if (f.length > 2 && f[1].equals("00000000")) {
            defaultNic = f[0];
            break;
          }
        }
      } catch (IOException e) {
        // not Linux
      }
      List<NetworkInterface> nics = new java.util.ArrayList<>(Collections.list(NetworkInterface.getNetworkInterfaces()));
      String first = defaultNic;
      nics.sort(java.util.Comparator.comparing((NetworkInterface n) -> !n.getName().equals(first)));
      for (NetworkInterface nic : nics) {
        if (!nic.isUp() || nic.isLoopback() || nic.isVirtual() || nic.getName().startsWith("sk")) {
          continue;
        }
        for (InetAddress a : Collections.list(nic.getInetAddresses())) {
          if (a instanceof Inet4Address && !a.isLoopbackAddress() && !a.isLinkLocalAddress()) {
            return a.getHostAddress();
          }
        }
      }
    } catch (IOException e) {
      // fall through
    }
    return "127.0.0.1";
  }
}
