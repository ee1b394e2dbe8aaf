package dev.skiff.kubelet.prober;

import dev.skiff.kubelet.cri.ContainerExec;
import io.fabric8.kubernetes.api.model.ExecAction;
import io.fabric8.kubernetes.api.model.GRPCAction;
import io.fabric8.kubernetes.api.model.HTTPGetAction;
import io.fabric8.kubernetes.api.model.HTTPHeader;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.Probe;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;

/**
 * Runs one probe once (pkg/kubelet/prober/prober.go runProbe and pkg/probe/{exec,http,tcp,grpc}):
 * exec succeeds on exit 0; httpGet on a status in 200-399 (same-host redirects followed,
 * a redirect elsewhere counts as success, as upstream does with a warning); tcpSocket when the
 * port accepts a connection; grpc when grpc.health.v1.Health/Check answers SERVING. Every probe
 * is bounded by {@code timeoutSeconds} (min 1). Stateless; thread-safe.
 */
public final class Prober {
  /** kube-probe/&lt;major.minor&gt; (pkg/probe/http/request.go). */
  public static final String USER_AGENT = "kube-probe/1.32";
  private static final int MAX_OUTPUT = 10 * 1024; // maxProbeOutputLength-ish: keep messages small
  private static final int MAX_REDIRECTS = 10;

  /** Probe outcome (pkg/probe Result). */
  public enum Outcome { SUCCESS, FAILURE, UNKNOWN }

  /** An outcome and a message (the probe's output, or why it failed). */
  public record Result(Outcome outcome, String message) {
    static Result success(String m) {
      return new Result(Outcome.SUCCESS, m);
    }

    static Result failure(String m) {
      return new Result(Outcome.FAILURE, m);
    }
  }

  /** What a probe targets: the pod's IP, the container (for named ports) and its shim pid (for exec). */
  public record Target(String podIp, Container container, long pid) {}

  /** Runs {@code probe} once against {@code target}; never throws. */
  public Result probe(Probe probe, Target target) {
    int timeout = Math.max(1, probe.getTimeoutSeconds() == null ? 1 : probe.getTimeoutSeconds());
    try {
      if (probe.getExec() != null) {
        return exec(probe.getExec(), target, timeout);
      }
      if (probe.getHttpGet() != null) {
        return http(probe.getHttpGet(), target, timeout);
      }
      if (probe.getTcpSocket() != null) {
        String host = blank(probe.getTcpSocket().getHost()) ? target.podIp() : probe.getTcpSocket().getHost();
        int port = port(probe.getTcpSocket().getPort(), target.container());
        try (Socket s = new Socket()) {
          s.connect(new InetSocketAddress(host, port), timeout * 1000);
          return Result.success("");
        } catch (IOException e) {
          return Result.failure("dial tcp " + host + ":" + port + ": " + e.getMessage());
        }
      }
      if (probe.getGrpc() != null) {
        return grpc(probe.getGrpc(), target, timeout);
      }
      return new Result(Outcome.UNKNOWN, "missing probe handler");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return new Result(Outcome.UNKNOWN, "interrupted");
    } catch (Exception e) {
      return new Result(Outcome.UNKNOWN, e.toString());
    }
  }

