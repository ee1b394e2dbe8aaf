package dev.skiff.serving.gateway;

import static dev.skiff.serving.gateway.ServingFixture.traffic;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.client.ContentResponse;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.http.HttpHeader;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Graceful drain: a pod of a revision is deleted (gracefully: it is on a node, so it only gets a
 * deletionTimestamp) while a long request runs on it and steady load runs through the gateway.
 * The drain request the pod's preStop hook makes (as the kubelet would) answers only after the
 * long request completed; no request fails; the terminating pod gets no request after the drain.
 */
class GatewayDrainTest {
  static ServingFixture fx;
  static HttpClient http;

  @BeforeAll
  static void start() throws Exception {
    fx = new ServingFixture();
    http = new HttpClient();
    http.setFollowRedirects(false);
    http.start();
  }

  @AfterAll
  static void stop() throws Exception {
    http.stop();
    fx.close();
  }

  static ContentResponse get(String host, String path) throws Exception {
    return http.newRequest("127.0.0.1", fx.port()).path(path).headers(h -> h.put(HttpHeader.HOST, host))
        .timeout(30, TimeUnit.SECONDS).send();
  }

  /** A Ready pod bound to a node (so that deleting it is graceful, as for a kubelet's pod). */
  static Pod podOnNode(String name, String revision, int port) {
    Pod p = new PodBuilder().withNewMetadata().withName(name).withNamespace("default")
        .addToLabels("serving.knative.dev/revision", revision).endMetadata()
        .withNewSpec().withNodeName("node-a").addNewContainer().withName("user-container").withImage("app")
        .addNewPort().withContainerPort(port).withName("user-port").endPort().endContainer().endSpec().build();
    return fx.setReady(fx.client.pods().inNamespace("default").resource(p).create(), true);
  }

  @Test
  void aTerminatingPodGetsNoNewRequestsAndItsInFlightRequestCompletesBeforeTheDrainAnswers() throws Exception {
    String host = "drain.default.localhost";
    try (TestApp a = new TestApp("a"); TestApp b = new TestApp("b")) {
      fx.revision("drain-00001", 0, 30, Map.of());
      podOnNode("drain-a", "drain-00001", a.port());
      podOnNode("drain-b", "drain-00001", b.port());
      fx.route("drain", "http://" + host, List.of(traffic("drain-00001", 100, null, null)));
      assertThat(ServingFixture.until(Duration.ofSeconds(10), () -> {
        try {
          ContentResponse r = get(host, "/");
        } catch (Exception e) {
          return false;
        }
        return a.requests.get() > 0 && b.requests.get() > 0;
      })).as("both pods served").isTrue();

      // The long request, alone, so its pod is the one with a request in flight.
      CompletableFuture<ContentResponse> longReq = CompletableFuture.supplyAsync(() -> {
        try {
          return get(host, "/?sleep=2000");
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      });
      assertThat(ServingFixture.until(Duration.ofSeconds(5), () -> a.inFlight.get() + b.inFlight.get() == 1)).isTrue();
      long longAtPod = System.nanoTime(); // the app sleeps 2 s from (a little before) here
      TestApp victim = a.inFlight.get() == 1 ? a : b;
      TestApp other = victim == a ? b : a;
      String victimPod = victim == a ? "drain-a" : "drain-b";

      // Steady load while the pod goes away.
      AtomicBoolean stop = new AtomicBoolean();
      AtomicInteger ok = new AtomicInteger();
      List<String> failures = java.util.Collections.synchronizedList(new ArrayList<>());
      List<Thread> load = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        load.add(Thread.ofVirtual().start(() -> {
          while (!stop.get()) {
            try {
              ContentResponse r = get(host, "/");
              if (r.getStatus() == 200) {
                ok.incrementAndGet();
              } else {
                failures.add(r.getStatus() + " " + r.getContentAsString());
              }
            } catch (Exception e) {
              failures.add(e.toString());
            }
          }
        }));
      }
      Thread.sleep(100);

      fx.client.pods().inNamespace("default").withName(victimPod).withGracePeriod(30).delete();
      assertThat(fx.client.pods().inNamespace("default").withName(victimPod).get().getMetadata().getDeletionTimestamp())
          .as("graceful deletion").isNotNull();
      // What the kubelet's preStop httpGet does (RevisionReconciler.drainHook).
      ContentResponse drained = http.newRequest("127.0.0.1", fx.port()).path(Gateway.DRAIN_PATH)
          .headers(h -> h.put(Gateway.DRAIN_HEADER, "default/drain-00001")).timeout(30, TimeUnit.SECONDS).send();
      long drainedAt = System.nanoTime();
      int victimRequestsAtDrain = victim.requests.get();

      assertThat(drained.getStatus()).isEqualTo(200);
      assertThat(drained.getContentAsString()).isEqualTo("drained\n");
      ContentResponse lr = longReq.get(10, TimeUnit.SECONDS);
      assertThat(lr.getStatus()).isEqualTo(200);
      assertThat(lr.getContentAsString()).isEqualTo(victim.name);
      // The app answers 2 s after the request reached it: the drain held on until then (the
      // gateway relays the response before the client sees it, so compare with the app's end).
      assertThat(drainedAt - longAtPod).as("drain answered while the long request ran at the pod")
          .isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(1900));

      int otherBefore = other.requests.get();
      Thread.sleep(300);
      stop.set(true);
      for (Thread t : load) {
        t.join();
      }
      assertThat(failures).as("requests failed during the drain").isEmpty();
      assertThat(victim.requests.get()).as("requests to the terminating pod after the drain").isEqualTo(victimRequestsAtDrain);
      assertThat(other.requests.get()).as("the load goes on to the remaining pod").isGreaterThan(otherBefore);
      fx.client.pods().inNamespace("default").withName(victimPod).withGracePeriod(0).delete();
    }
  }

  @Test
  void anIdleRevisionDrainsAfterTheBoundedInformerWaitAndAMalformedNameIs400() throws Exception {
    // No pod of this revision is terminating and nothing is in flight: answered after the short
    // wait for the informer (bounded), not held for the revision's timeout.
    ContentResponse r = http.newRequest("127.0.0.1", fx.port()).path(Gateway.DRAIN_PATH)
        .headers(h -> h.put(Gateway.DRAIN_HEADER, "default/nothing-00001")).timeout(30, TimeUnit.SECONDS).send();
    assertThat(r.getStatus()).isEqualTo(200);
    assertThat(r.getContentAsString()).isEqualTo("drained\n");
    r = http.newRequest("127.0.0.1", fx.port()).path(Gateway.DRAIN_PATH)
        .headers(h -> h.put(Gateway.DRAIN_HEADER, "no-slash")).timeout(30, TimeUnit.SECONDS).send();
    assertThat(r.getStatus()).isEqualTo(400);
  }
}
