package dev.skiff.controllers.batch;

import dev.skiff.runtime.Clock;
import dev.skiff.runtime.Controller;
import dev.skiff.runtime.Keys;
import dev.skiff.runtime.Lister;
import dev.skiff.runtime.Result;
import dev.skiff.runtime.SharedInformers;
import io.fabric8.kubernetes.api.model.DeletionPropagation;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobCondition;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;

/**
 * Deletes finished Jobs {@code spec.ttlSecondsAfterFinished} after they finished, with background
 * (cascading) propagation (upstream {@code pkg/controller/ttlafterfinished}). The finish time is
 * the lastTransitionTime of the Complete/Failed condition. Before deleting, the Job is re-read from
 * the API server, so a TTL raised meanwhile is honoured. Thread-safe.
 */
public final class TtlAfterFinishedController {
  private final KubernetesClient client;
  private final Clock clock;
  private final Lister<Job> jobs;
  private final Controller controller;

  public TtlAfterFinishedController(SharedInformers informers, KubernetesClient client, Clock clock) {
    this.client = client;
    this.clock = clock;
    this.jobs = informers.informerFor(Job.class).lister();
    this.controller = Controller.builder("ttl-after-finished-controller", informers)
        .watches(Job.class)
        .clock(clock)
        .reconciler(this::reconcile)
        .build();
  }

  public Controller controller() {
    return controller;
  }

  /** Time left before {@code job} expires: null if it never does (unfinished, no TTL), ZERO if due. */
  Duration timeLeft(Job job) {
    Integer ttl = job.getSpec().getTtlSecondsAfterFinished();
    if (ttl == null || job.getMetadata().getDeletionTimestamp() != null || !JobController.finished(job)) {
      return null;
    }
    String finishedAt = null;
    for (JobCondition c : job.getStatus().getConditions()) {
      if (("Complete".equals(c.getType()) || "Failed".equals(c.getType())) && "True".equals(c.getStatus())) {
        finishedAt = c.getLastTransitionTime();
      }
    }
    long finish = finishedAt == null ? clock.currentTimeMillis() : Instant.parse(finishedAt).toEpochMilli();
    long left = finish + ttl * 1000L - clock.currentTimeMillis();
    return left <= 0 ? Duration.ZERO : Duration.ofMillis(left);
  }

  Result reconcile(String key) {
    Job cached = jobs.getByKey(key);
    if (cached == null) {
      return Result.done();
    }
    Duration left = timeLeft(cached);
    if (left == null) {
      return Result.done();
    }
    if (!left.isZero()) {
      return Result.requeueAfter(left);
    }
    Job fresh = client.batch().v1().jobs().inNamespace(Keys.namespace(key)).withName(Keys.name(key)).get();
    if (fresh == null || !Objects.equals(fresh.getMetadata().getUid(), cached.getMetadata().getUid())) {
      return Result.done();
    }
    left = timeLeft(fresh);
    if (left == null) {
      return Result.done();
    }
    if (!left.isZero()) {
      return Result.requeueAfter(left);
    }
    client.batch().v1().jobs().inNamespace(Keys.namespace(key)).withName(Keys.name(key))
        .withPropagationPolicy(DeletionPropagation.BACKGROUND).delete();
    return Result.done();
  }
}
