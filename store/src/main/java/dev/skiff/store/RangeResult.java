package dev.skiff.store;

import java.util.List;

/**
 * Result of a range read: the matching key-values in key order, the store revision the read was
 * served at, and whether more keys matched than {@code limit} allowed.
 */
public record RangeResult(List<KeyValue> kvs, long revision, boolean more) {}
