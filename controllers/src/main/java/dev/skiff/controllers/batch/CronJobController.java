package dev.skiff.controllers.batch;

import dev.skiff.runtime.Clock;
import dev.skiff.runtime.Controller;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.Keys;
import dev.skiff.runtime.Lister;
import dev.skiff.runtime.Result;
import dev.skiff.runtime.SharedInformers;
import io.fabric8.kubernetes.api.model.DeletionPropagation;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import io.fabric8.kubernetes.api.model.ObjectReference;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.api.model.OwnerReference;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.CronJob;
import io.fabric8.kubernetes.api.model.batch.v1.CronJobStatus;
import io.fabric8.kubernetes.api.model.batch.v1.CronJobStatusBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The CronJob controller (upstream {@code pkg/controller/cronjob/cronjob_controllerv2.go}): on each
 * sync it reconciles {@code status.active} with the Jobs it owns, finds the most recent unmet
 * schedule time after {@code max(lastScheduleTime or creationTimestamp, now - startingDeadlineSeconds)},
 * applies startingDeadlineSeconds and the concurrency policy, creates the Job
 * {@code <name>-<scheduledTime.unix/60>} (a deterministic name, so AlreadyExists means done),
 * prunes finished Jobs beyond the history limits, and requeues itself for the next schedule time
 * + 100 ms. All times come from the injected {@link Clock}. Thread-safe (one worker per key).
 */
public final class CronJobController {
  public static final String SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp";
  /** nextScheduleDelta: requeue a little after the schedule so that it is surely due. */
  static final Duration NEXT_SCHEDULE_DELTA = Duration.ofMillis(100);

  private final KubernetesClient client;
  private final EventRecorder events;
  private final Clock clock;
  private final Lister<CronJob> cronJobs;
  private final Lister<Job> jobs;
  private final Controller controller;

  public CronJobController(SharedInformers informers, KubernetesClient client, EventRecorder events, Clock clock) {
    this.client = client;
    this.events = events;
    this.clock = clock;
    this.cronJobs = informers.informerFor(CronJob.class).lister();
    this.jobs = informers.informerFor(Job.class).lister();
    this.controller = Controller.builder("cronjob-controller", informers)
        .watches(CronJob.class)
        .owns(Job.class, CronJob.class)
        .clock(clock)
        .reconciler(this::reconcile)
        .build();
    // A clock that jumps (tests' FakeClock) may pass a schedule while a sync is computing its
    // requeue delay from the old time; every CronJob is looked at again after a jump.
    clock.onAdvance(() -> cronJobs.list().forEach(cj -> controller.enqueue(Keys.of(cj))));
  }

  public Controller controller() {
    return controller;
  }

  /** getJobName: the scheduled time in minutes since the epoch makes the name deterministic. */
  public static String jobName(String cronJobName, Instant scheduledTime) {
    return cronJobName + "-" + scheduledTime.getEpochSecond() / 60;
  }

  private static String time(Instant t) {
    return Instant.ofEpochSecond(t.getEpochSecond()).toString();
  }

  private static Instant parse(String t) {
    return t == null ? null : Instant.parse(t);
  }

  /** The Job's Complete or Failed condition type, or null while it runs. */
  static String finishedType(Job job) {
    if (job.getStatus() == null || job.getStatus().getConditions() == null) {
      return null;
    }
    for (var c : job.getStatus().getConditions()) {
      if (("Complete".equals(c.getType()) || "Failed".equals(c.getType())) && "True".equals(c.getStatus())) {
        return c.getType();
      }
    }
    return null;
  }

