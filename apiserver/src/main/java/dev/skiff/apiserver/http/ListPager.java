package dev.skiff.apiserver.http;

import dev.skiff.apiserver.api.ApiException;
import dev.skiff.apiserver.cache.CachedObject;
import dev.skiff.apiserver.cache.WatchCache;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

/**
 * limit/continue paging. kube-apiserver pages from etcd at the first page's revision; Skiff keeps
 * the first page's snapshot (references into the cache, no copies of objects) so every page shows
 * the same revision, and forgets it after five minutes, when the token answers 410 Expired as an
 * expired etcd continue token would.
 */
final class ListPager {
  private static final long TTL_NANOS = 300_000_000_000L;

  record Page(List<CachedObject> objects, long revision, String continueToken, long remaining) {}

  private record Held(List<CachedObject> objects, long revision, long createdNanos) {}

  private final Map<String, Held> held = new ConcurrentHashMap<>();

  Page first(WatchCache.Snapshot snap, int limit) {
    List<CachedObject> all = snap.objects();
    if (limit <= 0 || all.size() <= limit) {
      return new Page(all, snap.revision(), null, 0);
    }
    expire();
    String id = UUID.randomUUID().toString();
    held.put(id, new Held(all, snap.revision(), System.nanoTime()));
    return page(id, all, snap.revision(), 0, limit);
  }

  Page next(String token, int limit) {
    String raw;
    try {
      raw = new String(Base64.getUrlDecoder().decode(token), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw ApiException.badRequest("continue key is not valid: illegal base64 data");
    }
    int colon = raw.lastIndexOf(':');
    if (colon < 0) {
      throw ApiException.badRequest("continue key is not valid");
    }
    String id = raw.substring(0, colon);
    int offset;
    try {
      offset = Integer.parseInt(raw.substring(colon + 1));
    } catch (NumberFormatException e) {
      throw ApiException.badRequest("continue key is not valid");
    }
    Held h = held.get(id);
    if (h == null) {
      throw ApiException.expired("The provided continue parameter is too old to display a consistent list result. "
          + "You can start a new list without the continue parameter, or use the continue token in this response "
          + "to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent "
          + "list - objects that were created, modified, or deleted between the time the first chunk was returned "
          + "and now may show up in the list.");
    }
    return page(id, h.objects, h.revision, offset, limit <= 0 ? Integer.MAX_VALUE : limit);
  }

  private Page page(String id, List<CachedObject> all, long rv, int offset, int limit) {
    int end = (int) Math.min((long) offset + limit, all.size());
    List<CachedObject> items = all.subList(Math.min(offset, all.size()), end);
    if (end >= all.size()) {
      held.remove(id);
      return new Page(items, rv, null, 0);
    }
    String token = Base64.getUrlEncoder().withoutPadding()
        .encodeToString((id + ":" + end).getBytes(StandardCharsets.UTF_8));
    return new Page(items, rv, token, all.size() - end);
  }

  private void expire() {
    long now = System.nanoTime();
    held.values().removeIf(h -> now - h.createdNanos > TTL_NANOS);
  }
}
