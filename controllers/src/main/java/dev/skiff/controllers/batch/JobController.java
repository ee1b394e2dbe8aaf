package dev.skiff.controllers.batch;

import dev.skiff.runtime.Clock;
import dev.skiff.runtime.Controller;
import dev.skiff.runtime.EventHandler;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.Expectations;
import dev.skiff.runtime.Indexers;
import dev.skiff.runtime.Informer;
import dev.skiff.runtime.Keys;
import dev.skiff.runtime.Lister;
import dev.skiff.runtime.Result;
import dev.skiff.runtime.SharedInformers;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobCondition;
import io.fabric8.kubernetes.api.model.batch.v1.JobConditionBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobStatus;
import io.fabric8.kubernetes.api.model.batch.v1.PodFailurePolicyOnExitCodesRequirement;
import io.fabric8.kubernetes.api.model.batch.v1.PodFailurePolicyOnPodConditionsPattern;
import io.fabric8.kubernetes.api.model.batch.v1.PodFailurePolicyRule;
import io.fabric8.kubernetes.api.model.batch.v1.UncountedTerminatedPods;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Job controller (upstream {@code pkg/controller/job/job_controller.go}, v1.31+ semantics):
 * keeps {@code min(parallelism, remaining completions)} pods active, tracks finished pods with the
 * {@value #TRACKING_FINALIZER} finalizer and {@code status.uncountedTerminatedPods} so that each is
 * counted exactly once, applies backoffLimit with exponential pod-failure backoff,
 * activeDeadlineSeconds, podFailurePolicy, Indexed completion mode and suspend, and sets the
 * SuccessCriteriaMet/FailureTarget conditions before the terminal Complete/Failed ones (added only
 * once no pod is left running).
 *
 * <p>Thread-safety: reconciles of different jobs run concurrently; per-job state lives in
 * concurrent maps and is touched only by the one worker holding that job's key (the queue
 * guarantees exclusivity), except for the pod handlers' expectation bookkeeping, which is
 * thread-safe.
 */
public final class JobController {
  private static final Logger log = LoggerFactory.getLogger(JobController.class);

  public static final String TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking";
  public static final String COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index";
  public static final String JOB_NAME_LABEL = "batch.kubernetes.io/job-name";
  /** Failures of the pod's index before this pod (backoffLimitPerIndex, KEP-3850). */
  public static final String INDEX_FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count";
  public static final String CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid";
  /** DefaultJobPodFailureBackOff in job_controller.go. */
  public static final Duration DEFAULT_BACKOFF = Duration.ofSeconds(10);
  /** MaxJobPodFailureBackOff (10 min since v1.30; it was 360 s before). */
  public static final Duration MAX_BACKOFF = Duration.ofMinutes(10);
  /** MaxPodCreateDeletePerSync. */
  static final int MAX_CREATE_DELETE_PER_SYNC = 500;
  /** MaxUncountedPods: a bound on one status write. */
  static final int MAX_UNCOUNTED = 500;

  private final KubernetesClient client;
  private final EventRecorder events;
  private final Clock clock;
  private final Duration backoffBase;
  private final Lister<Job> jobs;
  private final Informer<Pod> podInformer;
  private final boolean podIndex;
  private final Expectations expectations;
  private final Controller controller;
  /**
   * Pods whose finalizer this controller removed. Kept until the pod is deleted, not only until
   * the cache shows the removal: a sync may still hold a snapshot from before, and must not count
   * such a pod again.
   */
  private final Map<String, Long> finalizerRemoved = new ConcurrentHashMap<>();
  /** How long a deleted pod's entry in {@link #finalizerRemoved} outlives it (syncs holding an older snapshot). */
  private static final long FORGET_AFTER_NANOS = Duration.ofMinutes(1).toNanos();
  /** Per job key: failures since the last success and when the last one was counted (backoffRecord). */
  private final Map<String, long[]> backoff = new ConcurrentHashMap<>();
  /** Per job key: resourceVersion of the last status this controller wrote (a stale cache must not act). */
  private final Map<String, String> writtenVersion = new ConcurrentHashMap<>();

  /**
   * Builds the controller (not started). {@code backoffBase} is the first pod-failure backoff
   * (10 s upstream; tests shorten it).
   */
  public JobController(SharedInformers informers, KubernetesClient client, EventRecorder events, Clock clock,
      Duration backoffBase, int workers) {
    this.client = client;
    this.events = events;
    this.clock = clock;
    this.backoffBase = backoffBase;
    this.expectations = new Expectations(clock);
    Informer<Job> jobInformer = informers.informerFor(Job.class);
    this.jobs = jobInformer.lister();
    this.podInformer = informers.informerFor(Pod.class);
    boolean indexed;
    try {
      podInformer.addIndexer(Indexers.BY_OWNER_UID, Indexers.ownerUid());
      indexed = true;
    } catch (RuntimeException e) {
      // Another controller added it already, or the informer runs: podsOf checks which.
      indexed = hasOwnerIndex();
    }
    this.podIndex = indexed;
    this.controller = Controller.builder("job-controller", informers)
        .watches(Job.class)
        .watches(Pod.class, p -> List.of()) // pod events are handled below, with expectations
        .clock(clock)
        .workers(workers)
        .reconciler(this::reconcile)
        .build();
    podInformer.addHandler(new PodHandler());
  }

  private boolean hasOwnerIndex() {
    try {
      podInformer.lister().byIndex(Indexers.BY_OWNER_UID, "");
      return true;
    } catch (RuntimeException e) {
      return false;
    }
  }

  public Controller controller() {
    return controller;
  }

  /** The delay before replacement pods after {@code failures} consecutive failures (0 → none). */
  public static Duration backoffDelay(Duration base, int failures) {
    if (failures <= 0) {
      return Duration.ZERO;
    }
    Duration d = base;
    for (int i = 1; i < failures && d.compareTo(MAX_BACKOFF) < 0; i++) {
      d = d.multipliedBy(2);
    }
    return d.compareTo(MAX_BACKOFF) > 0 ? MAX_BACKOFF : d;
  }

