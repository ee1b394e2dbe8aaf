package dev.skiff.controllers.batch;

import java.util.BitSet;

/**
 * A set of completion indexes in the compressed text form of {@code status.completedIndexes} and
 * {@code status.failedIndexes}: ascending, comma-separated numbers and ranges, e.g.
 * {@code "1,3-5,7"} (upstream {@code pkg/controller/job/indexed_job_utils.go}, orderedIntervals).
 * Not thread-safe.
 */
public final class IndexSet {
  private final BitSet bits = new BitSet();

  /** Parses {@code text}; invalid parts and indexes at or above {@code limit} are dropped, as upstream does. */
  public static IndexSet parse(String text, int limit) {
    IndexSet s = new IndexSet();
    if (text == null || text.isBlank()) {
      return s;
    }
    for (String part : text.split(",")) {
      try {
        int dash = part.indexOf('-');
        int from = Integer.parseInt((dash < 0 ? part : part.substring(0, dash)).trim());
        int to = dash < 0 ? from : Integer.parseInt(part.substring(dash + 1).trim());
        for (int i = Math.max(0, from); i <= to && i < limit; i++) {
          s.bits.set(i);
        }
      } catch (NumberFormatException e) {
        // skip, like upstream's parseIndexesFromString
      }
    }
    return s;
  }

  public boolean contains(int index) {
    return index >= 0 && bits.get(index);
  }

  /** Adds {@code index}; true if it was not there. */
  public boolean add(int index) {
    if (bits.get(index)) {
      return false;
    }
    bits.set(index);
    return true;
  }

  public int size() {
    return bits.cardinality();
  }

  /** The compressed form, or {@code null} when empty (the field is then omitted). */
  public String format() {
    if (bits.isEmpty()) {
      return null;
    }
    StringBuilder sb = new StringBuilder();
    int i = bits.nextSetBit(0);
    while (i >= 0) {
      int end = bits.nextClearBit(i) - 1;
      if (sb.length() > 0) {
        sb.append(',');
      }
      sb.append(i);
      if (end > i) {
        sb.append('-').append(end);
      }
      i = bits.nextSetBit(end + 1);
    }
    return sb.toString();
  }

  @Override
  public String toString() {
    String f = format();
    return f == null ? "" : f;
  }
}
