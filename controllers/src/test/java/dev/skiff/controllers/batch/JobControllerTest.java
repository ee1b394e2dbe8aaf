package dev.skiff.controllers.batch;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.TestServer;
import dev.skiff.runtime.Clients;
import dev.skiff.runtime.Clock;
import dev.skiff.runtime.Controller;
import dev.skiff.runtime.EventRecorder;
import dev.skiff.runtime.SharedInformers;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.api.model.batch.v1.JobBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.JobCondition;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.Watch;
import io.fabric8.kubernetes.client.Watcher;
import io.fabric8.kubernetes.client.WatcherException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Function;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The Job and TTL controllers against a real in-process API server, pods driven by {@link FakeKubelet}. */
class JobControllerTest {
  static TestServer server;
  static KubernetesClient client;
  static SharedInformers informers;
  static EventRecorder events;
  static List<Controller> controllers = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    server = TestServer.start();
    client = Clients.forKubeconfig(server.kubeconfig());
    informers = new SharedInformers(client);
    events = new EventRecorder(client, "job-controller");
    // A short pod-failure backoff so that retries happen within a test; the doubling is unit-tested.
    controllers.add(new JobController(informers, client, events, Clock.system(), Duration.ofMillis(50), 5).controller());
    controllers.add(new TtlAfterFinishedController(informers, client, Clock.system()).controller());
    controllers.forEach(Controller::start);
  }

  @AfterAll
  static void stop() throws Exception {
    for (Controller c : controllers) {
      c.stop(Duration.ofSeconds(2));
    }
    informers.close();
    events.close();
    client.close();
    server.close();
  }

  static void namespace(String ns) {
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
  }

  static JobBuilder job(String ns, String name) {
    return new JobBuilder().withNewMetadata().withNamespace(ns).withName(name).endMetadata()
        .withNewSpec().withNewTemplate().withNewSpec().withRestartPolicy("Never")
        .addNewContainer().withName("main").withImage("busybox").withCommand("true").endContainer()
        .endSpec().endTemplate().endSpec();
  }

  static void suspend(String ns, String name, boolean suspend) {
    // Skiff's PATCH answers 409 when a concurrent write lands between its read and write (the
    // upstream apiserver retries internally), so a client retries.
    for (int attempt = 0; ; attempt++) {
      try {
        client.batch().v1().jobs().inNamespace(ns).withName(name).patch(
            io.fabric8.kubernetes.client.dsl.base.PatchContext.of(io.fabric8.kubernetes.client.dsl.base.PatchType.JSON_MERGE),
            "{\"spec\":{\"suspend\":" + suspend + "}}");
        return;
      } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
        if (e.getCode() != 409 || attempt > 20) {
          throw e;
        }
      }
    }
  }

  static Job get(String ns, String name) {
    return client.batch().v1().jobs().inNamespace(ns).withName(name).get();
  }

  /**
   * Waits for events: the controller records one after the write it reports returns, so a test
   * that saw the write's effect may look before the event was even submitted.
   */
  static void awaitEvents(String ns, String job, String... reasons) throws Exception {
    await("events " + List.of(reasons) + " of " + job, Duration.ofSeconds(10), () -> {
      try {
        events.flush();
      } catch (Exception e) {
        throw new IllegalStateException(e);
      }
      return eventReasons(ns, job).containsAll(List.of(reasons));
    });
  }

  static void await(String what, Duration timeout, BooleanSupplier cond) throws InterruptedException {
    // Timeouts only bound a hang: the 2 shared cores can be very busy, so allow 4x.
    long deadline = System.nanoTime() + timeout.toNanos() * 4;
    while (!cond.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(20);
    }
  }

  static JobCondition cond(Job job, String type) {
    return JobController.condition(job.getStatus(), type);
  }

  static boolean hasCondition(String ns, String name, String type) {
    Job j = get(ns, name);
    return j != null && JobController.conditionTrue(j.getStatus(), type);
  }

  static List<Pod> pods(String ns, String job) {
    return client.pods().inNamespace(ns).withLabel(JobController.JOB_NAME_LABEL, job).list().getItems();
  }

  static List<String> eventReasons(String ns, String name) {
    return client.v1().events().inNamespace(ns).list().getItems().stream()
        .filter(e -> name.equals(e.getInvolvedObject().getName())).map(Event::getReason).toList();
  }

  /** Watches a Job's pods and records the largest number that were active at once and every success. */
  static final class PodWatch implements AutoCloseable {
    final Map<String, Pod> pods = new ConcurrentHashMap<>();
    final AtomicInteger maxActive = new AtomicInteger();
    final Set<String> succeeded = ConcurrentHashMap.newKeySet();
    final Watch watch;

    PodWatch(String ns, String job) {
      watch = client.pods().inNamespace(ns).withLabel(JobController.JOB_NAME_LABEL, job).watch(new Watcher<>() {
        @Override
        public synchronized void eventReceived(Action action, Pod pod) {
          if (action == Action.DELETED) {
            pods.remove(pod.getMetadata().getUid());
          } else {
            pods.put(pod.getMetadata().getUid(), pod);
          }
          if ("Succeeded".equals(JobController.phase(pod))) {
            succeeded.add(pod.getMetadata().getUid());
          }
          int active = (int) pods.values().stream()
              .filter(p -> !JobController.terminal(p) && p.getMetadata().getDeletionTimestamp() == null).count();
          maxActive.accumulateAndGet(active, Math::max);
        }

        @Override
        public void onClose(WatcherException cause) {
        }
      });
    }

    @Override
    public void close() {
      watch.close();
    }
  }

  @Test
  void seedJobWithCompletions100AndParallelism40Finishes() throws Exception {
    String ns = "seed";
    namespace(ns);
    try (FakeKubelet kubelet = new FakeKubelet(client, ns, p -> FakeKubelet.Outcome.exitAfter(0, Duration.ofMillis(30)));
         PodWatch watch = new PodWatch(ns, "pi")) {
      client.batch().v1().jobs().resource(job(ns, "pi").editSpec().withCompletions(100).withParallelism(40).endSpec()
          .build()).create();
      await("the job to complete", Duration.ofSeconds(60), () -> hasCondition(ns, "pi", "Complete"));
      Job j = get(ns, "pi");
      assertThat(j.getStatus().getSucceeded()).isEqualTo(100);
      assertThat(j.getStatus().getFailed()).isIn(null, 0);
      assertThat(j.getStatus().getActive()).isZero();
      assertThat(j.getStatus().getStartTime()).isNotNull();
      assertThat(j.getStatus().getCompletionTime()).isNotNull();
      assertThat(j.getStatus().getUncountedTerminatedPods().getSucceeded()).isEmpty();
      assertThat(cond(j, "SuccessCriteriaMet").getStatus()).isEqualTo("True");
      assertThat(cond(j, "Complete").getReason()).isEqualTo("CompletionsReached");
      // Parallelism held at every moment, and exactly as many successes as completions.
      assertThat(watch.maxActive.get()).isBetween(2, 40);
      await("the last pods seen by the watch", Duration.ofSeconds(5), () -> watch.succeeded.size() >= 100);
      assertThat(watch.succeeded).hasSize(100);
      // No pod keeps the tracking finalizer, and none is active any more.
      assertThat(pods(ns, "pi")).allSatisfy(p -> {
        assertThat(p.getMetadata().getFinalizers()).doesNotContain(JobController.TRACKING_FINALIZER);
        assertThat(JobController.terminal(p)).isTrue();
      });
      awaitEvents(ns, "pi", "SuccessfulCreate", "Completed");
      var out = server.kubectl().run("get", "job", "pi", "-n", ns, "-o", "jsonpath={.status.succeeded}").ok();
      assertThat(out.out().trim()).isEqualTo("100");
    }
  }

  @Test
  void backoffLimitFailsTheJob() throws Exception {
    String ns = "backoff";
    namespace(ns);
    try (FakeKubelet kubelet = new FakeKubelet(client, ns, p -> FakeKubelet.Outcome.exit(1))) {
      client.batch().v1().jobs().resource(job(ns, "fails").editSpec().withBackoffLimit(2).endSpec().build()).create();
      await("the job to fail", Duration.ofSeconds(30), () -> hasCondition(ns, "fails", "Failed"));
      Job j = get(ns, "fails");
      assertThat(cond(j, "Failed").getReason()).isEqualTo("BackoffLimitExceeded");
      assertThat(cond(j, "FailureTarget").getReason()).isEqualTo("BackoffLimitExceeded");
      assertThat(j.getStatus().getFailed()).isEqualTo(3);
      assertThat(j.getStatus().getSucceeded()).isIn(null, 0);
      assertThat(j.getStatus().getCompletionTime()).isNull();
      assertThat(pods(ns, "fails")).hasSize(3);
      awaitEvents(ns, "fails", "BackoffLimitExceeded");
    }
  }

  @Test
  void podFailureBackoffDoublesFrom10sUpToTheCap() {
    Duration base = JobController.DEFAULT_BACKOFF;
    assertThat(JobController.backoffDelay(base, 0)).isZero();
    assertThat(JobController.backoffDelay(base, 1)).isEqualTo(Duration.ofSeconds(10));
    assertThat(JobController.backoffDelay(base, 2)).isEqualTo(Duration.ofSeconds(20));
    assertThat(JobController.backoffDelay(base, 3)).isEqualTo(Duration.ofSeconds(40));
    assertThat(JobController.backoffDelay(base, 7)).isEqualTo(Duration.ofSeconds(600));
    assertThat(JobController.backoffDelay(base, 60)).isEqualTo(Duration.ofMinutes(10));
  }

  @Test
  void activeDeadlineSecondsDeletesPodsAndFails() throws Exception {
    String ns = "deadline";
    namespace(ns);
    try (FakeKubelet kubelet = new FakeKubelet(client, ns, p -> FakeKubelet.Outcome.runForever())) {
      client.batch().v1().jobs().resource(job(ns, "slow").editSpec().withParallelism(3).withCompletions(5)
          .withActiveDeadlineSeconds(2L).endSpec().build()).create();
      await("three running pods", Duration.ofSeconds(10), () -> pods(ns, "slow").stream()
          .filter(p -> "Running".equals(JobController.phase(p))).count() == 3);
      await("the job to fail", Duration.ofSeconds(20), () -> hasCondition(ns, "slow", "Failed"));
      Job j = get(ns, "slow");
      assertThat(cond(j, "Failed").getReason()).isEqualTo("DeadlineExceeded");
      assertThat(j.getStatus().getActive()).isZero();
      // The running pods were deleted, and no new ones were made.
      await("the pods to go", Duration.ofSeconds(10), () -> pods(ns, "slow").isEmpty());
      Thread.sleep(300);
      assertThat(pods(ns, "slow")).isEmpty();
      awaitEvents(ns, "slow", "DeadlineExceeded", "SuccessfulDelete");
    }
  }

  @Test
  void indexedModeGivesEachIndexExactlyOneSuccess() throws Exception {
    String ns = "indexed";
    namespace(ns);
    Set<String> failedOnce = ConcurrentHashMap.newKeySet();
    Function<Pod, FakeKubelet.Outcome> policy = p -> {
      String ix = p.getMetadata().getAnnotations().get(JobController.COMPLETION_INDEX);
      // Index 2 fails on its first attempt: it must be retried, and succeed once.
      if (ix.equals("2") && failedOnce.add(ix)) {
        return FakeKubelet.Outcome.exit(1);
      }
      return FakeKubelet.Outcome.exitAfter(0, Duration.ofMillis(20));
    };
    try (FakeKubelet kubelet = new FakeKubelet(client, ns, policy); PodWatch watch = new PodWatch(ns, "idx")) {
      client.batch().v1().jobs().resource(job(ns, "idx").editSpec().withCompletions(5).withParallelism(2)
          .withCompletionMode("Indexed").endSpec().build()).create();
      await("the job to complete", Duration.ofSeconds(30), () -> hasCondition(ns, "idx", "Complete"));
      Job j = get(ns, "idx");
      assertThat(j.getStatus().getCompletedIndexes()).isEqualTo("0-4");
      assertThat(j.getStatus().getSucceeded()).isEqualTo(5);
      assertThat(j.getStatus().getFailed()).isEqualTo(1);
      assertThat(watch.maxActive.get()).isLessThanOrEqualTo(2);
      List<Pod> all = pods(ns, "idx");
      Map<String, Long> successesPerIndex = new java.util.TreeMap<>();
      for (Pod p : all) {
        String ix = p.getMetadata().getAnnotations().get(JobController.COMPLETION_INDEX);
        assertThat(p.getMetadata().getName()).matches("idx-" + ix + "-[a-z0-9]{5}");
        assertThat(p.getMetadata().getLabels()).containsEntry(JobController.COMPLETION_INDEX, ix);
        assertThat(p.getSpec().getHostname()).isEqualTo("idx-" + ix);
        assertThat(p.getSpec().getContainers().get(0).getEnv()).anySatisfy(e -> {
          assertThat(e.getName()).isEqualTo("JOB_COMPLETION_INDEX");
          assertThat(e.getValueFrom().getFieldRef().getFieldPath())
              .isEqualTo("metadata.annotations['batch.kubernetes.io/job-completion-index']");
        });
        if ("Succeeded".equals(JobController.phase(p))) {
          successesPerIndex.merge(ix, 1L, Long::sum);
        }
      }
      assertThat(successesPerIndex).isEqualTo(Map.of("0", 1L, "1", 1L, "2", 1L, "3", 1L, "4", 1L));
    }
  }

  @Test
  void podFailurePolicyFailJobOnExitCode42() throws Exception {
    String ns = "pfp";
    namespace(ns);
    try (FakeKubelet kubelet = new FakeKubelet(client, ns, p -> FakeKubelet.Outcome.exit(42))) {
      client.batch().v1().jobs().resource(job(ns, "fatal").editSpec().withBackoffLimit(6)
          .withNewPodFailurePolicy().addNewRule().withAction("FailJob").withNewOnExitCodes().withOperator("In")
          .withValues(42).endOnExitCodes().endRule().endPodFailurePolicy().endSpec().build()).create();
      await("the job to fail", Duration.ofSeconds(20), () -> hasCondition(ns, "fatal", "Failed"));
      Job j = get(ns, "fatal");
      assertThat(cond(j, "Failed").getReason()).isEqualTo("PodFailurePolicy");
      assertThat(cond(j, "Failed").getMessage()).contains("exit code 42").contains("FailJob rule at index 0");
      assertThat(j.getStatus().getFailed()).isEqualTo(1);
      assertThat(pods(ns, "fatal")).hasSize(1); // no retry despite backoffLimit 6
    }
  }

  @Test
  void podFailurePolicyIgnoreDoesNotCountTheFailure() throws Exception {
    String ns = "pfp-ignore";
    namespace(ns);
    AtomicInteger attempt = new AtomicInteger();
    try (FakeKubelet kubelet = new FakeKubelet(client, ns,
        p -> attempt.getAndIncrement() == 0 ? FakeKubelet.Outcome.exit(3) : FakeKubelet.Outcome.exit(0))) {
      client.batch().v1().jobs().resource(job(ns, "flaky").editSpec().withBackoffLimit(0)
          .withNewPodFailurePolicy().addNewRule().withAction("Ignore").withNewOnExitCodes().withOperator("In")
          .withValues(3).endOnExitCodes().endRule().endPodFailurePolicy().endSpec().build()).create();
      await("the job to complete", Duration.ofSeconds(20), () -> hasCondition(ns, "flaky", "Complete"));
      Job j = get(ns, "flaky");
      assertThat(j.getStatus().getFailed()).isIn(null, 0);
      assertThat(j.getStatus().getSucceeded()).isEqualTo(1);
    }
  }

  @Test
  void suspendCreatesNothingAndResumeRuns() throws Exception {
    String ns = "suspend";
    namespace(ns);
    try (FakeKubelet kubelet = new FakeKubelet(client, ns, p -> FakeKubelet.Outcome.runForever())) {
      client.batch().v1().jobs().resource(job(ns, "later").editSpec().withSuspend(true).withParallelism(2)
          .withCompletions(2).endSpec().build()).create();
      await("the Suspended condition", Duration.ofSeconds(10), () -> hasCondition(ns, "later", "Suspended"));
      Thread.sleep(300);
      assertThat(pods(ns, "later")).isEmpty();
      assertThat(get(ns, "later").getStatus().getStartTime()).isNull();
      suspend(ns, "later", false);
      await("two running pods", Duration.ofSeconds(10), () -> pods(ns, "later").stream()
          .filter(p -> "Running".equals(JobController.phase(p))).count() == 2);
      await("Suspended=False", Duration.ofSeconds(10), () -> "False".equals(cond(get(ns, "later"), "Suspended").getStatus()));
      Job resumed = get(ns, "later");
      assertThat(cond(resumed, "Suspended").getReason()).isEqualTo("JobResumed");
      assertThat(resumed.getStatus().getStartTime()).isNotNull();
      // Suspending a running Job deletes its active pods, without counting them as failures.
      suspend(ns, "later", true);
      await("the pods to go", Duration.ofSeconds(10), () -> pods(ns, "later").isEmpty());
      await("active 0", Duration.ofSeconds(10), () -> {
        Job s = get(ns, "later");
        return JobController.conditionTrue(s.getStatus(), "Suspended") && s.getStatus().getActive() == 0;
      });
      assertThat(get(ns, "later").getStatus().getFailed()).isIn(null, 0);
      assertThat(JobController.finished(get(ns, "later"))).isFalse();
    }
  }

  @Test
  void ttlSecondsAfterFinishedDeletesTheJob() throws Exception {
    String ns = "ttl";
    namespace(ns);
    try (FakeKubelet kubelet = new FakeKubelet(client, ns, p -> FakeKubelet.Outcome.exit(0))) {
      client.batch().v1().jobs().resource(job(ns, "short").editSpec().withTtlSecondsAfterFinished(1).endSpec()
          .build()).create();
      await("the job to be deleted", Duration.ofSeconds(20), () -> get(ns, "short") == null);
      awaitEvents(ns, "short", "Completed");
    }
  }

  @Test
  void workQueueJobCompletesWhenOnePodSucceededAndAllEnded() throws Exception {
    String ns = "queue";
    namespace(ns);
    try (FakeKubelet kubelet = new FakeKubelet(client, ns, p -> FakeKubelet.Outcome.exitAfter(0, Duration.ofMillis(50)))) {
      client.batch().v1().jobs().resource(job(ns, "workers").editSpec().withParallelism(3).endSpec().build()).create();
      await("the job to complete", Duration.ofSeconds(20), () -> hasCondition(ns, "workers", "Complete"));
      Job j = get(ns, "workers");
      assertThat(j.getSpec().getCompletions()).isNull();
      assertThat(j.getStatus().getSucceeded()).isBetween(1, 3);
      assertThat(j.getStatus().getActive()).isZero();
      assertThat(pods(ns, "workers")).allSatisfy(p -> assertThat(JobController.terminal(p)).isTrue());
    }
  }

  @Test
  void podsThatEndAreNeverCountedAsRunning() throws Exception {
    // The seed's bug: pods whose containers exited must not stay active in the Job's status.
    String ns = "ended";
    namespace(ns);
    try (FakeKubelet kubelet = new FakeKubelet(client, ns, p -> FakeKubelet.Outcome.exit(0))) {
      client.batch().v1().jobs().resource(job(ns, "two").editSpec().withCompletions(4).withParallelism(2).endSpec()
          .build()).create();
      await("the job to complete", Duration.ofSeconds(20), () -> hasCondition(ns, "two", "Complete"));
      Job j = get(ns, "two");
      assertThat(j.getStatus().getActive()).isZero();
      assertThat(j.getStatus().getReady()).isZero();
      assertThat(j.getStatus().getTerminating()).isZero();
      var out = server.kubectl().run("get", "pods", "-n", ns, "--no-headers").ok().out();
      assertThat(out).doesNotContain("Running").contains("Completed");
    }
  }

  @Test
  void failIndexActionFailsOnlyThatIndex() throws Exception {
    String ns = "failindex";
    namespace(ns);
    Function<Pod, FakeKubelet.Outcome> policy = p ->
        "1".equals(p.getMetadata().getAnnotations().get(JobController.COMPLETION_INDEX))
            ? FakeKubelet.Outcome.exit(7) : FakeKubelet.Outcome.exit(0);
    try (FakeKubelet kubelet = new FakeKubelet(client, ns, policy)) {
      client.batch().v1().jobs().resource(job(ns, "fi").editSpec().withCompletions(3).withParallelism(3)
          .withCompletionMode("Indexed").withBackoffLimitPerIndex(3)
          .withNewPodFailurePolicy().addNewRule().withAction("FailIndex").withNewOnExitCodes().withOperator("In")
          .withValues(7).endOnExitCodes().endRule().endPodFailurePolicy().endSpec().build()).create();
      await("the job to fail", Duration.ofSeconds(20), () -> hasCondition(ns, "fi", "Failed"));
      Job j = get(ns, "fi");
      assertThat(cond(j, "Failed").getReason()).isEqualTo("FailedIndexes");
      assertThat(j.getStatus().getFailedIndexes()).isEqualTo("1");
      assertThat(j.getStatus().getCompletedIndexes()).isEqualTo("0,2");
      assertThat(pods(ns, "fi")).hasSize(3); // index 1 was not retried
    }
  }

  @Test
  void backoffLimitPerIndexRetriesAnIndexThenFailsIt() throws Exception {
    String ns = "perindex";
    namespace(ns);
    Function<Pod, FakeKubelet.Outcome> policy = p ->
        "0".equals(p.getMetadata().getAnnotations().get(JobController.COMPLETION_INDEX))
            ? FakeKubelet.Outcome.exit(1) : FakeKubelet.Outcome.exit(0);
    try (FakeKubelet kubelet = new FakeKubelet(client, ns, policy)) {
      client.batch().v1().jobs().resource(job(ns, "pi").editSpec().withCompletions(2).withParallelism(2)
          .withCompletionMode("Indexed").withBackoffLimitPerIndex(1).endSpec().build()).create();
      await("the job to fail", Duration.ofSeconds(20), () -> hasCondition(ns, "pi", "Failed"));
      Job j = get(ns, "pi");
      assertThat(cond(j, "Failed").getReason()).isEqualTo("FailedIndexes");
      assertThat(j.getStatus().getFailedIndexes()).isEqualTo("0");
      assertThat(j.getStatus().getCompletedIndexes()).isEqualTo("1");
      assertThat(j.getStatus().getFailed()).isEqualTo(2);
      List<String> counts = pods(ns, "pi").stream()
          .filter(p -> "0".equals(p.getMetadata().getAnnotations().get(JobController.COMPLETION_INDEX)))
          .map(p -> p.getMetadata().getAnnotations().get(JobController.INDEX_FAILURE_COUNT)).sorted().toList();
      assertThat(counts).containsExactly("0", "1");
    }
  }

  @Test
  void containerRestartsCountTowardBackoffLimitWithRestartPolicyOnFailure() throws Exception {
    String ns = "onfailure";
    namespace(ns);
    try (FakeKubelet kubelet = new FakeKubelet(client, ns, p -> FakeKubelet.Outcome.runForever())) {
      Job spec = job(ns, "crashy").editSpec().withBackoffLimit(2).editTemplate().editSpec().withRestartPolicy("OnFailure")
          .endSpec().endTemplate().endSpec().build();
      client.batch().v1().jobs().resource(spec).create();
      await("a running pod", Duration.ofSeconds(10), () -> pods(ns, "crashy").stream()
          .anyMatch(p -> "Running".equals(JobController.phase(p))));
      Pod pod = pods(ns, "crashy").get(0);
      pod.getStatus().getContainerStatuses().get(0).setRestartCount(2);
      client.pods().inNamespace(ns).resource(pod).updateStatus();
      await("the job to fail", Duration.ofSeconds(20), () -> hasCondition(ns, "crashy", "Failed"));
      assertThat(cond(get(ns, "crashy"), "Failed").getReason()).isEqualTo("BackoffLimitExceeded");
      await("its pod to go", Duration.ofSeconds(10), () -> pods(ns, "crashy").isEmpty());
    }
  }

  @Test
  void kubectlApplyWaitAndDescribe() throws Exception {
    String ns = "kubectl";
    namespace(ns);
    try (FakeKubelet kubelet = new FakeKubelet(client, ns, p -> FakeKubelet.Outcome.exitAfter(0, Duration.ofMillis(20)))) {
      String yaml = """
          apiVersion: batch/v1
          kind: Job
          metadata:
            name: pi
            namespace: kubectl
          spec:
            completions: 6
            parallelism: 3
            backoffLimit: 4
            template:
              spec:
                restartPolicy: Never
                containers:
                - name: pi
                  image: perl:5.34.0
                  command: ["perl", "-Mbignum=bpi", "-wle", "print bpi(200)"]
          """;
      var kubectl = server.kubectl();
      kubectl.runWithInput(yaml, "apply", "-f", "-").ok();
      kubectl.run("wait", "-n", ns, "--for=condition=complete", "job/pi", "--timeout=120s").ok();
      String describe = kubectl.run("describe", "job", "pi", "-n", ns).ok().out();
      assertThat(describe).contains("0 Active").contains("6 Succeeded").contains("0 Failed");
      assertThat(describe).contains("SuccessfulCreate").contains("Completed");
      String table = kubectl.run("get", "job", "pi", "-n", ns, "--no-headers").ok().out();
      assertThat(table).contains("6/6");
    }
  }

  @Test
  void successPolicyCompletesTheJobWhenItsIndexesSucceed() throws Exception {
    String ns = "successpolicy";
    namespace(ns);
    // Index 0 (the "leader") succeeds; the workers run until the Job is done with them.
    Function<Pod, FakeKubelet.Outcome> policy = p ->
        "0".equals(p.getMetadata().getAnnotations().get(JobController.COMPLETION_INDEX))
            ? FakeKubelet.Outcome.exitAfter(0, Duration.ofMillis(200)) : FakeKubelet.Outcome.runForever();
    try (FakeKubelet kubelet = new FakeKubelet(client, ns, policy)) {
      client.batch().v1().jobs().resource(job(ns, "leader").editSpec().withCompletions(4).withParallelism(4)
          .withCompletionMode("Indexed").withNewSuccessPolicy().addNewRule().withSucceededIndexes("0").endRule()
          .endSuccessPolicy().endSpec().build()).create();
      await("the job to complete", Duration.ofSeconds(20), () -> hasCondition(ns, "leader", "Complete"));
      Job j = get(ns, "leader");
      assertThat(cond(j, "Complete").getReason()).isEqualTo("SuccessPolicy");
      assertThat(cond(j, "SuccessCriteriaMet").getMessage()).isEqualTo("Matched rules at index 0");
      assertThat(j.getStatus().getCompletedIndexes()).isEqualTo("0");
      assertThat(j.getStatus().getActive()).isZero();
      await("the workers to be deleted", Duration.ofSeconds(10), () -> pods(ns, "leader").stream()
          .noneMatch(p -> "Running".equals(JobController.phase(p))));
    }
  }

  @Test
  void loweringParallelismDeletesTheExtraPods() throws Exception {
    String ns = "scale";
    namespace(ns);
    try (FakeKubelet kubelet = new FakeKubelet(client, ns, p -> FakeKubelet.Outcome.runForever())) {
      client.batch().v1().jobs().resource(job(ns, "wide").editSpec().withCompletions(10).withParallelism(4).endSpec()
          .build()).create();
      await("four running pods", Duration.ofSeconds(10), () -> pods(ns, "wide").stream()
          .filter(p -> "Running".equals(JobController.phase(p))).count() == 4);
      for (int attempt = 0; ; attempt++) {
        try {
          client.batch().v1().jobs().inNamespace(ns).withName("wide").patch(
              io.fabric8.kubernetes.client.dsl.base.PatchContext.of(io.fabric8.kubernetes.client.dsl.base.PatchType.JSON_MERGE),
              "{\"spec\":{\"parallelism\":2}}");
          break;
        } catch (io.fabric8.kubernetes.client.KubernetesClientException e) {
          if (e.getCode() != 409 || attempt > 20) {
            throw e;
          }
        }
      }
      await("two pods left", Duration.ofSeconds(10), () -> pods(ns, "wide").size() == 2);
      await("status.active 2", Duration.ofSeconds(10), () -> get(ns, "wide").getStatus().getActive() == 2);
      Thread.sleep(300);
      assertThat(pods(ns, "wide")).hasSize(2); // and no replacements
    }
  }
}
