package dev.skiff.serving.gateway;

import static dev.skiff.serving.gateway.ServingFixture.traffic;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Event;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
 * The gateway and the KPA together with a short stable window (6 s, grace 1 s): 50 concurrent
 * clients scale a revision up; when they stop it goes back down and to zero; the next request
 * brings it back. A stand-in kubelet turns the Deployment's replicas into Ready pods, each
 * served by its own local app.
 */
class AutoscalingEndToEndTest {
  static final String REV = "auto-00001";
  static ServingFixture fx;
  static HttpClient http;
  static StandInKubelet kubelet;

  @BeforeAll
  static void start() throws Exception {
    fx = new ServingFixture(Map.of("stable-window", "6s", "scale-to-zero-grace-period", "1s"));
    http = new HttpClient();
    http.setMaxConnectionsPerDestination(200);
    http.start();
    kubelet = new StandInKubelet(fx);
    kubelet.watch(REV);
  }

  @AfterAll
  static void stop() throws Exception {
    kubelet.close();
    http.stop();
    fx.close();
  }

  ContentResponse get(String path) throws Exception {
    return http.newRequest("127.0.0.1", fx.port()).path(path).headers(h -> h.put(HttpHeader.HOST, "auto.default.localhost"))
        .timeout(60, TimeUnit.SECONDS).send();
  }

  @Test
  void fiftyClientsScaleUpThenItScalesBackDownToZeroAndTheNextRequestIsAnswered() throws Exception {
    fx.revision(REV, 0, 300, Map.of("autoscaling.knative.dev/target", "10"));
    fx.deployment(REV, 1);
    fx.route("auto", "http://auto.default.localhost", List.of(traffic(REV, 100, null, null)));
    assertThat(ServingFixture.until(Duration.ofSeconds(20), () -> {
      try {
        return get("/").getStatus() == 200;
      } catch (Exception e) {
        return false;
      }
    })).isTrue();

    AtomicBoolean load = new AtomicBoolean(true);
    AtomicInteger ok = new AtomicInteger();
    AtomicInteger failed = new AtomicInteger();
    List<Thread> clients = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      clients.add(Thread.ofVirtual().start(() -> {
        while (load.get()) {
          try {
            if (get("/?sleep=100").getStatus() == 200) {
              ok.incrementAndGet();
            } else {
              failed.incrementAndGet();
            }
          } catch (Exception e) {
            failed.incrementAndGet();
          }
        }
      }));
    }
    AtomicInteger maxReplicas = new AtomicInteger();
    // 50 in flight / (10 × 0.7) per pod -> 8 pods.
    boolean scaledUp = ServingFixture.until(Duration.ofSeconds(30), () -> {
      maxReplicas.accumulateAndGet(fx.replicas(REV), Math::max);
      return maxReplicas.get() >= 5;
    });
    load.set(false);
    for (Thread t : clients) {
      t.join();
    }
    assertThat(scaledUp).as("scaled up to >= 5 under load; max seen %d", maxReplicas.get()).isTrue();
    assertThat(failed.get()).isZero();
    assertThat(ok.get()).isPositive();

    // No traffic: down (at most halving per tick) and to zero after 6 s + 1 s of idleness.
    assertThat(ServingFixture.until(Duration.ofSeconds(60), () -> fx.replicas(REV) == 0)).as("scaled to zero").isTrue();
    assertThat(ServingFixture.until(Duration.ofSeconds(10), () -> events().stream().anyMatch(e -> e.getReason().equals("ScaledToZero"))))
        .isTrue();
    List<Event> ev = events();
    assertThat(ev).anySatisfy(e -> {
      assertThat(e.getReason()).isEqualTo("ScaledUp");
      assertThat(e.getMessage()).contains("desired scale", "observed stable concurrency", "panic mode");
    });
    assertThat(ev).anySatisfy(e -> assertThat(e.getReason()).isEqualTo("ScaledDown"));

    // The next request is held, a pod comes up, and it is answered.
    assertThat(ServingFixture.until(Duration.ofSeconds(10), () -> fx.gateway.view().readyPods("default", REV) == 0)).isTrue();
    ContentResponse r = get("/");
    assertThat(r.getStatus()).isEqualTo(200);
    assertThat(r.getContentAsString()).startsWith(REV + "-pod-");
    assertThat(fx.replicas(REV)).isEqualTo(1);
  }

  static List<Event> events() {
    return fx.client.v1().events().inNamespace("default").list().getItems().stream()
        .filter(e -> REV.equals(e.getInvolvedObject().getName())).toList();
  }
}
