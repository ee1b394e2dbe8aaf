package dev.skiff.serving;

import dev.skiff.runtime.Clock;
import dev.skiff.runtime.Controller;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.Keys;
import dev.skiff.runtime.Lister;
import dev.skiff.runtime.Result;
import dev.skiff.runtime.SharedInformers;
import dev.skiff.serving.v1.Knative;
import dev.skiff.serving.v1.Revision;
import dev.skiff.serving.v1.RevisionSpec;
import dev.skiff.serving.v1.Status;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.ContainerPortBuilder;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.LabelSelectorBuilder;
import io.fabric8.kubernetes.api.model.Lifecycle;
import io.fabric8.kubernetes.api.model.LifecycleHandler;
import io.fabric8.kubernetes.api.model.LifecycleHandlerBuilder;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.TCPSocketAction;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.apps.DeploymentCondition;
import io.fabric8.kubernetes.api.model.apps.DeploymentSpec;
import io.fabric8.kubernetes.api.model.apps.DeploymentStrategyBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.utils.Serialization;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The Revision controller (knative.dev/serving pkg/reconciler/revision and its resources/deploy.go):
 * creates the Deployment {@code <rev>-deployment} (CONTRACTS.md "Knative pods") and reports the
 * Revision's state from it and its pods.
 *
 * <p>The Deployment: labels and pod labels are the Revision's plus {@code serving.knative.dev/revision},
 * {@code revisionUID} and {@code app}; selector {@code revisionUID}; the serving container named
 * {@code user-container} with one port named {@code user-port} (the user's containerPort, else
 * 8080), env {@code PORT}, {@code K_REVISION}, {@code K_CONFIGURATION}, {@code K_SERVICE}, the
 * readiness probe (the user's, or TCP) and liveness probe aimed at that port, period 1 s when
 * Knative's "aggressive" period 0 was given; {@code terminationGracePeriodSeconds} =
 * {@code timeoutSeconds}; {@code maxUnavailable: 0}; initial {@code replicas} =
 * {@code autoscaling.knative.dev/initial-scale} (or {@code initialScale}), else 1. After creation
 * {@code spec.replicas} is never written again: the autoscaler owns it.
 *
 * <p>Status: {@code actualReplicas} = ready replicas, {@code desiredReplicas} = spec.replicas,
 * {@code serviceName} = the Revision's name, {@code containerStatuses} (name, imageDigest when
 * resolved). Conditions (ResourcesAvailable and ContainerHealthy feed Ready; Active is Info):
 * Unknown {@code Deploying} until the first pod is ready, then True; Unknown {@code Updating}
 * while a later rollout of the Deployment is in progress; ContainerHealthy False
 * {@code ExitCode<N>} ("Container failed with: ...") for a crashed user container; ResourcesAvailable
 * False with the pod's waiting reason (ImagePullBackOff, ErrImagePull, CreateContainerConfigError,
 * InvalidImageName) or {@code ProgressDeadlineExceeded}; {@code ContainerMissing} with the error
 * when the image cannot be resolved; Active True with ready pods, Unknown {@code Queued} while
 * waiting for them, False {@code NoTraffic} at zero replicas (Ready stays True once reached).
 * Thread-safe.
 */
final class RevisionReconciler {
  static final String USER_CONTAINER = "user-container";
  static final String USER_PORT_NAME = "user-port";
  static final int DEFAULT_PORT = 8080;
  /** The node agent's opt-in sub-second readiness probing until first ready (kubelet ProbeManager). */
  static final String INITIAL_READINESS_INTERVAL_ANNOTATION = "skiff.dev/initial-readiness-probe-interval-ms";
  private static final java.util.Set<String> WAITING_FAILURES = java.util.Set.of(
      "ImagePullBackOff", "ErrImagePull", "CreateContainerConfigError", "InvalidImageName", "CreateContainerError");

  private final KubernetesClient client;
  private final EventRecorder recorder;
  private final Clock clock;
  private final Lister<Revision> revisions;
  private final Lister<Deployment> deployments;
  private final Lister<Pod> pods;
  private final Lister<ConfigMap> configMaps;
  private final ImageDigestResolver digests;
  private final Controller controller;

