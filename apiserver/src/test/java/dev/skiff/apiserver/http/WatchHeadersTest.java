package dev.skiff.apiserver.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.skiff.apiserver.testing.TestServer;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A watch answers its headers at once, before any event, as kube-apiserver does
 * (staging/src/k8s.io/apiserver/pkg/endpoints/handlers/watch.go flushes after WriteHeader).
 * Clients such as fabric8 treat the headers as "watch established".
 */
class WatchHeadersTest {
  @Test
  void headersArriveBeforeTheFirstEvent() throws Exception {
    try (TestServer server = TestServer.start()) {
      for (HttpClient.Version version : HttpClient.Version.values()) {
        HttpClient http = HttpClient.newBuilder().version(version)
            .sslContext(dev.skiff.apiserver.pki.Kubeconfig.read(server.kubeconfig()).sslContext()).build();
        HttpRequest req = HttpRequest.newBuilder(URI.create(server.url()
            + "/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=0&allowWatchBookmarks=true")).build();
        HttpResponse<InputStream> res = http.sendAsync(req, HttpResponse.BodyHandlers.ofInputStream()).get(5, TimeUnit.SECONDS);
        assertThat(res.statusCode()).isEqualTo(200);
        assertThat(res.headers().firstValue("content-type")).hasValue("application/json");
        res.body().close();
      }
    }
  }
}
