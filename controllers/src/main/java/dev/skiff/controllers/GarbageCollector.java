package dev.skiff.controllers;

import dev.skiff.runtime.Controller;
import dev.skiff.runtime.ControllerBuilder;
import dev.skiff.runtime.EventHandler;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.Keys;
import dev.skiff.runtime.Lister;
import dev.skiff.runtime.Result;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.DeletionPropagation;
import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.apps.ControllerRevision;
import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.ReplicaSet;
import io.fabric8.kubernetes.api.model.apps.StatefulSet;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.discovery.v1.EndpointSlice;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The garbage collector ({@code pkg/controller/garbagecollector/}): keeps a graph of
 * ownerReferences over the watched resource types and
 * <ul>
 *   <li>deletes dependents whose owners are all gone (background propagation; a dependent with
 *       some live owners just loses the references to the dead ones);
 *   <li>for an owner being deleted with the {@code foregroundDeletion} finalizer, deletes its
 *       dependents (foreground again where they have dependents of their own) and removes the
 *       finalizer once no dependent with {@code blockOwnerDeletion: true} remains;
 *   <li>for an owner being deleted with the {@code orphan} finalizer, strips the owner's
 *       references from its dependents, then removes the finalizer.
 * </ul>
 * Owners are looked up in the dependent's namespace: an owner that exists only in another
 * namespace counts as absent and the dependent gets an {@code OwnerRefInvalidNamespace} warning
 * event, as upstream does. Before deleting anything as dangling the owner is read live from the
 * API server (isDangling), so a lagging cache never causes a deletion; owners of kinds the
 * collector does not watch are always read live. Uses the typed shared informers (shared with the
 * other controllers of the manager) rather than metadata-only watches. Thread-safe.
 */