  RevisionReconciler(SharedInformers informers, KubernetesClient client, EventRecorder recorder, Clock clock,
      Map<String, String> options) {
    this.client = client;
    this.recorder = recorder;
    this.clock = clock;
    this.configMaps = informers.informerFor(ConfigMap.class).lister();
    this.digests = new ImageDigestResolver(options, System.getenv(), key -> controller().enqueue(key.substring(0, key.indexOf('|'))));
    this.revisions = informers.informerFor(Revision.class).lister();
    this.deployments = informers.informerFor(Deployment.class).lister();
    this.pods = informers.informerFor(Pod.class).lister();
    this.controller = Controller.builder("knative-revision-controller", informers)
        .watches(Revision.class)
        .owns(Deployment.class, Revision.class)
        // A new gateway port changes the drain hook of every Revision's pods.
        .watches(ConfigMap.class, cm -> Knative.SYSTEM_NAMESPACE.equals(cm.getMetadata().getNamespace())
            && "config-network".equals(cm.getMetadata().getName())
            ? revisions.list().stream().map(r -> Keys.of(r.getMetadata().getNamespace(), r.getMetadata().getName())).toList()
            : List.of())
        .watches(Pod.class, p -> {
          Map<String, String> l = p.getMetadata().getLabels();
          String rev = l == null ? null : l.get(Knative.REVISION_LABEL);
          return rev == null ? List.of() : List.of(Keys.of(p.getMetadata().getNamespace(), rev));
        })
        .clock(clock)
        .workers(2)
        .reconciler(this::reconcile)
        .build();
  }

  private int gatewayPort() {
    return RouteReconciler.gatewayPort(configMaps.get(Knative.SYSTEM_NAMESPACE, "config-network"));
  }

  Controller controller() {
    return controller;
  }

  static String deploymentName(String revision) {
    return revision + "-deployment";
  }

  Result reconcile(String key) {
    Revision rev = revisions.getByKey(key);
    if (rev == null || Children.deleting(rev) || rev.getSpec() == null) {
      return Result.done();
    }
    String ns = rev.getMetadata().getNamespace();
    String name = rev.getMetadata().getName();
    Instant now = Instant.ofEpochMilli(clock.currentTimeMillis());
    Status st = rev.getStatus() == null ? new Status() : Knative.copy(rev.getStatus());
    st.setObservedGeneration(rev.getMetadata().getGeneration());
    st.setServiceName(name);
    Deployment d = deployments.get(ns, deploymentName(name));
    List<Map<String, String>> containerStatuses = new ArrayList<>();
    for (Container c : rev.getSpec().getContainers()) {
      Map<String, String> cs = new LinkedHashMap<>();
      cs.put("name", c.getName());
      String digest = recordedDigest(rev, c.getName());
      if (digest == null && d != null && Children.controlledBy(d, rev)) {
        digest = deployedDigest(d, c);
      }
      if (digest != null) {
        cs.put("imageDigest", digest);
      }
      containerStatuses.add(cs);
    }
    st.setContainerStatuses(containerStatuses);

    if (d == null) {
      // Resolve tags to digests first (revision.go reconcileDigest), as Knative does before deploying.
      Result pending = resolveDigests(key, rev, st, now);
      if (pending != null) {
        return pending;
      }
      try {
        d = client.apps().deployments().inNamespace(ns).resource(desiredDeployment(rev, st, gatewayPort())).create();
      } catch (KubernetesClientException e) {
        if (e.getCode() == 409) {
          return Result.requeue();
        }
        Conditions.set(st, "ResourcesAvailable", "False", "DeploymentFailed", e.getMessage(), now);
        Conditions.ready(st, now, "ResourcesAvailable", "ContainerHealthy");
        return writeStatus(rev, st);
      }
    } else if (!Children.controlledBy(d, rev)) {
      Conditions.set(st, "ResourcesAvailable", "False", "NotOwned",
          "There is an existing Deployment \"" + d.getMetadata().getName() + "\" that we do not own.", now);
      Conditions.ready(st, now, "ResourcesAvailable", "ContainerHealthy");
      return writeStatus(rev, st);
    } else {
      Deployment desired = desiredDeployment(rev, st, gatewayPort());
      // reconcile_resources.go checkAndUpdateDeployment: the autoscaler owns replicas.
      desired.getSpec().setReplicas(d.getSpec().getReplicas());
      if (!SemanticDerivative.of(desired.getSpec(), d.getSpec())) {
        Deployment next = Knative.copy(d);
        next.setSpec(desired.getSpec());
        try {
          d = client.apps().deployments().inNamespace(ns).resource(next).update();
        } catch (KubernetesClientException e) {
          if (e.getCode() == 409 || e.getCode() == 404) {
            return Result.requeue();
          }
          Conditions.set(st, "ResourcesAvailable", "False", "DeploymentFailed", e.getMessage(), now);
          Conditions.ready(st, now, "ResourcesAvailable", "ContainerHealthy");
          return writeStatus(rev, st);
        }
      }
    }
    observe(st, d, now);
    Conditions.ready(st, now, "ResourcesAvailable", "ContainerHealthy");
    return writeStatus(rev, st);
  }

