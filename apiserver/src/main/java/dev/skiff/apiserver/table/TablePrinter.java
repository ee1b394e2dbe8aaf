package dev.skiff.apiserver.table;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.List;

/**
 * Turns one object into one Table row. Implementations are pure functions of the object and
 * {@code now} (which stands in for Go's {@code time.Now()} so ages are testable).
 *
 * <p>Like kube-apiserver ({@code pkg/printers/storage/storage.go} always generates with
 * {@code Wide: true}), {@link #cells} returns a value for every column, including priority-1 ones;
 * kubectl hides those unless {@code -o wide}.
 */
public interface TablePrinter {

  List<ColumnDefinition> columns();

  /**
   * Cells in column order. Each is a {@link String}, {@link Long}, {@link Boolean}, {@link Double}
   * (custom-resource {@code number} columns) or {@code null}, matching the JSON types upstream
   * emits.
   */
  List<Object> cells(ObjectNode object, Instant now);
}
