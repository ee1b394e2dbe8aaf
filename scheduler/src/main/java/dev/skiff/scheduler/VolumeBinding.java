package dev.skiff.scheduler;

import dev.skiff.runtime.Lister;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * PersistentVolumeClaims (upstream volumebinding): a missing claim or an unbound claim of an
 * Immediate storage class makes the pod unschedulable everywhere; a bound claim's volume node
 * affinity must match the node; an unbound WaitForFirstConsumer claim is satisfied by provisioning
 * on the chosen node, announced in PreBind by the {@code volume.kubernetes.io/selected-node}
 * annotation the provisioner watches.
 *
 * <p>Simplification: upstream also waits (bindTimeoutSeconds 600) for the claim to become bound
 * before binding the pod; here the pod is bound right after the annotation and the node agent
 * waits for the volume.
 */
final class VolumeBinding implements Plugin.PreFilter, Plugin.Filter, Plugin.PreBind {
  static final String NAME = "VolumeBinding";
  static final String CONFLICT = "node(s) had volume node affinity conflict";
  static final String UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims";
  static final String SELECTED_NODE = "volume.kubernetes.io/selected-node";
  private static final String KEY = NAME + "/state";

  private final Lister<PersistentVolumeClaim> claims;
  private final Lister<PersistentVolume> volumes;
  private final Lister<StorageClass> classes;
  private final KubernetesClient client;

  private record State(List<PersistentVolume> bound, List<PersistentVolumeClaim> delayed) {}

  VolumeBinding(KubernetesClient client, Lister<PersistentVolumeClaim> claims, Lister<PersistentVolume> volumes, Lister<StorageClass> classes) {
    this.client = client;
    this.claims = claims;
    this.volumes = volumes;
    this.classes = classes;
  }

  @Override
  public String name() {
    return NAME;
  }

  @Override
  public Status preFilter(CycleState state, PodInfo pod, List<NodeInfo> allNodes) {
    List<Volume> vols = pod.pod.getSpec().getVolumes();
    state.write(KEY, null);
    if (vols == null || vols.isEmpty()) {
      return Status.SUCCESS;
    }
    List<PersistentVolume> bound = new ArrayList<>();
    List<PersistentVolumeClaim> delayed = new ArrayList<>();
    for (Volume v : vols) {
      if (v.getPersistentVolumeClaim() == null) {
        continue;
      }
      String name = v.getPersistentVolumeClaim().getClaimName();
      PersistentVolumeClaim pvc = claims.get(pod.namespace, name);
      if (pvc == null) {
        return Status.unresolvable("persistentvolumeclaim \"" + name + "\" not found");
      }
      if (pvc.getMetadata().getDeletionTimestamp() != null) {
        return Status.unresolvable("persistentvolumeclaim \"" + name + "\" is being deleted");
      }
      String pvName = pvc.getSpec().getVolumeName();
      if (pvName != null && !pvName.isEmpty()) {
        PersistentVolume pv = volumes.get(null, pvName);
        if (pv != null) {
          bound.add(pv);
        }
        continue;
      }
      String scName = pvc.getSpec().getStorageClassName();
      StorageClass sc = scName == null ? null : classes.get(null, scName);
      if (sc != null && "WaitForFirstConsumer".equals(sc.getVolumeBindingMode())) {
        delayed.add(pvc);
      } else {
        return Status.unresolvable(UNBOUND_IMMEDIATE);
      }
    }
    state.write(KEY, new State(bound, delayed));
    return Status.SUCCESS;
  }

  @Override
  public Status filter(CycleState state, PodInfo pod, NodeInfo node) {
    State s = state.read(KEY);
    if (s == null) {
      return Status.SUCCESS;
    }
    for (PersistentVolume pv : s.bound) {
      var na = pv.getSpec().getNodeAffinity();
      if (na != null && na.getRequired() != null && !Selectors.matches(na.getRequired(), node.node)) {
        return Status.unresolvable(CONFLICT);
      }
    }
    return Status.SUCCESS;
  }

  @Override
  public Status preBind(CycleState state, Pod pod, String nodeName) {
    State s = state.read(KEY);
    if (s == null || s.delayed.isEmpty()) {
      return Status.SUCCESS;
    }
    try {
      for (PersistentVolumeClaim pvc : s.delayed) {
        Map<String, String> ann = pvc.getMetadata().getAnnotations();
        if (ann != null && nodeName.equals(ann.get(SELECTED_NODE))) {
          continue;
        }
        client.persistentVolumeClaims().inNamespace(pvc.getMetadata().getNamespace()).withName(pvc.getMetadata().getName())
            .edit(c -> {
              if (c.getMetadata().getAnnotations() == null) {
                c.getMetadata().setAnnotations(new java.util.HashMap<>());
              }
              c.getMetadata().getAnnotations().put(SELECTED_NODE, nodeName);
              return c;
            });
      }
      return Status.SUCCESS;
    } catch (RuntimeException e) {
      return Status.error("selecting node for claims: " + e.getMessage());
    }
  }
}
