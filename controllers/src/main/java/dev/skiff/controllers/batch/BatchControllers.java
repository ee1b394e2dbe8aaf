package dev.skiff.controllers.batch;

import dev.skiff.runtime.Clock;
import dev.skiff.runtime.Controller;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.SharedInformers;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.List;

/**
 * The batch/v1 controllers: Job, CronJob and TTL-after-finished. The ControllerManager wires them
 * with one call to {@link #start}. Thread-safe.
 */
public final class BatchControllers {
  /** Job controller workers (kube-controller-manager --concurrent-job-syncs default 5). */
  public static final int JOB_WORKERS = 5;

  private BatchControllers() {
  }

  /**
   * Builds the three controllers on {@code informers} and starts them; returns them so that the
   * caller can stop them ({@link Controller#stop}). {@code clock} drives schedules, deadlines,
   * backoff and TTLs.
   */
  public static List<Controller> start(SharedInformers informers, KubernetesClient client, EventRecorder events,
      Clock clock) {
    List<Controller> controllers = create(informers, client, events, clock);
    controllers.forEach(Controller::start);
    return controllers;
  }

  /**
   * Builds the three controllers (their informer indexers included) without starting them, for
   * a manager that starts every controller only once all are built.
   */
  public static List<Controller> create(SharedInformers informers, KubernetesClient client, EventRecorder events,
      Clock clock) {
    return List.of(
        new JobController(informers, client, events, clock, JobController.DEFAULT_BACKOFF, JOB_WORKERS).controller(),
        new CronJobController(informers, client, events, clock).controller(),
        new TtlAfterFinishedController(informers, client, clock).controller());
  }
}
