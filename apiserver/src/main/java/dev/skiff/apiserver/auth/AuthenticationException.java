package dev.skiff.apiserver.auth;

/**
 * A credential was offered but is not valid (bad token, certificate not from the cluster CA,
 * expired...). The HTTP layer answers 401; absence of any credential is not an exception but a
 * null user.
 */
public class AuthenticationException extends Exception {
  public AuthenticationException(String message) {
    super(message);
  }

  public AuthenticationException(String message, Throwable cause) {
    super(message, cause);
  }
}