  Result reconcile(String key) throws Exception {
    CronJob cached = cronJobs.getByKey(key);
    if (cached == null) {
      return Result.done();
    }
    String ns = cached.getMetadata().getNamespace();
    CronJobStatus before = cached.getStatus() == null ? new CronJobStatus() : cached.getStatus();
    CronJobStatus status = new CronJobStatusBuilder(before).build();
    List<ObjectReference> active = new ArrayList<>(status.getActive() == null ? List.of() : status.getActive());
    List<Job> owned = new ArrayList<>();
    for (Job j : jobs.list(ns)) {
      OwnerReference ref = Keys.controllerOf(j);
      if (ref != null && cached.getMetadata().getUid().equals(ref.getUid())) {
        owned.add(j);
      }
    }
    Instant now = Instant.ofEpochMilli(clock.currentTimeMillis());

    // 1. The active list against the Jobs that exist.
    Map<String, Job> byName = new HashMap<>();
    for (Job j : owned) {
      byName.put(j.getMetadata().getName(), j);
      boolean listed = active.stream().anyMatch(r -> r.getUid() != null && r.getUid().equals(j.getMetadata().getUid()));
      String done = finishedType(j);
      if (done == null && !listed) {
        if (createdBySchedule(cached, j)) {
          // Ours, but the status write that listed it was lost or is not in the cache yet.
          active.add(ref(j));
        } else {
          // e.g. kubectl create job --from=cronjob/...: reported, not adopted (upstream).
          events.event(cached, EventRecorder.WARNING, "UnexpectedJob",
              "Saw a job that the controller did not create or forgot: %s", j.getMetadata().getName());
        }
      } else if (done != null && listed) {
        active.removeIf(r -> j.getMetadata().getUid().equals(r.getUid()));
        events.event(cached, EventRecorder.NORMAL, "SawCompletedJob", "Saw completed job: %s, status: %s",
            j.getMetadata().getName(), done);
      }
      if ("Complete".equals(done) && j.getStatus().getCompletionTime() != null) {
        Instant ct = parse(j.getStatus().getCompletionTime());
        if (status.getLastSuccessfulTime() == null || ct.isAfter(parse(status.getLastSuccessfulTime()))) {
          status.setLastSuccessfulTime(time(ct));
        }
      }
    }
    for (ObjectReference r : List.copyOf(active)) {
      if (!byName.containsKey(r.getName())) {
        // The cache may lag: ask the API server before forgetting a Job.
        Job live = client.batch().v1().jobs().inNamespace(ns).withName(r.getName()).get();
        if (live == null || !live.getMetadata().getUid().equals(r.getUid())) {
          active.remove(r);
          events.event(cached, EventRecorder.NORMAL, "MissingJob", "Active job went missing: %s", r.getName());
        }
      }
    }
    status.setActive(active.isEmpty() ? null : active);

    Duration requeue = null;
    if (cached.getMetadata().getDeletionTimestamp() == null) {
      requeue = schedule(cached, status, active, now);
    }
    // History limits: the oldest finished Jobs beyond the limits go (cleanupFinishedJobs).
    prune(cached, owned, "Complete", cached.getSpec().getSuccessfulJobsHistoryLimit());
    prune(cached, owned, "Failed", cached.getSpec().getFailedJobsHistoryLimit());

    if (status.getActive() != null && status.getActive().isEmpty()) {
      status.setActive(null);
    }
    CronJobStatus was = new CronJobStatusBuilder(before).build();
    if (was.getActive() != null && was.getActive().isEmpty()) {
      was.setActive(null);
    }
    if (!status.equals(was)) {
      CronJob next = new io.fabric8.kubernetes.api.model.batch.v1.CronJobBuilder(cached).withStatus(status).build();
      try {
        client.batch().v1().cronjobs().inNamespace(ns).resource(next).updateStatus();
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          throw e;
        }
        // A stale cache, usually our own previous write not yet seen: look again as soon as the
        // queue allows, not after a rate-limited delay that a test's fake clock would never reach.
        return Result.requeueAfter(Duration.ZERO);
      }
    }
    return requeue == null ? Result.done() : Result.requeueAfter(requeue);
  }

  /** True for a Job this controller created: named after its scheduled-timestamp annotation. */
  static boolean createdBySchedule(CronJob cj, Job j) {
    var ann = j.getMetadata().getAnnotations();
    String ts = ann == null ? null : ann.get(SCHEDULED_TIMESTAMP);
    if (ts == null) {
      return false;
    }
    try {
      Instant t = ZonedDateTime.parse(ts, DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant();
      return jobName(cj.getMetadata().getName(), t).equals(j.getMetadata().getName());
    } catch (RuntimeException e) {
      return false;
    }
  }

  private static ObjectReference ref(Job j) {
    return new ObjectReferenceBuilder().withApiVersion("batch/v1").withKind("Job").withNamespace(j.getMetadata().getNamespace())
        .withName(j.getMetadata().getName()).withUid(j.getMetadata().getUid())
        .withResourceVersion(j.getMetadata().getResourceVersion()).build();
  }

  /** Steps 2-7 of syncCronJob; returns when to look again (null: never, e.g. suspended). */
  private Duration schedule(CronJob cj, CronJobStatus status, List<ObjectReference> active, Instant now)
      throws Exception {
    ZoneId zone;
    try {
      zone = cj.getSpec().getTimeZone() == null ? ZoneId.systemDefault() : ZoneId.of(cj.getSpec().getTimeZone());
    } catch (RuntimeException e) {
      events.event(cj, EventRecorder.WARNING, "UnknownTimeZone", "invalid timeZone: %s: %s",
          cj.getSpec().getTimeZone(), e.getMessage());
      return null;
    }
    CronSchedule sched;
    try {
      sched = CronSchedule.parse(cj.getSpec().getSchedule());
    } catch (IllegalArgumentException e) {
      events.event(cj, EventRecorder.WARNING, "UnparseableSchedule", "unparseable schedule: %s : %s",
          cj.getSpec().getSchedule(), e.getMessage());
      return null;
    }
    if (Boolean.TRUE.equals(cj.getSpec().getSuspend())) {
      return null;
    }
    Instant earliest = status.getLastScheduleTime() != null ? parse(status.getLastScheduleTime())
        : parse(cj.getMetadata().getCreationTimestamp());
    Long sds = cj.getSpec().getStartingDeadlineSeconds();
    if (sds != null) {
      Instant deadline = now.minusSeconds(sds);
      if (deadline.isAfter(earliest)) {
        earliest = deadline;
      }
    }
    Instant scheduled = mostRecentScheduleTime(cj, sched, zone, earliest, now);
    Duration untilNext = untilNext(sched, zone, now);
    if (scheduled == null) {
      return untilNext;
    }
    if (sds != null && scheduled.plusSeconds(sds).isBefore(now)) {
      events.event(cj, EventRecorder.WARNING, "MissSchedule", "Missed scheduled time to start a job: %s",
          DateTimeFormatter.RFC_1123_DATE_TIME.format(scheduled.atZone(zone)));
      return untilNext;
    }
    String name = jobName(cj.getMetadata().getName(), scheduled);
    if (active.stream().anyMatch(r -> name.equals(r.getName()))
        || time(scheduled).equals(status.getLastScheduleTime())) {
      return untilNext; // this schedule was already processed
    }
    String policy = cj.getSpec().getConcurrencyPolicy() == null ? "Allow" : cj.getSpec().getConcurrencyPolicy();
    if ("Forbid".equals(policy) && !active.isEmpty()) {
      // Not recorded as scheduled: it runs late once the active Job ends (if its deadline allows).
      events.event(cj, EventRecorder.NORMAL, "JobAlreadyActive",
          "Not starting job because prior execution is running and concurrency policy is Forbid");
      return untilNext;
    }
    String ns = cj.getMetadata().getNamespace();
    if ("Replace".equals(policy)) {
      for (ObjectReference r : List.copyOf(active)) {
        try {
          client.batch().v1().jobs().inNamespace(ns).withName(r.getName())
              .withPropagationPolicy(DeletionPropagation.BACKGROUND).delete();
          events.event(cj, EventRecorder.NORMAL, "SuccessfulDelete", "Deleted job %s", r.getName());
        } catch (KubernetesClientException e) {
          if (e.getCode() != 404) {
            events.event(cj, EventRecorder.WARNING, "FailedDelete", "Deleted job: %s", e.getMessage());
            throw e;
          }
        }
        active.remove(r);
      }
    }
    Job job = jobFor(cj, scheduled, zone, name);
    try {
      Job created = client.batch().v1().jobs().inNamespace(ns).resource(job).create();
      events.event(cj, EventRecorder.NORMAL, "SuccessfulCreate", "Created job %s", name);
      active.add(ref(created));
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        events.event(cj, EventRecorder.WARNING, "FailedCreate", "Error creating job: %s", e.getMessage());
        throw e;
      }
      // AlreadyExists: the deterministic name says this schedule was already started.
    }
    status.setActive(active.isEmpty() ? null : active);
    status.setLastScheduleTime(time(scheduled));
    return untilNext;
  }

  private Duration untilNext(CronSchedule sched, ZoneId zone, Instant now) {
    ZonedDateTime next = sched.next(now.atZone(zone));
    if (next == null) {
      return null;
    }
    // Measured from the clock as it reads now, not from the sync's start.
    Duration d = Duration.between(Instant.ofEpochMilli(clock.currentTimeMillis()), next.toInstant());
    return d.isNegative() ? Duration.ZERO : d.plus(NEXT_SCHEDULE_DELTA);
  }

  /**
   * mostRecentScheduleTime (utils.go): the latest activation in (earliest, now], or null. Counts
   * missed activations arithmetically from the first two; more than 100 draws the
   * TooManyMissedTimes warning, and the most recent one is still started (v2 behaviour).
   */
  Instant mostRecentScheduleTime(CronJob cj, CronSchedule sched, ZoneId zone, Instant earliest, Instant now) {
    ZonedDateTime t1 = sched.next(earliest.atZone(zone));
    if (t1 == null || t1.toInstant().isAfter(now)) {
      return null;
    }
    ZonedDateTime t2 = sched.next(t1);
    if (t2 == null || t2.toInstant().isAfter(now)) {
      return t1.toInstant();
    }
    long interval = Math.max(1, Duration.between(t1, t2).getSeconds());
    long missed = Duration.between(t1.toInstant(), now).getSeconds() / interval + 1;
    if (missed > 100) {
      events.event(cj, EventRecorder.WARNING, "TooManyMissedTimes",
          "too many missed start times: %d. Set or decrease .spec.startingDeadlineSeconds or check clock skew", missed);
    }
    // Jump close to now, then let the schedule find the exact time (irregular schedules too).
    ZonedDateTime from = t1.plusSeconds(Math.max(0, missed - 2) * interval);
    Instant most = t1.toInstant();
    for (ZonedDateTime t = sched.next(from); t != null && !t.toInstant().isAfter(now); t = sched.next(t)) {
      most = t.toInstant();
    }
    return most;
  }

  private Job jobFor(CronJob cj, Instant scheduled, ZoneId zone, String name) {
    var tmpl = cj.getSpec().getJobTemplate();
    ObjectMeta meta = new ObjectMeta();
    meta.setName(name);
    meta.setNamespace(cj.getMetadata().getNamespace());
    if (tmpl.getMetadata() != null) {
      meta.setLabels(tmpl.getMetadata().getLabels());
      meta.setAnnotations(tmpl.getMetadata().getAnnotations() == null ? null
          : new HashMap<>(tmpl.getMetadata().getAnnotations()));
    }
    Map<String, String> ann = meta.getAnnotations() == null ? new HashMap<>() : meta.getAnnotations();
    ann.put(SCHEDULED_TIMESTAMP, scheduled.atZone(zone).format(DateTimeFormatter.ISO_OFFSET_DATE_TIME));
    meta.setAnnotations(ann);
    meta.setOwnerReferences(List.of(new OwnerReferenceBuilder().withApiVersion("batch/v1").withKind("CronJob")
        .withName(cj.getMetadata().getName()).withUid(cj.getMetadata().getUid()).withController(true)
        .withBlockOwnerDeletion(true).build()));
    return new JobBuilder().withApiVersion("batch/v1").withKind("Job").withMetadata(meta)
        .withSpec(tmpl.getSpec()).build();
  }

  private void prune(CronJob cj, List<Job> owned, String type, Integer limit) {
    if (limit == null) {
      return;
    }
    List<Job> finished = new ArrayList<>();
    for (Job j : owned) {
      if (type.equals(finishedType(j)) && j.getMetadata().getDeletionTimestamp() == null) {
        finished.add(j);
      }
    }
    if (finished.size() <= limit) {
      return;
    }
    // Oldest first, by start time (creation time when a Job never started).
    finished.sort(Comparator.comparing((Job j) -> {
      String st = j.getStatus().getStartTime() != null ? j.getStatus().getStartTime() : j.getMetadata().getCreationTimestamp();
      return st == null ? Instant.EPOCH : parse(st);
    }).thenComparing(j -> j.getMetadata().getName()));
    for (Job j : finished.subList(0, finished.size() - limit)) {
      try {
        client.batch().v1().jobs().inNamespace(j.getMetadata().getNamespace()).withName(j.getMetadata().getName())
            .withPropagationPolicy(DeletionPropagation.BACKGROUND).delete();
        events.event(cj, EventRecorder.NORMAL, "SuccessfulDelete", "Deleted job %s", j.getMetadata().getName());
      } catch (KubernetesClientException e) {
        if (e.getCode() != 404) {
          events.event(cj, EventRecorder.WARNING, "FailedDelete", "Deleted job: %s", e.getMessage());
        }
      }
    }
  }
}
