package dev.skiff.store;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What only a durable store has to get right: restart, torn tails, file rewrite, kill -9. */
class LogStoreDurabilityTest {
  @TempDir
  Path dir;

  private static byte[] b(String s) {
    return s.getBytes(UTF_8);
  }

  private static String s(byte[] b) {
    return new String(b, UTF_8);
  }

  private Path logFile() {
    return dir.resolve(LogStore.LOG_FILE);
  }

  @Test
  void reopenKeepsDataHistoryAndRevisionContinues() throws Exception {
    long rev;
    try (LogStore store = LogStore.open(dir)) {
      long a = store.create("/a", b("a1")).revision();
      store.update("/a", b("a2"), a);
      long bRev = store.create("/b", b("b1")).revision();
      store.delete("/b", bRev);
      store.create("/c", b("c1"));
      rev = store.currentRevision();
    }
    try (LogStore store = LogStore.open(dir)) {
      assertThat(store.currentRevision()).isEqualTo(rev);
      KeyValue a = store.get("/a");
      assertThat(s(a.value())).isEqualTo("a2");
      assertThat(a.version()).isEqualTo(2);
      assertThat(a.createRevision()).isEqualTo(1);
      assertThat(store.get("/b")).isNull();
      assertThat(store.range("/", null, 0).kvs()).extracting(KeyValue::key).containsExactly("/a", "/c");
      assertThat(store.create("/d", b("d")).revision()).isEqualTo(rev + 1);
      KeyValueStoreConformanceTest.Recorder rec = new KeyValueStoreConformanceTest.Recorder();
      try (KeyValueStore.Watch w = store.watch("", 0, rec)) {
        List<WatchEvent> events = rec.await((int) rev + 1);
        assertThat(events).extracting(WatchEvent::revision).containsExactly(1L, 2L, 3L, 4L, 5L, 6L);
        assertThat(events.get(3).type()).isEqualTo(WatchEvent.Type.DELETE);
        assertThat(s(events.get(3).prev().value())).isEqualTo("b1");
      }
    }
  }

  @Test
  void revisionSurvivesDeletingAndCompactingEverything() {
    long rev;
    try (LogStore store = LogStore.open(dir, 0)) {
      for (int i = 0; i < 5; i++) {
        long r = store.create("/k" + i, b("v")).revision();
        store.delete("/k" + i, r);
      }
      rev = store.currentRevision();
      store.compact(rev);
    }
    try (LogStore store = LogStore.open(dir, 0)) {
      assertThat(store.currentRevision()).isEqualTo(rev);
      assertThat(store.compactedRevision()).isEqualTo(rev);
      assertThat(store.range("", null, 0).kvs()).isEmpty();
      assertThat(store.create("/new", b("v")).revision()).isEqualTo(rev + 1);
    }
  }

  @Test
  void truncatedTailIsDroppedAndEarlierWritesKept() throws Exception {
    writeKeys(10);
    long size = Files.size(logFile());
    try (FileChannel ch = FileChannel.open(logFile(), StandardOpenOption.WRITE)) {
      ch.truncate(size - 3);
    }
    try (LogStore store = LogStore.open(dir)) {
      assertThat(store.currentRevision()).isEqualTo(9);
      for (int i = 0; i < 9; i++) {
        assertThat(s(store.get("/k" + i).value())).isEqualTo("v" + i);
      }
      assertThat(store.get("/k9")).isNull();
      assertThat(store.create("/k9", b("again")).revision()).isEqualTo(10);
    }
    try (LogStore store = LogStore.open(dir)) {
      assertThat(s(store.get("/k9").value())).isEqualTo("again");
      assertThat(store.currentRevision()).isEqualTo(10);
    }
  }

  @Test
  void garbageAfterLastRecordIsTruncated() throws Exception {
    writeKeys(10);
    long size = Files.size(logFile());
    // A half-written record: plausible length, then junk.
    Files.write(logFile(), new byte[] {0, 0, 0, 60, 1, 2, 3, 4, 5, 6, 7}, StandardOpenOption.APPEND);
    try (LogStore store = LogStore.open(dir)) {
      assertThat(store.currentRevision()).isEqualTo(10);
      assertThat(s(store.get("/k9").value())).isEqualTo("v9");
      assertThat(Files.size(logFile())).isEqualTo(size);
      store.create("/k10", b("v10"));
    }
    try (LogStore store = LogStore.open(dir)) {
      assertThat(store.currentRevision()).isEqualTo(11);
    }
  }