  private static String recordedDigest(Revision rev, String container) {
    if (rev.getStatus() == null || rev.getStatus().getContainerStatuses() == null) {
      return null;
    }
    for (Map<String, String> cs : rev.getStatus().getContainerStatuses()) {
      if (Objects.equals(container, cs.get("name")) && cs.get("imageDigest") != null) {
        return cs.get("imageDigest");
      }
    }
    return null;
  }

  /** The digest the Deployment runs for {@code c} (a status write lost after the Deployment was created). */
  private static String deployedDigest(Deployment d, Container c) {
    for (Container dc : d.getSpec().getTemplate().getSpec().getContainers()) {
      String img = dc.getImage();
      if (img != null && img.contains("@sha256:") && !img.equals(c.getImage())
          && (Objects.equals(dc.getName(), c.getName()) || (USER_CONTAINER.equals(dc.getName()) && c.getName() == null))) {
        return img;
      }
    }
    return null;
  }

  /**
   * Resolves every container's image that needs it into {@code st.containerStatuses[].imageDigest};
   * null when all are done (or skipped), else the result to return (still resolving: Unknown
   * {@code ResolvingDigests}; failed: ContainerHealthy False {@code ContainerMissing}). Skipped:
   * images with a {@code command} (the process runtime runs the command and never pulls the
   * image) and registries in config-deployment {@code registries-skipping-tag-resolving}.
   */
  private Result resolveDigests(String key, Revision rev, Status st, Instant now) {
    ConfigMap cm = configMaps.get(Knative.SYSTEM_NAMESPACE, "config-deployment");
    Map<String, String> cfg = cm == null || cm.getData() == null ? Map.of() : cm.getData();
    java.util.Set<String> skip = new java.util.HashSet<>();
    for (String r : cfg.getOrDefault("registries-skipping-tag-resolving", "kind.local,ko.local,dev.local").split(",")) {
      if (!r.isBlank()) {
        skip.add(r.trim());
      }
    }
    java.time.Duration timeout = RevisionGc.duration(cfg.get("digest-resolution-timeout"), java.time.Duration.ofSeconds(10));
    if (timeout == null) {
      timeout = java.time.Duration.ofSeconds(10);
    }
    boolean resolving = false;
    for (int i = 0; i < rev.getSpec().getContainers().size(); i++) {
      Container c = rev.getSpec().getContainers().get(i);
      Map<String, String> cs = st.getContainerStatuses().get(i);
      if (cs.containsKey("imageDigest") || c.getImage() == null || (c.getCommand() != null && !c.getCommand().isEmpty())) {
        continue;
      }
      ImageReference ref;
      try {
        ref = ImageReference.parse(c.getImage());
      } catch (IllegalArgumentException e) {
        continue; // the webhook accepted it; nothing to resolve
      }
      if (skip.contains(ref.registry())) {
        continue;
      }
      String rk = key + "|" + c.getName() + "|" + rev.getMetadata().getUid();
      ImageDigestResolver.Outcome o = digests.resolve(rk, c.getImage(), timeout);
      if (o == null) {
        resolving = true;
      } else if (o.error() != null) {
        digests.forget(rk); // retried on the next (rate-limited) pass
        Conditions.set(st, "ContainerHealthy", "False", "ContainerMissing", o.error(), now);
        if (st.condition("ResourcesAvailable") == null) {
          Conditions.set(st, "ResourcesAvailable", "Unknown", "Deploying", null, now);
        }
        Conditions.ready(st, now, "ResourcesAvailable", "ContainerHealthy");
        writeStatus(rev, st);
        return Result.requeue();
      } else {
        cs.put("imageDigest", ref.registry() + "/" + ref.repository() + "@" + o.digest());
      }
    }
    if (resolving) {
      Conditions.set(st, "ResourcesAvailable", "Unknown", "Deploying", null, now);
      Conditions.set(st, "ContainerHealthy", "Unknown", "ResolvingDigests", null, now);
      Conditions.ready(st, now, "ResourcesAvailable", "ContainerHealthy");
      return writeStatus(rev, st); // the resolver enqueues the revision when it is done
    }
    return null;
  }

