package dev.skiff.apiserver.auth;

/**
 * The user of the request being served on this thread, for admission plugins that judge the
 * requester (kube-apiserver's admission.Attributes.GetUserInfo; RBAC's escalation check). Every
 * request runs on its own virtual thread, so a thread-local is exactly request-scoped; writes
 * made by the server itself (controllers, bootstrap) see null.
 */
public final class RequestUser {
  private static final ThreadLocal<UserInfo> CURRENT = new ThreadLocal<>();

  private RequestUser() {}

  public static UserInfo current() {
    return CURRENT.get();
  }

  public static void set(UserInfo user) {
    if (user == null) {
      CURRENT.remove();
    } else {
      CURRENT.set(user);
    }
  }
}