  @Test
  void recordWithBadCrcAtTailIsDropped() throws Exception {
    writeKeys(10);
    long size = Files.size(logFile());
    try (FileChannel ch = FileChannel.open(logFile(), StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ByteBuffer one = ByteBuffer.allocate(1);
      ch.read(one, size - 1);
      one.put(0, (byte) (one.get(0) ^ 0x5A)).rewind();
      ch.write(one, size - 1);
    }
    try (LogStore store = LogStore.open(dir)) {
      assertThat(store.currentRevision()).isEqualTo(9);
      assertThat(store.get("/k9")).isNull();
      assertThat(s(store.get("/k8").value())).isEqualTo("v8");
    }
  }

  @Test
  void secondOpenOfSameDirectoryFails() {
    try (LogStore store = LogStore.open(dir)) {
      assertThatThrownBy(() -> LogStore.open(dir)).isInstanceOf(StoreException.class);
    }
  }

  @Test
  void compactionShrinksFileAndKeepsState() throws Exception {
    byte[] big = new byte[1024];
    long rev;
    try (LogStore store = LogStore.open(dir, 0)) {
      long[] mod = new long[20];
      for (int k = 0; k < 20; k++) {
        mod[k] = store.create("/k" + k, big).revision();
      }
      for (int round = 0; round < 100; round++) {
        for (int k = 0; k < 20; k++) {
          mod[k] = store.update("/k" + k, b("k" + k + "-r" + round), mod[k]).revision();
        }
      }
      long gone = store.create("/gone", big).revision();
      store.delete("/gone", gone);
      long sizeBefore = store.fileSize();
      long compactAt = store.currentRevision() - 20; // keep the last round as history
      store.compact(compactAt);
      long sizeAfter = store.fileSize();
      assertThat(sizeAfter).isLessThan(sizeBefore / 10);
      assertThat(Files.size(logFile())).isEqualTo(sizeAfter);
      assertThat(dir.resolve(LogStore.COMPACT_FILE)).doesNotExist();
      for (int k = 0; k < 20; k++) {
        assertThat(s(store.get("/k" + k).value())).isEqualTo("k" + k + "-r99");
        assertThat(store.get("/k" + k).version()).isEqualTo(101);
      }
      // History after the compacted revision is still complete, prev values included.
      KeyValueStoreConformanceTest.Recorder rec = new KeyValueStoreConformanceTest.Recorder();
      try (KeyValueStore.Watch w = store.watch("/k", compactAt, rec)) {
        List<WatchEvent> events = rec.await(18);
        assertThat(events.get(0).revision()).isEqualTo(compactAt + 1);
        assertThat(s(events.get(0).prev().value())).startsWith("k").endsWith("-r98");
      }
      assertThatThrownBy(() -> store.watch("", compactAt - 1, rec)).isInstanceOf(CompactedException.class);
      // Writes after the swap land in the new file.
      store.update("/k0", b("after"), mod[0]);
      rev = store.currentRevision();
    }
    try (LogStore store = LogStore.open(dir, 0)) {
      assertThat(store.currentRevision()).isEqualTo(rev);
      assertThat(s(store.get("/k0").value())).isEqualTo("after");
      assertThat(s(store.get("/k19").value())).isEqualTo("k19-r99");
      assertThat(store.get("/gone")).isNull();
      assertThat(store.range("", null, 0).kvs()).hasSize(20);
    }
  }

  @Test
  void smallGarbageDoesNotRewrite() {
    try (LogStore store = LogStore.open(dir)) { // default threshold: megabytes of garbage
      long r = store.create("/a", b("1")).revision();
      r = store.update("/a", b("2"), r).revision();
      long size = store.fileSize();
      store.compact(r);
      assertThat(store.fileSize()).isEqualTo(size);
      assertThat(store.compactedRevision()).isEqualTo(r);
    }
  }

  @Test
  void compactionDuringConcurrentWritesAndWatchLosesNothing() throws Exception {
    int writers = 4;
    int updates = 300;
    List<String> before;
    long rev;
    try (LogStore store = LogStore.open(dir, 0)) {
      KeyValueStoreConformanceTest.Recorder rec = new KeyValueStoreConformanceTest.Recorder();
      KeyValueStore.Watch w = store.watch("", 0, rec);
      AtomicBoolean done = new AtomicBoolean();
      try (ExecutorService ex = Executors.newVirtualThreadPerTaskExecutor()) {
        List<Future<?>> fs = new ArrayList<>();
        for (int t = 0; t < writers; t++) {
          int tt = t;
          fs.add(ex.submit(() -> {
            String key = "/w/" + tt;
            long r = store.create(key, b("0")).revision();
            for (int i = 1; i <= updates; i++) {
              r = store.update(key, b(String.valueOf(i)), r).revision();
              store.create("/tmp/" + tt + "/" + i, b("t"));
              store.delete("/tmp/" + tt + "/" + i, 0);
            }
            return null;
          }));
        }
        Future<?> compactor = ex.submit(() -> {
          while (!done.get()) {
            // Keep a few hundred revisions: a watch that falls behind the compacted revision is
            // (correctly) ended with CompactedException, and this machine may be busy.
            long target = Math.max(0, store.currentRevision() - 500);
            store.compact(target);
            Thread.sleep(5);
          }
          return null;
        });
        for (Future<?> f : fs) {
          f.get(120, TimeUnit.SECONDS);
        }
        done.set(true);
        compactor.get(60, TimeUnit.SECONDS);
      }
      int total = writers * (1 + 3 * updates);
      List<WatchEvent> events = rec.await(total);
      for (int i = 0; i < total; i++) {
        assertThat(events.get(i).revision()).isEqualTo(i + 1L);
      }
      w.close();
      for (int t = 0; t < writers; t++) {
        assertThat(s(store.get("/w/" + t).value())).isEqualTo(String.valueOf(updates));
      }
      assertThat(store.compactedRevision()).isPositive();
      before = dump(store);
      rev = store.currentRevision();
    }
    try (LogStore store = LogStore.open(dir, 0)) {
      assertThat(dump(store)).isEqualTo(before);
      assertThat(store.currentRevision()).isEqualTo(rev);
    }
  }

  private static List<String> dump(KeyValueStore store) {
    List<String> out = new ArrayList<>();
    for (KeyValue kv : store.range("", null, 0).kvs()) {
      out.add(kv.key() + "=" + s(kv.value()) + "@" + kv.createRevision() + "/" + kv.modRevision() + "/" + kv.version());
    }
    return out;
  }

  @Test
  void acknowledgedWritesSurviveKill9() throws Exception {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
        CrashWriter.class.getName(), dir.toString())
        .redirectError(ProcessBuilder.Redirect.DISCARD)
        .start();
    List<String> acked = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch enough = new CountDownLatch(1);
    Thread reader = Thread.ofVirtual().start(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          if (line.startsWith("ACK ")) {
            acked.add(line.substring(4));
            if (acked.size() >= 2000) {
              enough.countDown();
            }
          }
        }
      } catch (Exception e) {
        // the pipe breaks when the child dies
      }
    });
    try {
      assertThat(enough.await(60, TimeUnit.SECONDS)).as("child acknowledged enough writes").isTrue();
      p.destroyForcibly(); // SIGKILL, mid-stream: no shutdown hook, no close()
      assertThat(p.waitFor(30, TimeUnit.SECONDS)).isTrue();
    } finally {
      p.destroyForcibly();
    }
    reader.join(30_000);
    List<String> keys = new ArrayList<>(acked);
    assertThat(keys).hasSizeGreaterThanOrEqualTo(2000);
    try (LogStore store = LogStore.open(dir)) {
      for (String key : keys) {
        KeyValue kv = store.get(key);
        assertThat(kv).as(key).isNotNull();
        assertThat(kv.value()).isEqualTo(CrashWriter.valueFor(key));
      }
      assertThat(store.currentRevision()).isGreaterThanOrEqualTo(keys.size());
      assertThat(store.range("/crash/", null, 0).kvs()).hasSize((int) store.currentRevision());
    }
  }

  private void writeKeys(int n) {
    try (LogStore store = LogStore.open(dir)) {
      for (int i = 0; i < n; i++) {
        store.create("/k" + i, b("v" + i));
      }
    }
  }
}
