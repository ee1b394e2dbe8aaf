package dev.skiff.apiserver.nodes;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.http.ApiHandler;
import dev.skiff.apiserver.http.Exchange;
import dev.skiff.apiserver.http.RequestInfo;
import dev.skiff.apiserver.registry.ResourceRegistry;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The pods/log subresource (pkg/registry/core/pod/rest/log.go and pod/strategy.go
 * LogLocation): finds the pod's node and the node agent's port
 * ({@code status.daemonEndpoints.kubeletEndpoint.Port}) and streams
 * {@code /containerLogs/<ns>/<pod>/<container>} from it, passing follow, previous, tailLines,
 * sinceSeconds, sinceTime, timestamps and limitBytes through. The container defaults to the
 * only (or the first) container. The agent is dialed as {@link KubeletClient} says (mutual TLS at
 * the node's address, or plain HTTP on loopback for an agent without serving credentials).
 * Thread-safe.
 */
public final class PodLogProxy {
  private static final List<String> PASSED = List.of("follow", "previous", "tailLines", "sinceSeconds", "sinceTime",
      "timestamps", "limitBytes");

  private PodLogProxy() {}

  public static void install(ApiHandler handler, ResourceRegistry registry, KubeletClient kubelet) {
    handler.addVirtual("", "v1", "pods/log", (ex, info) -> serve(ex, info, registry, kubelet));
  }

  private static void serve(Exchange ex, RequestInfo info, ResourceRegistry registry, KubeletClient kubelet)
      throws Exception {
    if (!ex.method().equals("GET")) {
      throw ApiException.methodNotAllowed("the server does not allow this method on the requested resource");
    }
    ObjectNode pod = registry.storeForKind("", "Pod").getObject(info.namespace(), info.name());
    String container = ex.param("container");
    JsonNode containers = pod.path("spec").path("containers");
    if (container == null || container.isEmpty()) {
      if (containers.size() != 1 && containers.size() > 0) {
        // upstream: "a container name must be specified for pod X, choose one of: [...]"
        StringBuilder names = new StringBuilder();
        containers.forEach(c -> names.append(names.isEmpty() ? "" : " ").append(c.path("name").asText()));
        throw ApiException.badRequest("a container name must be specified for pod " + info.name()
            + ", choose one of: [" + names + "]");
      }
      container = containers.path(0).path("name").asText();
    } else if (!hasContainer(pod, container)) {
      throw ApiException.badRequest("container " + container + " is not valid for pod " + info.name());
    }
    String nodeName = pod.path("spec").path("nodeName").asText("");
    if (nodeName.isEmpty()) {
      throw ApiException.badRequest("pod " + info.name() + " does not have a host assigned");
    }
    ObjectNode node = registry.storeForKind("", "Node").getObject(null, nodeName);
    StringBuilder url = new StringBuilder(kubelet.baseUrl(node)).append("/containerLogs/")
        .append(enc(info.namespace())).append('/').append(enc(info.name())).append('/').append(enc(container));
    char sep = '?';
    for (String p : PASSED) {
      String v = ex.param(p);
      if (v != null) {
        url.append(sep).append(p).append('=').append(enc(v));
        sep = '&';
      }
    }
    HttpResponse<InputStream> resp;
    try {
      resp = kubelet.http().send(HttpRequest.newBuilder(URI.create(url.toString())).GET().build(),
          HttpResponse.BodyHandlers.ofInputStream());
    } catch (java.io.IOException e) {
      throw ApiException.internal("dialing the node agent of " + nodeName + ": " + e.getMessage());
    }
    if (resp.statusCode() != 200) {
      String msg;
      try (InputStream in = resp.body()) {
        msg = new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
      }
      throw resp.statusCode() == 404 ? ApiException.notFound("", "pods", info.name()) : ApiException.badRequest(msg);
    }
    OutputStream out = ex.stream(200, "text/plain");
    try (InputStream in = resp.body()) {
      byte[] buf = new byte[16 * 1024];
      int n;
      while ((n = in.read(buf)) >= 0) {
        out.write(buf, 0, n);
        out.flush();
      }
    } finally {
      ex.endStream(out);
    }
  }

  private static boolean hasContainer(ObjectNode pod, String name) {
    for (String list : List.of("containers", "initContainers", "ephemeralContainers")) {
      for (JsonNode c : pod.path("spec").path(list)) {
        if (name.equals(c.path("name").asText())) {
          return true;
        }
      }
    }
    return false;
  }

  private static String enc(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8);
  }
}
