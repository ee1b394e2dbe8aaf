package dev.skiff.apiserver.cache;

import java.util.Map;

/**
 * One object as the watch cache keeps it: its encoded JSON (storage version, with
 * metadata.resourceVersion set) plus what selectors need, so that lists and watches never parse.
 * Immutable; the byte array is shared by every response that sends this object.
 */
public record CachedObject(
    String key,
    String namespace,
    String name,
    long resourceVersion,
    byte[] json,
    Map<String, String> labels,
    Map<String, String> fields) {}
