package dev.skiff.controllers;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.controllers.gc.ApiDiscovery;
import dev.skiff.controllers.gc.ApiResource;
import dev.skiff.controllers.gc.MetadataClient;
import dev.skiff.controllers.gc.MetadataInformer;
import dev.skiff.controllers.gc.ObjectMetadata;
import dev.skiff.controllers.gc.ObjectMetadata.Owner;
import dev.skiff.runtime.Controller;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.Result;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.ObjectMetaBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The garbage collector ({@code pkg/controller/garbagecollector/}): keeps a graph of
 * ownerReferences over <em>every</em> resource discovery reports as listable, watchable and
 * deletable (custom resources included), and
 * <ul>
 *   <li>deletes dependents whose owners are all gone (background propagation; a dependent with
 *       some live owners just loses the references to the dead ones);
 *   <li>for an owner being deleted with the {@code foregroundDeletion} finalizer, deletes its
 *       dependents (foreground again where they have dependents of their own) and removes the
 *       finalizer once no dependent with {@code blockOwnerDeletion: true} remains;
 *   <li>for an owner being deleted with the {@code orphan} finalizer, strips the owner's
 *       references from its dependents, then removes the finalizer.
 * </ul>
 * Monitors (graph_builder.go): one metadata-only {@link MetadataInformer} per deletable resource;
 * discovery is re-read every {@code garbagecollector.discoveryPeriodSeconds} (30), soon after a
 * CustomResourceDefinition changes and when an ownerReference names a kind discovery does not
 * know; monitors are added and removed to match. An ownerReference is resolved to a resource
 * through discovery (the RESTMapper); a reference to a kind that does not resolve means "cannot
 * tell": the dependent is left alone (Warning event {@code OwnerRefUnresolvable}, retried with
 * backoff), never deleted.
 *
 * <p>Owners are looked up in the dependent's namespace: an owner that exists only in another
 * namespace counts as absent and the dependent gets an {@code OwnerRefInvalidNamespace} warning
 * event, as upstream does. Before deleting anything as dangling the owner is read live from the
 * API server (isDangling), so a lagging cache never causes a deletion. Deletions are
 * preconditioned on the dependent's UID. Thread-safe.
 */
