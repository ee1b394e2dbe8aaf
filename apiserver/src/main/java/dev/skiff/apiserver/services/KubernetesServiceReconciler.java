package dev.skiff.apiserver.services;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.registry.ResourceRegistry;
import dev.skiff.apiserver.registry.ResourceStore;
import dev.skiff.apiserver.registry.WriteOptions;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.util.Collections;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the {@code default/kubernetes} Service, its Endpoints and its EndpointSlice pointing at
 * this API server, as kube-apiserver's control-plane controllers do
 * (pkg/controlplane/controller/kubernetesservice and reconcilers/endpointsadapter.go): the Service
 * gets the service CIDR's first address and port {@code https 443 -> the API server's port}; the
 * Endpoints (label {@code endpointslice.kubernetes.io/skip-mirror=true}) and the EndpointSlice
 * (label {@code kubernetes.io/service-name=kubernetes}, no managed-by label, no owner) list the
 * advertise address. It runs once at start and then every 10 seconds, so a deleted or edited
 * object comes back. Thread-safe.
 */
public final class KubernetesServiceReconciler implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(KubernetesServiceReconciler.class);
  private static final String NS = "default";
  private static final String NAME = "kubernetes";
  private static final WriteOptions WRITE = WriteOptions.internal("kube-apiserver");

  private final ResourceRegistry registry;
  private final ServiceNetwork network;
  private final String address;
  private final int port;
  private ScheduledExecutorService timer;

  /**
   * @param address the advertise address the endpoints carry
   * @param port the API server's HTTPS port (the Service's targetPort)
   */
  public KubernetesServiceReconciler(ResourceRegistry registry, ServiceNetwork network, String address, int port) {
    this.registry = registry;
    this.network = network;
    this.address = address;
    this.port = port;
  }

  public String address() {
    return address;
  }

  /** Reconciles now and then every {@code periodSeconds} on a background thread. */
  public synchronized void start(long periodSeconds) {
    reconcile();
    timer = Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon().name("skiff-kubernetes-service").unstarted(r));
    timer.scheduleWithFixedDelay(this::reconcile, periodSeconds, periodSeconds, TimeUnit.SECONDS);
  }

  /** One pass; errors are logged (the next pass retries). */
  public void reconcile() {
    try {
      service();
      endpoints();
      endpointSlice();
    } catch (RuntimeException e) {
      LOG.warn("reconciling the kubernetes Service: {}", e.toString());
    }
  }

  private void service() {
    ResourceStore store = registry.storeForKind("", "Service");
    ObjectNode desiredPort = Json.object();
    desiredPort.put("name", "https").put("protocol", "TCP").put("port", 443).put("targetPort", port);
    ObjectNode current;
    try {
      current = store.getObject(NS, NAME);
    } catch (ApiException e) {
      if (!"NotFound".equals(e.reason())) {
        throw e;
      }
      ObjectNode svc = Json.object();
      svc.put("apiVersion", "v1").put("kind", "Service");
      ObjectNode meta = svc.putObject("metadata");
      meta.put("name", NAME).put("namespace", NS);
      meta.putObject("labels").put("component", "apiserver").put("provider", "kubernetes");
      ObjectNode spec = svc.putObject("spec");
      spec.put("type", "ClusterIP");
      spec.put("clusterIP", network.address(1));
      spec.putArray("ports").add(desiredPort);
      spec.put("sessionAffinity", "None");
      try {
        store.create(NS, svc, WRITE);
      } catch (ApiException race) {
        if (!"AlreadyExists".equals(race.reason())) {
          throw race;
        }
      }
      return;
    }
    // Only the ports and the type are reconciled (CreateOrUpdateMasterServiceIfNeeded).
    JsonNode spec = current.path("spec");
    boolean portOk = spec.path("ports").size() == 1 && sameJson(spec.path("ports").get(0), desiredPort);
    if (portOk && "ClusterIP".equals(spec.path("type").asText())) {
      return;
    }
    store.guaranteedUpdate(NS, NAME, 0, svc -> {
      ObjectNode s = Json.with(svc, "spec");
      s.put("type", "ClusterIP");
      s.putArray("ports").add(desiredPort.deepCopy());
      return svc;
    }, WRITE, false);
  }

  private void endpoints() {
    ResourceStore store = registry.storeForKind("", "Endpoints");
    ObjectNode subset = Json.object();
    subset.putArray("addresses").addObject().put("ip", address);
    subset.putArray("ports").addObject().put("name", "https").put("port", port).put("protocol", "TCP");
    store.guaranteedUpdate(NS, NAME, 0, ep -> {
      ObjectNode obj = ep == null ? newObject("v1", "Endpoints") : ep;
      Json.with(Json.with(obj, "metadata"), "labels").put("endpointslice.kubernetes.io/skip-mirror", "true");
      obj.putArray("subsets").add(subset.deepCopy());
      return obj;
    }, WRITE, true);
  }

  private void endpointSlice() {
    ResourceStore store = registry.storeForKind("discovery.k8s.io", "EndpointSlice");
    store.guaranteedUpdate(NS, NAME, 0, es -> {
      ObjectNode obj = es == null ? newObject("discovery.k8s.io/v1", "EndpointSlice") : es;
      Json.with(Json.with(obj, "metadata"), "labels").put("kubernetes.io/service-name", NAME);
      obj.put("addressType", "IPv4");
      ObjectNode ep = obj.putArray("endpoints").addObject();
      ep.putArray("addresses").add(address);
      ep.putObject("conditions").put("ready", true);
      obj.putArray("ports").addObject().put("name", "https").put("port", port).put("protocol", "TCP");
      return obj;
    }, WRITE, true);
  }

  private static ObjectNode newObject(String apiVersion, String kind) {
    ObjectNode o = Json.object();
    o.put("apiVersion", apiVersion).put("kind", kind);
    o.putObject("metadata").put("name", NAME).put("namespace", NS);
    return o;
  }

  private static boolean sameJson(JsonNode a, JsonNode b) {
    return a.equals((x, y) -> x.equals(y) || (x.isNumber() && y.isNumber() && x.asLong() == y.asLong()) ? 0 : 1, b);
  }

  /**
   * The address other components reach this API server at when none is configured: the bind
   * address unless it is a wildcard or loopback, else the IPv4 address of the default route's
   * interface (Linux {@code /proc/net/route}; dummy or bridge interfaces that carry Service or pod
   * addresses never win), else the first non-loopback IPv4 address of an up interface (as the node
   * agent picks its InternalIP), else 127.0.0.1.
   */
  public static String advertiseAddress(String bindAddress) {
    if (bindAddress != null && !bindAddress.isBlank() && !bindAddress.equals("0.0.0.0")
        && !bindAddress.startsWith("127.") && !bindAddress.equals("::") && !bindAddress.equals("localhost")) {
      return bindAddress;
    }
    String viaDefaultRoute = defaultRouteAddress();
    if (viaDefaultRoute != null) {
      return viaDefaultRoute;
    }
    try {
      for (NetworkInterface nic : Collections.list(NetworkInterface.getNetworkInterfaces())) {
        if (!nic.isUp() || nic.isLoopback() || nic.isVirtual()) {
          continue;
        }
        for (InetAddress a : Collections.list(nic.getInetAddresses())) {
          if (a instanceof Inet4Address && !a.isLoopbackAddress() && !a.isLinkLocalAddress()) {
            return a.getHostAddress();
          }
        }
      }
    } catch (java.io.IOException e) {
      // fall through
    }
    return "127.0.0.1";
  }

  private static String defaultRouteAddress() {
    try {
      for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/net/route"))) {
        String[] f = line.trim().split("\\s+");
        if (f.length > 7 && f[1].equals("00000000") && f[7].equals("00000000")) {
          NetworkInterface nic = NetworkInterface.getByName(f[0]);
          if (nic == null || !nic.isUp()) {
            continue;
          }
          for (InetAddress a : Collections.list(nic.getInetAddresses())) {
            if (a instanceof Inet4Address && !a.isLoopbackAddress() && !a.isLinkLocalAddress()) {
              return a.getHostAddress();
            }
          }
        }
      }
    } catch (java.io.IOException | RuntimeException e) {
      // not Linux, or no default route: fall back
    }
    return null;
  }

  @Override
  public synchronized void close() {
    if (timer != null) {
      timer.shutdownNow();
    }
  }
}
