package dev.skiff.apiserver.table;

/**
 * One column of a {@code meta.k8s.io/v1} Table ({@code TableColumnDefinition} in
 * apimachinery {@code pkg/apis/meta/v1/types.go}). Priority 0 columns are always shown by kubectl,
 * priority 1 and above only with {@code -o wide}.
 */
public record ColumnDefinition(String name, String type, String format, String description, int priority) {

  public ColumnDefinition {
    format = format == null ? "" : format;
    description = description == null ? "" : description;
  }

  static ColumnDefinition of(String name, String type, String description) {
    return new ColumnDefinition(name, type, "", description, 0);
  }

  static ColumnDefinition wide(String name, String type, String description) {
    return new ColumnDefinition(name, type, "", description, 1);
  }

  /** The leading {@code Name} column every upstream printer declares ({@code format: name}). */
  static ColumnDefinition nameColumn() {
    return new ColumnDefinition("Name", "string", "name", Docs.NAME, 0);
  }

  static ColumnDefinition ageColumn() {
    return of("Age", "string", Docs.CREATION_TIMESTAMP);
  }
}
