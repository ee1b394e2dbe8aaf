package dev.skiff.apiserver.http;

/**
 * /version. The minor version must be "32": /usr/bin/kubectl (Google Cloud SDK's dispatcher)
 * picks the kubectl binary from it (shared/reference/kubectl-compat.md finding 1).
 */
public final class VersionInfo {
  public static final String MAJOR = "1";
  public static final String MINOR = "32";
  public static final String GIT_VERSION = "v1.32.4-skiff";

  private VersionInfo() {}

  static String json() {
    return "{\"major\":\"" + MAJOR + "\",\"minor\":\"" + MINOR + "\",\"gitVersion\":\"" + GIT_VERSION
        + "\",\"gitCommit\":\"skiff\",\"gitTreeState\":\"clean\",\"buildDate\":\"2026-11-22T00:00:00Z\","
        + "\"goVersion\":\"java" + Runtime.version().feature() + "\",\"compiler\":\"javac\",\"platform\":\"linux/amd64\"}";
  }
}
