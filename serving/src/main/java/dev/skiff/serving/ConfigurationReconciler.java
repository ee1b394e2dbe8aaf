package dev.skiff.serving;

import dev.skiff.runtime.Clock;
import dev.skiff.runtime.Controller;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.Lister;
import dev.skiff.runtime.Result;
import dev.skiff.runtime.SharedInformers;
import dev.skiff.serving.v1.Condition;
import dev.skiff.serving.v1.Configuration;
import dev.skiff.serving.v1.Knative;
import dev.skiff.serving.v1.Revision;
import dev.skiff.serving.v1.Status;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * The Configuration controller (knative.dev/serving pkg/reconciler/configuration): stamps out one
 * Revision per generation of the template, named {@code spec.template.metadata.name} or
 * {@code <config>-00001} after {@code metadata.generation} (kmeta.ChildName keeps it within 63
 * characters), labelled {@code serving.knative.dev/configuration}, {@code configurationGeneration},
 * {@code configurationUID}, {@code service}/{@code serviceUID} (when Service-owned) and
 * {@code routingState=pending}, annotated with the creator (the Configuration's lastModifier) and
 * {@code routingStateModified}, owned by the Configuration. Status: latestCreatedRevisionName as
 * soon as it exists, latestReadyRevisionName the newest ready one, Ready True when they agree,
 * False {@code RevisionFailed} when the latest failed or could not be created (a same-named
 * Revision that is not ours). After each pass the {@link RevisionGc} rule deletes stale revisions.
 * Events: Created, LatestReadyUpdate, RevisionFailed (Warning). Thread-safe.
 */
final class ConfigurationReconciler {
  private static final int MAX_NAME = 63;

  private final KubernetesClient client;
  private final EventRecorder recorder;
  private final Clock clock;
  private final Lister<Configuration> configurations;
  private final Lister<Revision> revisions;
  private final Lister<ConfigMap> configMaps;
  private final Controller controller;

  ConfigurationReconciler(SharedInformers informers, KubernetesClient client, EventRecorder recorder, Clock clock) {
    this.client = client;
    this.recorder = recorder;
    this.clock = clock;
    this.configurations = informers.informerFor(Configuration.class).lister();
    this.revisions = informers.informerFor(Revision.class).lister();
    this.configMaps = informers.informerFor(ConfigMap.class).lister();
    this.controller = Controller.builder("knative-configuration-controller", informers)
        .watches(Configuration.class)
        .owns(Revision.class, Configuration.class)
        .clock(clock)
        .workers(2)
        .reconciler(this::reconcile)
        .build();
  }

  Controller controller() {
    return controller;
  }

  /** revision.go's name: the BYO name, or kmeta.ChildName(config, "-%05d" of the generation). */
  static String revisionName(Configuration cfg) {
    ObjectMeta tm = cfg.getSpec().getTemplate() == null ? null : cfg.getSpec().getTemplate().getMetadata();
    if (tm != null && tm.getName() != null && !tm.getName().isEmpty()) {
      return tm.getName();
    }
    return childName(cfg.getMetadata().getName(), "-%05d".formatted(cfg.getMetadata().getGeneration()));
  }

  /** knative.dev/pkg/kmeta ChildName: parent + suffix, the parent shortened with its MD5 past 63 characters. */
  static String childName(String parent, String suffix) {
    if (parent.length() + suffix.length() <= MAX_NAME) {
      return parent + suffix;
    }
    try {
      String hash = HexFormat.of().formatHex(MessageDigest.getInstance("MD5").digest(parent.getBytes(StandardCharsets.UTF_8)));
      String head = parent + hash;
      return head.substring(0, MAX_NAME - suffix.length() - hash.length()) + hash + suffix;
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  Result reconcile(String key) {
    Configuration cfg = configurations.getByKey(key);
    if (cfg == null || Children.deleting(cfg) || cfg.getSpec() == null || cfg.getSpec().getTemplate() == null) {
      return Result.done();
    }
    String ns = cfg.getMetadata().getNamespace();
    Instant now = Instant.ofEpochMilli(clock.currentTimeMillis());
    Status st = cfg.getStatus() == null ? new Status() : Knative.copy(cfg.getStatus());
    st.setObservedGeneration(cfg.getMetadata().getGeneration());
    String name = revisionName(cfg);
    Revision rev = revisions.get(ns, name);
    if (rev == null) {
      try {
        rev = client.resources(Revision.class).inNamespace(ns).resource(desiredRevision(cfg, name, now)).create();
        recorder.event(cfg, EventRecorder.NORMAL, "Created", "Created Revision \"%s\"", name);
      } catch (KubernetesClientException e) {
        if (e.getCode() == 409) {
          return Result.requeue(); // our cache is behind: look again
        }
        Conditions.set(st, "Ready", "False", "RevisionFailed", "Revision creation failed with message: " + e.getMessage() + ".", now);
        recorder.event(cfg, EventRecorder.WARNING, "CreationFailed", "Failed to create Revision \"%s\": %s", name, e.getMessage());
        return writeStatus(cfg, st);
      }
    } else if (!Children.controlledBy(rev, cfg)) {
      Conditions.set(st, "Ready", "False", "RevisionFailed", "Revision creation failed with message: "
          + "revisions.serving.knative.dev \"" + name + "\" already exists.", now);
      return writeStatus(cfg, st);
    }
    st.setLatestCreatedRevisionName(name);
    String previousReady = st.getLatestReadyRevisionName();
    Status rs = rev.getStatus();
    if (rs != null && rs.isTrue("Ready")) {
      st.setLatestReadyRevisionName(name);
      Conditions.set(st, "Ready", "True", null, null, now);
    } else {
      String latestReady = latestReady(cfg);
      if (latestReady != null) {
        st.setLatestReadyRevisionName(latestReady);
      }
      Condition rc = rs == null ? null : rs.condition("Ready");
      if (rc != null && "False".equals(rc.getStatus())) {
        Conditions.set(st, "Ready", "False", "RevisionFailed",
            "Revision \"" + name + "\" failed with message: " + rc.getMessage() + ".", now);
      } else {
        Conditions.set(st, "Ready", "Unknown", null, null, now);
      }
    }
    if (st.getLatestReadyRevisionName() != null && !st.getLatestReadyRevisionName().equals(previousReady)) {
      recorder.event(cfg, EventRecorder.NORMAL, "LatestReadyUpdate", "LatestReadyRevisionName updated to \"%s\"",
          st.getLatestReadyRevisionName());
    }
    if (st.isFalse("Ready") && !(cfg.getStatus() != null && cfg.getStatus().isFalse("Ready"))) {
      recorder.event(cfg, EventRecorder.WARNING, "RevisionFailed", "Revision \"%s\" failed to become ready.", name);
    }
    Result r = writeStatus(cfg, st);
    collectGarbage(cfg, st, now);
    return r.isRateLimitedRequeue() ? r : Result.requeueAfter(Duration.ofMinutes(10)); // GC ages on the clock
  }

  /** The newest ready Revision of {@code cfg} by generation label (configuration.go findAndSetLatestReadyRevision). */
  private String latestReady(Configuration cfg) {
    Revision best = null;
    long bestGen = -1;
    for (Revision r : owned(cfg)) {
      if (r.getStatus() == null || !r.getStatus().isTrue("Ready")) {
        continue;
      }
      long gen = generation(r);
      if (gen > bestGen) {
        best = r;
        bestGen = gen;
      }
    }
    return best == null ? null : best.getMetadata().getName();
  }

  private static long generation(Revision r) {
    try {
      return Long.parseLong(r.getMetadata().getLabels().get(Knative.CONFIGURATION_GENERATION_LABEL));
    } catch (RuntimeException e) {
      return -1;
    }
  }

  private List<Revision> owned(Configuration cfg) {
    List<Revision> out = new ArrayList<>();
    for (Revision r : revisions.list(cfg.getMetadata().getNamespace())) {
      Map<String, String> l = r.getMetadata().getLabels();
      if (l != null && cfg.getMetadata().getName().equals(l.get(Knative.CONFIGURATION_LABEL)) && Children.controlledBy(r, cfg)) {
        out.add(r);
      }
    }
    return out;
  }

  private void collectGarbage(Configuration cfg, Status st, Instant now) {
    Configuration view = Knative.copy(cfg);
    view.setStatus(st);
    RevisionGc.Settings settings = RevisionGc.Settings.from(configMaps.get(Knative.SYSTEM_NAMESPACE, "config-gc"));
    for (Revision r : RevisionGc.collect(view, owned(cfg), settings, now)) {
      try {
        client.resources(Revision.class).inNamespace(r.getMetadata().getNamespace()).withName(r.getMetadata().getName()).delete();
        recorder.event(cfg, EventRecorder.NORMAL, "Deleted", "Deleted stale Revision \"%s\"", r.getMetadata().getName());
      } catch (KubernetesClientException e) {
        if (e.getCode() != 404) {
          throw e;
        }
      }
    }
  }

  private Result writeStatus(Configuration cfg, Status st) {
    return StatusWriter.write(client, Configuration.class, cfg, st, null);
  }

  /** configuration/resources/revision.go MakeRevision. */
  static Revision desiredRevision(Configuration cfg, String name, Instant now) {
    Revision rev = new Revision();
    ObjectMeta tm = cfg.getSpec().getTemplate().getMetadata();
    ObjectMeta m = new ObjectMeta();
    m.setName(name);
    m.setNamespace(cfg.getMetadata().getNamespace());
    Map<String, String> labels = Children.labels(tm == null ? null : tm.getLabels());
    Map<String, String> cl = cfg.getMetadata().getLabels() == null ? Map.of() : cfg.getMetadata().getLabels();
    labels.put(Knative.CONFIGURATION_LABEL, cfg.getMetadata().getName());
    labels.put(Knative.CONFIGURATION_GENERATION_LABEL, Long.toString(cfg.getMetadata().getGeneration()));
    labels.put(Knative.CONFIGURATION_UID_LABEL, cfg.getMetadata().getUid());
    if (cl.containsKey(Knative.SERVICE_LABEL)) {
      labels.put(Knative.SERVICE_LABEL, cl.get(Knative.SERVICE_LABEL));
    }
    if (cl.containsKey(Knative.SERVICE_UID_LABEL)) {
      labels.put(Knative.SERVICE_UID_LABEL, cl.get(Knative.SERVICE_UID_LABEL));
    }
    labels.put(Knative.ROUTING_STATE_LABEL, "pending");
    m.setLabels(labels);
    Map<String, String> ann = Children.annotations(tm == null ? null : tm.getAnnotations());
    Map<String, String> ca = cfg.getMetadata().getAnnotations();
    if (ca != null && ca.get(Knative.LAST_MODIFIER_ANNOTATION) != null) {
      ann.put(Knative.CREATOR_ANNOTATION, ca.get(Knative.LAST_MODIFIER_ANNOTATION));
    }
    ann.put(Knative.ROUTING_STATE_MODIFIED_ANNOTATION, now.truncatedTo(ChronoUnit.SECONDS).toString());
    m.setAnnotations(ann);
    m.setOwnerReferences(List.of(Children.controllerRef(cfg)));
    rev.setMetadata(m);
    rev.setSpec(Knative.copy(cfg.getSpec().getTemplate().getSpec()));
    return rev;
  }

}
