package dev.skiff.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/** Runs a real kubectl binary against a Skiff kubeconfig, with an isolated HOME (no shared ~/.kube/cache). */
final class Kubectl {
  static final String DISPATCHER = "/usr/bin/kubectl";
  static final String V1_27 = "/usr/lib/google-cloud-sdk/bin/kubectl.1.27";
  static final String V1_33 = "/usr/lib/google-cloud-sdk/bin/kubectl.1.33";
  static final List<String> ALL = List.of(DISPATCHER, V1_27, V1_33);

  record Result(int exitCode, String stdout, String stderr) {
    boolean ok() { return exitCode == 0; }
    @Override public String toString() {
      return "exit=" + exitCode + "\n--- stdout ---\n" + stdout + "\n--- stderr ---\n" + stderr;
    }
  }

  private final String binary;
  private final Path kubeconfig;
  private final Path home;
  private final Duration timeout;

  Kubectl(String binary, Path kubeconfig, Path home) {
    this(binary, kubeconfig, home, Duration.ofSeconds(60));
  }

  Kubectl(String binary, Path kubeconfig, Path home, Duration timeout) {
    this.binary = binary;
    this.kubeconfig = kubeconfig;
    this.home = home;
    this.timeout = timeout;
  }

  String binary() { return binary; }

  Kubectl withBinary(String other) { return new Kubectl(other, kubeconfig, home, timeout); }

  Result run(String... args) { return runWithStdin(null, args); }

  Result runWithStdin(String stdin, String... args) {
    Process p = start(ProcessBuilder.Redirect.PIPE, args);
    try {
      CompletableFuture<String> out = drain(p.getInputStream());
      CompletableFuture<String> err = drain(p.getErrorStream());
      if (stdin != null) {
        try (var os = p.getOutputStream()) { os.write(stdin.getBytes(StandardCharsets.UTF_8)); }
      } else {
        p.getOutputStream().close();
      }
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new AssertionError("kubectl " + String.join(" ", args) + " timed out after " + timeout
            + "\nstdout so far: " + out.getNow("") + "\nstderr: " + err.getNow(""));
      }
      return new Result(p.exitValue(), out.join(), err.join());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  /** Apply a manifest through stdin: {@code kubectl apply -f -}. */
  Result apply(String manifest, String... extra) { return runWithStdin(manifest, concat(new String[] {"apply", "-f", "-"}, extra)); }

  /** Starts kubectl in the background; stdout/stderr go to files the caller can poll. */
  Background background(String... args) {
    try {
      Path out = Files.createTempFile(home, "bg-", ".out");
      Path err = Files.createTempFile(home, "bg-", ".err");
      ProcessBuilder pb = builder(args).redirectOutput(out.toFile()).redirectError(err.toFile())
          .redirectInput(ProcessBuilder.Redirect.PIPE);
      Process p = pb.start();
      p.getOutputStream().close();
      return new Background(p, out, err);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  record Background(Process process, Path out, Path err) implements AutoCloseable {
    String stdout() { return read(out); }
    String stderr() { return read(err); }
    private static String read(Path p) {
      try { return Files.readString(p, StandardCharsets.UTF_8); } catch (IOException e) { throw new UncheckedIOException(e); }
    }
    @Override public void close() {
      process.destroyForcibly();
      try { process.waitFor(10, TimeUnit.SECONDS); } catch (InterruptedException e) { Thread.currentThread().interrupt(); }
    }
  }

  private Process start(ProcessBuilder.Redirect in, String... args) {
    try {
      return builder(args).redirectInput(in).start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private ProcessBuilder builder(String... args) {
    List<String> cmd = new ArrayList<>();
    cmd.add(binary);
    cmd.add("--kubeconfig");
    cmd.add(kubeconfig.toString());
    cmd.addAll(Arrays.asList(args));
    ProcessBuilder pb = new ProcessBuilder(cmd);
    pb.environment().put("HOME", home.toString());
    pb.environment().remove("KUBECONFIG");
    pb.environment().put("KUBECTL_KUBERC", "false");
    return pb;
  }

  private static CompletableFuture<String> drain(InputStream in) {
    return CompletableFuture.supplyAsync(() -> {
      try (in) {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }, r -> Thread.ofVirtual().start(r));
  }

  private static String[] concat(String[] a, String[] b) {
    String[] r = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, r, a.length, b.length);
    return r;
  }
}
