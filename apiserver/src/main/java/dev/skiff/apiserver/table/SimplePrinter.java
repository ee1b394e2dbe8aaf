package dev.skiff.apiserver.table;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/** A fixed column set plus a row function: the shape of one upstream {@code TableHandler}. */
final class SimplePrinter implements TablePrinter {

  interface Row {
    Object[] cells(ObjectNode obj, Instant now);
  }

  private final List<ColumnDefinition> columns;
  private final Row row;

  SimplePrinter(List<ColumnDefinition> columns, Row row) {
    this.columns = List.copyOf(columns);
    this.row = row;
  }

  static SimplePrinter of(Row row, ColumnDefinition... columns) {
    return new SimplePrinter(Arrays.asList(columns), row);
  }

  @Override
  public List<ColumnDefinition> columns() {
    return columns;
  }

  @Override
  public List<Object> cells(ObjectNode object, Instant now) {
    Object[] cells = row.cells(object, now);
    if (cells.length != columns.size()) {
      throw new IllegalStateException(
          "printer produced " + cells.length + " cells for " + columns.size() + " columns");
    }
    // Cells may be null, so List.of is not an option.
    return Collections.unmodifiableList(new ArrayList<>(Arrays.asList(cells)));
  }
}
