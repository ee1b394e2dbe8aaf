package dev.skiff.apiserver.table;

import com.fasterxml.jackson.databind.JsonNode;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The subset of client-go {@code util/jsonpath} that CRD {@code additionalPrinterColumns} use:
 * {@code .a.b} (with {@code \.} escapes), {@code ['a.b']}, {@code [0]}, {@code [-1]}, {@code [*]},
 * {@code .*}, {@code ..name}, and filters {@code [?(@.type=="Ready")]} with
 * {@code == != < > <= >=} or bare existence {@code [?(@.x)]}. Missing keys yield no result, as
 * with {@code AllowMissingKeys(true)} in the apiextensions table convertor.
 */
final class JsonPath {

  private sealed interface Step permits Field, Index, Wildcard, Recursive, Filter {}

  private record Field(String name) implements Step {}

  private record Index(int index) implements Step {}

  private record Wildcard() implements Step {}

  private record Recursive(String name) implements Step {}

  private record Filter(JsonPath left, String op, String literal) implements Step {}

  private final String source;
  private final List<Step> steps;

  private JsonPath(String source, List<Step> steps) {
    this.source = source;
    this.steps = steps;
  }

  /** Parses a path with or without the surrounding braces: {@code .spec.x} or {@code {.spec.x}}. */
  static JsonPath parse(String path) {
    String p = path.trim();
    if (p.startsWith("{") && p.endsWith("}")) {
      p = p.substring(1, p.length() - 1).trim();
    }
    if (p.startsWith("$")) {
      p = p.substring(1);
    }
    List<Step> steps = new ArrayList<>();
    int i = 0;
    while (i < p.length()) {
      char c = p.charAt(i);
      if (c == '.') {
        if (i + 1 < p.length() && p.charAt(i + 1) == '.') {
          int[] end = new int[1];
          String name = readName(p, i + 2, end);
          steps.add(new Recursive(name));
          i = end[0];
        } else if (i + 1 < p.length() && p.charAt(i + 1) == '*') {
          steps.add(new Wildcard());
          i += 2;
        } else {
          int[] end = new int[1];
          String name = readName(p, i + 1, end);
          if (!name.isEmpty()) {
            steps.add(new Field(name));
          }
          i = end[0];
        }
      } else if (c == '[') {
        int close = matchingBracket(p, i);
        String inner = p.substring(i + 1, close).trim();
        steps.add(bracket(inner, path));
        i = close + 1;
      } else {
        throw new IllegalArgumentException("unrecognized JSONPath " + path);
      }
    }
    return new JsonPath(path, List.copyOf(steps));
  }

  private static String readName(String p, int start, int[] end) {
    StringBuilder sb = new StringBuilder();
    int i = start;
    while (i < p.length()) {
      char c = p.charAt(i);
      if (c == '\\' && i + 1 < p.length()) {
        sb.append(p.charAt(i + 1));
        i += 2;
        continue;
      }
      if (c == '.' || c == '[') {
        break;
      }
      sb.append(c);
      i++;
    }
    end[0] = i;
    return sb.toString();
  }

  private static int matchingBracket(String p, int open) {
    int depth = 0;
    char quote = 0;
    for (int i = open; i < p.length(); i++) {
      char c = p.charAt(i);
      if (quote != 0) {
        if (c == quote) {
          quote = 0;
        }
      } else if (c == '\'' || c == '"') {
        quote = c;
      } else if (c == '[') {
        depth++;
      } else if (c == ']' && --depth == 0) {
        return i;
      }
    }
    throw new IllegalArgumentException("unclosed [ in JSONPath " + p);
  }

