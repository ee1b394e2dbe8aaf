package dev.skiff.controllers.gc;

/**
 * One resource the API server serves, as discovery reports it (a RESTMapping): group, version,
 * plural name, kind and scope. Immutable.
 *
 * @param group API group, {@code ""} for core
 * @param version version, e.g. {@code v1}
 * @param resource plural resource name, e.g. {@code deployments}
 * @param kind kind, e.g. {@code Deployment}
 * @param namespaced whether objects live in namespaces
 */
public record ApiResource(String group, String version, String resource, String kind, boolean namespaced) {

  /** {@code v1} or {@code group/version}. */
  public String apiVersion() {
    return group.isEmpty() ? version : group + "/" + version;
  }

  /** A stable identity of the resource (group/version/resource), used in work-queue keys. */
  public String id() {
    return group + "/" + version + "/" + resource;
  }

  /** The collection path across all namespaces, e.g. {@code /apis/apps/v1/deployments}. */
  public String collectionPath() {
    return prefix() + "/" + resource;
  }

  /** The path of one object; {@code namespace} is ignored for cluster-scoped resources. */
  public String objectPath(String namespace, String name) {
    StringBuilder b = new StringBuilder(prefix());
    if (namespaced && namespace != null) {
      b.append("/namespaces/").append(namespace);
    }
    return b.append('/').append(resource).append('/').append(name).toString();
  }

  private String prefix() {
    return group.isEmpty() ? "/api/" + version : "/apis/" + group + "/" + version;
  }

  /** The group of an apiVersion ({@code ""} for {@code v1}). */
  public static String groupOf(String apiVersion) {
    int slash = apiVersion == null ? -1 : apiVersion.indexOf('/');
    return slash < 0 ? "" : apiVersion.substring(0, slash);
  }
}