  /** Derives replicas and conditions from the Deployment and the Revision's pods. */
  private void observe(Status st, Deployment d, Instant now) {
    int replicas = d.getSpec().getReplicas() == null ? 1 : d.getSpec().getReplicas();
    int ready = d.getStatus() == null || d.getStatus().getReadyReplicas() == null ? 0 : d.getStatus().getReadyReplicas();
    st.setDesiredReplicas(replicas);
    st.setActualReplicas(ready);
    boolean wasReady = st.isTrue("ResourcesAvailable") && st.isTrue("ContainerHealthy");
    boolean rolling = d.getStatus() != null && d.getStatus().getObservedGeneration() != null
        && d.getStatus().getObservedGeneration() < d.getMetadata().getGeneration();

    String failedReason = null;
    String failedMessage = null;
    String crashReason = null;
    String crashMessage = null;
    for (Pod p : pods.list(d.getMetadata().getNamespace())) {
      Map<String, String> l = p.getMetadata().getLabels();
      if (l == null || !st.getServiceName().equals(l.get(Knative.REVISION_LABEL)) || p.getStatus() == null
          || p.getStatus().getContainerStatuses() == null) {
        continue;
      }
      for (ContainerStatus cs : p.getStatus().getContainerStatuses()) {
        if (!USER_CONTAINER.equals(cs.getName()) && p.getStatus().getContainerStatuses().size() > 1) {
          continue;
        }
        var term = cs.getState() != null && cs.getState().getTerminated() != null ? cs.getState().getTerminated()
            : cs.getLastState() != null ? cs.getLastState().getTerminated() : null;
        if (term != null && term.getExitCode() != null && term.getExitCode() != 0) {
          crashReason = "ExitCode" + term.getExitCode();
          crashMessage = "Container failed with: " + (term.getMessage() != null && !term.getMessage().isBlank()
              ? term.getMessage().trim() : term.getReason() == null ? "" : term.getReason());
        }
        var waiting = cs.getState() == null ? null : cs.getState().getWaiting();
        if (waiting != null && waiting.getReason() != null && WAITING_FAILURES.contains(waiting.getReason())) {
          failedReason = waiting.getReason();
          failedMessage = waiting.getMessage() == null ? "" : waiting.getMessage();
        }
      }
    }

    if (ready > 0) {
      Conditions.set(st, "ResourcesAvailable", "True", null, null, now);
      Conditions.set(st, "ContainerHealthy", "True", null, null, now);
    } else if (crashReason != null && !wasReady) {
      Conditions.set(st, "ContainerHealthy", "False", crashReason, crashMessage, now);
    } else if (failedReason != null && !wasReady) {
      Conditions.set(st, "ResourcesAvailable", "False", failedReason, failedMessage, now);
    } else if (progressDeadlineExceeded(d) && !wasReady) {
      Conditions.set(st, "ResourcesAvailable", "False", "ProgressDeadlineExceeded", "Initial scale was never achieved", now);
    } else if (wasReady && rolling) {
      Conditions.set(st, "ResourcesAvailable", "Unknown", "Updating", null, now);
      Conditions.set(st, "ContainerHealthy", "Unknown", "Updating", null, now);
    } else if (!wasReady) {
      Conditions.set(st, "ResourcesAvailable", "Unknown", "Deploying", null, now);
      Conditions.set(st, "ContainerHealthy", "Unknown", "Deploying", null, now);
    }
    // Once ready, a Revision stays Ready at zero scale: Active says whether it has pods.
    if (replicas == 0) {
      Conditions.setInfo(st, "Active", "False", "NoTraffic", "The target is not receiving traffic.", now);
    } else if (ready > 0) {
      Conditions.setInfo(st, "Active", "True", null, null, now);
    } else {
      Conditions.setInfo(st, "Active", "Unknown", "Queued", "Requests to the target are being buffered as resources are provisioned.", now);
    }
  }

