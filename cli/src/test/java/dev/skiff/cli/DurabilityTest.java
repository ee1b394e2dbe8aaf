package dev.skiff.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.skiff.apiserver.pki.Kubeconfig;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** SIGKILL the server (separate JVM) under write load; everything acknowledged must survive, watches must resume. */
@Timeout(value = 3, unit = TimeUnit.MINUTES)
class DurabilityTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String CONFIGMAPS = "/api/v1/namespaces/default/configmaps";

  record Event(String type, String name, long rv) {}

  @Test
  void acknowledgedWritesSurviveSigkillAndWatchResumes() throws Exception {
    try (SkiffProcess server = SkiffProcess.start()) {
      HttpClient http = client(server);
      String base = "https://127.0.0.1:" + server.port();

      // Watcher from the current list resourceVersion.
      JsonNode initial = JSON.readTree(send(http, get(base + CONFIGMAPS)).body());
      long listRv = Long.parseLong(initial.path("metadata").path("resourceVersion").asText());
      BlockingQueue<Event> watched = new LinkedBlockingQueue<>();
      Thread watcher = watch(http, base + CONFIGMAPS + "?watch=true&resourceVersion=" + listRv, watched);
      Thread.sleep(300); // let the watch get established before the writes start

      // Writers: record every name whose POST was acknowledged with 201.
      Set<String> acked = ConcurrentHashMap.newKeySet();
      AtomicLong maxAckedRv = new AtomicLong(listRv);
      AtomicBoolean stop = new AtomicBoolean();
      List<Thread> writers = new ArrayList<>();
      for (int w = 0; w < 4; w++) {
        int id = w;
        writers.add(Thread.ofVirtual().start(() -> {
          for (int i = 0; !stop.get(); i++) {
            String name = "w" + id + "-" + i;
            try {
              HttpResponse<String> r = send(http, post(base + CONFIGMAPS, configMap(name)));
              if (r.statusCode() == 201) {
                acked.add(name);
                maxAckedRv.accumulateAndGet(Long.parseLong(JSON.readTree(r.body()).path("metadata").path("resourceVersion").asText()), Math::max);
              }
            } catch (Exception e) {
              return; // the server went away
            }
          }
        }));
      }
      Thread.sleep(1500);
      server.kill();
      stop.set(true);
      for (Thread t : writers) t.join(10_000);
      watcher.join(10_000);

      List<Event> before = new ArrayList<>();
      watched.drainTo(before);
      assertThat(acked).as("writes acknowledged before the kill").hasSizeGreaterThan(10);
      assertThat(before).as("watch events before the kill").isNotEmpty();
      long lastWatchedRv = before.getLast().rv();
      long maxRvBeforeKill = Math.max(maxAckedRv.get(), before.stream().mapToLong(Event::rv).max().orElse(0));

      System.out.printf("acked=%d watchedBeforeKill=%d lastWatchedRv=%d maxRvBeforeKill=%d%n",
          acked.size(), before.size(), lastWatchedRv, maxRvBeforeKill);
      server.restart();
      HttpClient http2 = client(server);

      // Every acknowledged ConfigMap is there (one LIST).
      JsonNode list = JSON.readTree(send(http2, get(base + CONFIGMAPS)).body());
      Set<String> names = new HashSet<>();
      list.path("items").forEach(i -> names.add(i.path("metadata").path("name").asText()));
      assertThat(names).as("acknowledged ConfigMaps after SIGKILL + restart").containsAll(acked);

      // The watcher resumes from the last event it saw.
      BlockingQueue<Event> resumed = new LinkedBlockingQueue<>();
      Thread watcher2 = watch(http2, base + CONFIGMAPS + "?watch=true&resourceVersion=" + lastWatchedRv, resumed);
      try {
        // A new write gets a resourceVersion above everything seen before the kill.
        HttpResponse<String> created = send(http2, post(base + CONFIGMAPS, configMap("after-restart")));
        assertThat(created.statusCode()).as(created.body()).isEqualTo(201);
        long newRv = Long.parseLong(JSON.readTree(created.body()).path("metadata").path("resourceVersion").asText());
        assertThat(newRv).as("resourceVersion after restart").isGreaterThan(maxRvBeforeKill);

        List<Event> after = new ArrayList<>();
        long deadline = System.currentTimeMillis() + 10_000;
        while (after.stream().noneMatch(e -> e.name().equals("after-restart")) && System.currentTimeMillis() < deadline) {
          Event e = resumed.poll(200, TimeUnit.MILLISECONDS);
          if (e != null) after.add(e);
        }
        assertThat(after).as("resumed watch delivers the post-restart write")
            .anySatisfy(e -> assertThat(e).isEqualTo(new Event("ADDED", "after-restart", newRv)));
        assertThat(after).as("resumed watch does not repeat the last event seen (rv " + lastWatchedRv + ")")
            .allSatisfy(e -> assertThat(e.rv()).isGreaterThan(lastWatchedRv));
        assertThat(after).noneMatch(e -> e.type().equals("ERROR"));
      } finally {
        watcher2.interrupt();
      }
    }
  }

  static HttpClient client(SkiffProcess server) throws Exception {
    return HttpClient.newBuilder().version(HttpClient.Version.HTTP_2)
        .sslContext(Kubeconfig.read(server.kubeconfig()).sslContext())
        .connectTimeout(Duration.ofSeconds(5)).build();
  }

  static HttpRequest get(String url) {
    return HttpRequest.newBuilder(URI.create(url)).header("Accept", "application/json").timeout(Duration.ofSeconds(20)).build();
  }

  static HttpRequest post(String url, String body) {
    return HttpRequest.newBuilder(URI.create(url)).header("Accept", "application/json").header("Content-Type", "application/json")
        .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.ofString(body)).build();
  }

  static HttpResponse<String> send(HttpClient http, HttpRequest req) throws Exception {
    return http.send(req, HttpResponse.BodyHandlers.ofString());
  }

  static String configMap(String name) {
    return "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"" + name + "\"},\"data\":{\"k\":\"v\"}}";
  }

  /**
   * Streams watch events (one JSON object per line) into {@code sink} until the connection ends. The request is sent
   * on the watcher thread: response headers may only arrive with the first event.
   */
  static Thread watch(HttpClient http, String url, BlockingQueue<Event> sink) {
    HttpRequest req = HttpRequest.newBuilder(URI.create(url)).header("Accept", "application/json").build();
    return Thread.ofVirtual().start(() -> {
      HttpResponse<Stream<String>> resp;
      try {
        resp = http.send(req, HttpResponse.BodyHandlers.ofLines());
      } catch (Exception e) {
        return;
      }
      if (resp.statusCode() != 200) {
        sink.add(new Event("HTTP " + resp.statusCode(), resp.body().reduce("", String::concat), -1));
        return;
      }
      try (Stream<String> lines = resp.body()) {
        lines.filter(l -> !l.isBlank()).forEach(l -> {
          try {
            JsonNode ev = JSON.readTree(l);
            JsonNode md = ev.path("object").path("metadata");
            String rv = md.path("resourceVersion").asText();
            sink.add(new Event(ev.path("type").asText(), md.path("name").asText(), rv.isEmpty() ? -1 : Long.parseLong(rv)));
          } catch (Exception e) {
            throw new RuntimeException(e);
          }
        });
      } catch (Exception e) {
        // connection closed (server killed) or interrupted
      }
    });
  }
}
