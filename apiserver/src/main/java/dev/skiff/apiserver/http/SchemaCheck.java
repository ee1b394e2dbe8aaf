package dev.skiff.apiserver.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.skiff.apiserver.registry.ResourceDescriptor;
import java.util.List;

/**
 * Checks a decoded request body against its kind's schema, as kube-apiserver's decoder does:
 * unknown fields (reported per fieldValidation, and pruned unless Strict rejects them) and type
 * mismatches (always 400).
 */
public interface SchemaCheck {
  /** Unknown-field paths like {@code spec.foo} (already removed from {@code obj}) and a type error or null. */
  record Result(List<String> unknownFields, String typeError) {}

  Result check(ResourceDescriptor d, ObjectNode obj);

  SchemaCheck NONE = (d, obj) -> new Result(List.of(), null);
}
