package dev.skiff.controllers.batch;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.TestServer;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.FakeClock;
import dev.skiff.runtime.SharedInformers;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.CronJob;
import io.fabric8.kubernetes.api.model.batch.v1.CronJobBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobConditionBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The CronJob controller against a real API server with a {@link FakeClock}: schedules fire when
 * the test moves the clock, never by waiting minutes. No Job controller runs: tests finish Jobs by
 * writing their status.
 */
class CronJobControllerTest {
  static TestServer server;
  static KubernetesClient client;
  static EventRecorder events;
  SharedInformers informers;
  CronJobController controller;
  FakeClock clock;

  @BeforeAll
  static void startServer() throws Exception {
    server = TestServer.start();
    client = Clients.forKubeconfig(server.kubeconfig());
    events = new EventRecorder(client, "cronjob-controller");
  }

  @AfterAll
  static void stopServer() throws Exception {
    events.close();
    client.close();
    server.close();
  }

  @AfterEach
  void stopController() throws Exception {
    if (controller != null) {
      controller.controller().stop(Duration.ofSeconds(2));
    }
    if (informers != null) {
      informers.close();
    }
  }

  /** Starts a controller whose clock reads the real time now (so creationTimestamps line up). */
  void startController() {
    clock = new FakeClock(System.currentTimeMillis());
    informers = new SharedInformers(client);
    controller = new CronJobController(informers, client, events, clock);
    controller.controller().start();
  }

  Instant now() {
    return Instant.ofEpochMilli(clock.currentTimeMillis());
  }

  /** Moves the fake clock to {@code t}. */
  void stepTo(Instant t) {
    Duration d = Duration.between(now(), t);
    if (!d.isNegative()) {
      clock.step(d);
    }
  }

  /** The n-th whole minute after the CronJob's creation (n = 1 is its first "* * * * *" run). */
  static Instant minute(CronJob cj, int n) {
    return Instant.parse(cj.getMetadata().getCreationTimestamp()).truncatedTo(ChronoUnit.MINUTES).plus(Duration.ofMinutes(n));
  }

  static void namespace(String ns) {
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
  }

  static CronJobBuilder cronJob(String ns, String name, String schedule) {
    return new CronJobBuilder().withNewMetadata().withNamespace(ns).withName(name).endMetadata()
        .withNewSpec().withSchedule(schedule).withTimeZone("UTC").withNewJobTemplate().withNewSpec().withNewTemplate()
        .withNewSpec().withRestartPolicy("Never").addNewContainer().withName("main").withImage("busybox")
        .withCommand("true").endContainer().endSpec().endTemplate().endSpec().endJobTemplate().endSpec();
  }

  CronJob create(CronJob cj) {
    CronJob created = client.batch().v1().cronjobs().resource(cj).create();
    startController();
    return created;
  }

  static List<String> jobNames(String ns) {
    return client.batch().v1().jobs().inNamespace(ns).list().getItems().stream()
        .filter(j -> j.getMetadata().getDeletionTimestamp() == null).map(j -> j.getMetadata().getName()).sorted()
        .toList();
  }

  static CronJob getCj(String ns, String name) {
    return client.batch().v1().cronjobs().inNamespace(ns).withName(name).get();
  }

  static List<String> activeNames(String ns, String name) {
    CronJob cj = getCj(ns, name);
    return cj.getStatus() == null || cj.getStatus().getActive() == null ? List.of()
        : cj.getStatus().getActive().stream().map(r -> r.getName()).sorted().toList();
  }

  static List<String> eventReasons(String ns, String name) throws Exception {
    events.flush();
    return client.v1().events().inNamespace(ns).list().getItems().stream()
        .filter(e -> name.equals(e.getInvolvedObject().getName())).map(Event::getReason).toList();
  }

  /**
   * The controller decides from its informers. A test that steps the clock to the next run right
   * after seeing a Job active through the API waits until those caches caught up with the
   * controller's own writes (the Job, and the status naming it), as they have long before a real
   * minute passes.
   */
  void awaitControllerSeesActive(String ns, String cronJob, String job) throws InterruptedException {
    await("the controller's caches showing " + job + " active", () -> {
      CronJob seen = informers.informerFor(CronJob.class).lister().getByKey(ns + "/" + cronJob);
      return seen != null && seen.getStatus() != null && seen.getStatus().getActive() != null
          && seen.getStatus().getActive().stream().anyMatch(r -> job.equals(r.getName()))
          && informers.informerFor(Job.class).lister().getByKey(ns + "/" + job) != null;
    });
  }

  /**
   * Waits for events: the controller records one after its API call returns, so a test that saw
   * the call's effect may look before the event was even submitted.
   */
  static void awaitEvents(String ns, String cronJob, String... reasons) throws Exception {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!eventReasons(ns, cronJob).containsAll(List.of(reasons)) && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(eventReasons(ns, cronJob)).contains(reasons);
  }