  private static boolean progressDeadlineExceeded(Deployment d) {
    if (d.getStatus() == null || d.getStatus().getConditions() == null) {
      return false;
    }
    for (DeploymentCondition c : d.getStatus().getConditions()) {
      if ("Progressing".equals(c.getType()) && "False".equals(c.getStatus()) && "ProgressDeadlineExceeded".equals(c.getReason())) {
        return true;
      }
    }
    return false;
  }

  private Result writeStatus(Revision rev, Status st) {
    return StatusWriter.write(client, Revision.class, rev, st, () -> {
      if (st.isFalse("Ready") && (rev.getStatus() == null || !rev.getStatus().isFalse("Ready"))) {
        var c = st.condition("Ready");
        recorder.event(rev, EventRecorder.WARNING, c.getReason() == null ? "Failed" : c.getReason(), "%s",
            c.getMessage() == null ? "" : c.getMessage());
      }
    });
  }

  /** The serving container's port: its first containerPort, else 8080 (v1.DefaultUserPort). */
  static int userPort(RevisionSpec spec) {
    for (Container c : spec.getContainers()) {
      if (c.getPorts() != null && !c.getPorts().isEmpty() && c.getPorts().get(0).getContainerPort() != null
          && c.getPorts().get(0).getContainerPort() > 0) {
        return c.getPorts().get(0).getContainerPort();
      }
    }
    return DEFAULT_PORT;
  }

  private static int servingIndex(RevisionSpec spec) {
    for (int i = 0; i < spec.getContainers().size(); i++) {
      if (spec.getContainers().get(i).getPorts() != null && !spec.getContainers().get(i).getPorts().isEmpty()) {
        return i;
      }
    }
    return 0;
  }

  /** Initial replicas: the initial-scale annotation, else 1 (config-autoscaler initial-scale). */
  static int initialScale(Revision rev) {
    Map<String, String> a = rev.getMetadata().getAnnotations();
    String v = a == null ? null : a.getOrDefault(Knative.INITIAL_SCALE_ANNOTATION, a.get(Knative.INITIAL_SCALE_ANNOTATION_OLD));
    try {
      return v == null ? 1 : Math.max(0, Integer.parseInt(v.trim()));
    } catch (NumberFormatException e) {
      return 1;
    }
  }

  /** {@link #desiredDeployment(Revision, Status, int)} without a known gateway (no drain hook). */
  static Deployment desiredDeployment(Revision rev, Status st) {
    return desiredDeployment(rev, st, 0);
  }

