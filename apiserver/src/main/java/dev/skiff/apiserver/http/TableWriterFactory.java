package dev.skiff.apiserver.http;

import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.table.TablePrinter;
import java.time.Clock;
import java.util.function.Function;

/** Chooses printers: custom ones (CRD printer columns) first, then the built-in printers. */
public final class TableWriterFactory {
  private final Function<ResourceDescriptor, TablePrinter> custom;

  public TableWriterFactory(Function<ResourceDescriptor, TablePrinter> custom) {
    this.custom = custom;
  }

  TableWriter create(Clock clock) {
    return new TableWriter(clock, custom);
  }
}
