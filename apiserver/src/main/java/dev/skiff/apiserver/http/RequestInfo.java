package dev.skiff.apiserver.http;

import java.util.Arrays;
import java.util.List;

/**
 * What a request is about, parsed from its method and path the way apiserver's
 * pkg/endpoints/request/requestinfo.go does: API prefix, group, version, namespace, resource,
 * name, subresource and the Kubernetes verb.
 *
 * @param resourceRequest false for /version, /healthz, discovery documents and the like
 */
public record RequestInfo(
    boolean resourceRequest,
    String path,
    String verb,
    String group,
    String version,
    String namespace,
    String resource,
    String name,
    String subresource,
    List<String> parts) {

  public static RequestInfo parse(String method, String path, boolean watchParam) {
    String[] segs = Arrays.stream(path.split("/")).filter(s -> !s.isEmpty()).toArray(String[]::new);
    String verb = method.toLowerCase();
    if (segs.length == 0 || !(segs[0].equals("api") || segs[0].equals("apis"))) {
      return new RequestInfo(false, path, verb, null, null, null, null, null, null, List.of(segs));
    }
    int i = 1;
    String group = "";
    if (segs[0].equals("apis")) {
      if (segs.length < 3) {
        return new RequestInfo(false, path, verb, segs.length > 1 ? segs[1] : null, null, null, null, null, null, List.of(segs));
      }
      group = segs[1];
      i = 2;
    } else if (segs.length < 2) {
      return new RequestInfo(false, path, verb, "", null, null, null, null, null, List.of(segs));
    }
    String version = segs[i++];
    if (i >= segs.length) {
      return new RequestInfo(false, path, verb, group, version, null, null, null, null, List.of(segs));
    }
    boolean legacyWatch = false;
    if (segs[i].equals("watch")) {
      legacyWatch = true;
      i++;
    }
    String[] rest = Arrays.copyOfRange(segs, i, segs.length);
    String namespace = null;
    if (rest.length > 0 && rest[0].equals("namespaces")) {
      if (rest.length == 3 && (rest[2].equals("status") || rest[2].equals("finalize"))) {
        // namespaces/{name}/status is a subresource of the namespace itself
      } else if (rest.length >= 3) {
        namespace = rest[1];
        rest = Arrays.copyOfRange(rest, 2, rest.length);
      }
    }
    String resource = rest.length > 0 ? rest[0] : null;
    String name = rest.length > 1 ? rest[1] : null;
    String sub = rest.length > 2 ? rest[2] : null;
    String v = switch (method) {
      case "POST" -> "create";
      case "PUT" -> "update";
      case "PATCH" -> "patch";
      case "DELETE" -> name == null ? "deletecollection" : "delete";
      default -> name == null ? (watchParam || legacyWatch ? "watch" : "list") : (legacyWatch ? "watch" : "get");
    };
    return new RequestInfo(true, path, v, group, version, namespace, resource, name, sub, List.of(rest));
  }
}
