package dev.skiff.apiserver.registry;

/**
 * Options of one write: who writes (managedFields), whether it is a dry run, and which
 * subresource the request came through (status writes change only status).
 */
public record WriteOptions(String fieldManager, boolean dryRun, String subresource, String operation) {
  public static WriteOptions internal(String manager) {
    return new WriteOptions(manager, false, null, "Update");
  }

  public boolean status() {
    return "status".equals(subresource);
  }
}
