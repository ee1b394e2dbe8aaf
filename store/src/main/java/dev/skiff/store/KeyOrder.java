package dev.skiff.store;

import java.util.Comparator;

/**
 * The order of keys in the store: the byte order of their UTF-8 encoding, as etcd sorts them.
 *
 * <p>{@link String#compareTo} compares UTF-16 code units, which disagrees with UTF-8 byte order
 * when a supplementary character (a surrogate pair) meets a character in U+E000..U+FFFF. Code
 * point order equals UTF-8 byte order, so we compare code points, keeping the plain char
 * comparison as the fast path (Kubernetes keys are ASCII).
 */
final class KeyOrder {
  static final Comparator<String> COMPARATOR = KeyOrder::compare;

  private KeyOrder() {}

  static int compare(String a, String b) {
    int n = Math.min(a.length(), b.length());
    for (int i = 0; i < n; i++) {
      char ca = a.charAt(i);
      char cb = b.charAt(i);
      if (ca != cb) {
        if (ca >= 0xD800 && cb >= 0xD800) {
          // Surrogates (D800..DFFF) encode code points above FFFF: move them above E000..FFFF.
          ca = (char) (ca >= 0xE000 ? ca - 0x800 : ca + 0x2000);
          cb = (char) (cb >= 0xE000 ? cb - 0x800 : cb + 0x2000);
        }
        return ca - cb;
      }
    }
    return a.length() - b.length();
  }
}
