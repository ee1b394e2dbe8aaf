package dev.skiff.apiserver.cache;

import dev.skiff.apiserver.selector.FieldSelector;
import dev.skiff.apiserver.selector.LabelSelector;

/** Which objects a list or watch wants: a namespace (null for all) and selectors. */
public record WatchFilter(String namespace, LabelSelector labels, FieldSelector fields) {
  public static final WatchFilter ALL = new WatchFilter(null, LabelSelector.EVERYTHING, FieldSelector.EVERYTHING);

  public boolean matches(CachedObject o) {
    if (o == null) {
      return false;
    }
    if (namespace != null && !namespace.equals(o.namespace())) {
      return false;
    }
    return labels.matches(o.labels()) && fields.matches(o.fields());
  }
}
