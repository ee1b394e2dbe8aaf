package dev.skiff.apiserver.table;

/**
 * A CRD-style {@code additionalPrinterColumns} entry
 * ({@code apiextensions/v1 CustomResourceColumnDefinition}): the column is filled by evaluating
 * {@code jsonPath} (simple JSONPath, e.g. {@code .spec.replicas} or
 * {@code .status.conditions[?(@.type=="Ready")].status}) against the object.
 */
public record PrinterColumn(
    String name, String type, String format, String description, int priority, String jsonPath) {

  public PrinterColumn {
    format = format == null ? "" : format;
    description = description == null ? "" : description;
  }

  public static PrinterColumn of(String name, String type, String jsonPath) {
    return new PrinterColumn(name, type, "", "", 0, jsonPath);
  }
}
