package dev.skiff.apiserver.services;

import java.util.BitSet;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A bitmap of {@code size} offsets, allocated explicitly or "next free". Dynamic allocation
 * prefers the upper part of the range and leaves the lowest {@code staticBand} offsets for
 * explicit requests until the upper part is full, as upstream's static-subrange strategy does
 * (pkg/registry/core/service/allocator/bitmap.go randomScanStrategyWithOffset; KEP-3070/3668). It
 * starts at a random offset so concurrent API servers would rarely collide. Not thread-safe: the
 * owner locks.
 */
final class RangeAllocator {
  private final int size;
  private final int staticBand;
  private final BitSet used;
  private int count;

  RangeAllocator(int size, int staticBand) {
    this.size = size;
    this.staticBand = Math.min(staticBand, size);
    this.used = new BitSet(size);
  }

  int size() {
    return size;
  }

  int count() {
    return count;
  }

  /** Marks {@code offset} used; false if it already was. */
  boolean allocate(int offset) {
    if (used.get(offset)) {
      return false;
    }
    used.set(offset);
    count++;
    return true;
  }

  /** A free offset, now used; -1 when the range is full. */
  int allocateNext() {
    if (count >= size) {
      return -1;
    }
    int dynamic = size - staticBand;
    int found = -1;
    if (dynamic > 0) {
      found = scan(staticBand, dynamic);
    }
    if (found < 0 && staticBand > 0) {
      found = scan(0, staticBand);
    }
    if (found >= 0) {
      used.set(found);
      count++;
    }
    return found;
  }

  /** First clear bit in [base, base+len), scanning from a random point and wrapping. */
  private int scan(int base, int len) {
    int start = base + ThreadLocalRandom.current().nextInt(len);
    int i = used.nextClearBit(start);
    if (i < base + len) {
      return i;
    }
    i = used.nextClearBit(base);
    return i < start ? i : -1;
  }

  void release(int offset) {
    if (used.get(offset)) {
      used.clear(offset);
      count--;
    }
  }

  boolean isAllocated(int offset) {
    return used.get(offset);
  }
}