  // ------------------------------------------------------------------ pod events

  private String jobKeyOf(Pod pod) {
    OwnerReference ref = Keys.controllerOf(pod);
    if (ref == null || !"Job".equals(ref.getKind()) || ref.getApiVersion() == null
        || !ref.getApiVersion().startsWith("batch/")) {
      return null;
    }
    return Keys.of(pod.getMetadata().getNamespace(), ref.getName());
  }

  private final class PodHandler implements EventHandler<Pod> {
    @Override
    public void onAdd(Pod pod) {
      String key = jobKeyOf(pod);
      if (key == null) {
        return;
      }
      if (pod.getMetadata().getDeletionTimestamp() != null) {
        expectations.deletionObserved(key, pod.getMetadata().getUid());
      } else {
        expectations.creationObserved(key);
      }
      controller.enqueue(key);
    }

    @Override
    public void onUpdate(Pod oldPod, Pod pod) {
      String key = jobKeyOf(pod);
      if (pod.getMetadata().getDeletionTimestamp() != null && key != null) {
        expectations.deletionObserved(key, pod.getMetadata().getUid());
      }
      if (key != null) {
        controller.enqueue(key);
      }
      String oldKey = jobKeyOf(oldPod);
      if (oldKey != null && !oldKey.equals(key)) {
        controller.enqueue(oldKey);
      }
    }

    @Override
    public void onDelete(Pod pod, boolean finalStateUnknown) {
      finalizerRemoved.computeIfPresent(pod.getMetadata().getUid(), (k, v) -> System.nanoTime());
      String key = jobKeyOf(pod);
      if (key != null) {
        expectations.deletionObserved(key, pod.getMetadata().getUid());
        controller.enqueue(key);
      }
    }
  }

  // ------------------------------------------------------------------ helpers

  static boolean hasFinalizer(Pod pod) {
    List<String> f = pod.getMetadata().getFinalizers();
    return f != null && f.contains(TRACKING_FINALIZER);
  }

  static String phase(Pod pod) {
    return pod.getStatus() == null || pod.getStatus().getPhase() == null ? "" : pod.getStatus().getPhase();
  }

  static boolean terminal(Pod pod) {
    String p = phase(pod);
    return p.equals("Succeeded") || p.equals("Failed");
  }

  static boolean deleting(Pod pod) {
    return pod.getMetadata().getDeletionTimestamp() != null;
  }

  static boolean ready(Pod pod) {
    if (pod.getStatus() == null || pod.getStatus().getConditions() == null) {
      return false;
    }
    for (PodCondition c : pod.getStatus().getConditions()) {
      if ("Ready".equals(c.getType()) && "True".equals(c.getStatus())) {
        return true;
      }
    }
    return false;
  }

