package dev.skiff.store;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Child process for {@link LogStoreDurabilityTest#acknowledgedWritesSurviveKill9}: writes keys from
 * several virtual threads forever and prints {@code ACK <key>} after each write returned, until
 * the parent kills it.
 */
public final class CrashWriter {
  private CrashWriter() {}

  static byte[] valueFor(String key) {
    return (key + "|" + "x".repeat(300)).getBytes(StandardCharsets.UTF_8);
  }

  public static void main(String[] args) throws Exception {
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    LogStore store = LogStore.open(Path.of(args[0]));
    out.println("READY");
    out.flush();
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      int tt = t;
      threads.add(Thread.ofVirtual().start(() -> {
        for (int i = 0; ; i++) {
          String key = "/crash/t" + tt + "/" + i;
          if (!store.create(key, valueFor(key)).succeeded()) {
            throw new IllegalStateException("create failed: " + key);
          }
          synchronized (out) {
            out.println("ACK " + key);
            out.flush();
          }
        }
      }));
    }
    for (Thread t : threads) {
      t.join();
    }
  }
}
