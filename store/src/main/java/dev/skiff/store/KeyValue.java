package dev.skiff.store;

/**
 * One key at one revision, as etcd's mvccpb.KeyValue. {@code value} is never modified after the
 * store hands it out: callers may keep the array and share it.
 *
 * @param createRevision revision of the write that created this incarnation of the key
 * @param modRevision    revision of the write that produced this value
 * @param version        writes to this incarnation so far (1 after create)
 */
public record KeyValue(String key, byte[] value, long createRevision, long modRevision, long version) {}
