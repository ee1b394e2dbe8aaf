package dev.skiff.apiserver.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the real kubectl against a test server. {@link #DEFAULT} is /usr/bin/kubectl (the
 * dispatcher, which picks 1.32 from the server's reported minor version); {@link #V1_27} and
 * {@link #V1_33} are the versioned binaries beside it. HOME points at a per-server directory so
 * kubectl's discovery cache never leaks between servers.
 */
public final class Kubectl {
  public static final String DEFAULT = "/usr/bin/kubectl";
  public static final String V1_27 = "/usr/lib/google-cloud-sdk/bin/kubectl.1.27";
  public static final String V1_28 = "/usr/lib/google-cloud-sdk/bin/kubectl.1.28";
  public static final String V1_29 = "/usr/lib/google-cloud-sdk/bin/kubectl.1.29";
  public static final String V1_30 = "/usr/lib/google-cloud-sdk/bin/kubectl.1.30";
  public static final String V1_31 = "/usr/lib/google-cloud-sdk/bin/kubectl.1.31";
  public static final String V1_33 = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33";
  public static final List<String> ALL = List.of(DEFAULT, V1_27, V1_33);

  /** Exit code and output of one kubectl run. */
  public record Result(int code, String out, String err) {
    public Result ok() {
      if (code != 0) {
        throw new AssertionError("kubectl failed (" + code + "): " + err + out);
      }
      return this;
    }
  }

  private final String binary;
  private final Path kubeconfig;
  private final Path home;

  public Kubectl(String binary, Path kubeconfig, Path home) {
    this.binary = binary;
    this.kubeconfig = kubeconfig;
    this.home = home;
  }

  public Result run(String... args) throws Exception {
    return runWithInput(null, args);
  }

  public Result runWithInput(String stdin, String... args) throws Exception {
    Process p = start(args);
    if (stdin != null) {
      p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
    }
    p.getOutputStream().close();
    var out = p.getInputStream();
    var err = p.getErrorStream();
    // Own threads, not the common pool: blocking reads there starve the JDK HttpClient (which
    // completes futures on the common pool), e.g. the API server's connection to a node agent.
    var outF = new java.util.concurrent.CompletableFuture<String>();
    var errF = new java.util.concurrent.CompletableFuture<String>();
    Thread.ofVirtual().start(() -> outF.complete(read(out)));
    Thread.ofVirtual().start(() -> errF.complete(read(err)));
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("kubectl timed out: " + String.join(" ", args));
    }
    return new Result(p.exitValue(), outF.get(), errF.get());
  }

  /** Starts kubectl without waiting (for -w, --wait and the like). */
  public Process start(String... args) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(binary);
    cmd.add("--kubeconfig");
    cmd.add(kubeconfig.toString());
    cmd.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put("HOME", home.toString());
    pb.environment().remove("KUBECONFIG");
    return pb.start();
  }

  private static String read(java.io.InputStream in) {
    try {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }
}
