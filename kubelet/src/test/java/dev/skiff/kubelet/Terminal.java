package dev.skiff.kubelet;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A command (kubectl) driven on a real pseudo-terminal, as a user at a terminal would: util-linux
 * {@code script} gives it one of {@code columns} x {@code rows}; the test types lines, waits for
 * output and resizes the terminal (which sends the command SIGWINCH).
 */
final class Terminal implements AutoCloseable {
  private final Process script;
  private final StringBuilder seen = new StringBuilder();
  private final Thread reader;

  Terminal(String command, int columns, int rows) throws IOException {
    script = new ProcessBuilder("script", "-qec", "stty cols " + columns + " rows " + rows + "; " + command, "/dev/null")
        .redirectErrorStream(true).start();
    reader = Thread.ofVirtual().start(() -> {
      byte[] b = new byte[4096];
      try (InputStream in = script.getInputStream()) {
        for (int n; (n = in.read(b)) >= 0; ) {
          synchronized (seen) {
            seen.append(new String(b, 0, n, StandardCharsets.UTF_8));
          }
        }
      } catch (IOException e) {
        // the terminal closed
      }
    });
  }

  /** Everything the terminal showed so far. */
  String output() {
    synchronized (seen) {
      return seen.toString();
    }
  }

  /** Waits until the terminal shows {@code text}; false after 30 s. */
  boolean await(String text) throws InterruptedException {
    return AgentFixture.until(Duration.ofSeconds(30), () -> output().contains(text));
  }

  /** Types {@code line} and Enter. */
  void type(String line) throws IOException {
    script.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
    script.getOutputStream().flush();
  }

  /** Resizes the terminal of the command (named by {@code marker} in its command line). */
  void resize(String marker, int columns, int rows) throws IOException, InterruptedException {
    ProcessHandle cmd = script.toHandle().descendants()
        .filter(h -> h.info().commandLine().orElse("").contains(marker)).findFirst()
        .orElseThrow(() -> new IllegalStateException("no " + marker + " under script"));
    Process stty = new ProcessBuilder(List.of("stty", "-F", "/proc/" + cmd.pid() + "/fd/0", "cols",
        Integer.toString(columns), "rows", Integer.toString(rows))).inheritIO().start();
    if (stty.waitFor() != 0) {
      throw new IOException("stty failed");
    }
  }

  /**
   * A shell line that waits (up to 10 s) until its terminal is {@code columns} x {@code rows},
   * then prints {@code stty size}. The numbers are spelled as arithmetic so that the echo of
   * the typed line never contains the "rows columns" the test then looks for.
   */
  static String sttySizeOnce(int columns, int rows) {
    return "for i in $(seq 100); do [ \"$(stty size)\" = \"$((" + rows + "+0)) $((" + columns + "+0))\" ] && break;"
        + " sleep 0.1; done; stty size";
  }

  /** Waits for the command to end; its exit code (script -e passes it on), -1 after 30 s. */
  int exitCode() throws InterruptedException {
    if (!script.waitFor(30, TimeUnit.SECONDS)) {
      return -1;
    }
    reader.join(5000);
    return script.exitValue();
  }

  @Override
  public void close() {
    script.destroyForcibly();
  }
}
