package dev.skiff.apiserver.auth;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * An authenticated user, as Kubernetes' {@code user.Info}.
 *
 * <p>The constructor appends {@value #ALL_AUTHENTICATED} the way kube-apiserver's
 * AuthenticatedGroupAdder does: unless the user is {@value #ANONYMOUS} or already carries
 * {@value #ALL_AUTHENTICATED} or {@value #ALL_UNAUTHENTICATED}. Doing it here rather than in each
 * authenticator means no authenticator can forget it.
 *
 * @param uid may be empty, never null
 * @param extra Kubernetes' "extra" attributes (e.g. scopes); keys keep insertion order
 */
public record UserInfo(String name, String uid, List<String> groups, Map<String, List<String>> extra) {
  public static final String ALL_AUTHENTICATED = "system:authenticated";
  public static final String ALL_UNAUTHENTICATED = "system:unauthenticated";
  public static final String ANONYMOUS = "system:anonymous";

  public UserInfo {
    Objects.requireNonNull(name, "name");
    uid = uid == null ? "" : uid;
    List<String> g = new ArrayList<>(groups == null ? List.of() : groups);
    if (!name.equals(ANONYMOUS) && !g.contains(ALL_AUTHENTICATED) && !g.contains(ALL_UNAUTHENTICATED)) {
      g.add(ALL_AUTHENTICATED);
    }
    groups = List.copyOf(g);
    Map<String, List<String>> e = new LinkedHashMap<>();
    if (extra != null) extra.forEach((k, v) -> e.put(k, List.copyOf(v)));
    extra = java.util.Collections.unmodifiableMap(e);
  }

  public UserInfo(String name, List<String> groups) {
    this(name, "", groups, Map.of());
  }
}