  private static Result exec(ExecAction action, Target target, int timeout) throws IOException, InterruptedException {
    if (target.pid() <= 0) {
      return new Result(Outcome.UNKNOWN, "container is not running");
    }
    List<String> cmd = action.getCommand() == null ? List.of() : action.getCommand();
    if (cmd.isEmpty()) {
      return Result.failure("exec: no command");
    }
    ProcessBuilder pb = ContainerExec.processBuilder(target.pid(), cmd).redirectErrorStream(true);
    pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      return Result.failure(e.getMessage());
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Thread reader = Thread.ofVirtual().start(() -> copyLimited(p.getInputStream(), out));
    if (!p.waitFor(timeout, TimeUnit.SECONDS)) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      // pkg/kubelet/prober/prober.go: a timed-out exec probe fails
      return Result.failure("command " + cmd + " timed out");
    }
    reader.join(1000);
    String output;
    synchronized (out) {
      output = out.toString(StandardCharsets.UTF_8);
    }
    return p.exitValue() == 0 ? Result.success(output) : Result.failure(output.isEmpty()
        ? "command " + cmd + " exited with " + p.exitValue() : output);
  }

  private static void copyLimited(InputStream in, ByteArrayOutputStream out) {
    byte[] buf = new byte[4096];
    try (in) {
      int n;
      while ((n = in.read(buf)) >= 0) {
        synchronized (out) {
          if (out.size() < MAX_OUTPUT) {
            out.write(buf, 0, Math.min(n, MAX_OUTPUT - out.size()));
          }
        }
      }
    } catch (IOException e) {
      // the process died; what was read is the output
    }
  }

  // --- httpGet (pkg/probe/http/http.go) ---

  private static Result http(HTTPGetAction a, Target target, int timeout) throws IOException {
    String scheme = blank(a.getScheme()) ? "http" : a.getScheme().toLowerCase(Locale.ROOT);
    String host = blank(a.getHost()) ? target.podIp() : a.getHost();
    int port = port(a.getPort(), target.container());
    String path = blank(a.getPath()) ? "/" : a.getPath().startsWith("/") ? a.getPath() : "/" + a.getPath();
    String hostHeader = null;
    List<String[]> headers = new ArrayList<>();
    for (HTTPHeader h : a.getHttpHeaders() == null ? List.<HTTPHeader>of() : a.getHttpHeaders()) {
      if (h.getName().equalsIgnoreCase("Host")) {
        hostHeader = h.getValue();
      } else {
        headers.add(new String[] {h.getName(), h.getValue()});
      }
    }
    if (headers.stream().noneMatch(h -> h[0].equalsIgnoreCase("User-Agent"))) {
      headers.add(new String[] {"User-Agent", USER_AGENT});
    }
    if (headers.stream().noneMatch(h -> h[0].equalsIgnoreCase("Accept"))) {
      headers.add(new String[] {"Accept", "*/*"});
    }
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeout);
    for (int hop = 0; hop <= MAX_REDIRECTS; hop++) {
      int left = (int) Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime()));
      String[] resp;
      try {
        resp = get(scheme, host, port, path, hostHeader, headers, left);
      } catch (SocketTimeoutException e) {
        return Result.failure("Get \"" + scheme + "://" + host + ":" + port + path
            + "\": context deadline exceeded (Client.Timeout exceeded while awaiting headers)");
      } catch (IOException e) {
        return Result.failure("Get \"" + scheme + "://" + host + ":" + port + path + "\": " + e.getMessage());
      }
      int code = Integer.parseInt(resp[0]);
      if (code >= 300 && code < 400 && resp[1] != null) {
        URI next = URI.create(scheme + "://" + host + ":" + port + path).resolve(resp[1]);
        String nextHost = next.getHost();
        if (nextHost != null && !nextHost.equals(host)) {
          // pkg/probe/http/request.go redirectChecker: another host is not followed; success with a warning
          return Result.success("Probe terminated redirects, Response body: " + resp[2]);
        }
        scheme = next.getScheme() == null ? scheme : next.getScheme();
        port = next.getPort() > 0 ? next.getPort() : port;
        path = (next.getRawPath() == null || next.getRawPath().isEmpty() ? "/" : next.getRawPath())
            + (next.getRawQuery() == null ? "" : "?" + next.getRawQuery());
        continue;
      }
      if (code >= 200 && code < 400) {
        return Result.success(resp[2]);
      }
      return Result.failure("HTTP probe failed with statuscode: " + code);
    }
    return Result.failure("stopped after " + MAX_REDIRECTS + " redirects");
  }

  /** One HTTP/1.1 GET; returns {status, location, body (truncated)}. */
  private static String[] get(String scheme, String host, int port, String path, String hostHeader,
      List<String[]> headers, int timeoutMillis) throws IOException {
    Socket raw = new Socket();
    try (raw) {
      raw.connect(new InetSocketAddress(host, port), timeoutMillis);
      raw.setSoTimeout(timeoutMillis);
      Socket s = raw;
      if (scheme.equals("https")) {
        // HTTPS probes skip certificate verification (pkg/probe/http: InsecureSkipVerify: true)
        SSLSocket tls = (SSLSocket) insecureTls().getSocketFactory().createSocket(raw, host, port, true);
        tls.startHandshake();
        s = tls;
      }
      StringBuilder req = new StringBuilder("GET ").append(path).append(" HTTP/1.1\r\n");
      String authority = hostHeader != null ? hostHeader : (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
      req.append("Host: ").append(authority).append("\r\n");
      for (String[] h : headers) {
        req.append(h[0]).append(": ").append(h[1]).append("\r\n");
      }
      req.append("Connection: close\r\n\r\n");
      OutputStream out = s.getOutputStream();
      out.write(req.toString().getBytes(StandardCharsets.ISO_8859_1));
      out.flush();
      InputStream in = s.getInputStream();
      String status = line(in);
      String[] parts = status.split(" ", 3);
      if (parts.length < 2 || !parts[0].startsWith("HTTP/")) {
        throw new IOException("malformed HTTP response \"" + status + "\"");
      }
      String location = null;
      for (String h = line(in); !h.isEmpty(); h = line(in)) {
        int colon = h.indexOf(':');
        if (colon > 0 && h.substring(0, colon).trim().equalsIgnoreCase("Location")) {
          location = h.substring(colon + 1).trim();
        }
      }
      byte[] body = in.readNBytes(MAX_OUTPUT);
      return new String[] {parts[1], location, new String(body, StandardCharsets.UTF_8)};
    } catch (SocketTimeoutException e) {
      throw e;
    }
  }

  private static String line(InputStream in) throws IOException {
    StringBuilder sb = new StringBuilder();
    int c;
    while ((c = in.read()) >= 0 && c != '\n') {
      if (c != '\r') {
        sb.append((char) c);
      }
      if (sb.length() > 64 * 1024) {
        throw new IOException("header line too long");
      }
    }
    if (c < 0 && sb.isEmpty()) {
      throw new IOException("EOF");
    }
    return sb.toString();
  }

  private static volatile SSLContext insecure;

  private static SSLContext insecureTls() throws IOException {
    if (insecure == null) {
      try {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, new TrustManager[] {new X509TrustManager() {
          @Override
          public void checkClientTrusted(X509Certificate[] chain, String authType) {}

          @Override
          public void checkServerTrusted(X509Certificate[] chain, String authType) {}

          @Override
          public X509Certificate[] getAcceptedIssuers() {
            return new X509Certificate[0];
          }
        }}, new SecureRandom());
        insecure = ctx;
      } catch (java.security.GeneralSecurityException e) {
        throw new IOException(e);
      }
    }
    return insecure;
  }

  // --- grpc (pkg/probe/grpc/grpc.go): one grpc.health.v1.Health/Check call over h2c ---

  private static Result grpc(GRPCAction a, Target target, int timeout) throws IOException {
    int port = a.getPort();
    String host = target.podIp();
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(host, port), timeout * 1000);
      s.setSoTimeout(timeout * 1000);
      OutputStream out = s.getOutputStream();
      out.write(GrpcHealth.request(host + ":" + port, a.getService()));
      out.flush();
      GrpcHealth.Reply r = GrpcHealth.readReply(new DataInputStream(s.getInputStream()), out);
      if (r.status() == 1) {
        return Result.success("");
      }
      if (r.grpcError() != null) {
        return Result.failure("failed to check health: " + r.grpcError());
      }
      return Result.failure("service unhealthy (responded with \"" + GrpcHealth.statusName(r.status()) + "\")");
    } catch (SocketTimeoutException e) {
      return Result.failure("timeout: health rpc did not complete within " + timeout + "s");
    } catch (IOException e) {
      return Result.failure("timeout: failed to connect service \"" + host + ":" + port + "\" within " + timeout
          + "s: " + e.getMessage());
    }
  }

  /** A port number or the name of one of the container's ports. */
  static int port(IntOrString p, Container c) {
    if (p == null) {
      throw new IllegalArgumentException("probe has no port");
    }
    if (p.getIntVal() != null) {
      return p.getIntVal();
    }
    String name = p.getStrVal();
    if (name.chars().allMatch(Character::isDigit)) {
      return Integer.parseInt(name);
    }
    for (ContainerPort cp : c.getPorts() == null ? List.<ContainerPort>of() : c.getPorts()) {
      if (name.equals(cp.getName())) {
        return cp.getContainerPort();
      }
    }
    throw new IllegalArgumentException("couldn't find port: " + name + " in " + c.getName());
  }

  private static boolean blank(String s) {
    return s == null || s.isEmpty();
  }
}
