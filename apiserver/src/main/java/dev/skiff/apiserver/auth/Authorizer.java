package dev.skiff.apiserver.auth;

/**
 * Decides whether a user may make a request (kube-apiserver's authorizer chain). Called after
 * authentication for every request except the health and version endpoints.
 */
@FunctionalInterface
public interface Authorizer {
  Decision authorize(UserInfo user, RequestAttributes request);

  /** A verdict; {@code reason} is appended to the 403 message when non-empty. */
  record Decision(boolean allowed, String reason) {
    public static final Decision ALLOW = new Decision(true, "");

    public static Decision deny(String reason) {
      return new Decision(false, reason == null ? "" : reason);
    }
  }

  /** Everyone may do everything (until RBAC is wired in). */
  Authorizer ALLOW_ALL = (user, request) -> Decision.ALLOW;
}