  /**
   * revision/resources/deploy.go MakeDeployment, with the resolved digests as images. With the
   * gateway's port known ({@code gatewayPort} > 0), the user container gets Knative's drain hook
   * ({@link #drainHook}).
   */
  static Deployment desiredDeployment(Revision rev, Status st, int gatewayPort) {
    String name = rev.getMetadata().getName();
    Map<String, String> labels = Children.labels(rev.getMetadata().getLabels());
    // meta.go excludeLabels/excludeAnnotations: the Route's bookkeeping on the Revision changes
    // with traffic and must not roll the Revision's pods.
    labels.keySet().removeAll(List.of(Knative.ROUTE_LABEL, Knative.ROUTING_STATE_LABEL));
    labels.put(Knative.REVISION_LABEL, name);
    labels.put(Knative.REVISION_UID_LABEL, rev.getMetadata().getUid());
    labels.putIfAbsent("app", name);
    Map<String, String> annotations = Children.annotations(rev.getMetadata().getAnnotations());
    annotations.keySet().removeAll(List.of(Knative.ROUTES_ANNOTATION, Knative.ROUTING_STATE_MODIFIED_ANNOTATION,
        Knative.GROUP + "/lastPinned"));

    RevisionSpec rs = rev.getSpec();
    // The Revision spec minus Knative's own fields is the pod spec.
    Map<String, Object> raw = Serialization.jsonMapper().convertValue(rs, Map.class);
    raw.keySet().removeAll(List.of("containerConcurrency", "timeoutSeconds", "responseStartTimeoutSeconds", "idleTimeoutSeconds"));
    PodSpec pod = Serialization.jsonMapper().convertValue(raw, PodSpec.class);
    int port = userPort(rs);
    int serving = servingIndex(rs);
    Map<String, String> l = rev.getMetadata().getLabels() == null ? Map.of() : rev.getMetadata().getLabels();
    boolean aggressive = false;
    for (int i = 0; i < pod.getContainers().size(); i++) {
      Container c = pod.getContainers().get(i);
      if (st != null && st.getContainerStatuses() != null && i < st.getContainerStatuses().size()
          && st.getContainerStatuses().get(i).get("imageDigest") != null) {
        c.setImage(st.getContainerStatuses().get(i).get("imageDigest"));
      }
      if (i != serving) {
        continue;
      }
      if (c.getName() == null || c.getName().isEmpty()) {
        c.setName(USER_CONTAINER);
      }
      ContainerPort cp = new ContainerPortBuilder().withName(USER_PORT_NAME).withContainerPort(port).withProtocol("TCP").build();
      c.setPorts(new ArrayList<>(List.of(cp)));
      List<EnvVar> env = c.getEnv() == null ? new ArrayList<>() : new ArrayList<>(c.getEnv());
      env.add(new EnvVar("PORT", Integer.toString(port), null));
      env.add(new EnvVar("K_REVISION", name, null));
      env.add(new EnvVar("K_CONFIGURATION", l.getOrDefault(Knative.CONFIGURATION_LABEL, ""), null));
      env.add(new EnvVar("K_SERVICE", l.getOrDefault(Knative.SERVICE_LABEL, ""), null));
      c.setEnv(env);
      aggressive = c.getReadinessProbe() == null || c.getReadinessProbe().getPeriodSeconds() == null
          || c.getReadinessProbe().getPeriodSeconds() == 0;
      c.setReadinessProbe(probe(c.getReadinessProbe(), port, true));
      if (c.getLivenessProbe() != null) {
        c.setLivenessProbe(probe(c.getLivenessProbe(), port, false));
      }
      c.setStdin(false);
      c.setTty(false);
      if (gatewayPort > 0 && (c.getLifecycle() == null || c.getLifecycle().getPreStop() == null)) {
        Lifecycle lc = c.getLifecycle() == null ? new Lifecycle() : c.getLifecycle();
        lc.setPreStop(drainHook(rev.getMetadata().getNamespace(), name, gatewayPort));
        c.setLifecycle(lc);
      }
    }
    if (rs.getTimeoutSeconds() != null) {
      pod.setTerminationGracePeriodSeconds(rs.getTimeoutSeconds());
    }
    if (pod.getEnableServiceLinks() == null) {
      pod.setEnableServiceLinks(false);
    }

    Deployment d = new Deployment();
    ObjectMeta m = new ObjectMeta();
    m.setName(deploymentName(name));
    m.setNamespace(rev.getMetadata().getNamespace());
    m.setLabels(labels);
    m.setAnnotations(annotations);
    m.setOwnerReferences(List.of(Children.controllerRef(rev)));
    d.setMetadata(m);
    DeploymentSpec spec = new DeploymentSpec();
    spec.setReplicas(initialScale(rev));
    spec.setSelector(new LabelSelectorBuilder().withMatchLabels(Map.of(Knative.REVISION_UID_LABEL, rev.getMetadata().getUid())).build());
    spec.setProgressDeadlineSeconds(600);
    spec.setStrategy(new DeploymentStrategyBuilder().withType("RollingUpdate").withNewRollingUpdate()
        .withMaxUnavailable(new IntOrString(0)).withMaxSurge(new IntOrString("25%")).endRollingUpdate().build());
    PodTemplateSpec template = new PodTemplateSpec();
    ObjectMeta tm = new ObjectMeta();
    tm.setLabels(new LinkedHashMap<>(labels));
    tm.setAnnotations(new LinkedHashMap<>(annotations));
    if (aggressive) {
      // Knative's queue-proxy probes a readiness probe without periodSeconds every ~50 ms until the
      // first success (pkg/queue/readiness/probe.go); the kubelet's finest period is 1 s, which
      // made every fresh revision wait ~1 s after its app was listening. The node agent honours
      // this annotation for the readiness probe until it first succeeds, then uses the period.
      tm.getAnnotations().put(INITIAL_READINESS_INTERVAL_ANNOTATION, "50");
    }
    template.setMetadata(tm);
    template.setSpec(pod);
    spec.setTemplate(template);
    d.setSpec(spec);
    return d;
  }

