package dev.skiff.bench;

import java.io.File;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * Start-up time and memory of {@code skiff server} as a separate JVM: process start to the first
 * 200 from /readyz (polled every 5 ms), and VmRSS 2 s after ready. Fresh data dir ("start") and the
 * same data dir again ("restart").
 */
final class StartBench {
  static final int RUNS = 7;
  static final List<String> JVM_FLAGS = List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k",
      "-XX:MaxRAMPercentage=25", "-Xshare:auto");

  private StartBench() {}

  record Sample(long readyNanos, long rssKb) {}

  /** @param serverArgs extra {@code skiff server} arguments, e.g. {@code --set transport=loopback} */
  static void run(String[] serverArgs) throws Exception {
    System.setProperty("jdk.internal.httpclient.disableHostnameVerification", "true");
    SSLContext trustAll = SSLContext.getInstance("TLS");
    trustAll.init(null, new TrustManager[] {new X509TrustManager() {
      public void checkClientTrusted(X509Certificate[] c, String a) {}
      public void checkServerTrusted(X509Certificate[] c, String a) {}
      public X509Certificate[] getAcceptedIssuers() { return new X509Certificate[0]; }
    }}, null);
    SSLParameters params = new SSLParameters();
    params.setEndpointIdentificationAlgorithm(null);
    HttpClient http = HttpClient.newBuilder().sslContext(trustAll).sslParameters(params)
        .version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(1)).build();

    String java = ProcessHandle.current().info().command().orElse(
        Path.of(System.getProperty("java.home"), "bin", "java").toString());
    Path benchJar = Path.of(StartBench.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    String cp = benchJar + File.pathSeparator + benchJar.getParent().resolve("lib") + File.separator + "*";

    List<Sample> fresh = new ArrayList<>();
    List<Sample> restart = new ArrayList<>();
    for (int i = 0; i < RUNS; i++) {
      Path dir = Bench.tempDir("skiff-start-");
      try {
        fresh.add(once(http, java, cp, dir, serverArgs));
        restart.add(once(http, java, cp, dir, serverArgs));
      } finally {
        Bench.deleteTree(dir);
      }
    }
    Map<String, Object> m = Bench.result("start");
    m.put("runs", RUNS);
    put(m, "", fresh);
    put(m, "restart_", restart);
    m.put("jvm_flags", "as the ./skiff launcher runs the server (its flags and AOT cache)");
    m.put("server_args", String.join(" ", serverArgs));
    m.put("load_avg", Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
    Bench.print(m);
  }

  private static void put(Map<String, Object> m, String prefix, List<Sample> s) {
    long[] ready = Bench.sorted(s.stream().mapToLong(Sample::readyNanos).toArray());
    long[] rss = Bench.sorted(s.stream().mapToLong(Sample::rssKb).toArray());
    m.put(prefix + "median_ms", Bench.round(ready[ready.length / 2] / 1e6, 1));
    m.put(prefix + "max_ms", Bench.round(ready[ready.length - 1] / 1e6, 1));
    m.put(prefix + "rss_median_mb", Bench.round(rss[rss.length / 2] / 1024.0, 1));
    m.put(prefix + "rss_max_mb", Bench.round(rss[rss.length - 1] / 1024.0, 1));
  }

  private static Sample once(HttpClient http, String java, String cp, Path dir, String[] serverArgs) throws Exception {
    int port;
    try (ServerSocket s = new ServerSocket(0)) {
      port = s.getLocalPort();
    }
    List<String> cmd = new ArrayList<>();
    Path launcher = Path.of(cp.split(File.pathSeparator)[0]).getParent().getParent().getParent().resolve("skiff");
    if (Files.isExecutable(launcher)) {
      // What a user runs: the launcher (its JVM flags and the AOT cache it trained at build time);
      // it execs the JVM, so the process measured is the server itself.
      cmd.add(launcher.toString());
    } else {
      cmd.add(java);
      cmd.addAll(JVM_FLAGS);
      cmd.addAll(List.of("-cp", cp, "dev.skiff.cli.Main"));
    }
    cmd.addAll(List.of("server", "--data-dir", dir.toString(), "--port", Integer.toString(port)));
    cmd.addAll(List.of(serverArgs));
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD)
        .redirectError(dir.resolveSibling(dir.getFileName() + ".log").toFile());
    HttpRequest req = HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + port + "/readyz"))
        .timeout(Duration.ofSeconds(2)).build();
    long t0 = System.nanoTime();
    Process p = pb.start();
    try {
      long ready = -1;
      while (ready < 0) {
        if (!p.isAlive()) {
          throw new IllegalStateException("server exited with " + p.exitValue() + ", see "
              + dir.resolveSibling(dir.getFileName() + ".log"));
        }
        if (System.nanoTime() - t0 > 60_000_000_000L) {
          throw new IllegalStateException("server not ready after 60 s");
        }
        try {
          HttpResponse<Void> r = http.send(req, HttpResponse.BodyHandlers.discarding());
          if (r.statusCode() == 200) {
            ready = System.nanoTime() - t0;
            break;
          }
        } catch (java.io.IOException notYet) {
          // connection refused or not ready
        }
        Thread.sleep(5);
      }
      Thread.sleep(2000);
      long rss = rssKb(p.pid());
      return new Sample(ready, rss);
    } finally {
      p.destroy();
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        p.waitFor();
      }
      Files.deleteIfExists(dir.resolveSibling(dir.getFileName() + ".log"));
    }
  }

  static long rssKb(long pid) throws Exception {
    for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
      if (line.startsWith("VmRSS:")) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
      }
    }
    return -1;
  }
}
