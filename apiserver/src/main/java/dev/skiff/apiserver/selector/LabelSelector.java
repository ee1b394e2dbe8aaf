package dev.skiff.apiserver.selector;

import dev.skiff.apiserver.api.ApiException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * A parsed label selector in the string form of apimachinery pkg/labels/selector.go: comma-separated
 * requirements {@code k}, {@code !k}, {@code k=v}, {@code k==v}, {@code k!=v}, {@code k in (a,b)},
 * {@code k notin (a,b)}, {@code k>n}, {@code k<n}. Immutable and thread-safe.
 */
public final class LabelSelector {
  public static final LabelSelector EVERYTHING = new LabelSelector(List.of());

  enum Op { EXISTS, NOT_EXISTS, EQUALS, NOT_EQUALS, IN, NOT_IN, GT, LT }

  record Requirement(String key, Op op, Set<String> values) {
    boolean matches(Map<String, String> labels) {
      String v = labels.get(key);
      return switch (op) {
        case EXISTS -> v != null;
        case NOT_EXISTS -> v == null;
        case EQUALS, IN -> v != null && values.contains(v);
        case NOT_EQUALS, NOT_IN -> v == null || !values.contains(v);
        case GT, LT -> {
          if (v == null) {
            yield false;
          }
          try {
            long have = Long.parseLong(v);
            long want = Long.parseLong(values.iterator().next());
            yield op == Op.GT ? have > want : have < want;
          } catch (NumberFormatException e) {
            yield false;
          }
        }
      };
    }
  }

  private final List<Requirement> requirements;

  private LabelSelector(List<Requirement> requirements) {
    this.requirements = requirements;
  }

  public boolean isEverything() {
    return requirements.isEmpty();
  }

  public boolean matches(Map<String, String> labels) {
    for (Requirement r : requirements) {
      if (!r.matches(labels)) {
        return false;
      }
    }
    return true;
  }

  /** The value an equality requirement fixes for {@code key}, if any (used to narrow scans). */
  public String requiredValue(String key) {
    for (Requirement r : requirements) {
      if (r.key.equals(key) && (r.op == Op.EQUALS || (r.op == Op.IN && r.values.size() == 1))) {
        return r.values.iterator().next();
      }
    }
    return null;
  }

  public static LabelSelector parse(String text) {
    if (text == null || text.isBlank()) {
      return EVERYTHING;
    }
    Parser p = new Parser(text);
    List<Requirement> reqs = new ArrayList<>();
    do {
      reqs.add(p.requirement());
    } while (p.comma());
    p.end();
    return new LabelSelector(List.copyOf(reqs));
  }

  /** Recursive-descent parser over the selector string. */
  private static final class Parser {
    private final String s;
    private int i;

    Parser(String s) {
      this.s = s;
    }

    private void ws() {
      while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
        i++;
      }
    }

    boolean comma() {
      ws();
      if (i < s.length() && s.charAt(i) == ',') {
        i++;
        return true;
      }
      return false;
    }

    void end() {
      ws();
      if (i != s.length()) {
        throw error("found '" + s.charAt(i) + "', expected: ',' or 'end of string'");
      }
    }

    private ApiException error(String why) {
      return ApiException.badRequest("unable to parse requirement: " + why);
    }

    private String word() {
      ws();
      int start = i;
      while (i < s.length()) {
        char c = s.charAt(i);
        if (Character.isWhitespace(c) || c == ',' || c == '=' || c == '!' || c == '(' || c == ')'
            || c == '<' || c == '>') {
          break;
        }
        i++;
      }
      return s.substring(start, i);
    }

    Requirement requirement() {
      ws();
      if (i < s.length() && s.charAt(i) == '!') {
        i++;
        String key = word();
        checkKey(key);
        return new Requirement(key, Op.NOT_EXISTS, Set.of());
      }
      String key = word();
      if (key.isEmpty()) {
        throw error("found '" + (i < s.length() ? s.charAt(i) : "end of string") + "', expected: identifier");
      }
      checkKey(key);
      ws();
      if (i >= s.length() || s.charAt(i) == ',') {
        return new Requirement(key, Op.EXISTS, Set.of());
      }
      char c = s.charAt(i);
      if (c == '=') {
        i++;
        if (i < s.length() && s.charAt(i) == '=') {
          i++;
        }
        return new Requirement(key, Op.EQUALS, Set.of(value()));
      }
      if (c == '!' && i + 1 < s.length() && s.charAt(i + 1) == '=') {
        i += 2;
        return new Requirement(key, Op.NOT_EQUALS, Set.of(value()));
      }
      if (c == '>' || c == '<') {
        i++;
        String v = value();
        try {
          Long.parseLong(v);
        } catch (NumberFormatException e) {
          throw error("for 'Gt', 'Lt' operators, the value must be an integer");
        }
        return new Requirement(key, c == '>' ? Op.GT : Op.LT, Set.of(v));
      }
      String op = word();
      if (op.equals("in") || op.equals("notin")) {
        ws();
        if (i >= s.length() || s.charAt(i) != '(') {
          throw error("found '" + (i < s.length() ? s.charAt(i) : "end of string") + "', expected: '('");
        }
        i++;
        Set<String> values = new TreeSet<>();
        while (true) {
          ws();
          if (i < s.length() && s.charAt(i) == ')') {
            i++;
            break;
          }
          values.add(value());
          ws();
          if (i < s.length() && s.charAt(i) == ',') {
            i++;
            continue;
          }
          if (i < s.length() && s.charAt(i) == ')') {
            i++;
            break;
          }
          throw error("found '" + (i < s.length() ? s.charAt(i) : "end of string") + "', expected: ',', or ')'");
        }
        return new Requirement(key, op.equals("in") ? Op.IN : Op.NOT_IN, Set.copyOf(values));
      }
      throw error("found '" + op + "', expected: in, notin, =, ==, !=, gt, lt");
    }

    private String value() {
      String v = word();
      if (!v.isEmpty() && !LabelValidation.isValidLabelValue(v)) {
        throw error("invalid label value: \"" + v + "\"");
      }
      return v;
    }

    private void checkKey(String key) {
      String why = LabelValidation.labelKeyError(key);
      if (why != null) {
        throw error("invalid label key \"" + key + "\": " + why);
      }
    }
  }
}