  /**
   * Graceful drain (deploy.go userLifecycle: a preStop httpGet to queue-proxy's
   * {@code :8022/wait-for-drain}). We have no sidecar: the hook asks the gateway on this node
   * ({@code 127.0.0.1:<gateway port>}, header {@value #DRAIN_HEADER}: {@code <ns>/<revision>}),
   * which answers once it has seen the pod terminating (so it sends it no new request) and the
   * requests it had sent to the revision's terminating pods have completed. Only then does the
   * kubelet send SIGTERM; the wait comes out of terminationGracePeriodSeconds (= timeoutSeconds,
   * the longest a request may take), so an in-flight request is never cut by scale-down.
   */
  static LifecycleHandler drainHook(String namespace, String revision, int gatewayPort) {
    return new LifecycleHandlerBuilder().withNewHttpGet().withHost("127.0.0.1").withPort(new IntOrString(gatewayPort))
        .withPath(DRAIN_PATH).addNewHttpHeader().withName(DRAIN_HEADER).withValue(namespace + "/" + revision).endHttpHeader()
        .endHttpGet().build();
  }

  static final String DRAIN_HEADER = dev.skiff.serving.gateway.Gateway.DRAIN_HEADER;
  static final String DRAIN_PATH = dev.skiff.serving.gateway.Gateway.DRAIN_PATH;

  /** A probe aimed at the user port (deploy.go rewriteUserProbe); readiness defaults to TCP. */
  private static Probe probe(Probe in, int port, boolean readiness) {
    Probe p = in == null ? new Probe() : Knative.copy(in);
    if (p.getHttpGet() == null && p.getTcpSocket() == null && p.getExec() == null && p.getGrpc() == null) {
      p.setTcpSocket(new TCPSocketAction());
    }
    if (p.getTcpSocket() != null && unsetPort(p.getTcpSocket().getPort())) {
      p.getTcpSocket().setPort(new IntOrString(port));
    }
    if (p.getHttpGet() != null && unsetPort(p.getHttpGet().getPort())) {
      p.getHttpGet().setPort(new IntOrString(port));
    }
    if (p.getPeriodSeconds() == null || p.getPeriodSeconds() == 0) {
      // Knative's queue-proxy probes "aggressively" when periodSeconds is 0; the kubelet's finest is 1 s.
      p.setPeriodSeconds(1);
      if (readiness) {
        p.setFailureThreshold(p.getFailureThreshold() == null || p.getFailureThreshold() == 0 ? 3 : p.getFailureThreshold());
        p.setTimeoutSeconds(p.getTimeoutSeconds() == null || p.getTimeoutSeconds() == 0 ? 1 : p.getTimeoutSeconds());
      }
    }
    if (p.getSuccessThreshold() == null || p.getSuccessThreshold() == 0) {
      p.setSuccessThreshold(1);
    }
    return p;
  }

  private static boolean unsetPort(IntOrString p) {
    return p == null || (p.getIntVal() != null && p.getIntVal() == 0) || (p.getStrVal() != null
        && (p.getStrVal().isEmpty() || !p.getStrVal().chars().allMatch(Character::isDigit)))
        || (p.getIntVal() == null && p.getStrVal() == null);
  }
}
