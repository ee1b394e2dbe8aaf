package dev.skiff.serving;

/**
 * A container image reference split as go-containerregistry's name.ParseReference does (weak
 * validation): {@code [registry/]repository[:tag][@digest]}. The registry is the first component
 * when it has a '.' or ':' or is {@code localhost}; otherwise Docker Hub ({@code index.docker.io},
 * with {@code library/} for one-component names). Immutable.
 */
record ImageReference(String registry, String repository, String tag, String digest) {
  static final String DOCKER_HUB = "index.docker.io";

  static ImageReference parse(String image) {
    String s = image.trim();
    String digest = null;
    int at = s.indexOf('@');
    if (at >= 0) {
      digest = s.substring(at + 1);
      s = s.substring(0, at);
    }
    String registry = DOCKER_HUB;
    int slash = s.indexOf('/');
    if (slash > 0) {
      String first = s.substring(0, slash);
      if (first.contains(".") || first.contains(":") || first.equals("localhost")) {
        registry = first.equals("docker.io") ? DOCKER_HUB : first;
        s = s.substring(slash + 1);
      }
    }
    String tag = "latest";
    int colon = s.lastIndexOf(':');
    if (colon > s.lastIndexOf('/')) {
      tag = s.substring(colon + 1);
      s = s.substring(0, colon);
    }
    if (registry.equals(DOCKER_HUB) && !s.contains("/")) {
      s = "library/" + s;
    }
    if (s.isEmpty() || tag.isEmpty()) {
      throw new IllegalArgumentException("could not parse reference: " + image);
    }
    return new ImageReference(registry, s, tag, digest);
  }

  /** The host part of the registry (without port). */
  String host() {
    int colon = registry.lastIndexOf(':');
    return colon > 0 && !registry.endsWith("]") ? registry.substring(0, colon) : registry;
  }

  /**
   * http for loopback and localhost registries, https otherwise (go-containerregistry
   * name.Registry.Scheme).
   */
  String scheme() {
    String h = host();
    return h.equals("localhost") || h.startsWith("127.") || h.equals("[::1]") || h.equals("::1") ? "http" : "https";
  }

  /** Docker Hub's API lives at registry-1.docker.io. */
  String apiHost() {
    return registry.equals(DOCKER_HUB) ? "registry-1.docker.io" : registry;
  }
}
