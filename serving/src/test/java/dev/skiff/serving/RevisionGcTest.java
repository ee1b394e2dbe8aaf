package dev.skiff.serving;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.serving.v1.Configuration;
import dev.skiff.serving.v1.Revision;
import dev.skiff.serving.v1.Status;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.ObjectMeta;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Knative's revision GC rule (pkg/reconciler/gc/gc.go) on a test clock. */
class RevisionGcTest {
  static final Instant NOW = Instant.parse("2026-11-22T12:00:00Z");

  static Revision rev(String name, Duration age, Duration sinceActive, String routingState, boolean noGc) {
    Revision r = new Revision();
    ObjectMeta m = new ObjectMeta();
    m.setName(name);
    m.setCreationTimestamp(NOW.minus(age).toString());
    Map<String, String> ann = new HashMap<>();
    if (sinceActive != null) {
      ann.put("serving.knative.dev/routingStateModified", NOW.minus(sinceActive).toString());
    }
    if (noGc) {
      ann.put("serving.knative.dev/no-gc", "true");
    }
    m.setAnnotations(ann);
    m.setLabels(Map.of("serving.knative.dev/routingState", routingState));
    r.setMetadata(m);
    return r;
  }

  static Configuration cfg(String latest) {
    Configuration c = new Configuration();
    c.setMetadata(new ObjectMeta());
    Status s = new Status();
    s.setLatestCreatedRevisionName(latest);
    s.setLatestReadyRevisionName(latest);
    c.setStatus(s);
    return c;
  }

  static List<String> names(List<Revision> rs) {
    return rs.stream().map(r -> r.getMetadata().getName()).toList();
  }

  @Test
  void defaultsMatchKnative() {
    RevisionGc.Settings s = RevisionGc.Settings.from(null);
    assertThat(s.retainSinceCreate()).isEqualTo(Duration.ofHours(48));
    assertThat(s.retainSinceLastActive()).isEqualTo(Duration.ofHours(15));
    assertThat(s.minNonActive()).isEqualTo(20);
    assertThat(s.maxNonActive()).isEqualTo(1000);
  }

  @Test
  void keepsTheNewestMinAndCollectsOnlyOldAndLongInactive() {
    // 25 reserve revisions, 3 days old and inactive for 20 h, plus the latest: the 5 oldest go.
    List<Revision> revs = new ArrayList<>();
    for (int i = 1; i <= 25; i++) {
      revs.add(rev("r-%05d".formatted(i), Duration.ofDays(3), Duration.ofHours(20).plusMinutes(26 - i), "reserve", false));
    }
    revs.add(rev("r-00026", Duration.ofDays(3), null, "active", false));
    List<Revision> gone = RevisionGc.collect(cfg("r-00026"), revs, RevisionGc.Settings.DEFAULTS, NOW);
    assertThat(names(gone)).containsExactlyInAnyOrder("r-00001", "r-00002", "r-00003", "r-00004", "r-00005");
  }

  @Test
  void youngOrRecentlyActiveOrPinnedRevisionsStay() {
    RevisionGc.Settings s = new RevisionGc.Settings(Duration.ofHours(48), Duration.ofHours(15), 0, 1000);
    List<Revision> revs = List.of(
        rev("r-00001", Duration.ofHours(47), Duration.ofHours(47), "reserve", false), // created < 48 h ago
        rev("r-00002", Duration.ofDays(3), Duration.ofHours(14), "reserve", false), // active < 15 h ago
        rev("r-00003", Duration.ofDays(3), Duration.ofDays(2), "reserve", true), // no-gc
        rev("r-00004", Duration.ofDays(30), Duration.ofDays(30), "active", false), // routed
        rev("r-00005", Duration.ofDays(3), Duration.ofDays(2), "reserve", false), // stale
        rev("r-00006", Duration.ofDays(3), Duration.ofDays(3), "pending", false)); // latest
    assertThat(names(RevisionGc.collect(cfg("r-00006"), revs, s, NOW))).containsExactly("r-00005");
    // An hour later the first two have aged past both limits too.
    assertThat(names(RevisionGc.collect(cfg("r-00006"), revs, s, NOW.plus(Duration.ofHours(1)))))
        .containsExactlyInAnyOrder("r-00001", "r-00002", "r-00005");
  }

  @Test
  void atMostMinRevisionsNothingIsCollected() {
    List<Revision> revs = List.of(rev("a-00001", Duration.ofDays(300), Duration.ofDays(300), "reserve", false),
        rev("a-00002", Duration.ofDays(1), null, "active", false));
    assertThat(RevisionGc.collect(cfg("a-00002"), revs, RevisionGc.Settings.DEFAULTS, NOW)).isEmpty();
  }

  @Test
  void configMapOverridesAndMaxLimit() {
    RevisionGc.Settings s = RevisionGc.Settings.from(new ConfigMapBuilder().withNewMetadata().withName("config-gc").endMetadata()
        .withData(Map.of("retain-since-create-time", "disabled", "retain-since-last-active-time", "disabled",
            "min-non-active-revisions", "0", "max-non-active-revisions", "2")).build());
    assertThat(s.retainSinceCreate()).isNull();
    List<Revision> revs = new ArrayList<>();
    for (int i = 1; i <= 5; i++) {
      revs.add(rev("m-%05d".formatted(i), Duration.ofMinutes(10 - i), Duration.ofMinutes(10 - i), "reserve", false));
    }
    revs.add(rev("m-00006", Duration.ofMinutes(1), null, "active", false));
    // Nothing is stale (both retention checks disabled), but only 2 non-active ones may remain.
    assertThat(names(RevisionGc.collect(cfg("m-00006"), revs, s, NOW))).containsExactlyInAnyOrder("m-00001", "m-00002", "m-00003");
  }

  @Test
  void goDurations() {
    assertThat(RevisionGc.duration("1h30m", null)).isEqualTo(Duration.ofMinutes(90));
    assertThat(RevisionGc.duration("90s", null)).isEqualTo(Duration.ofSeconds(90));
    assertThat(RevisionGc.duration("-1", Duration.ZERO)).isNull();
    assertThat(RevisionGc.duration("junk", Duration.ZERO)).isEqualTo(Duration.ZERO);
  }
}