  static int completionIndex(Pod pod) {
    Map<String, String> a = pod.getMetadata().getAnnotations();
    String v = a == null ? null : a.get(COMPLETION_INDEX);
    if (v == null) {
      Map<String, String> l = pod.getMetadata().getLabels();
      v = l == null ? null : l.get(COMPLETION_INDEX);
    }
    try {
      return v == null ? -1 : Integer.parseInt(v);
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** The failures of a failed pod's index including this one: its annotation + 1. */
  static int failuresIncluding(Pod pod) {
    Map<String, String> a = pod.getMetadata().getAnnotations();
    String v = a == null ? null : a.get(INDEX_FAILURE_COUNT);
    try {
      return (v == null ? 0 : Integer.parseInt(v)) + 1;
    } catch (NumberFormatException e) {
      return 1;
    }
  }

  /** When a finished pod's last container ended (epoch ms); its creation time if unknown. */
  static long finishedAt(Pod pod) {
    long latest = 0;
    if (pod.getStatus() != null && pod.getStatus().getContainerStatuses() != null) {
      for (ContainerStatus cs : pod.getStatus().getContainerStatuses()) {
        if (cs.getState() != null && cs.getState().getTerminated() != null
            && cs.getState().getTerminated().getFinishedAt() != null) {
          latest = Math.max(latest, Instant.parse(cs.getState().getTerminated().getFinishedAt()).toEpochMilli());
        }
      }
    }
    if (latest == 0 && pod.getMetadata().getCreationTimestamp() != null) {
      latest = Instant.parse(pod.getMetadata().getCreationTimestamp()).toEpochMilli();
    }
    return latest;
  }

  static JobCondition condition(JobStatus status, String type) {
    if (status == null || status.getConditions() == null) {
      return null;
    }
    for (JobCondition c : status.getConditions()) {
      if (type.equals(c.getType())) {
        return c;
      }
    }
    return null;
  }

  static boolean conditionTrue(JobStatus status, String type) {
    JobCondition c = condition(status, type);
    return c != null && "True".equals(c.getStatus());
  }

  /** True once the Job has its terminal Complete or Failed condition. */
  public static boolean finished(Job job) {
    return conditionTrue(job.getStatus(), "Complete") || conditionTrue(job.getStatus(), "Failed");
  }

  private String now() {
    return Instant.ofEpochSecond(clock.currentTimeMillis() / 1000).toString();
  }

  /** Sets (or updates) a condition; the transition time moves only when the status changes. */
  private void setCondition(JobStatus status, String type, String value, String reason, String message) {
    List<JobCondition> conds = status.getConditions() == null ? new ArrayList<>() : new ArrayList<>(status.getConditions());
    String now = now();
    for (int i = 0; i < conds.size(); i++) {
      JobCondition c = conds.get(i);
      if (type.equals(c.getType())) {
        if (value.equals(c.getStatus()) && Objects.equals(reason, c.getReason()) && Objects.equals(message, c.getMessage())) {
          return;
        }
        conds.set(i, new JobConditionBuilder(c).withStatus(value).withReason(reason).withMessage(message)
            .withLastProbeTime(now)
            .withLastTransitionTime(value.equals(c.getStatus()) ? c.getLastTransitionTime() : now).build());
        status.setConditions(conds);
        return;
      }
    }
    conds.add(new JobConditionBuilder().withType(type).withStatus(value).withReason(reason).withMessage(message)
        .withLastProbeTime(now).withLastTransitionTime(now).build());
    status.setConditions(conds);
  }

  private List<Pod> podsOf(Job job) {
    String uid = job.getMetadata().getUid();
    List<Pod> candidates = podIndex
        ? podInformer.lister().byIndex(Indexers.BY_OWNER_UID, uid)
        : podInformer.lister().list(job.getMetadata().getNamespace());
    List<Pod> out = new ArrayList<>();
    for (Pod p : candidates) {
      OwnerReference ref = Keys.controllerOf(p);
      if (ref != null && uid.equals(ref.getUid())) {
        out.add(p);
      }
    }
    return out;
  }

  private static int intOr(Integer v, int dflt) {
    return v == null ? dflt : v;
  }

  private static long parseRv(String rv) {
    try {
      return rv == null ? -1 : Long.parseLong(rv);
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  // ------------------------------------------------------------------ reconcile

  Result reconcile(String key) throws Exception {
    Job cached = jobs.getByKey(key);
    if (cached == null) {
      expectations.delete(key);
      backoff.remove(key);
      writtenVersion.remove(key);
      releaseOrphans(key);
      return Result.done();
    }
    // Our own last status write not yet in the cache: its watch event will enqueue us again.
    String written = writtenVersion.get(key);
    if (written != null && !written.equals(cached.getMetadata().getResourceVersion())) {
      long w = parseRv(written);
      long c = parseRv(cached.getMetadata().getResourceVersion());
      if (w >= 0 && c >= 0 && c < w) {
        return Result.done();
      }
    }
    long now = System.nanoTime();
    finalizerRemoved.values().removeIf(deletedAt -> deletedAt != Long.MAX_VALUE && now - deletedAt > FORGET_AFTER_NANOS);
    if (!expectations.satisfied(key)) {
      return Result.done(); // the pod events we wait for will enqueue the key
    }
    return new Sync(key, cached).run();
  }

  /** A deleted Job's pods must not keep the tracking finalizer forever. */
  private void releaseOrphans(String key) {
    String ns = Keys.namespace(key);
    String name = Keys.name(key);
    for (Pod p : podInformer.lister().list(ns)) {
      OwnerReference ref = Keys.controllerOf(p);
      if (ref != null && "Job".equals(ref.getKind()) && name.equals(ref.getName()) && hasFinalizer(p)) {
        removeFinalizer(p);
      }
    }
  }

  /** Removes the tracking finalizer; true if it is gone (also when the pod is). */
  private boolean removeFinalizer(Pod pod) {
    List<String> rest = new ArrayList<>(pod.getMetadata().getFinalizers());
    rest.remove(TRACKING_FINALIZER);
    StringBuilder patch = new StringBuilder("{\"metadata\":{\"finalizers\":[");
    for (int i = 0; i < rest.size(); i++) {
      patch.append(i == 0 ? "" : ",").append('"').append(rest.get(i)).append('"');
    }
    patch.append("]}}");
    try {
      client.pods().inNamespace(pod.getMetadata().getNamespace()).withName(pod.getMetadata().getName())
          .patch(PatchContext.of(PatchType.JSON_MERGE), patch.toString());
      finalizerRemoved.put(pod.getMetadata().getUid(), Long.MAX_VALUE);
      return true;
    } catch (KubernetesClientException e) {
      if (e.getCode() == 404) {
        return true;
      }
      log.warn("job controller: removing finalizer of pod {}/{}: {}", pod.getMetadata().getNamespace(),
          pod.getMetadata().getName(), e.getMessage());
      return false;
    }
  }

  /** The result of matching a failed pod against the podFailurePolicy. */
  private record PolicyMatch(String action, String message) {
  }

  /** pod_failure_policy.go matchPodFailurePolicy; null when no rule matches (count the failure). */
  static PolicyMatch matchPolicy(Job job, Pod pod) {
    var policy = job.getSpec().getPodFailurePolicy();
    if (policy == null || policy.getRules() == null || !"Failed".equals(phase(pod))) {
      return null;
    }
    String podName = pod.getMetadata().getNamespace() + "/" + pod.getMetadata().getName();
    List<PodFailurePolicyRule> rules = policy.getRules();
    for (int i = 0; i < rules.size(); i++) {
      PodFailurePolicyRule rule = rules.get(i);
      if (rule.getOnExitCodes() != null) {
        ContainerStatus cs = matchExitCodes(pod, rule.getOnExitCodes());
        if (cs != null) {
          return new PolicyMatch(rule.getAction(), String.format(
              "Container %s for pod %s failed with exit code %d matching %s rule at index %d", cs.getName(), podName,
              cs.getState().getTerminated().getExitCode(), rule.getAction(), i));
        }
      } else if (rule.getOnPodConditions() != null && pod.getStatus().getConditions() != null) {
        for (PodFailurePolicyOnPodConditionsPattern pattern : rule.getOnPodConditions()) {
          for (PodCondition c : pod.getStatus().getConditions()) {
            if (pattern.getType().equals(c.getType())
                && Objects.requireNonNullElse(pattern.getStatus(), "True").equals(c.getStatus())) {
              return new PolicyMatch(rule.getAction(), String.format(
                  "Pod %s has condition %s matching %s rule at index %d", podName, c.getType(), rule.getAction(), i));
            }
          }
        }
      }
    }
    return null;
  }

  private static ContainerStatus matchExitCodes(Pod pod, PodFailurePolicyOnExitCodesRequirement req) {
    List<ContainerStatus> all = new ArrayList<>();
    if (pod.getStatus().getInitContainerStatuses() != null) {
      all.addAll(pod.getStatus().getInitContainerStatuses());
    }
    if (pod.getStatus().getContainerStatuses() != null) {
      all.addAll(pod.getStatus().getContainerStatuses());
    }
    for (ContainerStatus cs : all) {
      if (req.getContainerName() != null && !req.getContainerName().equals(cs.getName())) {
        continue;
      }
      if (cs.getState() == null || cs.getState().getTerminated() == null) {
        continue;
      }
      int code = cs.getState().getTerminated().getExitCode();
      if (code == 0) {
        continue; // containers that succeeded never match
      }
      boolean in = req.getValues().contains(code);
      if ("In".equals(req.getOperator()) ? in : !in) {
        return cs;
      }
    }
    return null;
  }

  /** One sync of one Job: the state of a syncJob call. */
  private final class Sync {
    final String key;
    Job job;
    final JobStatus status;
    final boolean indexed;
    final int parallelism;
    final Integer completions;
    final boolean suspended;
    final List<Pod> pods;
    final long nowMillis = clock.currentTimeMillis();
    final List<String> uncountedSucceeded;
    final List<String> uncountedFailed;
    IndexSet completedIndexes;
    IndexSet failedIndexes;
    String failureReason;
    String failureMessage;

    Sync(String key, Job cached) {
      this.key = key;
      this.job = cached;
      JobStatus s = cached.getStatus() == null ? new JobStatus() : cached.getStatus();
      // A deep enough copy: the cache's instances must not be modified.
      this.status = new io.fabric8.kubernetes.api.model.batch.v1.JobStatusBuilder(s).build();
      this.indexed = "Indexed".equals(cached.getSpec().getCompletionMode());
      this.parallelism = intOr(cached.getSpec().getParallelism(), 1);
      this.completions = cached.getSpec().getCompletions();
      this.suspended = Boolean.TRUE.equals(cached.getSpec().getSuspend());
      this.pods = podsOf(cached);
      UncountedTerminatedPods u = status.getUncountedTerminatedPods();
      this.uncountedSucceeded = new ArrayList<>(u == null || u.getSucceeded() == null ? List.of() : u.getSucceeded());
      this.uncountedFailed = new ArrayList<>(u == null || u.getFailed() == null ? List.of() : u.getFailed());
      int limit = completions == null ? 0 : completions;
      this.completedIndexes = IndexSet.parse(status.getCompletedIndexes(), limit);
      this.failedIndexes = IndexSet.parse(status.getFailedIndexes(), limit);
    }

    Result run() throws Exception {
      JobStatus before = new io.fabric8.kubernetes.api.model.batch.v1.JobStatusBuilder(status).build();
      if (finished(job)) {
        // Nothing left to do but make sure no pod keeps the finalizer (a terminal Job counts nothing more).
        for (Pod p : pods) {
          if (hasFinalizer(p) && !finalizerRemoved.containsKey(p.getMetadata().getUid())) {
            removeFinalizer(p);
          }
        }
        return Result.done();
      }
      if (job.getMetadata().getDeletionTimestamp() != null) {
        // A Job being deleted counts nothing more; its pods must not be held by the finalizer.
        for (Pod p : pods) {
          if (hasFinalizer(p) && !finalizerRemoved.containsKey(p.getMetadata().getUid())) {
            removeFinalizer(p);
          }
        }
        return Result.done();
      }
      if (status.getStartTime() == null && !suspended) {
        status.setStartTime(now());
      }
      // 1. Account for finished pods: uncounted first, then finalizers, then counters.
      boolean removeFailed = trackFinishedPods();
      if (removeFailed) {
        return Result.requeue();
      }
      // 2. Decide whether the Job reached its success or failure criteria.
      boolean failureTarget = conditionTrue(status, "FailureTarget");
      boolean successTarget = conditionTrue(status, "SuccessCriteriaMet");
      List<Pod> active = activePods();
      // Totals include pods still in uncountedTerminatedPods (getStatus in job_controller.go).
      int succeeded = indexed ? completedIndexes.size() : intOr(status.getSucceeded(), 0) + uncountedSucceeded.size();
      int failed = intOr(status.getFailed(), 0) + uncountedFailed.size();
      Duration requeue = null;
      if (!failureTarget && !successTarget) {
        if (failureReason != null) {
          failureTarget = true; // a FailJob rule matched a pod counted in this sync
        } else if (failed > intOr(job.getSpec().getBackoffLimit(), 6) || pastBackoffLimitOnFailure()) {
          failureReason = "BackoffLimitExceeded";
          failureMessage = "Job has reached the specified backoff limit";
          failureTarget = true;
        } else if (deadlineExceeded()) {
          failureReason = "DeadlineExceeded";
          failureMessage = "Job was active longer than specified deadline";
          failureTarget = true;
        } else if (indexed && job.getSpec().getMaxFailedIndexes() != null
            && failedIndexes.size() > job.getSpec().getMaxFailedIndexes()) {
          failureReason = "MaxFailedIndexesExceeded";
          failureMessage = "Job has exceeded the specified maximal number of failed indexes";
          failureTarget = true;
        } else if (indexed && failedIndexes.size() > 0
            && completedIndexes.size() + failedIndexes.size() >= intOr(completions, 0)) {
          failureReason = "FailedIndexes";
          failureMessage = "Job has failed indexes";
          failureTarget = true;
        }
        if (failureTarget) {
          setCondition(status, "FailureTarget", "True", failureReason, failureMessage);
        } else if (completions != null ? succeeded >= completions : succeeded > 0 && active.isEmpty()) {
          successTarget = true;
          setCondition(status, "SuccessCriteriaMet", "True", "CompletionsReached",
              "Reached expected number of succeeded pods");
        } else if (indexed && matchedSuccessRule() >= 0) {
          successTarget = true;
          setCondition(status, "SuccessCriteriaMet", "True", "SuccessPolicy",
              "Matched rules at index " + matchedSuccessRule());
        }
      }
      // 3. Act: a Job past its criteria loses its remaining pods, otherwise it gets the pods it needs.
      boolean suspendChanged = false;
      if (failureTarget || successTarget) {
        deletePods(active, false);
      } else if (suspended) {
        if (!conditionTrue(status, "Suspended")) {
          setCondition(status, "Suspended", "True", "JobSuspended", "Job suspended");
          suspendChanged = true;
          events.event(job, EventRecorder.NORMAL, "Suspended", "Job suspended");
        }
        status.setStartTime(null); // suspending resets the deadline timer
        deletePods(active, true);
      } else {
        if (conditionTrue(status, "Suspended")) {
          setCondition(status, "Suspended", "False", "JobResumed", "Job resumed");
          suspendChanged = true;
          events.event(job, EventRecorder.NORMAL, "Resumed", "Job resumed");
        }
        requeue = manage(active, succeeded);
        Duration deadline = deadlineRemaining();
        if (deadline != null && (requeue == null || deadline.compareTo(requeue) < 0)) {
          requeue = deadline;
        }
      }
      // 4. Status: counters, then terminal conditions once every pod is gone.
      int terminating = 0;
      int ready = 0;
      for (Pod p : pods) {
        if (deleting(p) && !terminal(p)) {
          terminating++;
        } else if (!terminal(p) && deletedNow.contains(p.getMetadata().getUid())) {
          terminating++; // deleted in this sync: terminating until its pod event arrives
        } else if (!terminal(p) && ready(p)) {
          ready++;
        }
      }
      activeCount = activeCount + createdNow.get() - deletedNow.size();
      status.setActive(activeCount);
      status.setReady(ready);
      status.setTerminating(terminating);
      status.setCompletedIndexes(indexed ? completedIndexes.format() : null);
      if (indexed && failedIndexes.size() > 0) {
        status.setFailedIndexes(failedIndexes.format());
      }
      if (indexed) {
        status.setSucceeded(completedIndexes.size());
      }
      boolean allGone = activeCount == 0 && terminating == 0 && uncountedSucceeded.isEmpty() && uncountedFailed.isEmpty()
          && pods.stream().noneMatch(p -> hasFinalizer(p) && !finalizerRemoved.containsKey(p.getMetadata().getUid()));
      if (failureTarget && allGone) {
        JobCondition target = condition(status, "FailureTarget");
        setCondition(status, "Failed", "True", target.getReason(), target.getMessage());
        events.event(job, EventRecorder.WARNING, target.getReason(), "%s", target.getMessage());
      } else if (successTarget && allGone) {
        JobCondition target = condition(status, "SuccessCriteriaMet");
        setCondition(status, "Complete", "True", target.getReason(), target.getMessage());
        status.setCompletionTime(now());
        events.event(job, EventRecorder.NORMAL, "Completed", "Job completed");
      }
      if (!status.equals(lastWritten != null ? lastWritten : before) || suspendChanged) {
        writeStatus();
      }
      if (finished(job)) {
        return Result.done();
      }
      return requeue == null ? Result.done() : Result.requeueAfter(requeue);
    }

    int activeCount;
    final Set<String> deletedNow = ConcurrentHashMap.newKeySet();
    final AtomicInteger createdNow = new AtomicInteger();
    JobStatus lastWritten;

    /** Non-terminal, non-deleting pods (never a pod whose phase is Succeeded or Failed). */
    List<Pod> activePods() {
      List<Pod> out = new ArrayList<>();
      for (Pod p : pods) {
        if (!terminal(p) && !deleting(p)) {
          out.add(p);
        }
      }
      activeCount = out.size();
      return out;
    }

    /**
     * pastBackoffLimitOnFailure: with restartPolicy OnFailure pods do not fail, their containers
     * restart, so the restarts of running and pending pods count against backoffLimit.
     */
    boolean pastBackoffLimitOnFailure() {
      if (!"OnFailure".equals(job.getSpec().getTemplate().getSpec().getRestartPolicy())) {
        return false;
      }
      int restarts = 0;
      for (Pod p : pods) {
        String ph = phase(p);
        if ((ph.equals("Running") || ph.equals("Pending")) && p.getStatus() != null) {
          for (List<ContainerStatus> l : java.util.Arrays.asList(p.getStatus().getInitContainerStatuses(),
              p.getStatus().getContainerStatuses())) {
            if (l != null) {
              for (ContainerStatus cs : l) {
                restarts += intOr(cs.getRestartCount(), 0);
              }
            }
          }
        }
      }
      int limit = intOr(job.getSpec().getBackoffLimit(), 6);
      return limit == 0 ? restarts > 0 : restarts >= limit;
    }

    /**
     * successPolicy (Indexed only, success_policy.go): the index of the first rule whose
     * succeededIndexes all completed, or whose succeededCount is reached (within
     * succeededIndexes when both are given); -1 if none.
     */
    int matchedSuccessRule() {
      var policy = job.getSpec().getSuccessPolicy();
      if (policy == null || policy.getRules() == null) {
        return -1;
      }
      int total = intOr(completions, 0);
      for (int i = 0; i < policy.getRules().size(); i++) {
        var rule = policy.getRules().get(i);
        if (rule.getSucceededIndexes() != null) {
          IndexSet wanted = IndexSet.parse(rule.getSucceededIndexes(), total);
          int done = 0;
          for (int ix = 0; ix < total; ix++) {
            if (wanted.contains(ix) && completedIndexes.contains(ix)) {
              done++;
            }
          }
          boolean met = rule.getSucceededCount() != null ? done >= rule.getSucceededCount() : done == wanted.size();
          if (met && wanted.size() > 0) {
            return i;
          }
        } else if (rule.getSucceededCount() != null && completedIndexes.size() >= rule.getSucceededCount()) {
          return i;
        }
      }
      return -1;
    }

    boolean deadlineExceeded() {
      Duration d = deadlineRemaining();
      return d != null && d.isZero();
    }

    /** Time left before activeDeadlineSeconds (ZERO when past), or null without a deadline. */
    Duration deadlineRemaining() {
      Long ads = job.getSpec().getActiveDeadlineSeconds();
      if (ads == null || status.getStartTime() == null || suspended) {
        return null;
      }
      long end = Instant.parse(status.getStartTime()).toEpochMilli() + ads * 1000;
      long left = end - nowMillis;
      return left <= 0 ? Duration.ZERO : Duration.ofMillis(left);
    }

    /**
     * trackJobStatusAndRemoveFinalizers: finished pods that still carry the finalizer go into
     * uncountedTerminatedPods (written first), then lose the finalizer, then move to the counters.
     * A pod is added to uncounted only while it has the finalizer and is not already there, and
     * moves to a counter only once its finalizer is gone: so it is counted once, and never lost.
     * Returns true when a finalizer could not be removed (retry).
     */
    boolean trackFinishedPods() throws Exception {
      Set<String> inSucceeded = new HashSet<>(uncountedSucceeded);
      Set<String> inFailed = new HashSet<>(uncountedFailed);
      List<Pod> toRelease = new ArrayList<>();
      boolean uncountedChanged = false;
      boolean indexesChanged = false;
      for (Pod p : pods) {
        String uid = p.getMetadata().getUid();
        if (!hasFinalizer(p) || finalizerRemoved.containsKey(uid)) {
          continue;
        }
        boolean podFinished = terminal(p);
        boolean podTerminating = deleting(p);
        if (!podFinished && !podTerminating) {
          continue;
        }
        if (toRelease.size() >= MAX_UNCOUNTED) {
          break;
        }
        if ("Succeeded".equals(phase(p)) && !inFailed.contains(uid)) {
          if (indexed) {
            // The completion index is enough to avoid recounting succeeded pods (upstream).
            int ix = completionIndex(p);
            if (ix >= 0 && ix < intOr(completions, 0) && !failedIndexes.contains(ix) && completedIndexes.add(ix)) {
              indexesChanged = true;
            }
          } else if (inSucceeded.add(uid)) {
            uncountedSucceeded.add(uid);
            uncountedChanged = true;
          }
        } else if ("Failed".equals(phase(p)) || (podTerminating && !suspended)) {
          PolicyMatch m = "Failed".equals(phase(p)) ? matchPolicy(job, p) : null;
          String action = m == null ? "Count" : m.action();
          if ("FailJob".equals(action) && failureReason == null && !conditionTrue(status, "FailureTarget")) {
            failureReason = "PodFailurePolicy";
            failureMessage = m.message();
          }
          if ("FailIndex".equals(action) && indexed) {
            int ix = completionIndex(p);
            if (ix >= 0 && ix < intOr(completions, 0) && !completedIndexes.contains(ix) && failedIndexes.add(ix)) {
              indexesChanged = true;
            }
          }
          Integer perIndex = job.getSpec().getBackoffLimitPerIndex();
          if (indexed && perIndex != null && "Count".equals(action) && failuresIncluding(p) > perIndex) {
            // The index used up its own backoff limit: it is failed, not retried.
            int ix = completionIndex(p);
            if (ix >= 0 && ix < intOr(completions, 0) && !completedIndexes.contains(ix) && failedIndexes.add(ix)) {
              indexesChanged = true;
            }
          }
          if (!"Ignore".equals(action) && inFailed.add(uid)) {
            uncountedFailed.add(uid);
            uncountedChanged = true;
          }
        }
        toRelease.add(p);
      }
      if (uncountedChanged || indexesChanged) {
        setUncounted();
        if (indexed) {
          status.setCompletedIndexes(completedIndexes.format());
          status.setSucceeded(completedIndexes.size());
          if (failedIndexes.size() > 0) {
            status.setFailedIndexes(failedIndexes.format());
          }
        }
        writeStatus();
      }
      boolean anyFailed = false;
      if (!toRelease.isEmpty()) {
        AtomicInteger failures = new AtomicInteger();
        parallel(toRelease, p -> {
          if (!removeFinalizer(p)) {
            failures.incrementAndGet();
          }
        });
        anyFailed = failures.get() > 0;
      }
      // Move uncounted pods whose finalizer is gone into the counters.
      Set<String> withFinalizer = new HashSet<>();
      for (Pod p : pods) {
        if (hasFinalizer(p) && !finalizerRemoved.containsKey(p.getMetadata().getUid())) {
          withFinalizer.add(p.getMetadata().getUid());
        }
      }
      int newSucceeded = 0;
      int newFailed = 0;
      for (var it = uncountedSucceeded.iterator(); it.hasNext(); ) {
        if (!withFinalizer.contains(it.next())) {
          it.remove();
          newSucceeded++;
        }
      }
      for (var it = uncountedFailed.iterator(); it.hasNext(); ) {
        if (!withFinalizer.contains(it.next())) {
          it.remove();
          newFailed++;
        }
      }
      if (newSucceeded > 0 || newFailed > 0) {
        status.setSucceeded(intOr(status.getSucceeded(), 0) + newSucceeded);
        status.setFailed(intOr(status.getFailed(), 0) + newFailed);
        setUncounted();
        long[] rec = backoff.computeIfAbsent(key, k -> new long[2]);
        if (newFailed > 0) {
          rec[0] += newFailed;
          rec[1] = nowMillis;
        } else {
          rec[0] = 0; // a success resets the backoff (backoffRecord.failuresAfterLastSuccess)
        }
        writeStatus();
      }
      if (indexed && status.getSucceeded() == null) {
        status.setSucceeded(completedIndexes.size());
      }
      return anyFailed;
    }

    void setUncounted() {
      status.setUncountedTerminatedPods(new UncountedTerminatedPods(List.copyOf(uncountedFailed),
          List.copyOf(uncountedSucceeded)));
    }

    /** manageJob: creates or deletes pods toward the wanted active count; returns a requeue delay. */
    Duration manage(List<Pod> active, int succeeded) {
      if (indexed) {
        return manageIndexed(active);
      }
      int want;
      if (completions == null) {
        // Work queue: once any pod succeeded no new pods start; the active ones finish.
        want = succeeded > 0 ? active.size() : parallelism;
      } else {
        want = Math.min(parallelism, Math.max(0, completions - succeeded));
      }
      int counted = active.size() + replacementBlockers();
      if (active.size() > want) {
        List<Pod> ranked = new ArrayList<>(active);
        ranked.sort(deletionOrder());
        deletePods(ranked.subList(0, Math.min(active.size() - want, MAX_CREATE_DELETE_PER_SYNC)), false);
        return null;
      }
      if (counted < want) {
        Duration wait = backoffWait();
        if (wait != null) {
          return wait;
        }
        List<Integer> none = new ArrayList<>();
        for (int i = 0; i < Math.min(want - counted, MAX_CREATE_DELETE_PER_SYNC); i++) {
          none.add(-1);
        }
        createPods(none);
      }
      return null;
    }

    Duration manageIndexed(List<Pod> active) {
      int total = intOr(completions, 0);
      // Active pods of finished, failed, invalid or duplicate indexes go first.
      Map<Integer, Pod> byIndex = new HashMap<>();
      List<Pod> excess = new ArrayList<>();
      List<Pod> sorted = new ArrayList<>(active);
      sorted.sort(Comparator.comparing((Pod p) -> p.getMetadata().getCreationTimestamp(),
          Comparator.nullsLast(Comparator.naturalOrder())));
      for (Pod p : sorted) {
        int ix = completionIndex(p);
        if (ix < 0 || ix >= total || completedIndexes.contains(ix) || failedIndexes.contains(ix)
            || byIndex.containsKey(ix)) {
          excess.add(p);
        } else {
          byIndex.put(ix, p);
        }
      }
      Set<Integer> blocked = new HashSet<>(byIndex.keySet());
      if (onlyReplaceFailed()) {
        for (Pod p : pods) {
          if (deleting(p) && !terminal(p)) {
            blocked.add(completionIndex(p));
          }
        }
      }
      int remaining = total - completedIndexes.size() - failedIndexes.size();
      int want = Math.min(parallelism, Math.max(0, remaining));
      if (byIndex.size() > want) {
        List<Pod> extra = new ArrayList<>(byIndex.values());
        extra.sort(deletionOrder());
        excess.addAll(extra.subList(0, byIndex.size() - want));
      }
      if (!excess.isEmpty()) {
        deletePods(excess, false);
        return null;
      }
      int counted = blocked.size();
      if (counted >= want) {
        return null;
      }
      boolean perIndex = job.getSpec().getBackoffLimitPerIndex() != null;
      if (!perIndex) {
        Duration wait = backoffWait();
        if (wait != null) {
          return wait;
        }
      }
      Map<Integer, Long> indexReadyAt = perIndex ? indexBackoff() : Map.of();
      Duration soonest = null;
      List<Integer> toCreate = new ArrayList<>();
      for (int i = 0; i < total && toCreate.size() < Math.min(want - counted, MAX_CREATE_DELETE_PER_SYNC); i++) {
        if (!completedIndexes.contains(i) && !failedIndexes.contains(i) && !blocked.contains(i)) {
          long readyAt = indexReadyAt.getOrDefault(i, 0L);
          if (readyAt > nowMillis) {
            // This index is in its own backoff (backoffLimitPerIndex): the others need not wait.
            Duration left = Duration.ofMillis(readyAt - nowMillis);
            soonest = soonest == null || left.compareTo(soonest) < 0 ? left : soonest;
            continue;
          }
          toCreate.add(i);
        }
      }
      createPods(toCreate);
      return soonest;
    }

    /**
     * Per index: when its next pod may start, from the failure count and finish time of its
     * latest failed pod (getNewIndexFailureCounts / backoff per index in upstream).
     */
    Map<Integer, Long> indexBackoff() {
      Map<Integer, Long> readyAt = new HashMap<>();
      Map<Integer, Integer> failures = new HashMap<>();
      for (Pod p : pods) {
        int ix = completionIndex(p);
        if (ix < 0 || !"Failed".equals(phase(p))) {
          continue;
        }
        int f = failuresIncluding(p);
        if (f < failures.getOrDefault(ix, 0)) {
          continue;
        }
        failures.put(ix, f);
        readyAt.put(ix, finishedAt(p) + backoffDelay(backoffBase, f).toMillis());
      }
      return readyAt;
    }

    boolean onlyReplaceFailed() {
      return "Failed".equals(job.getSpec().getPodReplacementPolicy());
    }

    /** With podReplacementPolicy Failed, terminating pods still hold their slot. */
    int replacementBlockers() {
      if (!onlyReplaceFailed()) {
        return 0;
      }
      int n = 0;
      for (Pod p : pods) {
        if (deleting(p) && !terminal(p)) {
          n++;
        }
      }
      return n;
    }

    /** Remaining pod-failure backoff, or null if pods may be created now. */
    Duration backoffWait() {
      long[] rec = backoff.get(key);
      if (rec == null || rec[0] == 0) {
        return null;
      }
      long readyAt = rec[1] + backoffDelay(backoffBase, (int) rec[0]).toMillis();
      long left = readyAt - nowMillis;
      return left <= 0 ? null : Duration.ofMillis(left);
    }

    /** Pods to delete first: pending before running, not ready before ready, newer before older (ActivePods ranking, simplified). */
    Comparator<Pod> deletionOrder() {
      return Comparator.comparing((Pod p) -> "Running".equals(phase(p)))
          .thenComparing(JobController::ready)
          .thenComparing((Pod p) -> p.getMetadata().getCreationTimestamp(),
              Comparator.nullsFirst(Comparator.<String>naturalOrder()).reversed());
    }

    void deletePods(List<Pod> victims, boolean forSuspend) {
      if (victims.isEmpty()) {
        return;
      }
      List<String> uids = victims.stream().map(p -> p.getMetadata().getUid()).toList();
      expectations.expectDeletions(key, uids);
      parallel(victims, p -> {
        try {
          if (forSuspend && hasFinalizer(p)) {
            // Pods of a suspended Job are not failures: drop the finalizer without counting.
            removeFinalizer(p);
          }
          client.pods().inNamespace(p.getMetadata().getNamespace()).withName(p.getMetadata().getName()).delete();
          deletedNow.add(p.getMetadata().getUid());
          events.event(job, EventRecorder.NORMAL, "SuccessfulDelete", "Deleted pod: %s", p.getMetadata().getName());
        } catch (KubernetesClientException e) {
          expectations.deletionObserved(key, p.getMetadata().getUid());
          if (e.getCode() != 404) {
            events.event(job, EventRecorder.WARNING, "FailedDelete", "Error deleting: %s", e.getMessage());
          }
        }
      });
    }

    /** Creates pods in slow-start batches of 1, 2, 4, ...; {@code indexes} holds -1 for NonIndexed. */
    void createPods(List<Integer> indexes) {
      if (indexes.isEmpty()) {
        return;
      }
      expectations.expectCreations(key, indexes.size());
      int pos = 0;
      int batch = 1;
      boolean failed = false;
      while (pos < indexes.size()) {
        List<Integer> slice = indexes.subList(pos, Math.min(indexes.size(), pos + batch));
        pos += slice.size();
        if (failed) {
          slice.forEach(i -> expectations.creationObserved(key)); // never created: not to be seen
          continue;
        }
        AtomicInteger errors = new AtomicInteger();
        parallel(slice, ix -> {
          try {
            Pod created = client.pods().inNamespace(job.getMetadata().getNamespace()).resource(podFor(ix)).create();
            createdNow.incrementAndGet();
            events.event(job, EventRecorder.NORMAL, "SuccessfulCreate", "Created pod: %s",
                created.getMetadata().getName());
          } catch (KubernetesClientException e) {
            errors.incrementAndGet();
            expectations.creationObserved(key);
            events.event(job, EventRecorder.WARNING, "FailedCreate", "Error creating: %s", e.getMessage());
          }
        });
        failed = errors.get() > 0;
        batch *= 2;
      }
    }

    Pod podFor(int index) {
      PodTemplateSpec t = job.getSpec().getTemplate();
      Pod pod = new Pod();
      pod.setApiVersion("v1");
      pod.setKind("Pod");
      var meta = new io.fabric8.kubernetes.api.model.ObjectMetaBuilder(
          t.getMetadata() == null ? new io.fabric8.kubernetes.api.model.ObjectMeta() : t.getMetadata()).build();
      String name = job.getMetadata().getName();
      meta.setName(null);
      meta.setNamespace(job.getMetadata().getNamespace());
      meta.setGenerateName(index >= 0 ? name + "-" + index + "-" : name + "-");
      List<String> finalizers = new ArrayList<>(meta.getFinalizers() == null ? List.of() : meta.getFinalizers());
      finalizers.add(TRACKING_FINALIZER);
      meta.setFinalizers(finalizers);
      meta.setOwnerReferences(List.of(new OwnerReferenceBuilder().withApiVersion("batch/v1").withKind("Job")
          .withName(name).withUid(job.getMetadata().getUid()).withController(true).withBlockOwnerDeletion(true)
          .build()));
      Map<String, String> labels = new HashMap<>(meta.getLabels() == null ? Map.of() : meta.getLabels());
      labels.putIfAbsent(JOB_NAME_LABEL, name);
      labels.putIfAbsent(CONTROLLER_UID_LABEL, job.getMetadata().getUid());
      var spec = new io.fabric8.kubernetes.api.model.PodSpecBuilder(t.getSpec()).build();
      if (index >= 0) {
        labels.put(COMPLETION_INDEX, Integer.toString(index));
        Map<String, String> ann = new HashMap<>(meta.getAnnotations() == null ? Map.of() : meta.getAnnotations());
        ann.put(COMPLETION_INDEX, Integer.toString(index));
        if (job.getSpec().getBackoffLimitPerIndex() != null) {
          int failures = 0;
          for (Pod p : pods) {
            if (completionIndex(p) == index && "Failed".equals(phase(p))) {
              failures = Math.max(failures, failuresIncluding(p));
            }
          }
          ann.put(INDEX_FAILURE_COUNT, Integer.toString(failures));
        }
        meta.setAnnotations(ann);
        if (spec.getHostname() == null || spec.getHostname().isEmpty()) {
          spec.setHostname(name + "-" + index);
        }
        // addCompletionIndexEnvVariables: read from the annotation through the downward API.
        EnvVar env = new EnvVarBuilder().withName("JOB_COMPLETION_INDEX").withNewValueFrom().withNewFieldRef()
            .withFieldPath("metadata.annotations['" + COMPLETION_INDEX + "']").endFieldRef().endValueFrom().build();
        for (List<Container> cs : java.util.Arrays.asList(spec.getInitContainers(), spec.getContainers())) {
          if (cs == null) {
            continue;
          }
          for (Container c : cs) {
            List<EnvVar> envs = new ArrayList<>(c.getEnv() == null ? List.of() : c.getEnv());
            if (envs.stream().noneMatch(e -> "JOB_COMPLETION_INDEX".equals(e.getName()))) {
              envs.add(env);
            }
            c.setEnv(envs);
          }
        }
      }
      meta.setLabels(labels);
      pod.setMetadata(meta);
      pod.setSpec(spec);
      return pod;
    }

    void writeStatus() {
      Job next = new io.fabric8.kubernetes.api.model.batch.v1.JobBuilder(job).withStatus(status).build();
      Job written = client.batch().v1().jobs().inNamespace(job.getMetadata().getNamespace()).resource(next)
          .updateStatus();
      writtenVersion.put(key, written.getMetadata().getResourceVersion());
      job = written;
      lastWritten = new io.fabric8.kubernetes.api.model.batch.v1.JobStatusBuilder(status).build();
    }
  }

  /** Runs {@code action} over {@code items} on virtual threads and waits for all. */
  private static <T> void parallel(List<T> items, java.util.function.Consumer<T> action) {
    if (items.size() == 1) {
      action.accept(items.get(0));
      return;
    }
    List<Thread> threads = new ArrayList<>(items.size());
    for (T item : items) {
      threads.add(Thread.ofVirtual().start(() -> action.accept(item)));
    }
    for (Thread t : threads) {
      try {
        t.join();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
  }

}
