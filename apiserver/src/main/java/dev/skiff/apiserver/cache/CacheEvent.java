package dev.skiff.apiserver.cache;

import java.nio.charset.StandardCharsets;

/**
 * A change in the cache. The watch frame {@code {"type":T,"object":...}} is encoded at most once
 * per type, on first demand, and then shared by every watcher (DESIGN.md: encode each event once).
 */
public final class CacheEvent {
  public enum Type { ADDED, MODIFIED, DELETED }

  final Type type;
  final CachedObject object;
  /** The object before this change, null for ADDED. Selectors on it decide DELETED-by-filter. */
  final CachedObject previous;
  final long revision;
  final long createdNanos = System.nanoTime();
  private volatile byte[][] frames;

  CacheEvent(Type type, CachedObject object, CachedObject previous, long revision) {
    this.type = type;
    this.object = object;
    this.previous = previous;
    this.revision = revision;
  }

  public Type type() {
    return type;
  }

  public CachedObject object() {
    return object;
  }

  public CachedObject previous() {
    return previous;
  }

  public long revision() {
    return revision;
  }

  /** The JSON watch frame for {@code as} with {@code obj} (this event's object or its previous). */
  byte[] frame(String as, CachedObject obj) {
    if (obj != object) {
      return encode(as, obj.json());
    }
    byte[][] f = frames;
    if (f == null) {
      f = new byte[3][];
      frames = f;
    }
    int i = switch (as) {
      case "ADDED" -> 0;
      case "MODIFIED" -> 1;
      default -> 2;
    };
    byte[] b = f[i];
    if (b == null) {
      b = encode(as, obj.json());
      f[i] = b;
    }
    return b;
  }

  /** {@code {"type":type,"object":objectJson}} and a newline: one watch frame. */
  public static byte[] encode(String type, byte[] objectJson) {
    byte[] head = ("{\"type\":\"" + type + "\",\"object\":").getBytes(StandardCharsets.US_ASCII);
    byte[] out = new byte[head.length + objectJson.length + 2];
    System.arraycopy(head, 0, out, 0, head.length);
    System.arraycopy(objectJson, 0, out, head.length, objectJson.length);
    out[out.length - 2] = '}';
    out[out.length - 1] = '\n';
    return out;
  }
}
