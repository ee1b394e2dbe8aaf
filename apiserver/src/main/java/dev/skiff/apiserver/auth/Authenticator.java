package dev.skiff.apiserver.auth;

import java.security.cert.X509Certificate;

/**
 * Turns the credentials of one request into a user.
 *
 * <p>Contract, as kube-apiserver's authenticators: return null when this authenticator finds no
 * credential of its kind; throw {@link AuthenticationException} when one is present but invalid.
 * The HTTP layer answers 401 in both cases, except that anonymous (null) requests to /healthz,
 * /livez, /readyz and /version are let through.
 */
@FunctionalInterface
public interface Authenticator {
  /**
   * @param peerChain the verified TLS client chain (leaf first), or null/empty without one
   * @param authorizationHeader the raw Authorization header value, or null
   */
  UserInfo authenticate(X509Certificate[] peerChain, String authorizationHeader)
      throws AuthenticationException;
}