  private static Step bracket(String inner, String path) {
    if (inner.equals("*")) {
      return new Wildcard();
    }
    if (isQuoted(inner)) {
      // Escaped dots inside quotes, as Knative's columns write label keys.
      return new Field(inner.substring(1, inner.length() - 1).replaceAll("\\\\(.)", "$1"));
    }
    if (inner.startsWith("?(") && inner.endsWith(")")) {
      String expr = inner.substring(2, inner.length() - 1).trim();
      for (String op : new String[] {"==", "!=", "<=", ">=", "<", ">"}) {
        int at = indexOutsideQuotes(expr, op);
        if (at > 0) {
          String left = expr.substring(0, at).trim();
          String right = expr.substring(at + op.length()).trim();
          return new Filter(parse(stripAt(left)), op, right);
        }
      }
      return new Filter(parse(stripAt(expr)), null, null);
    }
    try {
      return new Index(Integer.parseInt(inner));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("unsupported JSONPath subscript [" + inner + "] in " + path);
    }
  }

  private static String stripAt(String s) {
    return s.startsWith("@") ? s.substring(1) : s;
  }

  private static boolean isQuoted(String s) {
    return s.length() >= 2
        && ((s.startsWith("'") && s.endsWith("'")) || (s.startsWith("\"") && s.endsWith("\"")));
  }

  private static int indexOutsideQuotes(String s, String needle) {
    char quote = 0;
    for (int i = 0; i + needle.length() <= s.length(); i++) {
      char c = s.charAt(i);
      if (quote != 0) {
        if (c == quote) {
          quote = 0;
        }
      } else if (c == '\'' || c == '"') {
        quote = c;
      } else if (s.startsWith(needle, i)) {
        return i;
      }
    }
    return -1;
  }

  /** All values the path selects, in document order. */
  List<JsonNode> find(JsonNode root) {
    List<JsonNode> cur = new ArrayList<>();
    cur.add(root);
    for (Step step : steps) {
      List<JsonNode> next = new ArrayList<>();
      for (JsonNode n : cur) {
        apply(step, n, next);
      }
      cur = next;
    }
    return cur;
  }

  private static void apply(Step step, JsonNode n, List<JsonNode> out) {
    switch (step) {
      case Field f -> {
        if (n.isObject() && n.has(f.name())) {
          out.add(n.get(f.name()));
        }
      }
      case Index ix -> {
        if (n.isArray()) {
          int i = ix.index() < 0 ? n.size() + ix.index() : ix.index();
          if (i >= 0 && i < n.size()) {
            out.add(n.get(i));
          }
        }
      }
      case Wildcard w -> {
        if (n.isContainerNode()) {
          n.forEach(out::add);
        }
      }
      case Recursive r -> collect(n, r.name(), out);
      case Filter f -> {
        if (n.isArray()) {
          for (JsonNode el : n) {
            if (matches(f, el)) {
              out.add(el);
            }
          }
        }
      }
    }
  }

  private static void collect(JsonNode n, String name, List<JsonNode> out) {
    if (n.isObject()) {
      if (n.has(name)) {
        out.add(n.get(name));
      }
      for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
        collect(it.next().getValue(), name, out);
      }
    } else if (n.isArray()) {
      n.forEach(el -> collect(el, name, out));
    }
  }

  private static boolean matches(Filter f, JsonNode el) {
    List<JsonNode> left = f.left().find(el);
    if (f.op() == null) {
      return !left.isEmpty();
    }
    if (left.isEmpty()) {
      return false;
    }
    JsonNode l = left.get(0);
    String lit = f.literal();
    int cmp;
    if (isQuoted(lit)) {
      if (!l.isTextual()) {
        return f.op().equals("!=");
      }
      cmp = l.asText().compareTo(lit.substring(1, lit.length() - 1));
    } else if (lit.equals("true") || lit.equals("false")) {
      if (!l.isBoolean()) {
        return f.op().equals("!=");
      }
      cmp = Boolean.compare(l.asBoolean(), Boolean.parseBoolean(lit));
    } else {
      if (!l.isNumber()) {
        return f.op().equals("!=");
      }
      try {
        cmp = l.decimalValue().compareTo(new BigDecimal(lit));
      } catch (NumberFormatException e) {
        return false;
      }
    }
    return switch (f.op()) {
      case "==" -> cmp == 0;
      case "!=" -> cmp != 0;
      case "<" -> cmp < 0;
      case ">" -> cmp > 0;
      case "<=" -> cmp <= 0;
      default -> cmp >= 0;
    };
  }

  @Override
  public String toString() {
    return source;
  }
}
