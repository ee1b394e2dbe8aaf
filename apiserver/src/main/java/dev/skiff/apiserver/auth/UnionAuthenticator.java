package dev.skiff.apiserver.auth;

import java.security.cert.X509Certificate;
import java.util.List;

/**
 * Tries authenticators in order and returns the first user found, like kube-apiserver's union
 * authenticator: a failing credential does not stop a later valid one (a client may present an
 * unrelated certificate and a good token); only when nobody succeeds are the failures reported.
 */
public final class UnionAuthenticator implements Authenticator {
  private final List<Authenticator> delegates;

  public UnionAuthenticator(List<Authenticator> delegates) {
    this.delegates = List.copyOf(delegates);
  }

  public static UnionAuthenticator of(Authenticator... delegates) {
    return new UnionAuthenticator(List.of(delegates));
  }

  @Override
  public UserInfo authenticate(X509Certificate[] peerChain, String authorizationHeader)
      throws AuthenticationException {
    AuthenticationException failure = null;
    for (Authenticator a : delegates) {
      try {
        UserInfo u = a.authenticate(peerChain, authorizationHeader);
        if (u != null) return u;
      } catch (AuthenticationException e) {
        if (failure == null) failure = e;
        else failure.addSuppressed(e);
      }
    }
    if (failure != null) throw failure;
    return null;
  }
}
