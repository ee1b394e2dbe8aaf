package dev.skiff.apiserver.testing;

import dev.skiff.apiserver.ApiServer;
import dev.skiff.apiserver.pki.Kubeconfig;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;

/**
 * An API server in the test's JVM on a free loopback port with a fresh data directory, plus an
 * HTTP client authenticated as the admin. Close it to stop the server and delete its state.
 */
public final class TestServer implements AutoCloseable {
  private final Path dir;
  private final ApiServer server;
  private final HttpClient http;

  private TestServer(Path dir, ApiServer server, HttpClient http) {
    this.dir = dir;
    this.server = server;
    this.http = http;
  }

  public static TestServer start() throws Exception {
    Path dir = Files.createTempDirectory("skiff-test");
    ApiServer server = ApiServer.start(new ApiServer.Config(dir.resolve("data"), 0, "127.0.0.1"));
    HttpClient http = HttpClient.newBuilder()
        .sslContext(Kubeconfig.read(server.kubeconfig()).sslContext())
        .connectTimeout(Duration.ofSeconds(5))
        .build();
    return new TestServer(dir, server, http);
  }

  public ApiServer server() {
    return server;
  }

  public Path kubeconfig() {
    return server.kubeconfig();
  }

  public String url() {
    return "https://127.0.0.1:" + server.port();
  }

  /** A scratch directory to use as HOME for kubectl (its discovery cache lives there). */
  public Path home() throws IOException {
    return Files.createDirectories(dir.resolve("home"));
  }

  public HttpClient http() {
    return http;
  }

  /** Sends a request as admin; {@code body} may be null. */
  public HttpResponse<String> request(String method, String path, String contentType, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url() + path)).timeout(Duration.ofSeconds(30));
    if (contentType != null) {
      b.header("Content-Type", contentType);
    }
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  public Kubectl kubectl() throws IOException {
    return new Kubectl(Kubectl.DEFAULT, kubeconfig(), home());
  }

  public Kubectl kubectl(String binary) throws IOException {
    return new Kubectl(binary, kubeconfig(), home());
  }

  @Override
  public void close() throws IOException {
    server.close();
    try (var files = Files.walk(dir)) {
      files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
