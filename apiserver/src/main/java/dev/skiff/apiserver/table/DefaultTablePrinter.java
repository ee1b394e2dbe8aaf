package dev.skiff.apiserver.table;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.List;

/**
 * The fallback for kinds without a printer (Roles, LimitRanges, ...): apiserver
 * {@code pkg/registry/rest/table.go} {@code defaultTableConvertor}. "Created At" is type date and
 * holds the creation time as RFC3339 in UTC (whole seconds); kubectl turns it into an age.
 */
final class DefaultTablePrinter implements TablePrinter {

  static final DefaultTablePrinter INSTANCE = new DefaultTablePrinter();

  private static final DateTimeFormatter RFC3339 =
      DateTimeFormatter.ofPattern("uuuu-MM-dd'T'HH:mm:ssXXX").withZone(ZoneOffset.UTC);

  private static final List<ColumnDefinition> COLUMNS =
      List.of(
          ColumnDefinition.nameColumn(),
          new ColumnDefinition("Created At", "date", "", Docs.CREATION_TIMESTAMP, 0));

  @Override
  public List<ColumnDefinition> columns() {
    return COLUMNS;
  }

  @Override
  public List<Object> cells(ObjectNode object, Instant now) {
    Instant created = Obj.time(object, "metadata", "creationTimestamp");
    // Go formats the zero time as year 1.
    String createdAt =
        created == null
            ? "0001-01-01T00:00:00Z"
            : RFC3339.format(created.truncatedTo(ChronoUnit.SECONDS));
    return List.of(Obj.name(object), createdAt);
  }
}