public final class GarbageCollector implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(GarbageCollector.class);

  public static final String FOREGROUND = "foregroundDeletion";
  public static final String ORPHAN = "orphan";
  /** How long a monitor that cannot list may hold up decisions that need the whole graph. */
  static final Duration SYNC_PATIENCE = Duration.ofSeconds(30);
  /**
   * How long an owner's orphan/foreground finalizer waits for monitors that have not yet shown
   * anything as new as the owner's change (their watch may still carry a dependent created just
   * before; acting without it would orphan too little or finish too early).
   */
  static final Duration GRAPH_SETTLE = Duration.ofMillis(500);
  static final String CRD_RESOURCE = "apiextensions.k8s.io/customresourcedefinitions";

  /** Where an object of the graph lives. */
  private record Node(ApiResource resource, String namespace, String name) {
    String key() {
      return itemKey(resource, namespace == null ? name : namespace + "/" + name);
    }
  }

  private enum OwnerState { SOLID, DANGLING, WAITING, UNKNOWN }

  private final ControllerContext ctx;
  private final EventRecorder recorder;
  private final MetadataClient meta;
  private final Duration discoveryPeriod;
  /** resource id -> its monitor. */
  private final Map<String, MetadataInformer> monitors = new ConcurrentHashMap<>();
  /** uid -> node of every monitored object. */
  private final Map<String, Node> nodes = new ConcurrentHashMap<>();
  /** owner uid -> keys of dependents that reference it. */
  private final Map<String, Set<String>> dependents = new ConcurrentHashMap<>();
  /** Owner UIDs confirmed absent by a live read (absentOwnerCache). */
  private final Set<String> absentOwners = ConcurrentHashMap.newKeySet();
  /** Dependent UIDs already warned about an unresolvable owner kind. */
  private final Set<String> warnedUnresolvable = ConcurrentHashMap.newKeySet();
  /**
   * Owners whose dependents were orphaned. A dependent the graph learns of only afterwards (its
   * watch lagged behind the owner's) loses the reference instead of being deleted as dangling.
   * Grows by one UID per orphaning deletion while this collector leads.
   */
  private final Set<String> orphanedOwners = ConcurrentHashMap.newKeySet();
  /** owner uid -> when a finalizer decision about it first waited for the graph to settle. */
  private final Map<String, Long> settling = new ConcurrentHashMap<>();
  private final LinkedBlockingQueue<Boolean> resyncRequests = new LinkedBlockingQueue<>();
  private volatile ApiDiscovery discovery = ApiDiscovery.empty();
  private volatile long lastOnDemandResync;
  private volatile boolean closed;
  private final Controller controller;
  private Thread resyncer;

  private GarbageCollector(ControllerContext ctx) {
    this.ctx = ctx;
    this.recorder = ctx.recorder();
    this.meta = new MetadataClient(ctx.client());
    this.discoveryPeriod = Duration.ofSeconds(ctx.intOption("garbagecollector.discoveryPeriodSeconds", 30));
    this.controller = Controller.builder("garbagecollector", ctx.informers())
        .workers(ctx.intOption("garbagecollector.workers", 5))
        .clock(ctx.clock())
        .reconciler(this::sync)
        .build();
  }

  /** Builds a garbage collector whose workers start with the others ({@link Controllers} entry point). */
  public static GarbageCollector start(ControllerContext ctx) {
    GarbageCollector gc = new GarbageCollector(ctx);
    ctx.afterAllCreated(gc::run);
    return gc;
  }

  /** Starts the monitors, then (once they synced) the workers, then the periodic re-discovery. */
  private synchronized void run() {
    resyncer = Thread.ofVirtual().name("garbagecollector-discovery").start(() -> {
      try {
        while (!closed && !resync()) {
          Thread.sleep(1000); // discovery failed: the server may still be starting
        }
        // Upstream waits for every monitor's first list before the first decision; a resource
        // that cannot be listed holds the start up for at most SYNC_PATIENCE.
        while (!closed && !allSynced()) {
          Thread.sleep(10);
        }
        monitors.values().stream().filter(m -> !m.hasSynced()).forEach(m ->
            log.warn("garbage collector: {} not listable; starting without it", m.resource().id()));
        synchronized (this) {
          if (closed) {
            return;
          }
          controller.start();
        }
        log.info("garbage collector: monitoring {} resources", monitors.size());
        while (!closed) {
          resyncRequests.poll(discoveryPeriod.toMillis(), TimeUnit.MILLISECONDS);
          resyncRequests.clear();
          if (!closed) {
            resync();
          }
        }
      } catch (InterruptedException e) {
        // closing
      }
    });
  }

  /** Re-reads discovery and adds/removes monitors to match (GarbageCollector.Sync); false on error. */
  private boolean resync() {
    ApiDiscovery d;
    try {
      d = ApiDiscovery.read(meta);
    } catch (Exception e) {
      log.debug("garbage collector: discovery failed: {}", e.toString());
      return false;
    }
    if (closed) {
      return false;
    }
    discovery = d;
    Set<String> wanted = new HashSet<>();
    for (ApiResource r : d.deletable()) {
      wanted.add(r.id());
      monitors.computeIfAbsent(r.id(), id -> {
        log.debug("garbage collector: monitoring {}", id);
        return new MetadataInformer(meta, r, handler).start();
      });
    }
    for (String id : List.copyOf(monitors.keySet())) {
      MetadataInformer known = monitors.get(id);
      if (!wanted.contains(id) && known != null && !d.failed(known.resource().group())) {
        MetadataInformer m = monitors.remove(id);
        if (m != null) {
          m.close();
          for (ObjectMetadata o : m.list()) {
            nodes.remove(o.uid()); // the resource is gone (a deleted CRD): drop its objects quietly
          }
        }
      }
    }
    return true;
  }

  /** Asks for a re-discovery now (at most once a second when on demand). */
  private void requestResync() {
    resyncRequests.offer(Boolean.TRUE);
  }

  private final MetadataInformer.Handler handler = new MetadataInformer.Handler() {
    @Override
    public void onAdd(ApiResource resource, ObjectMetadata obj) {
      Node n = new Node(resource, obj.namespace(), obj.name());
      nodes.put(obj.uid(), n);
      for (Owner ref : obj.owners()) {
        dependents.computeIfAbsent(ref.uid(), u -> ConcurrentHashMap.newKeySet()).add(n.key());
      }
      if (!obj.owners().isEmpty() || obj.deleting()) {
        controller.enqueue(n.key());
      }
      crdChanged(resource);
    }

    @Override
    public void onUpdate(ApiResource resource, ObjectMetadata old, ObjectMetadata cur) {
      if (old.owners().equals(cur.owners()) && old.deleting() == cur.deleting()
          && old.finalizers().equals(cur.finalizers())) {
        return; // a status or label change: nothing the graph or a decision depends on (processGraphChanges)
      }
      String key = itemKey(resource, cur.key());
      for (Owner ref : old.owners()) {
        if (cur.owners().stream().noneMatch(r -> r.uid().equals(ref.uid()))) {
          Set<String> deps = dependents.get(ref.uid());
          if (deps != null) {
            deps.remove(key);
          }
          enqueueOwner(ref.uid()); // an owner waiting on this dependent may now finish
        }
      }
      onAdd(resource, cur);
    }

    @Override
    public void onDelete(ApiResource resource, ObjectMetadata obj) {
      String key = itemKey(resource, obj.key());
      nodes.remove(obj.uid());
      settling.remove(obj.uid());
      for (Owner ref : obj.owners()) {
        Set<String> deps = dependents.get(ref.uid());
        if (deps != null) {
          deps.remove(key);
        }
        enqueueOwner(ref.uid()); // an owner in foreground deletion may be waiting on this one
      }
      Set<String> deps = dependents.get(obj.uid());
      if (deps != null) {
        deps.forEach(controller::enqueue); // their owner is gone
      }
      crdChanged(resource);
    }
  };

  /** A CRD added, changed (established) or removed: its resource appears or goes; look again soon. */
  private void crdChanged(ApiResource resource) {
    if ((resource.group() + "/" + resource.resource()).equals(CRD_RESOURCE) && controller.started()) {
      requestResync();
      // The CRD is served (and in discovery) only once Established: look once more a bit later.
      Thread.ofVirtual().start(() -> {
        try {
          Thread.sleep(1500);
          requestResync();
        } catch (InterruptedException e) {
          // closing
        }
      });
    }
  }

  private void enqueueOwner(String uid) {
    Node n = nodes.get(uid);
    if (n != null) {
      controller.enqueue(n.key());
    }
  }

  private static String itemKey(ApiResource r, String objectKey) {
    return r.id() + "|" + objectKey;
  }

  @Override
  public void close() throws InterruptedException {
    Thread t;
    synchronized (this) {
      closed = true;
      t = resyncer;
    }
    if (t != null) {
      t.interrupt();
      t.join(Duration.ofSeconds(2)); // no monitor is added after this
    }
    controller.stop(Duration.ofSeconds(5));
    monitors.values().forEach(MetadataInformer::close);
  }

  /** The number of resources monitored (for tests and logs). */
  int monitoredResources() {
    return monitors.size();
  }

  private record Item(ApiResource resource, ObjectMetadata obj) {}

  private Item lookup(String key) {
    int bar = key.indexOf('|');
    MetadataInformer m = monitors.get(key.substring(0, bar));
    if (m == null) {
      return null;
    }
    ObjectMetadata o = m.get(key.substring(bar + 1));
    return o == null ? null : new Item(m.resource(), o);
  }

  Result sync(String key) throws Exception {
    Item item = lookup(key);
    if (item == null) {
      return Result.done();
    }
    ObjectMetadata obj = item.obj();
    if (obj.deleting()) {
      if (obj.finalizers().contains(ORPHAN)) {
        if (!allSynced() || !graphSettled(obj)) {
          return Result.requeueAfter(Duration.ofMillis(100)); // the dependents list may be incomplete
        }
        orphanedOwners.add(obj.uid());
        orphanDependents(obj);
        removeFinalizer(item, ORPHAN);
        settling.remove(obj.uid());
        return Result.done();
      }
      if (obj.finalizers().contains(FOREGROUND)) {
        return processForeground(item);
      }
      return Result.done();
    }
    List<Owner> refs = obj.owners();
    if (refs.isEmpty()) {
      return Result.done();
    }
    if (refs.stream().anyMatch(r -> orphanedOwners.contains(r.uid()))) {
      List<Owner> keep = new ArrayList<>(refs);
      keep.removeIf(r -> orphanedOwners.contains(r.uid()));
      patchOwnerRefs(item, keep); // the update brings the key back for its other owners
      return Result.done();
    }
    List<Owner> solid = new ArrayList<>();
    List<Owner> dangling = new ArrayList<>();
    List<Owner> waiting = new ArrayList<>();
    boolean unknown = false;
    for (Owner ref : refs) {
      switch (ownerState(item, ref)) {
        case SOLID -> solid.add(ref);
        case DANGLING -> dangling.add(ref);
        case WAITING -> waiting.add(ref);
        case UNKNOWN -> {
          unknown = true;
          solid.add(ref); // cannot tell: counts as alive, so nothing is deleted on its account
        }
        default -> { }
      }
    }
    if (dangling.isEmpty() && waiting.isEmpty()) {
      return unknown ? Result.requeue() : Result.done();
    }
    if (!solid.isEmpty()) {
      // Some owners live: only drop the references to dead ones (attemptToDeleteItem).
      if (!dangling.isEmpty()) {
        List<Owner> keep = new ArrayList<>(refs);
        keep.removeAll(dangling);
        patchOwnerRefs(item, keep);
      }
      return unknown ? Result.requeue() : Result.done();
    }
    String policy;
    if (!waiting.isEmpty() && hasDependents(obj)) {
      policy = "Foreground"; // the owner waits for this one's dependents too
    } else if (obj.finalizers().contains(ORPHAN)) {
      policy = "Orphan";
    } else if (obj.finalizers().contains(FOREGROUND)) {
      policy = "Foreground";
    } else {
      policy = "Background";
    }
    log.debug("garbage collector: deleting {} ({})", key, policy);
    meta.delete(item.resource(), obj.namespace(), obj.name(), obj.uid(), policy);
    return Result.done();
  }

  /**
   * Whether the graph has seen every change up to the owner's: every monitor has observed a
   * revision at least the owner's, or {@link #GRAPH_SETTLE} has passed since we first asked
   * (a quiet resource shows nothing newer until its next event or bookmark). Real time, not the
   * context clock: a fake clock in tests must not stall deletions.
   */
  private boolean graphSettled(ObjectMetadata owner) {
    long rv;
    try {
      rv = Long.parseLong(owner.resourceVersion());
    } catch (NumberFormatException | NullPointerException e) {
      rv = Long.MAX_VALUE;
    }
    long need = rv;
    if (monitors.values().stream().allMatch(m -> m.lastRevision() >= need)) {
      return true;
    }
    long first = settling.computeIfAbsent(owner.uid(), u -> System.nanoTime());
    return System.nanoTime() - first >= GRAPH_SETTLE.toNanos();
  }

  private boolean allSynced() {
    return monitors.values().stream().allMatch(m -> m.hasSyncedOrGaveUp(SYNC_PATIENCE));
  }

  private boolean hasDependents(ObjectMetadata obj) {
    Set<String> deps = dependents.get(obj.uid());
    return deps != null && deps.stream().anyMatch(k -> lookup(k) != null);
  }

  /** Whether an owner exists (in the dependent's namespace), is gone, waits for foreground deletion, or is unknowable. */
  private OwnerState ownerState(Item dependent, Owner ref) {
    String ns = dependent.obj().namespace();
    ApiResource type = discovery.resolve(ref.apiVersion(), ref.kind());
    if (type == null) {
      // Upstream: a REST mapping error is retried, never taken as absence (the kind may be a CRD
      // discovery has not caught up with yet).
      if (warnedUnresolvable.add(dependent.obj().uid())) {
        log.info("garbage collector: cannot resolve owner kind {} {} of {}; leaving it alone", ref.apiVersion(),
            ref.kind(), itemKey(dependent.resource(), dependent.obj().key()));
        recorder.event(involved(dependent), EventRecorder.WARNING, "OwnerRefUnresolvable",
            "ownerRef [%s/%s, name: %s, uid: %s] names a kind the API server does not serve",
            ref.apiVersion(), ref.kind(), ref.name(), ref.uid());
      }
      long now = System.nanoTime();
      if (now - lastOnDemandResync > 1_000_000_000L) {
        lastOnDemandResync = now;
        requestResync();
      }
      return OwnerState.UNKNOWN;
    }
    if (!type.namespaced()) {
      ns = null; // a cluster-scoped owner (a Node of a mirror pod, a Namespace) has no namespace
    } else if (ns == null) {
      return OwnerState.DANGLING; // a cluster-scoped dependent cannot have a namespaced owner
    }
    Node n = nodes.get(ref.uid());
    if (n != null && n.resource().group().equals(type.group()) && n.resource().kind().equals(ref.kind())) {
      if (Objects.equals(n.namespace(), ns)) {
        Item owner = lookup(n.key());
        if (owner != null && owner.obj().uid().equals(ref.uid())) {
          return stateOf(owner.obj());
        }
      } else {
        recorder.event(involved(dependent), EventRecorder.WARNING, "OwnerRefInvalidNamespace",
            "ownerRef [%s/%s, namespace: %s, name: %s, uid: %s] does not exist in namespace \"%s\"",
            ref.apiVersion(), ref.kind(), ns, ref.name(), ref.uid(), ns);
        return OwnerState.DANGLING;
      }
    }
    if (absentOwners.contains(ref.uid())) {
      return OwnerState.DANGLING;
    }
    // isDangling: the cache may lag behind a just-created owner; ask the server.
    ObjectMetadata live;
    try {
      live = meta.get(type, ns, ref.name());
    } catch (Exception e) {
      log.debug("garbage collector: cannot read owner {} {}: {}", ref.kind(), ref.name(), e.toString());
      return OwnerState.SOLID; // unsure: never delete
    }
    if (live == null || !ref.uid().equals(live.uid())) {
      absentOwners.add(ref.uid());
      return OwnerState.DANGLING;
    }
    return stateOf(live);
  }

  private static GenericKubernetesResource involved(Item item) {
    GenericKubernetesResource r = new GenericKubernetesResource();
    r.setApiVersion(item.resource().apiVersion());
    r.setKind(item.resource().kind());
    r.setMetadata(new ObjectMetaBuilder().withNamespace(item.obj().namespace()).withName(item.obj().name())
        .withUid(item.obj().uid()).withResourceVersion(item.obj().resourceVersion()).build());
    return r;
  }

  private static OwnerState stateOf(ObjectMetadata owner) {
    return owner.deleting() && owner.finalizers().contains(FOREGROUND) ? OwnerState.WAITING : OwnerState.SOLID;
  }

  /** Foreground: delete dependents; drop the finalizer once no blocking dependent is left. */
  private Result processForeground(Item ownerItem) throws Exception {
    ObjectMetadata owner = ownerItem.obj();
    if (!allSynced() || !graphSettled(owner)) {
      return Result.requeueAfter(Duration.ofMillis(100)); // a monitor may still hold dependents
    }
    String uid = owner.uid();
    int blocking = 0;
    for (String depKey : List.copyOf(dependents.getOrDefault(uid, Set.of()))) {
      Item dep = lookup(depKey);
      if (dep == null) {
        continue;
      }
      Owner ref = dep.obj().owners().stream().filter(r -> uid.equals(r.uid())).findFirst().orElse(null);
      if (ref == null) {
        continue;
      }
      if (ref.blocks()) {
        blocking++;
      }
      if (!dep.obj().deleting()) {
        boolean othersLive = dep.obj().owners().stream()
            .anyMatch(r -> !uid.equals(r.uid()) && ownerState(dep, r) == OwnerState.SOLID);
        if (othersLive) {
          List<Owner> keep = new ArrayList<>(dep.obj().owners());
          keep.remove(ref);
          patchOwnerRefs(dep, keep);
        } else {
          meta.delete(dep.resource(), dep.obj().namespace(), dep.obj().name(), dep.obj().uid(),
              hasDependents(dep.obj()) ? "Foreground" : "Background");
        }
      }
    }
    if (blocking == 0) {
      removeFinalizer(ownerItem, FOREGROUND);
      settling.remove(uid);
      return Result.done();
    }
    // Dependents' deletions enqueue this owner; look again anyway in case an event was missed.
    return Result.requeueAfter(Duration.ofSeconds(5));
  }

  private void orphanDependents(ObjectMetadata owner) throws Exception {
    String uid = owner.uid();
    log.debug("garbage collector: orphaning the dependents of {} {}: {}", owner.key(), uid,
        dependents.getOrDefault(uid, Set.of()));
    for (String depKey : List.copyOf(dependents.getOrDefault(uid, Set.of()))) {
      Item dep = lookup(depKey);
      if (dep == null) {
        continue;
      }
      List<Owner> keep = new ArrayList<>(dep.obj().owners());
      if (keep.removeIf(r -> uid.equals(r.uid()))) {
        patchOwnerRefs(dep, keep);
      }
    }
  }

  /** Replaces ownerReferences, conditioned on the resourceVersion the decision was based on. */
  private void patchOwnerRefs(Item item, List<Owner> keep) throws Exception {
    ObjectNode patch = JsonNodeFactory.instance.objectNode();
    ObjectNode m = patch.putObject("metadata");
    if (keep.isEmpty()) {
      m.putNull("ownerReferences");
    } else {
      m.set("ownerReferences", ownersJson(keep));
    }
    m.put("resourceVersion", item.obj().resourceVersion());
    // A 409 (the object changed) throws: the key is retried with the newer state.
    meta.mergePatch(item.resource(), item.obj().namespace(), item.obj().name(), patch);
  }

  private static com.fasterxml.jackson.databind.node.ArrayNode ownersJson(List<Owner> owners) {
    var a = JsonNodeFactory.instance.arrayNode();
    for (Owner o : owners) {
      ObjectNode j = a.addObject();
      j.put("apiVersion", o.apiVersion()).put("kind", o.kind()).put("name", o.name()).put("uid", o.uid());
      if (o.controller() != null) {
        j.put("controller", o.controller());
      }
      if (o.blockOwnerDeletion() != null) {
        j.put("blockOwnerDeletion", o.blockOwnerDeletion());
      }
    }
    return a;
  }

  private void removeFinalizer(Item item, String finalizer) throws Exception {
    List<String> keep = new ArrayList<>(item.obj().finalizers());
    keep.remove(finalizer);
    ObjectNode patch = JsonNodeFactory.instance.objectNode();
    ObjectNode m = patch.putObject("metadata");
    if (keep.isEmpty()) {
      m.putNull("finalizers");
    } else {
      keep.forEach(m.putArray("finalizers")::add);
    }
    m.put("resourceVersion", item.obj().resourceVersion());
    meta.mergePatch(item.resource(), item.obj().namespace(), item.obj().name(), patch);
  }
}