  static void await(String what, BooleanSupplier cond) throws InterruptedException {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what + "; jobs " + client.batch().v1().jobs().inAnyNamespace()
            .list().getItems().stream().map(j -> j.getMetadata().getNamespace() + "/" + j.getMetadata().getName()).toList());
      }
      Thread.sleep(20);
    }
  }

  /** Writes a terminal status onto a Job, as the Job controller would. */
  static void finish(String ns, String name, String type, Instant started) {
    String t = started.toString();
    List<io.fabric8.kubernetes.api.model.batch.v1.JobCondition> conds = new ArrayList<>();
    conds.add(new JobConditionBuilder().withType(type.equals("Complete") ? "SuccessCriteriaMet" : "FailureTarget")
        .withStatus("True").withReason("Test").withLastTransitionTime(t).build());
    conds.add(new JobConditionBuilder().withType(type).withStatus("True").withReason("Test").withLastTransitionTime(t)
        .build());
    client.batch().v1().jobs().inNamespace(ns).withName(name).editStatus(j -> {
      if (j.getStatus() == null) {
        j.setStatus(new io.fabric8.kubernetes.api.model.batch.v1.JobStatus());
      }
      j.getStatus().setStartTime(t);
      if (type.equals("Complete")) {
        j.getStatus().setCompletionTime(started.plusSeconds(5).toString());
        j.getStatus().setSucceeded(1);
      } else {
        j.getStatus().setFailed(1);
      }
      j.getStatus().setConditions(conds);
      return j;
    });
  }

  @Test
  void allowStartsOneJobPerScheduleWithDeterministicNames() throws Exception {
    String ns = "allow";
    namespace(ns);
    CronJob cj = create(cronJob(ns, "tick", "* * * * *").build());
    Thread.sleep(200);
    assertThat(jobNames(ns)).isEmpty(); // nothing is due before the first minute
    stepTo(minute(cj, 1).plusSeconds(1));
    String first = CronJobController.jobName("tick", minute(cj, 1));
    assertThat(first).isEqualTo("tick-" + minute(cj, 1).getEpochSecond() / 60);
    await("the first job", () -> jobNames(ns).contains(first));
    await("it to be active", () -> activeNames(ns, "tick").equals(List.of(first)));
    assertThat(getCj(ns, "tick").getStatus().getLastScheduleTime()).isEqualTo(minute(cj, 1).toString());
    Job job = client.batch().v1().jobs().inNamespace(ns).withName(first).get();
    assertThat(job.getMetadata().getOwnerReferences().get(0).getName()).isEqualTo("tick");
    assertThat(job.getMetadata().getAnnotations()).containsKey(CronJobController.SCHEDULED_TIMESTAMP);
    stepTo(minute(cj, 2).plusSeconds(1));
    String second = CronJobController.jobName("tick", minute(cj, 2));
    await("two active jobs", () -> activeNames(ns, "tick").equals(List.of(first, second)));
    assertThat(jobNames(ns)).containsExactly(first, second);
    awaitEvents(ns, "tick", "SuccessfulCreate");
    var out = server.kubectl().run("get", "cronjob", "tick", "-n", ns, "-o", "jsonpath={.status.active[*].name}").ok();
    assertThat(out.out().trim().split(" ")).containsExactlyInAnyOrder(first, second);
  }

  @Test
  void forbidSkipsWhileAJobRunsThenStartsTheMissedRun() throws Exception {
    String ns = "forbid";
    namespace(ns);
    CronJob cj = create(cronJob(ns, "once", "* * * * *").editSpec().withConcurrencyPolicy("Forbid").endSpec().build());
    stepTo(minute(cj, 1).plusSeconds(1));
    String first = CronJobController.jobName("once", minute(cj, 1));
    await("the first job", () -> activeNames(ns, "once").equals(List.of(first)));
    awaitControllerSeesActive(ns, "once", first);
    stepTo(minute(cj, 2).plusSeconds(1));
    await("JobAlreadyActive", () -> {
      try {
        return eventReasons(ns, "once").contains("JobAlreadyActive");
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    });
    assertThat(jobNames(ns)).containsExactly(first);
    finish(ns, first, "Complete", minute(cj, 1));
    String late = CronJobController.jobName("once", minute(cj, 2));
    await("the missed run to start once the first ended", () -> activeNames(ns, "once").equals(List.of(late)));
    CronJob now = getCj(ns, "once");
    assertThat(now.getStatus().getLastSuccessfulTime()).isEqualTo(minute(cj, 1).plusSeconds(5).toString());
    awaitEvents(ns, "once", "SawCompletedJob");
  }

  @Test
  void replaceDeletesTheActiveJob() throws Exception {
    String ns = "replace";
    namespace(ns);
    CronJob cj = create(cronJob(ns, "swap", "* * * * *").editSpec().withConcurrencyPolicy("Replace").endSpec().build());
    stepTo(minute(cj, 1).plusSeconds(1));
    String first = CronJobController.jobName("swap", minute(cj, 1));
    await("the first job", () -> activeNames(ns, "swap").equals(List.of(first)));
    awaitControllerSeesActive(ns, "swap", first);
    stepTo(minute(cj, 2).plusSeconds(1));
    String second = CronJobController.jobName("swap", minute(cj, 2));
    await("the second job replacing the first", () -> activeNames(ns, "swap").equals(List.of(second)));
    await("the first job gone", () -> jobNames(ns).equals(List.of(second)));
    awaitEvents(ns, "swap", "SuccessfulDelete", "SuccessfulCreate");
  }

  @Test
  void historyLimitsPruneTheOldestFinishedJobs() throws Exception {
    String ns = "history";
    namespace(ns);
    CronJob cj = create(cronJob(ns, "hist", "* * * * *").editSpec().withSuccessfulJobsHistoryLimit(2)
        .withFailedJobsHistoryLimit(1).endSpec().build());
    List<String> names = new ArrayList<>();
    for (int m = 1; m <= 6; m++) {
      stepTo(minute(cj, m).plusSeconds(1));
      String name = CronJobController.jobName("hist", minute(cj, m));
      names.add(name);
      await("job " + name, () -> activeNames(ns, "hist").contains(name));
      finish(ns, name, m <= 4 ? "Complete" : "Failed", minute(cj, m));
      await("job " + name + " seen finished", () -> !activeNames(ns, "hist").contains(name));
    }
    // Of four successes the newest two stay; of two failures the newest one.
    await("pruning", () -> jobNames(ns).equals(List.of(names.get(2), names.get(3), names.get(5)).stream().sorted().toList()));
    awaitEvents(ns, "hist", "SuccessfulDelete", "SawCompletedJob");
  }

  @Test
  void suspendStopsCreationAndResumeRunsTheMostRecentMissedTime() throws Exception {
    String ns = "suspended";
    namespace(ns);
    CronJob cj = create(cronJob(ns, "paused", "* * * * *").editSpec().withSuspend(true).endSpec().build());
    for (int m = 1; m <= 3; m++) {
      stepTo(minute(cj, m).plusSeconds(1));
      Thread.sleep(100);
    }
    assertThat(jobNames(ns)).isEmpty();
    client.batch().v1().cronjobs().inNamespace(ns).withName("paused")
        .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"spec\":{\"suspend\":false}}");
    String latest = CronJobController.jobName("paused", minute(cj, 3));
    await("one job for the most recent missed time", () -> jobNames(ns).equals(List.of(latest)));
  }

  @Test
  void moreThan100MissedSchedulesWarnAndStartTheLatest() throws Exception {
    String ns = "missed";
    namespace(ns);
    CronJob cj = create(cronJob(ns, "late", "* * * * *").build());
    stepTo(minute(cj, 150).plusSeconds(1));
    String latest = CronJobController.jobName("late", minute(cj, 150));
    await("the latest run", () -> jobNames(ns).equals(List.of(latest)));
    awaitEvents(ns, "late", "TooManyMissedTimes");
  }

  @Test
  void startingDeadlineSkipsAMissedRun() throws Exception {
    String ns = "deadline";
    namespace(ns);
    // With a 30 s starting deadline, a run noticed 90 s late is skipped.
    CronJob cj = create(cronJob(ns, "strict", "*/10 * * * *").editSpec().withStartingDeadlineSeconds(30L).endSpec()
        .build());
    Instant creation = Instant.parse(cj.getMetadata().getCreationTimestamp());
    Instant due = CronSchedule.parse("*/10 * * * *").next(creation.atZone(java.time.ZoneOffset.UTC)).toInstant();
    stepTo(due.plusSeconds(90));
    Thread.sleep(300);
    assertThat(jobNames(ns)).isEmpty();
    // The next run, noticed in time, starts.
    stepTo(due.plus(Duration.ofMinutes(10)).plusSeconds(5));
    await("the next run", () -> jobNames(ns).equals(List.of(CronJobController.jobName("strict", due.plus(Duration.ofMinutes(10))))));
  }

  @Test
  void aManualJobFromTheCronJobIsReportedNotAdopted() throws Exception {
    String ns = "manual";
    namespace(ns);
    create(cronJob(ns, "nightly", "0 3 * * *").editSpec().withConcurrencyPolicy("Forbid").endSpec().build());
    server.kubectl().run("create", "job", "adhoc", "--from=cronjob/nightly", "-n", ns).ok();
    await("UnexpectedJob", () -> {
      try {
        return eventReasons(ns, "nightly").contains("UnexpectedJob");
      } catch (Exception e) {
        throw new RuntimeException(e);
      }
    });
    assertThat(activeNames(ns, "nightly")).isEmpty();
    String out = server.kubectl().run("get", "cronjob", "nightly", "-n", ns, "--no-headers").ok().out();
    assertThat(out).contains("0 3 * * *");
  }
}
