package dev.skiff.apiserver;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.http.SchemaCheck;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import dev.skiff.apiserver.schema.ApiSchemas;
import dev.skiff.apiserver.schema.SchemaNode;
import dev.skiff.apiserver.schema.SchemaValidator;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * {@link SchemaCheck} over the OpenAPI schemas: type errors as the Go decoder words them, unknown
 * fields reported by path and pruned from the object (what kube-apiserver's decoder drops when
 * fieldValidation is Warn or Ignore).
 */
final class SchemaChecker implements SchemaCheck {
  private final ApiSchemas schemas;

  SchemaChecker(ApiSchemas schemas) {
    this.schemas = schemas;
  }

  @Override
  public Result check(ResourceDescriptor d, ObjectNode obj) {
    Optional<SchemaNode> kind = schemas.kind(d.group, d.version, d.kind);
    if (kind.isEmpty()) {
      return new Result(List.of(), null);
    }
    List<SchemaValidator.Problem> problems = SchemaValidator.validate(obj, kind.get());
    List<String> unknown = new ArrayList<>();
    for (SchemaValidator.Problem p : problems) {
      if (p.type() == SchemaValidator.ProblemType.WRONG_TYPE) {
        return new Result(List.of(), SchemaValidator.badRequestMessage(problems, d.kind, d.version, false).orElse(p.message()));
      }
    }
    for (SchemaValidator.Problem p : problems) {
      unknown.add(p.path());
      prune(obj, p.path());
    }
    return new Result(unknown, null);
  }

  /** Removes the field at a path like {@code spec.containers[0].foo}. */
  static void prune(JsonNode root, String path) {
    String[] segs = path.split("\\.");
    JsonNode cur = root;
    for (int i = 0; i < segs.length; i++) {
      String seg = segs[i];
      List<Integer> idx = new ArrayList<>();
      int br = seg.indexOf('[');
      String name = br < 0 ? seg : seg.substring(0, br);
      while (br >= 0) {
        int end = seg.indexOf(']', br);
        try {
          idx.add(Integer.parseInt(seg.substring(br + 1, end)));
        } catch (NumberFormatException | StringIndexOutOfBoundsException e) {
          return;
        }
        br = seg.indexOf('[', end);
      }
      boolean last = i == segs.length - 1 && idx.isEmpty();
      if (last) {
        if (cur instanceof ObjectNode o) {
          o.remove(name);
        }
        return;
      }
      cur = cur.get(name);
      for (int ix : idx) {
        if (!(cur instanceof ArrayNode a) || ix >= a.size()) {
          return;
        }
        cur = a.get(ix);
      }
      if (cur == null) {
        return;
      }
    }
  }
}
