package dev.skiff.store;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The contract of {@link KeyValueStore}, run against every implementation. A backend's test extends
 * this class and implements {@link #newStore()}; the suite is published in the test-jar.
 */
public abstract class KeyValueStoreConformanceTest {
  private static final Duration WAIT = Duration.ofSeconds(20);

  protected KeyValueStore store;

  /** A new, empty store. The suite closes it after each test. */
  protected abstract KeyValueStore newStore() throws Exception;

  @BeforeEach
  void openStore() throws Exception {
    store = newStore();
  }

  @AfterEach
  void closeStore() {
    if (store != null) {
      store.close();
    }
  }

  protected static byte[] b(String s) {
    return s.getBytes(UTF_8);
  }

  protected static String s(byte[] b) {
    return new String(b, UTF_8);
  }

  @Test
  void emptyStoreHasRevisionZero() {
    assertThat(store.currentRevision()).isZero();
    assertThat(store.compactedRevision()).isZero();
    assertThat(store.get("/a")).isNull();
    assertThat(store.range("/", null, 0).kvs()).isEmpty();
  }

  @Test
  void revisionsAreStoreWideAndStrictlyIncreasing() {
    long r1 = store.create("/a", b("1")).revision();
    long r2 = store.create("/b", b("2")).revision();
    long r3 = store.update("/a", b("3"), r1).revision();
    long r4 = store.delete("/b", 0).revision();
    assertThat(List.of(r1, r2, r3, r4)).isSorted().doesNotHaveDuplicates();
    assertThat(r1).isPositive();
    assertThat(store.currentRevision()).isEqualTo(r4);
  }

  @Test
  void createStoresValueAndRevisions() {
    TxnResult r = store.create("/a", b("v"));
    assertThat(r.succeeded()).isTrue();
    assertThat(r.kv().key()).isEqualTo("/a");
    assertThat(s(r.kv().value())).isEqualTo("v");
    assertThat(r.kv().createRevision()).isEqualTo(r.revision());
    assertThat(r.kv().modRevision()).isEqualTo(r.revision());
    assertThat(r.kv().version()).isEqualTo(1);
    KeyValue got = store.get("/a");
    assertThat(s(got.value())).isEqualTo("v");
    assertThat(got.modRevision()).isEqualTo(r.revision());
  }

  @Test
  void createOnExistingKeyFailsWithCurrentValue() {
    TxnResult first = store.create("/a", b("v1"));
    TxnResult second = store.create("/a", b("v2"));
    assertThat(second.succeeded()).isFalse();
    assertThat(second.kv().modRevision()).isEqualTo(first.revision());
    assertThat(s(second.kv().value())).isEqualTo("v1");
    assertThat(second.revision()).isEqualTo(store.currentRevision());
    assertThat(store.currentRevision()).isEqualTo(first.revision()); // failures take no revision
  }

  @Test
  void updateWithStaleModRevisionFails() {
    long r1 = store.create("/a", b("v1")).revision();
    TxnResult u = store.update("/a", b("v2"), r1);
    assertThat(u.succeeded()).isTrue();
    TxnResult stale = store.update("/a", b("v3"), r1);
    assertThat(stale.succeeded()).isFalse();
    assertThat(s(stale.kv().value())).isEqualTo("v2");
    assertThat(stale.kv().modRevision()).isEqualTo(u.revision());
    assertThat(s(store.get("/a").value())).isEqualTo("v2");
  }

  @Test
  void updateOfMissingKeyFails() {
    TxnResult r = store.update("/missing", b("v"), 1);
    assertThat(r.succeeded()).isFalse();
    assertThat(r.kv()).isNull();
  }

  @Test
  void deleteChecksModRevisionUnlessZero() {
    long r1 = store.create("/a", b("v1")).revision();
    long r2 = store.update("/a", b("v2"), r1).revision();
    TxnResult stale = store.delete("/a", r1);
    assertThat(stale.succeeded()).isFalse();
    assertThat(stale.kv().modRevision()).isEqualTo(r2);
    TxnResult ok = store.delete("/a", r2);
    assertThat(ok.succeeded()).isTrue();
    assertThat(s(ok.kv().value())).isEqualTo("v2");
    assertThat(store.get("/a")).isNull();
    assertThat(store.delete("/a", 0).succeeded()).isFalse();

    store.create("/b", b("x"));
    assertThat(store.delete("/b", 0).succeeded()).isTrue();
    assertThat(store.get("/b")).isNull();
  }

  @Test
  void versionCountsWritesToOneIncarnation() {
    long r = store.create("/a", b("1")).revision();
    for (int i = 2; i <= 5; i++) {
      TxnResult u = store.update("/a", b(String.valueOf(i)), r);
      assertThat(u.kv().version()).isEqualTo(i);
      r = u.revision();
    }
    assertThat(store.get("/a").version()).isEqualTo(5);
  }

  @Test
  void deleteThenRecreateResetsCreateRevisionAndVersion() {
    long c1 = store.create("/a", b("1")).revision();
    long u = store.update("/a", b("2"), c1).revision();
    store.delete("/a", u);
    TxnResult again = store.create("/a", b("3"));
    assertThat(again.succeeded()).isTrue();
    assertThat(again.kv().createRevision()).isEqualTo(again.revision()).isGreaterThan(c1);
    assertThat(again.kv().version()).isEqualTo(1);
    assertThat(store.get("/a").createRevision()).isEqualTo(again.revision());
  }

  @Test
  void returnedValuesAreNotAffectedByCallerMutation() {
    byte[] v = b("abc");
    store.create("/a", v);
    v[0] = 'X';
    assertThat(s(store.get("/a").value())).isEqualTo("abc");
  }

  @Test
  void rangeByPrefixInKeyOrder() {
    for (String k : List.of("/r/pods/b", "/r/pods/a", "/r/podsx", "/r/pod", "/r/pods/c", "/s/pods/a")) {
      store.create(k, b(k));
    }
    RangeResult r = store.range("/r/pods/", null, 0);
    assertThat(r.kvs()).extracting(KeyValue::key).containsExactly("/r/pods/a", "/r/pods/b", "/r/pods/c");
    assertThat(r.more()).isFalse();
    assertThat(r.revision()).isEqualTo(store.currentRevision());
    assertThat(s(r.kvs().get(1).value())).isEqualTo("/r/pods/b");
    assertThat(store.range("", null, 0).kvs()).hasSize(6);
    assertThat(store.range("/nothing/", null, 0).kvs()).isEmpty();
  }

  @Test
  void rangeLimitAndStartAfterPage() {
    for (int i = 0; i < 10; i++) {
      store.create("/p/k" + i, b("v" + i));
    }
    store.create("/q/k", b("other"));
    List<String> seen = new ArrayList<>();
    String after = null;
    int pages = 0;
    while (true) {
      RangeResult r = store.range("/p/", after, 3);
      pages++;
      r.kvs().forEach(kv -> seen.add(kv.key()));
      if (!r.more()) {
        assertThat(r.kvs()).hasSizeLessThanOrEqualTo(3);
        break;
      }
      assertThat(r.kvs()).hasSize(3);
      after = r.kvs().get(r.kvs().size() - 1).key();
    }
    assertThat(pages).isEqualTo(4);
    assertThat(seen).containsExactly("/p/k0", "/p/k1", "/p/k2", "/p/k3", "/p/k4", "/p/k5", "/p/k6", "/p/k7", "/p/k8", "/p/k9");
    RangeResult exact = store.range("/p/", "/p/k6", 3);
    assertThat(exact.kvs()).extracting(KeyValue::key).containsExactly("/p/k7", "/p/k8", "/p/k9");
    assertThat(exact.more()).isFalse();
    // startAfter before the prefix starts at the prefix
    assertThat(store.range("/p/", "/a", 2).kvs()).extracting(KeyValue::key).containsExactly("/p/k0", "/p/k1");
  }

  @Test
  void rangeUsesUtf8ByteOrder() {
    String bmpHigh = "/k/\uFF21"; // U+FF21, 3 UTF-8 bytes EF BC A1
    String astral = "/k/\uD83D\uDE00"; // U+1F600, 4 UTF-8 bytes F0 9F 98 80
    store.create(astral, b("x"));
    store.create(bmpHigh, b("y"));
    assertThat(store.range("/k/", null, 0).kvs()).extracting(KeyValue::key).containsExactly(bmpHigh, astral);
  }

  @Test
  void watchFromZeroSeesEverything() throws Exception {
    long c = store.create("/a", b("1")).revision();
    long u = store.update("/a", b("2"), c).revision();
    store.create("/b", b("3"));
    Recorder rec = new Recorder();
    try (KeyValueStore.Watch w = store.watch("", 0, rec)) {
      store.delete("/a", u);
      List<WatchEvent> events = rec.await(4);
      assertThat(events).extracting(WatchEvent::type).containsExactly(
          WatchEvent.Type.PUT, WatchEvent.Type.PUT, WatchEvent.Type.PUT, WatchEvent.Type.DELETE);
      assertThat(events.get(0).prev()).isNull();
      assertThat(s(events.get(1).prev().value())).isEqualTo("1");
      assertThat(s(events.get(1).kv().value())).isEqualTo("2");
      assertThat(events.get(1).kv().version()).isEqualTo(2);
      WatchEvent del = events.get(3);
      assertThat(del.kv().key()).isEqualTo("/a");
      assertThat(del.kv().modRevision()).isEqualTo(store.currentRevision());
      assertThat(del.kv().value()).isEmpty();
      assertThat(s(del.prev().value())).isEqualTo("2");
      assertThat(events).extracting(WatchEvent::revision).isSorted();
    }
  }

  @Test
  void watchFromRevisionSeesOnlyLaterChanges() throws Exception {
    store.create("/a", b("1"));
    long r2 = store.create("/b", b("2")).revision();
    store.create("/c", b("3"));
    Recorder rec = new Recorder();
    try (KeyValueStore.Watch w = store.watch("", r2, rec)) {
      store.create("/d", b("4"));
      List<WatchEvent> events = rec.await(2);
      assertThat(events).extracting(e -> e.kv().key()).containsExactly("/c", "/d");
      rec.assertNoMore(Duration.ofMillis(100));
    }
  }

  @Test
  void watchFromFutureRevisionWaits() throws Exception {
    store.create("/a", b("1"));
    Recorder rec = new Recorder();
    try (KeyValueStore.Watch w = store.watch("", store.currentRevision() + 1, rec)) {
      store.create("/b", b("2"));
      store.create("/c", b("3"));
      assertThat(rec.await(1)).extracting(e -> e.kv().key()).containsExactly("/c");
    }
  }

  @Test
  void watchWithPrefixSeesOnlyMatchingKeys() throws Exception {
    Recorder pods = new Recorder();
    Recorder all = new Recorder();
    try (KeyValueStore.Watch w1 = store.watch("/r/pods/", 0, pods);
         KeyValueStore.Watch w2 = store.watch("/r/", 0, all)) {
      store.create("/r/pods/a", b("1"));
      store.create("/r/services/a", b("2"));
      store.create("/r/podsx", b("3"));
      store.create("/r/pods/b", b("4"));
      assertThat(pods.await(2)).extracting(e -> e.kv().key()).containsExactly("/r/pods/a", "/r/pods/b");
      assertThat(all.await(4)).hasSize(4);
      pods.assertNoMore(Duration.ofMillis(100));
    }
  }

  @Test
  void watchAfterCompactionThrows() throws Exception {
    long r1 = store.create("/a", b("1")).revision();
    long r2 = store.update("/a", b("2"), r1).revision();
    long r3 = store.update("/a", b("3"), r2).revision();
    store.compact(r2);
    assertThat(store.compactedRevision()).isEqualTo(r2);
    assertThatThrownBy(() -> store.watch("", r1, new Recorder()))
        .isInstanceOf(CompactedException.class)
        .satisfies(e -> assertThat(((CompactedException) e).compactRevision()).isEqualTo(r2));
    assertThatThrownBy(() -> store.watch("", 0, new Recorder())).isInstanceOf(CompactedException.class);
    Recorder rec = new Recorder();
    try (KeyValueStore.Watch w = store.watch("", r2, rec)) {
      List<WatchEvent> events = rec.await(1);
      assertThat(events.get(0).revision()).isEqualTo(r3);
      assertThat(s(events.get(0).prev().value())).isEqualTo("2");
    }
    assertThat(s(store.get("/a").value())).isEqualTo("3");
    store.compact(r1); // older than compacted: no-op
    assertThat(store.compactedRevision()).isEqualTo(r2);
    assertThatThrownBy(() -> store.compact(store.currentRevision() + 1)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void watchThatFallsBehindCompactionIsEndedWithCompactedException() throws Exception {
    CountDownLatch inFirstCall = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    Recorder rec = new Recorder();
    try (KeyValueStore.Watch w = store.watch("", 0, new WatchListener() {
      @Override
      public void onEvents(List<WatchEvent> events) {
        inFirstCall.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        rec.onEvents(events);
      }

      @Override
      public void onClose(Throwable cause) {
        rec.onClose(cause);
      }
    })) {
      store.create("/a", b("1"));
      assertThat(inFirstCall.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
      store.create("/b", b("2"));
      store.create("/c", b("3"));
      store.compact(store.currentRevision());
      release.countDown();
      assertThat(rec.closed.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
      assertThat(rec.closeCause.get()).isInstanceOf(CompactedException.class);
      assertThat(rec.await(1)).extracting(e -> e.kv().key()).containsExactly("/a");
    }
  }

  @Test
  void compactionKeepsCurrentState() {
    long r = store.create("/a", b("1")).revision();
    for (int i = 0; i < 20; i++) {
      r = store.update("/a", b("v" + i), r).revision();
    }
    store.create("/b", b("b"));
    long d = store.create("/c", b("c")).revision();
    store.delete("/c", d);
    store.compact(store.currentRevision());
    assertThat(s(store.get("/a").value())).isEqualTo("v19");
    assertThat(store.get("/a").version()).isEqualTo(21);
    assertThat(store.get("/c")).isNull();
    assertThat(store.range("", null, 0).kvs()).extracting(KeyValue::key).containsExactly("/a", "/b");
    long before = store.currentRevision();
    assertThat(store.create("/d", b("d")).revision()).isGreaterThan(before);
  }

  @Test
  void concurrentWritersProduceOrderedGaplessEvents() throws Exception {
    int threads = 8;
    int perThread = 500;
    Recorder rec = new Recorder();
    try (KeyValueStore.Watch w = store.watch("", 0, rec);
         ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<List<Long>>> futures = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int tt = t;
        futures.add(ex.submit(() -> {
          List<Long> revs = new ArrayList<>();
          for (int i = 0; i < perThread; i++) {
            TxnResult r = store.create("/t" + tt + "/" + i, b("v"));
            assertThat(r.succeeded()).isTrue();
            revs.add(r.revision());
          }
          return revs;
        }));
      }
      List<Long> all = new ArrayList<>();
      for (Future<List<Long>> f : futures) {
        List<Long> revs = f.get(60, TimeUnit.SECONDS);
        assertThat(revs).isSorted(); // per writer, later calls get later revisions
        all.addAll(revs);
      }
      Collections.sort(all);
      assertThat(all).doesNotHaveDuplicates().hasSize(threads * perThread);
      List<WatchEvent> events = rec.await(threads * perThread);
      for (int i = 0; i < events.size(); i++) {
        assertThat(events.get(i).revision()).isEqualTo(i + 1L);
      }
      assertThat(rec.maxConcurrentCalls()).isEqualTo(1);
    }
    assertThat(store.range("", null, 0).kvs()).hasSize(threads * perThread);
  }

  @Test
  void concurrentConditionalUpdatesAreLinearizable() throws Exception {
    store.create("/counter", b("0"));
    int threads = 8;
    int increments = 50;
    try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
      List<Future<?>> fs = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        fs.add(ex.submit(() -> {
          for (int i = 0; i < increments; ) {
            KeyValue cur = store.get("/counter");
            long n = Long.parseLong(s(cur.value()));
            if (store.update("/counter", b(String.valueOf(n + 1)), cur.modRevision()).succeeded()) {
              i++;
            }
          }
          return null;
        }));
      }
      for (Future<?> f : fs) {
        f.get(60, TimeUnit.SECONDS);
      }
    }
    assertThat(s(store.get("/counter").value())).isEqualTo(String.valueOf(threads * increments));
    assertThat(store.get("/counter").version()).isEqualTo(threads * increments + 1L);
  }

  @Test
  void closedWatchStopsDelivery() throws Exception {
    Recorder rec = new Recorder();
    KeyValueStore.Watch w = store.watch("", 0, rec);
    store.create("/a", b("1"));
    rec.await(1);
    w.close();
    store.create("/b", b("2"));
    store.create("/c", b("3"));
    rec.assertNoMore(Duration.ofMillis(200));
  }

  @Test
  void closingWatchFromInsideListenerWorks() throws Exception {
    AtomicReference<KeyValueStore.Watch> ref = new AtomicReference<>();
    BlockingQueue<WatchEvent> got = new ArrayBlockingQueue<>(100);
    CountDownLatch registered = new CountDownLatch(1);
    ref.set(store.watch("", 0, events -> {
      try {
        registered.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      got.addAll(events);
      ref.get().close();
    }));
    registered.countDown();
    store.create("/a", b("1"));
    assertThat(got.poll(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isNotNull();
    store.create("/b", b("2"));
    assertThat(got.poll(200, TimeUnit.MILLISECONDS)).isNull();
  }

  @Test
  void storeCloseEndsWatches() throws Exception {
    Recorder rec = new Recorder();
    store.watch("", 0, rec);
    store.close();
    assertThat(rec.closed.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
    assertThat(rec.closeCause.get()).isInstanceOf(StoreException.class);
    assertThatThrownBy(() -> store.create("/a", b("1"))).isInstanceOf(StoreException.class);
    store = null;
  }

  @Test
  void failingListenerIsClosedAndOthersContinue() throws Exception {
    Recorder good = new Recorder();
    Recorder bad = new Recorder();
    try (KeyValueStore.Watch w1 = store.watch("", 0, events -> {
           bad.onEvents(events);
           throw new IllegalStateException("boom");
         });
         KeyValueStore.Watch w2 = store.watch("", 0, good)) {
      store.create("/a", b("1"));
      store.create("/b", b("2"));
      assertThat(good.await(2)).hasSize(2);
    }
  }

  /** Collects events; checks listener calls never overlap. */
  protected static final class Recorder implements WatchListener {
    private final List<WatchEvent> events = Collections.synchronizedList(new ArrayList<>());
    private final Object inCall = new Object();
    private int calls;
    private int maxConcurrent;
    final CountDownLatch closed = new CountDownLatch(1);
    final AtomicReference<Throwable> closeCause = new AtomicReference<>();

    @Override
    public void onEvents(List<WatchEvent> batch) {
      synchronized (inCall) {
        calls++;
        maxConcurrent = Math.max(maxConcurrent, calls);
      }
      try {
        synchronized (events) {
          events.addAll(batch);
          events.notifyAll();
        }
      } finally {
        synchronized (inCall) {
          calls--;
        }
      }
    }

    @Override
    public void onClose(Throwable cause) {
      closeCause.set(cause);
      closed.countDown();
    }

    int maxConcurrentCalls() {
      synchronized (inCall) {
        return maxConcurrent;
      }
    }

    List<WatchEvent> await(int n) throws InterruptedException {
      long deadline = System.nanoTime() + WAIT.toNanos();
      synchronized (events) {
        while (events.size() < n) {
          long left = deadline - System.nanoTime();
          if (left <= 0) {
            throw new AssertionError("expected " + n + " events, got " + events.size()
                + (events.isEmpty() ? "" : ", last at revision " + events.get(events.size() - 1).revision())
                + ", watch closed by: " + closeCause.get(), closeCause.get());
          }
          TimeUnit.NANOSECONDS.timedWait(events, left);
        }
        return new ArrayList<>(events);
      }
    }

    void assertNoMore(Duration d) throws InterruptedException {
      int n = events.size();
      Thread.sleep(d.toMillis());
      assertThat(events).hasSize(n);
    }
  }
}
