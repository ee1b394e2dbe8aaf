package dev.skiff.apiserver.auth;

/** Extracts a bearer token the way kube-apiserver's bearertoken authenticator does. */
final class BearerToken {
  private BearerToken() {}

  /**
   * The token of an {@code Authorization: Bearer <token>} header (scheme case-insensitive), or null
   * if the header is absent, uses another scheme (Basic belongs to someone else) or has no token.
   */
  static String extract(String authorizationHeader) {
    if (authorizationHeader == null) return null;
    String h = authorizationHeader.strip();
    int sp = indexOfSpace(h);
    if (sp < 0 || !h.substring(0, sp).equalsIgnoreCase("bearer")) return null;
    String rest = h.substring(sp).strip();
    int end = indexOfSpace(rest);
    String token = end < 0 ? rest : rest.substring(0, end);
    return token.isEmpty() ? null : token;
  }

  private static int indexOfSpace(String s) {
    for (int i = 0; i < s.length(); i++) {
      if (s.charAt(i) == ' ' || s.charAt(i) == '\t') return i;
    }
    return -1;
  }
}
