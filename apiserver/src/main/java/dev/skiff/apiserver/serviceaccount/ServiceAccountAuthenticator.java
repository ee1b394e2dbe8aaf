package dev.skiff.apiserver.serviceaccount;

import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.auth.AuthenticationException;
import dev.skiff.apiserver.auth.Authenticator;
import dev.skiff.apiserver.auth.UserInfo;
import dev.skiff.apiserver.cache.CachedObject;
import dev.skiff.apiserver.registry.ResourceStore;
import java.security.cert.X509Certificate;
import java.time.Clock;
import java.util.List;
import java.util.Map;

/**
 * Authenticates bound service-account tokens (pkg/serviceaccount/jwt.go + claims.go validator):
 * signature, expiry and audience are checked, then that the ServiceAccount still exists with the
 * uid the token was issued for. The user is system:serviceaccount:NS:NAME in the groups
 * system:serviceaccounts and system:serviceaccounts:NS.
 */
public final class ServiceAccountAuthenticator implements Authenticator {
  private final ServiceAccountTokens tokens;
  private final dev.skiff.apiserver.registry.ResourceRegistry registry;
  private final ResourceStore serviceAccounts;
  private final Clock clock;
  private final List<String> audiences;

  public ServiceAccountAuthenticator(ServiceAccountTokens tokens, dev.skiff.apiserver.registry.ResourceRegistry registry,
      Clock clock) {
    this.tokens = tokens;
    this.registry = registry;
    this.serviceAccounts = registry.storeForKind("", "ServiceAccount");
    this.clock = clock;
    this.audiences = List.of(ServiceAccountTokens.ISSUER);
  }

  @Override
  public UserInfo authenticate(X509Certificate[] peerChain, String authorizationHeader) throws AuthenticationException {
    String token = bearer(authorizationHeader);
    if (token == null || !ServiceAccountTokens.looksLikeJwt(token)) {
      return null;
    }
    ServiceAccountTokens.Claims c;
    try {
      c = tokens.verify(token, clock.instant(), audiences);
    } catch (IllegalArgumentException e) {
      throw new AuthenticationException(e.getMessage());
    }
    if (c == null) {
      return null;
    }
    CachedObject sa = serviceAccounts.cache().get(serviceAccounts.descriptor().key(c.namespace(), c.name()));
    if (sa == null) {
      throw new AuthenticationException("service account " + c.namespace() + "/" + c.name() + " has been deleted");
    }
    String uid = Json.parseObject(sa.json()).path("metadata").path("uid").asText("");
    if (!c.uid().isEmpty() && !uid.equals(c.uid())) {
      throw new AuthenticationException("service account UID (" + uid + ") does not match claim (" + c.uid() + ")");
    }
    // pkg/serviceaccount/claims.go: the jti identifies the credential; a bound token names its
    // pod, and dies with the object it is bound to.
    Map<String, List<String>> extra = new java.util.LinkedHashMap<>();
    if (!c.jti().isEmpty()) {
      extra.put("authentication.kubernetes.io/credential-id", List.of("JTI=" + c.jti()));
    }
    ServiceAccountTokens.BoundObject b = c.bound();
    if (b != null) {
      ResourceStore store = registry.storeForKind("", b.kind());
      CachedObject o = store.cache().get(store.descriptor().key(c.namespace(), b.name()));
      String have = o == null ? null : Json.parseObject(o.json()).path("metadata").path("uid").asText("");
      if (have == null) {
        throw new AuthenticationException(b.kind().toLowerCase() + " \"" + b.name() + "\" not found");
      }
      if (!have.equals(b.uid())) {
        throw new AuthenticationException(b.kind().toLowerCase() + " UID (" + have + ") does not match claim (" + b.uid() + ")");
      }
      if (b.kind().equals("Pod")) {
        extra.put("authentication.kubernetes.io/pod-name", List.of(b.name()));
        extra.put("authentication.kubernetes.io/pod-uid", List.of(b.uid()));
      }
    }
    return new UserInfo(c.username(), uid,
        List.of("system:serviceaccounts", "system:serviceaccounts:" + c.namespace()), extra);
  }

  private static String bearer(String header) {
    if (header == null) {
      return null;
    }
    String h = header.strip();
    int sp = h.indexOf(' ');
    if (sp < 0 || !h.substring(0, sp).equalsIgnoreCase("bearer")) {
      return null;
    }
    String t = h.substring(sp).strip();
    return t.isEmpty() ? null : t;
  }
}
