package dev.skiff.controllers;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.skiff.runtime.Keys;
import dev.skiff.runtime.Lister;
import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.apps.ControllerRevision;
import io.fabric8.kubernetes.api.model.apps.ControllerRevisionBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * ControllerRevision bookkeeping shared by the StatefulSet and DaemonSet controllers
 * ({@code pkg/controller/history/controller_history.go} and the two controllers' {@code getPatch}):
 * a revision's {@code data} is {@code {"spec":{"template":{...,"$patch":"replace"}}}}, the strategic
 * merge patch {@code kubectl rollout undo} applies to the owner; its name is
 * {@code <owner>-<hash>} with the hash over that data plus the owner's collisionCount. Stateless
 * apart from the client; thread-safe.
 */
final class ControllerHistory {
  /** Label every revision carries: the hash of its data (history.ControllerRevisionHashLabel). */
  static final String HASH_LABEL = "controller.kubernetes.io/hash";

  private static final ObjectMapper CANONICAL = new ObjectMapper()
      .configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);
  private static final String ALPHANUMS = "bcdfghjklmnpqrstvwxz2456789";

  private final KubernetesClient client;
  private final Lister<ControllerRevision> lister;

  ControllerHistory(KubernetesClient client, Lister<ControllerRevision> lister) {
    this.client = client;
    this.lister = lister;
  }

  /** Revision data for {@code template}: keys sorted, so equal templates give equal bytes. */
  @SuppressWarnings("unchecked")
  static Map<String, Object> patchData(PodTemplateSpec template) {
    Map<String, Object> t = new TreeMap<>(CANONICAL.convertValue(template, Map.class));
    t.put("$patch", "replace");
    return Map.of("spec", Map.of("template", t));
  }

  /** The canonical text of a revision's data (what hashes and equality use). */
  static String dataText(Object data) {
    try {
      return CANONICAL.writeValueAsString(CANONICAL.convertValue(data, Object.class));
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }

  /** The pod template stored in a revision ({@code ApplyRevision}, without the patch machinery). */
  @SuppressWarnings("unchecked")
  static PodTemplateSpec template(ControllerRevision rev) {
    Object data = rev.getData();
    Map<String, Object> m = data instanceof Map<?, ?> ? (Map<String, Object>) data : CANONICAL.convertValue(data, Map.class);
    Object spec = m == null ? null : m.get("spec");
    Object t = spec instanceof Map<?, ?> sm ? sm.get("template") : null;
    Map<String, Object> copy = t instanceof Map<?, ?> tm ? new LinkedHashMap<>((Map<String, Object>) tm) : new LinkedHashMap<>();
    copy.remove("$patch");
    return CANONICAL.convertValue(copy, PodTemplateSpec.class);
  }

  /**
   * HashControllerRevision: FNV-1 (32 bit) over the data, then the collision count in decimal,
   * written with rand.SafeEncodeString's alphabet.
   */
  static String hash(Object data, Integer collisionCount) {
    int h = 0x811c9dc5;
    byte[] bytes = dataText(data).getBytes(StandardCharsets.UTF_8);
    for (byte b : bytes) {
      h *= 0x01000193;
      h ^= (b & 0xff);
    }
    if (collisionCount != null) {
      for (byte b : Integer.toString(collisionCount).getBytes(StandardCharsets.UTF_8)) {
        h *= 0x01000193;
        h ^= (b & 0xff);
      }
    }
    String dec = Long.toString(Integer.toUnsignedLong(h));
    StringBuilder out = new StringBuilder();
    for (char ch : dec.toCharArray()) {
      out.append(ALPHANUMS.charAt(ch % ALPHANUMS.length()));
    }
    return out.toString();
  }

  /** ControllerRevisionName: the prefix is cut to 223 characters so the name stays valid. */
  static String name(String prefix, String hash) {
    if (prefix.length() > 223) {
      prefix = prefix.substring(0, 223);
    }
    return prefix + "-" + hash;
  }

  static boolean equal(ControllerRevision a, ControllerRevision b) {
    return dataText(a.getData()).equals(dataText(b.getData()));
  }

  /**
   * A revision (not yet stored) of {@code owner} holding {@code template}, with the template's
   * labels plus {@code extraLabels} and number {@code revision} (history.NewControllerRevision).
   */
  static ControllerRevision newRevision(HasMetadata owner, PodTemplateSpec template, Map<String, String> extraLabels,
      long revision, Integer collisionCount) {
    Map<String, Object> data = patchData(template);
    String hash = hash(data, collisionCount);
    Map<String, String> labels = new LinkedHashMap<>();
    if (template.getMetadata() != null && template.getMetadata().getLabels() != null) {
      labels.putAll(template.getMetadata().getLabels());
    }
    labels.putAll(extraLabels);
    labels.put(HASH_LABEL, hash);
    Map<String, String> annotations = owner.getMetadata().getAnnotations() == null ? null
        : new LinkedHashMap<>(owner.getMetadata().getAnnotations());
    if (annotations != null) {
      annotations.remove(DeploymentUtil.LAST_APPLIED);
    }
    return new ControllerRevisionBuilder()
        .withNewMetadata()
        .withName(name(owner.getMetadata().getName(), hash))
        .withNamespace(owner.getMetadata().getNamespace())
        .withLabels(labels)
        .withAnnotations(annotations)
        .withOwnerReferences(Pods.controllerRef(owner))
        .endMetadata()
        .withData(data)
        .withRevision(revision)
        .build();
  }

  static String hashOf(ControllerRevision rev) {
    return rev.getMetadata().getLabels() == null ? null : rev.getMetadata().getLabels().get(HASH_LABEL);
  }

  /** Oldest first: by revision number, then creation time, then name (SortControllerRevisions). */
  static final Comparator<ControllerRevision> BY_REVISION = Comparator
      .comparingLong((ControllerRevision r) -> r.getRevision() == null ? 0 : r.getRevision())
      .thenComparing(r -> String.valueOf(r.getMetadata().getCreationTimestamp()))
      .thenComparing(r -> r.getMetadata().getName());

  /**
   * The revisions {@code owner} controls, adopting orphans whose labels match its selector and
   * releasing owned ones that stopped matching (ClaimControllerRevisions). Sorted oldest first.
   */
  List<ControllerRevision> claim(HasMetadata owner, LabelSelector selector) {
    String uid = owner.getMetadata().getUid();
    List<ControllerRevision> out = new ArrayList<>();
    for (ControllerRevision r : lister.list(owner.getMetadata().getNamespace())) {
      OwnerReference ref = Keys.controllerOf(r);
      boolean match = Selectors.matches(selector, r.getMetadata().getLabels());
      if (ref != null) {
        if (uid.equals(ref.getUid())) {
          if (match || owner.getMetadata().getDeletionTimestamp() != null) {
            out.add(r);
          } else {
            patchOwner(r, "{\"metadata\":{\"ownerReferences\":[{\"$patch\":\"delete\",\"uid\":\"" + uid + "\"}],\"uid\":\""
                + r.getMetadata().getUid() + "\"}}");
          }
        }
        continue;
      }
      if (match && !Selectors.isEmpty(selector) && owner.getMetadata().getDeletionTimestamp() == null
          && r.getMetadata().getDeletionTimestamp() == null) {
        OwnerReference c = Pods.controllerRef(owner);
        ControllerRevision adopted = patchOwner(r, "{\"metadata\":{\"ownerReferences\":[{\"apiVersion\":\"" + c.getApiVersion()
            + "\",\"kind\":\"" + c.getKind() + "\",\"name\":\"" + c.getName() + "\",\"uid\":\"" + uid
            + "\",\"controller\":true,\"blockOwnerDeletion\":true}],\"uid\":\"" + r.getMetadata().getUid() + "\"}}");
        if (adopted != null) {
          out.add(adopted);
        }
      }
    }
    out.sort(BY_REVISION);
    return out;
  }

  private ControllerRevision patchOwner(ControllerRevision r, String patch) {
    try {
      return client.apps().controllerRevisions().inNamespace(r.getMetadata().getNamespace()).withName(r.getMetadata().getName())
          .patch(PatchContext.of(PatchType.STRATEGIC_MERGE), patch);
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404 || e.getCode() == 422 || e.getCode() == 409) {
        return null;
      }
      throw e;
    }
  }

  /** The next revision number: the highest plus one (nextRevision). */
  static long next(List<ControllerRevision> revisions) {
    return revisions.stream().mapToLong(r -> r.getRevision() == null ? 0 : r.getRevision()).max().orElse(0) + 1;
  }

  /**
   * Stores {@code rev} (CreateControllerRevision): on a name clash with a revision holding other
   * data, bumps {@code collisionCount[0]} and retries under the new hash; an existing equal
   * revision is returned as is.
   */
  ControllerRevision create(HasMetadata owner, ControllerRevision rev, int[] collisionCount) {
    for (int attempt = 0; attempt < 100; attempt++) {
      String hash = hash(rev.getData(), collisionCount[0]);
      ControllerRevision candidate = new ControllerRevisionBuilder(rev).editMetadata()
          .withName(name(owner.getMetadata().getName(), hash))
          .addToLabels(HASH_LABEL, hash)
          .endMetadata().build();
      if (candidate.getMetadata().getLabels().containsKey(DaemonSetController.REVISION_LABEL)) {
        candidate.getMetadata().getLabels().put(DaemonSetController.REVISION_LABEL, hash); // DaemonSet pods carry the hash
      }
      try {
        return client.apps().controllerRevisions().inNamespace(owner.getMetadata().getNamespace()).resource(candidate).create();
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          throw e;
        }
        ControllerRevision existing = client.apps().controllerRevisions().inNamespace(owner.getMetadata().getNamespace())
            .withName(candidate.getMetadata().getName()).get();
        if (existing != null && equal(existing, candidate)) {
          OwnerReference ref = Keys.controllerOf(existing);
          if (ref != null && owner.getMetadata().getUid().equals(ref.getUid())) {
            return existing;
          }
        }
        if (existing == null) {
          continue; // deleted meanwhile: try the same name again
        }
        collisionCount[0]++;
      }
    }
    throw new IllegalStateException("too many ControllerRevision name collisions for " + Keys.of(owner));
  }

  /** Gives an existing revision a new number (UpdateControllerRevision), as a rollback does. */
  ControllerRevision renumber(ControllerRevision rev, long revision) {
    if (rev.getRevision() != null && rev.getRevision() == revision) {
      return rev;
    }
    return client.apps().controllerRevisions().inNamespace(rev.getMetadata().getNamespace()).withName(rev.getMetadata().getName())
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"revision\":" + revision + "}");
  }

  void delete(ControllerRevision rev) {
    try {
      client.apps().controllerRevisions().inNamespace(rev.getMetadata().getNamespace()).withName(rev.getMetadata().getName()).delete();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw e;
      }
    }
  }
}
