package dev.skiff.controllers.network;

import dev.skiff.controllers.ControllerContext;
import dev.skiff.runtime.Controller;
import dev.skiff.runtime.EventHandler;
import dev.skiff.runtime.Keys;
import dev.skiff.runtime.Lister;
import dev.skiff.runtime.Result;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.time.Duration;
import java.util.BitSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Node IPAM, as kube-controller-manager's range allocator does it
 * (pkg/controller/nodeipam/ipam/range_allocator.go with cidrset): every Node without
 * {@code spec.podCIDR} gets the lowest free subnet of the cluster CIDR (option
 * {@code cluster-cidr}, default 10.42.0.0/16; subnet size option {@code node-cidr-mask-size},
 * default 24) in {@code spec.podCIDR} and {@code spec.podCIDRs}. The subnets in use are those the
 * stored Nodes carry, read when the controller starts, so assignments are stable across
 * restarts; a deleted Node's subnet is free again. One worker; the bitmap is guarded by this
 * object. Thread-safe.
 */
public final class NodeIpamController implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(NodeIpamController.class);
  private static final Pattern CIDR = Pattern.compile("(\\d+)\\.(\\d+)\\.(\\d+)\\.(\\d+)/(\\d+)");

  private final KubernetesClient client;
  private final Lister<Node> nodes;
  private final Controller controller;
  private final long network;
  private final int clusterPrefix;
  private final int nodePrefix;
  private final BitSet used = new BitSet();
  /** Assignments written but not yet in the informer's cache: node name -> CIDR (never assign twice). */
  private final java.util.Map<String, String> pending = new java.util.concurrent.ConcurrentHashMap<>();
  private boolean initialized;

  private NodeIpamController(ControllerContext ctx) {
    this.client = ctx.client();
    String cidr = ctx.options().getOrDefault("cluster-cidr", "10.42.0.0/16");
    Matcher m = CIDR.matcher(cidr.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException("cluster-cidr must be an IPv4 CIDR, got " + cidr);
    }
    long ip = 0;
    for (int i = 1; i <= 4; i++) {
      ip = (ip << 8) | Integer.parseInt(m.group(i));
    }
    this.clusterPrefix = Integer.parseInt(m.group(5));
    this.nodePrefix = ctx.intOption("node-cidr-mask-size", 24);
    if (nodePrefix < clusterPrefix || nodePrefix > 30 || nodePrefix - clusterPrefix > 20) {
      throw new IllegalArgumentException("node-cidr-mask-size " + nodePrefix + " does not fit cluster-cidr " + cidr);
    }
    this.network = ip & (0xFFFFFFFFL << (32 - clusterPrefix)) & 0xFFFFFFFFL;
    var informer = ctx.informers().informerFor(Node.class);
    this.nodes = informer.lister();
    this.controller = Controller.builder("nodeipam", ctx.informers())
        .watches(Node.class)
        .workers(1)
        .clock(ctx.clock())
        .reconciler(this::sync)
        .build();
    informer.addHandler(new EventHandler<Node>() {
      @Override
      public void onAdd(Node obj) { }

      @Override
      public void onUpdate(Node oldObj, Node newObj) { }

      @Override
      public void onDelete(Node node, boolean finalStateUnknown) {
        String assigned = pending.remove(node.getMetadata().getName());
        release(node.getSpec() == null || node.getSpec().getPodCIDR() == null ? assigned : node.getSpec().getPodCIDR());
      }
    });
  }

  /** Builds the controller; its worker starts with the others ({@code Controllers} entry point). */
  public static NodeIpamController start(ControllerContext ctx) {
    NodeIpamController c = new NodeIpamController(ctx);
    ctx.afterAllCreated(c.controller::start);
    return c;
  }

  @Override
  public void close() throws InterruptedException {
    controller.stop(Duration.ofSeconds(5));
  }

  private int subnets() {
    return 1 << (nodePrefix - clusterPrefix);
  }

  /** The index of a subnet of the cluster CIDR, or -1 when {@code cidr} is not one. */
  int indexOf(String cidr) {
    if (cidr == null) {
      return -1;
    }
    Matcher m = CIDR.matcher(cidr);
    if (!m.matches() || Integer.parseInt(m.group(5)) != nodePrefix) {
      return -1;
    }
    long ip = 0;
    for (int i = 1; i <= 4; i++) {
      ip = (ip << 8) | Integer.parseInt(m.group(i));
    }
    long offset = ip - network;
    if (offset < 0 || offset % (1L << (32 - nodePrefix)) != 0) {
      return -1;
    }
    long idx = offset >> (32 - nodePrefix);
    return idx < subnets() ? (int) idx : -1;
  }

  String subnet(int index) {
    long ip = network + ((long) index << (32 - nodePrefix));
    return ((ip >>> 24) & 255) + "." + ((ip >>> 16) & 255) + "." + ((ip >>> 8) & 255) + "." + (ip & 255) + "/" + nodePrefix;
  }

  private synchronized void release(String cidr) {
    int i = indexOf(cidr);
    if (i >= 0) {
      used.clear(i);
    }
  }

  /** Marks every stored Node's subnet used (once, when the cache is first complete). */
  private synchronized void initialize() {
    if (initialized) {
      return;
    }
    for (Node n : nodes.list()) {
      int i = indexOf(n.getSpec() == null ? null : n.getSpec().getPodCIDR());
      if (i >= 0) {
        used.set(i);
      }
    }
    initialized = true;
  }

  Result sync(String key) {
    initialize();
    Node node = nodes.get(null, Keys.name(key));
    if (node == null) {
      return Result.done();
    }
    String current = node.getSpec() == null ? null : node.getSpec().getPodCIDR();
    if (current == null || current.isEmpty()) {
      if (pending.containsKey(node.getMetadata().getName())) {
        return Result.done(); // assigned; the cache has not caught up yet
      }
    } else {
      pending.remove(node.getMetadata().getName());
      int i = indexOf(current);
      if (i >= 0) {
        synchronized (this) {
          used.set(i);
        }
      }
      return Result.done();
    }
    int index;
    synchronized (this) {
      index = used.nextClearBit(0);
      if (index >= subnets()) {
        log.warn("node {}: no free /{} left in the cluster CIDR", node.getMetadata().getName(), nodePrefix);
        return Result.requeueAfter(Duration.ofSeconds(30));
      }
      used.set(index);
    }
    String cidr = subnet(index);
    try {
      client.nodes().withName(node.getMetadata().getName()).patch(PatchContext.of(PatchType.JSON_MERGE),
          "{\"spec\":{\"podCIDR\":\"" + cidr + "\",\"podCIDRs\":[\"" + cidr + "\"]}}");
      pending.put(node.getMetadata().getName(), cidr);
      log.info("node {}: podCIDR {}", node.getMetadata().getName(), cidr);
    } catch (RuntimeException e) {
      release(cidr);
      throw e;
    }
    return Result.done();
  }
}
