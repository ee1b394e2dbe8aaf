package dev.skiff.cli;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs the Skiff server as a separate JVM, so tests can SIGKILL it and restart it on the same data dir. */
final class SkiffProcess implements AutoCloseable {
  private static final Duration READY_TIMEOUT = Duration.ofSeconds(30);

  private final Path baseDir;
  private final Path dataDir;
  private final int port;
  private Process process;
  private int starts;

  private SkiffProcess(Path baseDir, int port) {
    this.baseDir = baseDir;
    this.dataDir = baseDir.resolve("data");
    this.port = port;
  }

  static SkiffProcess start() throws IOException, InterruptedException {
    Path base = Files.createTempDirectory("skiff-proc-");
    SkiffProcess p = new SkiffProcess(base, freePort());
    p.launch();
    return p;
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      s.setReuseAddress(true);
      return s.getLocalPort();
    }
  }

  int port() { return port; }
  Path dataDir() { return dataDir; }
  Path baseDir() { return baseDir; }
  Path kubeconfig() { return dataDir.resolve("kubeconfig.yaml"); }
  Path log() { return baseDir.resolve("server-" + starts + ".log"); }
  boolean isAlive() { return process != null && process.isAlive(); }

  private void launch() throws IOException, InterruptedException {
    starts++;
    Path log = log();
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    ProcessBuilder pb = new ProcessBuilder(List.of(java, "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
        "dev.skiff.cli.Main", "server", "--data-dir", dataDir.toString(), "--port", Integer.toString(port)))
        .redirectErrorStream(true)
        .redirectOutput(log.toFile());
    process = pb.start();
    long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
    while (System.nanoTime() < deadline) {
      String out = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
      if (out.contains("export KUBECONFIG")) return;
      if (!process.isAlive()) {
        throw new IllegalStateException("skiff server exited with " + process.exitValue() + ":\n" + out);
      }
      Thread.sleep(50);
    }
    process.destroyForcibly();
    throw new IllegalStateException("skiff server not ready within " + READY_TIMEOUT + ":\n" + Files.readString(log));
  }

  /** SIGKILL, no chance to flush or clean up. */
  void kill() throws InterruptedException {
    if (process != null) {
      process.destroyForcibly();
      process.waitFor(30, TimeUnit.SECONDS);
    }
  }

  /** SIGTERM and wait for a clean exit. */
  void stop() throws InterruptedException {
    if (process != null && process.isAlive()) {
      process.destroy();
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /** Starts again on the same data dir and port (stops first if still running). */
  void restart() throws IOException, InterruptedException {
    stop();
    launch();
  }

  @Override
  public void close() throws InterruptedException {
    stop();
    // Pods the tests left (e.g. Deployments of images without a command) still hold their
    // sandboxes: network namespaces and veths outlive the server otherwise.
    try {
      dev.skiff.kubelet.cri.ProcessRuntime.removeAll(dataDir.resolve("kubelet"));
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }
}
