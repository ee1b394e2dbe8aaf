package dev.skiff.apiserver.http;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.api.Json;
import dev.skiff.apiserver.cache.CachedObject;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.registry.ResourceStore;
import dev.skiff.apiserver.table.ColumnDefinition;
import dev.skiff.apiserver.table.TablePrinter;
import dev.skiff.apiserver.table.TablePrinters;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * meta.k8s.io/v1 Table responses (apimachinery pkg/apis/meta/v1/types.go Table): column
 * definitions (omitted when a watch already sent them), one row per object with the printer's
 * cells, and {@code object} per includeObject: PartialObjectMetadata (default), the full Object,
 * or None.
 */
final class TableWriter {
  private final Clock clock;
  private final Map<String, TablePrinter> printers = new ConcurrentHashMap<>();
  private final Function<ResourceDescriptor, TablePrinter> custom;

  TableWriter(Clock clock, Function<ResourceDescriptor, TablePrinter> custom) {
    this.clock = clock;
    this.custom = custom;
  }

  private TablePrinter printer(ResourceDescriptor d) {
    return printers.computeIfAbsent(d.group + "/" + d.plural, k -> {
      TablePrinter p = custom.apply(d);
      return p != null ? p : TablePrinters.forResource(d.group, d.plural);
    });
  }

  void forget(String group, String plural) {
    printers.remove(group + "/" + plural);
  }

  byte[] table(ResourceStore store, List<CachedObject> objects, boolean headers, String includeObject,
      String resourceVersion, String continueToken) {
    ObjectNode t = header(store.descriptor(), headers, resourceVersion, continueToken);
    ArrayNode rows = t.putArray("rows");
    for (CachedObject o : objects) {
      rows.add(row(store, store.served(Json.parseObject(o.json())), includeObject));
    }
    return Json.bytes(t);
  }

  byte[] tableOfObject(ResourceStore store, ObjectNode obj, String includeObject) {
    ObjectNode t = header(store.descriptor(), true, Json.text(obj.path("metadata"), "resourceVersion"), null);
    t.putArray("rows").add(row(store, obj, includeObject));
    return Json.bytes(t);
  }

  private ObjectNode header(ResourceDescriptor d, boolean headers, String rv, String cont) {
    ObjectNode t = Json.object();
    t.put("kind", "Table");
    t.put("apiVersion", "meta.k8s.io/v1");
    ObjectNode m = t.putObject("metadata");
    if (rv != null) {
      m.put("resourceVersion", rv);
    }
    if (cont != null) {
      m.put("continue", cont);
    }
    ArrayNode cols = t.putArray("columnDefinitions");
    if (headers) {
      for (ColumnDefinition c : printer(d).columns()) {
        ObjectNode col = cols.addObject();
        col.put("name", c.name());
        col.put("type", c.type());
        col.put("format", c.format());
        col.put("description", c.description());
        col.put("priority", c.priority());
      }
    }
    return t;
  }

  private ObjectNode row(ResourceStore store, ObjectNode obj, String includeObject) {
    ObjectNode row = Json.object();
    ArrayNode cells = row.putArray("cells");
    for (Object c : printer(store.descriptor()).cells(obj, clock.instant())) {
      cells.add(c == null ? null : Json.MAPPER.valueToTree(c));
    }
    if ("None".equals(includeObject)) {
      row.putNull("object");
    } else if ("Object".equals(includeObject)) {
      row.set("object", obj);
    } else {
      row.set("object", partial(obj, "PartialObjectMetadata"));
    }
    return row;
  }

  static ObjectNode partial(JsonNode obj, String kind) {
    ObjectNode p = Json.object();
    p.put("kind", kind);
    p.put("apiVersion", "meta.k8s.io/v1");
    p.set("metadata", obj.path("metadata").deepCopy());
    return p;
  }
}