public final class GarbageCollector implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(GarbageCollector.class);

  public static final String FOREGROUND = "foregroundDeletion";
  public static final String ORPHAN = "orphan";

  /** The resource types the collector watches; key prefix = kind. */
  static final List<Class<? extends HasMetadata>> TYPES = List.of(Pod.class, ReplicaSet.class, Deployment.class, Job.class,
      ConfigMap.class, Secret.class, Service.class, StatefulSet.class, DaemonSet.class, ControllerRevision.class,
      EndpointSlice.class, PersistentVolumeClaim.class);

  private record Node(String key, String namespace, String kind, String group) {}

  private enum OwnerState { SOLID, DANGLING, WAITING }

  private final ControllerContext ctx;
  private final KubernetesClient client;
  private final EventRecorder recorder;
  private final Map<String, Class<? extends HasMetadata>> typesByKind = new LinkedHashMap<>();
  private final Map<String, Lister<? extends HasMetadata>> listers = new ConcurrentHashMap<>();
  /** uid -> node of every watched object. */
  private final Map<String, Node> nodes = new ConcurrentHashMap<>();
  /** owner uid -> keys of dependents that reference it. */
  private final Map<String, Set<String>> dependents = new ConcurrentHashMap<>();
  /** Owner UIDs confirmed absent by a live read (absentOwnerCache). */
  private final Set<String> absentOwners = ConcurrentHashMap.newKeySet();
  /** apiVersion/kind -> namespaced, from discovery. */
  private final Map<String, Boolean> scopes = new ConcurrentHashMap<>();
  private final Controller controller;

  private GarbageCollector(ControllerContext ctx) {
    this.ctx = ctx;
    this.client = ctx.client();
    this.recorder = ctx.recorder();
    ControllerBuilder b = Controller.builder("garbagecollector", ctx.informers())
        .workers(ctx.intOption("garbagecollector.workers", 5))
        .clock(ctx.clock())
        .reconciler(this::sync);
    for (Class<? extends HasMetadata> type : TYPES) {
      typesByKind.put(HasMetadata.getKind(type), type);
      b.watches(type, o -> List.of()); // caches must sync before the first decision
    }
    this.controller = b.build();
    for (Class<? extends HasMetadata> type : TYPES) {
      wire(type);
    }
  }

  private <T extends HasMetadata> void wire(Class<T> type) {
    var informer = ctx.informers().informerFor(type);
    String kind = HasMetadata.getKind(type);
    String group = HasMetadata.getGroup(type);
    listers.put(kind, informer.lister());
    informer.addHandler(new EventHandler<T>() {
      @Override
      public void onAdd(T obj) {
        Node n = new Node(kind + "|" + Keys.of(obj), obj.getMetadata().getNamespace(), kind, group);
        nodes.put(obj.getMetadata().getUid(), n);
        for (OwnerReference ref : refs(obj)) {
          dependents.computeIfAbsent(ref.getUid(), u -> ConcurrentHashMap.newKeySet()).add(n.key);
        }
        if (!refs(obj).isEmpty() || obj.getMetadata().getDeletionTimestamp() != null) {
          controller.enqueue(n.key);
        }
      }

      @Override
      public void onUpdate(T old, T cur) {
        String key = kind + "|" + Keys.of(cur);
        for (OwnerReference ref : refs(old)) {
          if (refs(cur).stream().noneMatch(r -> r.getUid().equals(ref.getUid()))) {
            Set<String> deps = dependents.get(ref.getUid());
            if (deps != null) {
              deps.remove(key);
            }
          }
        }
        onAdd(cur);
        if (!refs(old).isEmpty() && refs(cur).isEmpty()) {
          // Lost its last owner reference: an owner waiting on it may now finish.
          for (OwnerReference ref : refs(old)) {
            enqueueOwner(ref.getUid());
          }
        }
      }

      @Override
      public void onDelete(T obj, boolean finalStateUnknown) {
        String uid = obj.getMetadata().getUid();
        String key = kind + "|" + Keys.of(obj);
        nodes.remove(uid);
        for (OwnerReference ref : refs(obj)) {
          Set<String> deps = dependents.get(ref.getUid());
          if (deps != null) {
            deps.remove(key);
          }
          enqueueOwner(ref.getUid()); // an owner in foreground deletion may be waiting on this one
        }
        Set<String> deps = dependents.get(uid);
        if (deps != null) {
          deps.forEach(controller::enqueue); // their owner is gone
        }
      }
    });
  }

  private void enqueueOwner(String uid) {
    Node n = nodes.get(uid);
    if (n != null) {
      controller.enqueue(n.key);
    }
  }

  private static List<OwnerReference> refs(HasMetadata obj) {
    return obj.getMetadata().getOwnerReferences() == null ? List.of() : obj.getMetadata().getOwnerReferences();
  }

  /** Builds a garbage collector whose workers start with the others ({@link Controllers} entry point). */
  public static GarbageCollector start(ControllerContext ctx) {
    GarbageCollector gc = new GarbageCollector(ctx);
    ctx.afterAllCreated(gc.controller::start);
    return gc;
  }

  @Override
  public void close() throws InterruptedException {
    controller.stop(Duration.ofSeconds(5));
  }

  private HasMetadata lookup(String key) {
    int bar = key.indexOf('|');
    Lister<? extends HasMetadata> l = listers.get(key.substring(0, bar));
    return l == null ? null : l.getByKey(key.substring(bar + 1));
  }

  private Class<? extends HasMetadata> typeOf(String key) {
    return typesByKind.get(key.substring(0, key.indexOf('|')));
  }

  Result sync(String key) throws Exception {
    HasMetadata obj = lookup(key);
    if (obj == null) {
      return Result.done();
    }
    List<String> finalizers = obj.getMetadata().getFinalizers() == null ? List.of() : obj.getMetadata().getFinalizers();
    if (obj.getMetadata().getDeletionTimestamp() != null) {
      if (finalizers.contains(ORPHAN)) {
        orphanDependents(obj);
        removeFinalizer(key, obj, ORPHAN);
        return Result.done();
      }
      if (finalizers.contains(FOREGROUND)) {
        return processForeground(key, obj);
      }
      return Result.done();
    }
    List<OwnerReference> refs = refs(obj);
    if (refs.isEmpty()) {
      return Result.done();
    }
    List<OwnerReference> solid = new ArrayList<>();
    List<OwnerReference> dangling = new ArrayList<>();
    List<OwnerReference> waiting = new ArrayList<>();
    for (OwnerReference ref : refs) {
      switch (ownerState(obj, ref)) {
        case SOLID -> solid.add(ref);
        case DANGLING -> dangling.add(ref);
        case WAITING -> waiting.add(ref);
        default -> { }
      }
    }
    if (dangling.isEmpty() && waiting.isEmpty()) {
      return Result.done();
    }
    if (!solid.isEmpty()) {
      // Some owners live: only drop the references to dead ones (attemptToDeleteItem).
      if (!dangling.isEmpty()) {
        List<OwnerReference> keep = new ArrayList<>(refs);
        keep.removeAll(dangling);
        patchOwnerRefs(key, obj, keep);
      }
      return Result.done();
    }
    DeletionPropagation policy;
    if (!waiting.isEmpty() && hasDependents(obj)) {
      policy = DeletionPropagation.FOREGROUND; // the owner waits for this one's dependents too
    } else if (finalizers.contains(ORPHAN)) {
      policy = DeletionPropagation.ORPHAN;
    } else if (finalizers.contains(FOREGROUND)) {
      policy = DeletionPropagation.FOREGROUND;
    } else {
      policy = DeletionPropagation.BACKGROUND;
    }
    log.debug("garbage collector: deleting {} ({})", key, policy);
    delete(key, obj, policy);
    return Result.done();
  }

  private boolean hasDependents(HasMetadata obj) {
    Set<String> deps = dependents.get(obj.getMetadata().getUid());
    return deps != null && deps.stream().anyMatch(k -> lookup(k) != null);
  }

  /** Whether an owner exists (in the dependent's namespace), is gone, or waits for foreground deletion. */
  private OwnerState ownerState(HasMetadata dependent, OwnerReference ref) {
    String ns = dependent.getMetadata().getNamespace();
    String group = groupOf(ref.getApiVersion());
    Class<? extends HasMetadata> type = typesByKind.get(ref.getKind());
    if (type != null && HasMetadata.getGroup(type).equals(group)) {
      Node n = nodes.get(ref.getUid());
      if (n != null && n.kind.equals(ref.getKind()) && java.util.Objects.equals(n.namespace, ns)) {
        HasMetadata owner = lookup(n.key);
        if (owner != null) {
          return stateOf(owner);
        }
      }
      if (n != null && !java.util.Objects.equals(n.namespace, ns)) {
        recorder.event(dependent, EventRecorder.WARNING, "OwnerRefInvalidNamespace",
            "ownerRef [%s/%s, namespace: %s, name: %s, uid: %s] does not exist in namespace \"%s\"",
            ref.getApiVersion(), ref.getKind(), ns, ref.getName(), ref.getUid(), ns);
        return OwnerState.DANGLING;
      }
      if (absentOwners.contains(ref.getUid())) {
        return OwnerState.DANGLING;
      }
      // isDangling: the cache may lag behind a just-created owner; ask the server.
      HasMetadata live;
      try {
        live = client.resources(type).inNamespace(ns).withName(ref.getName()).get();
      } catch (KubernetesClientException e) {
        return OwnerState.SOLID; // unsure: never delete
      }
      if (live == null || !ref.getUid().equals(live.getMetadata().getUid())) {
        absentOwners.add(ref.getUid());
        return OwnerState.DANGLING;
      }
      return stateOf(live);
    }
    if (absentOwners.contains(ref.getUid())) {
      return OwnerState.DANGLING;
    }
    Boolean namespaced = namespaced(ref.getApiVersion(), ref.getKind());
    if (namespaced == null) {
      return OwnerState.SOLID; // kind unknown to discovery: upstream requeues, never deletes
    }
    try {
      var op = client.genericKubernetesResources(ref.getApiVersion(), ref.getKind());
      // A cluster-scoped owner (a Node for a mirror pod) is looked up without a namespace.
      GenericKubernetesResource live = ns == null || !namespaced ? op.withName(ref.getName()).get()
          : op.inNamespace(ns).withName(ref.getName()).get();
      if (live == null || !ref.getUid().equals(live.getMetadata().getUid())) {
        absentOwners.add(ref.getUid());
        return OwnerState.DANGLING;
      }
      return stateOf(live);
    } catch (RuntimeException e) {
      log.debug("garbage collector: cannot resolve owner {} {}: {}", ref.getKind(), ref.getName(), e.toString());
      return OwnerState.SOLID; // unknown kind or transient error: never delete on doubt
    }
  }

  /** Whether apiVersion/kind is namespaced, from discovery (cached); null if unknown or on error. */
  private Boolean namespaced(String apiVersion, String kind) {
    String key = apiVersion + "/" + kind;
    Boolean known = scopes.get(key);
    if (known != null) {
      return known;
    }
    try {
      var list = client.getApiResources(apiVersion);
      if (list == null || list.getResources() == null) {
        return null;
      }
      for (var r : list.getResources()) {
        if (kind.equals(r.getKind()) && !r.getName().contains("/")) {
          scopes.put(key, Boolean.TRUE.equals(r.getNamespaced()));
          return scopes.get(key);
        }
      }
      return null;
    } catch (RuntimeException e) {
      return null;
    }
  }

  private static OwnerState stateOf(HasMetadata owner) {
    List<String> f = owner.getMetadata().getFinalizers();
    if (owner.getMetadata().getDeletionTimestamp() != null && f != null && f.contains(FOREGROUND)) {
      return OwnerState.WAITING;
    }
    return OwnerState.SOLID;
  }

  private static String groupOf(String apiVersion) {
    int slash = apiVersion == null ? -1 : apiVersion.indexOf('/');
    return slash < 0 ? "" : apiVersion.substring(0, slash);
  }

  /** Foreground: delete dependents; drop the finalizer once no blocking dependent is left. */
  private Result processForeground(String key, HasMetadata owner) {
    String uid = owner.getMetadata().getUid();
    Set<String> deps = dependents.getOrDefault(uid, Set.of());
    int blocking = 0;
    for (String depKey : List.copyOf(deps)) {
      HasMetadata dep = lookup(depKey);
      if (dep == null) {
        continue;
      }
      OwnerReference ref = refs(dep).stream().filter(r -> uid.equals(r.getUid())).findFirst().orElse(null);
      if (ref == null) {
        continue;
      }
      if (Boolean.TRUE.equals(ref.getBlockOwnerDeletion())) {
        blocking++;
      }
      if (dep.getMetadata().getDeletionTimestamp() == null) {
        boolean othersLive = refs(dep).stream().anyMatch(r -> !uid.equals(r.getUid()) && ownerState(dep, r) == OwnerState.SOLID);
        if (othersLive) {
          List<OwnerReference> keep = new ArrayList<>(refs(dep));
          keep.remove(ref);
          patchOwnerRefs(depKey, dep, keep);
        } else {
          delete(depKey, dep, hasDependents(dep) ? DeletionPropagation.FOREGROUND : DeletionPropagation.BACKGROUND);
        }
      }
    }
    if (blocking == 0) {
      removeFinalizer(key, owner, FOREGROUND);
      return Result.done();
    }
    // Dependents' deletions enqueue this owner; look again anyway in case an event was missed.
    return Result.requeueAfter(Duration.ofSeconds(5));
  }

  private void orphanDependents(HasMetadata owner) {
    String uid = owner.getMetadata().getUid();
    for (String depKey : List.copyOf(dependents.getOrDefault(uid, Set.of()))) {
      HasMetadata dep = lookup(depKey);
      if (dep == null) {
        continue;
      }
      List<OwnerReference> keep = new ArrayList<>(refs(dep));
      if (keep.removeIf(r -> uid.equals(r.getUid()))) {
        patchOwnerRefs(depKey, dep, keep);
      }
    }
  }

  private void delete(String key, HasMetadata obj, DeletionPropagation policy) {
    try {
      client.resources(typeOf(key)).inNamespace(obj.getMetadata().getNamespace()).withName(obj.getMetadata().getName())
          .withPropagationPolicy(policy).delete();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw e;
      }
    }
  }

  /** Replaces ownerReferences, conditioned on the resourceVersion the decision was based on. */
  private void patchOwnerRefs(String key, HasMetadata obj, List<OwnerReference> keep) {
    String refsJson = keep.isEmpty() ? "null" : client.getKubernetesSerialization().asJson(keep);
    String patch = "{\"metadata\":{\"ownerReferences\":" + refsJson + ",\"resourceVersion\":\""
        + obj.getMetadata().getResourceVersion() + "\"}}";
    try {
      client.resources(typeOf(key)).inNamespace(obj.getMetadata().getNamespace()).withName(obj.getMetadata().getName())
          .patch(PatchContext.of(PatchType.JSON_MERGE), patch);
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw e; // 409: the object changed; retry with the newer state
      }
    }
  }

  private void removeFinalizer(String key, HasMetadata obj, String finalizer) {
    List<String> keep = new ArrayList<>(obj.getMetadata().getFinalizers());
    keep.remove(finalizer);
    String list = keep.isEmpty() ? "null" : client.getKubernetesSerialization().asJson(keep);
    String patch = "{\"metadata\":{\"finalizers\":" + list + ",\"resourceVersion\":\""
        + obj.getMetadata().getResourceVersion() + "\"}}";
    try {
      client.resources(typeOf(key)).inNamespace(obj.getMetadata().getNamespace()).withName(obj.getMetadata().getName())
          .patch(PatchContext.of(PatchType.JSON_MERGE), patch);
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw e;
      }
    }
  }
}
