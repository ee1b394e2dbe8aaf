package dev.skiff.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.TestServer;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.OwnerReferenceBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Controllers against a real in-process API server. */
class ControllerTest extends ClusterTest {
  static final String COPY = "skiff.dev/copy";



  static void namespace(String ns) {
    client.namespaces().resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build()).create();
  }

  static String render(Map<String, String> data) {
    return data == null ? "" : new TreeMap<>(data).toString();
  }

  @Test
  void fourWorkersConvergeUnder200ConcurrentChangesNeverSharingAKey() throws Exception {
    String ns = "conv";
    namespace(ns);
    int objects = 20;
    for (int i = 0; i < objects; i++) {
      client.configMaps().inNamespace(ns).resource(new ConfigMapBuilder().withNewMetadata().withName("cm-" + i)
          .endMetadata().withData(Map.of("v", "0")).build()).create();
    }
    Set<String> inFlight = ConcurrentHashMap.newKeySet();
    AtomicBoolean overlap = new AtomicBoolean();
    AtomicInteger reconciles = new AtomicInteger();
    try (SharedInformers informers = new SharedInformers(client)) {
      Lister<ConfigMap> lister = informers.informerFor(ConfigMap.class).lister();
      Controller controller = Controller.builder("copier", informers)
          .watches(ConfigMap.class)
          .workers(4)
          .reconciler(key -> {
            if (!inFlight.add(key)) {
              overlap.set(true);
            }
            try {
              reconciles.incrementAndGet();
              ConfigMap cm = lister.getByKey(key);
              if (cm == null || !ns.equals(cm.getMetadata().getNamespace())) {
                return Result.done();
              }
              String want = render(cm.getData());
              var ann = cm.getMetadata().getAnnotations();
              if (ann != null && want.equals(ann.get(COPY))) {
                return Result.done();
              }
              Thread.sleep(1); // widen the window in which a second worker could pick the key
              ConfigMap copy = new ConfigMapBuilder(cm).editMetadata().addToAnnotations(COPY, want).endMetadata().build();
              // Optimistic concurrency: the cached resourceVersion makes a stale write a 409 -> retry.
              client.configMaps().inNamespace(ns).resource(copy).update();
              return Result.done();
            } finally {
              inFlight.remove(key);
            }
          })
          .build();
      controller.start();
      assertThat(Poll.until(Duration.ofSeconds(10), controller::started)).isTrue();

      List<Thread> writers = new ArrayList<>();
      for (int c = 0; c < 200; c++) {
        int n = c;
        writers.add(Thread.ofVirtual().start(() -> client.configMaps().inNamespace(ns).withName("cm-" + (n % objects))
            .patch(PatchContext.of(PatchType.JSON_MERGE), "{\"data\":{\"v\":\"" + n + "\",\"w" + (n % 3) + "\":\"x\"}}")));
      }
      for (Thread t : writers) {
        t.join();
      }
      boolean converged = Poll.until(Duration.ofSeconds(30), () -> client.configMaps().inNamespace(ns).list().getItems()
          .stream().allMatch(cm -> cm.getMetadata().getAnnotations() != null
              && render(cm.getData()).equals(cm.getMetadata().getAnnotations().get(COPY))));
      assertThat(converged).isTrue();
      assertThat(overlap).as("a key was reconciled by two workers at once").isFalse();
      assertThat(reconciles.get()).isGreaterThanOrEqualTo(objects);
      controller.stop(Duration.ofSeconds(5));
    }
  }

  @Test
  void failuresRetryWithBackoffAndSuccessForgets() throws Exception {
    String ns = "retry";
    namespace(ns);
    AtomicInteger calls = new AtomicInteger();
    List<Integer> requeuesSeen = new CopyOnWriteArrayList<>();
    try (SharedInformers informers = new SharedInformers(client)) {
      Controller[] holder = new Controller[1];
      Controller controller = Controller.builder("flaky", informers)
          .watches(ConfigMap.class, cm -> ns.equals(cm.getMetadata().getNamespace()) ? List.of(Keys.of(cm)) : List.of())
          .rateLimiter(RateLimiter.exponential(Duration.ofMillis(1), Duration.ofSeconds(1)))
          .reconciler(key -> {
            requeuesSeen.add(holder[0].queue().numRequeues(key));
            if (calls.incrementAndGet() <= 3) {
              throw new IllegalStateException("boom " + calls.get());
            }
            return Result.done();
          })
          .build();
      holder[0] = controller;
      controller.start();
      client.configMaps().inNamespace(ns).resource(new ConfigMapBuilder().withNewMetadata().withName("x").endMetadata().build()).create();
      assertThat(Poll.until(Duration.ofSeconds(10), () -> calls.get() == 4)).isTrue();
      Thread.sleep(50);
      assertThat(calls).hasValue(4);
      assertThat(requeuesSeen).containsExactly(0, 1, 2, 3);
      assertThat(controller.queue().numRequeues(ns + "/x")).as("success forgets").isZero();
      controller.stop(Duration.ofSeconds(5));
    }
  }

  @Test
  void requeueAfterLooksAgain() throws Exception {
    String ns = "after";
    namespace(ns);
    AtomicInteger calls = new AtomicInteger();
    try (SharedInformers informers = new SharedInformers(client)) {
      Controller controller = Controller.builder("periodic", informers)
          .watches(ConfigMap.class, cm -> ns.equals(cm.getMetadata().getNamespace()) ? List.of(Keys.of(cm)) : List.of())
          .reconciler(key -> calls.incrementAndGet() < 3 ? Result.requeueAfter(Duration.ofMillis(20)) : Result.done())
          .build();
      controller.start();
      client.configMaps().inNamespace(ns).resource(new ConfigMapBuilder().withNewMetadata().withName("p").endMetadata().build()).create();
      assertThat(Poll.until(Duration.ofSeconds(10), () -> calls.get() == 3)).isTrue();
      controller.stop(Duration.ofSeconds(5));
    }
  }

  @Test
  void ownedObjectsEnqueueTheirControllingOwner() throws Exception {
    String ns = "owned";
    namespace(ns);
    ConfigMap parent = client.configMaps().inNamespace(ns).resource(new ConfigMapBuilder().withNewMetadata()
        .withName("parent").endMetadata().build()).create();
    List<String> keys = new CopyOnWriteArrayList<>();
    try (SharedInformers informers = new SharedInformers(client)) {
      Controller controller = Controller.builder("owner", informers)
          .watches(ConfigMap.class, cm -> List.of()) // primary events ignored here: only children count
          .owns(Secret.class, ConfigMap.class)
          .reconciler(key -> {
            keys.add(key);
            return Result.done();
          })
          .build();
      controller.start();
      assertThat(Poll.until(Duration.ofSeconds(10), controller::started)).isTrue();
      client.secrets().inNamespace(ns).resource(new SecretBuilder().withNewMetadata().withName("child")
          .withOwnerReferences(new OwnerReferenceBuilder().withApiVersion("v1").withKind("ConfigMap")
              .withName("parent").withUid(parent.getMetadata().getUid()).withController(true).build())
          .endMetadata().build()).create();
      client.secrets().inNamespace(ns).resource(new SecretBuilder().withNewMetadata().withName("not-controlled")
          .withOwnerReferences(new OwnerReferenceBuilder().withApiVersion("v1").withKind("ConfigMap")
              .withName("other").withUid("u").withController(false).build())
          .endMetadata().build()).create();
      client.secrets().inNamespace(ns).resource(new SecretBuilder().withNewMetadata().withName("wrong-kind")
          .withOwnerReferences(new OwnerReferenceBuilder().withApiVersion("apps/v1").withKind("Deployment")
              .withName("d").withUid("u2").withController(true).build())
          .endMetadata().build()).create();
      assertThat(Poll.until(Duration.ofSeconds(10), () -> !keys.isEmpty())).isTrue();
      Thread.sleep(200);
      assertThat(keys).containsExactly(ns + "/parent");
      controller.stop(Duration.ofSeconds(5));
    }
  }
}
