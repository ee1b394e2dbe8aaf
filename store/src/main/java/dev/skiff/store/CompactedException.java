package dev.skiff.store;

/** A read or watch asked for a revision older than the store still keeps. */
public final class CompactedException extends StoreException {
  private final long compactRevision;

  public CompactedException(long requested, long compactRevision) {
    super("required revision " + requested + " has been compacted (compacted at " + compactRevision + ")");
    this.compactRevision = compactRevision;
  }

  public long compactRevision() {
    return compactRevision;
  }
}
