package dev.skiff.apiserver.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.Map;

/**
 * How objects are laid out in the store: JSON with {@code apiVersion}, {@code kind} and
 * {@code metadata} first and without {@code metadata.resourceVersion} (the store's modRevision
 * is the resourceVersion, as in kube-apiserver over etcd). Because the layout is fixed, the
 * resourceVersion can be spliced into the bytes without parsing them again
 * ({@link #withResourceVersion}), which is what lets the cache serve stored bytes as they are.
 */
public final class StoredObjects {
  private static final byte[] METADATA = "\"metadata\":{".getBytes(StandardCharsets.US_ASCII);

  private StoredObjects() {}

  /** Encodes {@code obj} for storage (the object is not modified). */
  public static byte[] encode(ObjectNode obj) {
    ObjectNode out = Json.object();
    copy(obj, out, "apiVersion");
    copy(obj, out, "kind");
    JsonNode meta = obj.get("metadata");
    ObjectNode m = meta instanceof ObjectNode mo ? mo.deepCopy() : Json.object();
    m.remove("resourceVersion");
    out.set("metadata", m);
    Iterator<Map.Entry<String, JsonNode>> it = obj.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      String k = e.getKey();
      if (!k.equals("apiVersion") && !k.equals("kind") && !k.equals("metadata")) {
        out.set(k, e.getValue());
      }
    }
    return Json.bytes(out);
  }

  private static void copy(ObjectNode from, ObjectNode to, String field) {
    JsonNode v = from.get(field);
    if (v != null) {
      to.set(field, v);
    }
  }

  /** The stored bytes with {@code "resourceVersion":"rv"} inserted as the first metadata field. */
  public static byte[] withResourceVersion(byte[] stored, long rv) {
    int at = indexOf(stored, METADATA);
    if (at < 0) {
      throw new IllegalArgumentException("stored object has no metadata");
    }
    int insert = at + METADATA.length;
    boolean empty = stored[insert] == '}';
    byte[] field = ("\"resourceVersion\":\"" + rv + "\"" + (empty ? "" : ",")).getBytes(StandardCharsets.US_ASCII);
    byte[] out = new byte[stored.length + field.length];
    System.arraycopy(stored, 0, out, 0, insert);
    System.arraycopy(field, 0, out, insert, field.length);
    System.arraycopy(stored, insert, out, insert + field.length, stored.length - insert);
    return out;
  }

  private static int indexOf(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i <= hay.length - needle.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
