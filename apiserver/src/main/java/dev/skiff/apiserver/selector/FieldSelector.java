package dev.skiff.apiserver.selector;

import dev.skiff.apiserver.api.ApiException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A parsed field selector (apimachinery pkg/fields/selector.go): comma-separated {@code f=v},
 * {@code f==v} or {@code f!=v}. Which fields a resource supports is the resource's business;
 * {@link #fields()} lets it reject unsupported ones with upstream's message.
 */
public final class FieldSelector {
  public static final FieldSelector EVERYTHING = new FieldSelector(List.of());

  record Term(String field, String value, boolean negated) {}

  private final List<Term> terms;

  private FieldSelector(List<Term> terms) {
    this.terms = terms;
  }

  public boolean isEverything() {
    return terms.isEmpty();
  }

  public List<String> fields() {
    return terms.stream().map(Term::field).toList();
  }

  /** The value an equality term fixes for {@code field}, or null. */
  public String requiredValue(String field) {
    for (Term t : terms) {
      if (!t.negated && t.field.equals(field)) {
        return t.value;
      }
    }
    return null;
  }

  public boolean matches(Map<String, String> fieldValues) {
    for (Term t : terms) {
      String have = fieldValues.getOrDefault(t.field, "");
      if (t.negated == have.equals(t.value)) {
        return false;
      }
    }
    return true;
  }

  /** Throws 400 like kube-apiserver when a field is not one the resource can select on. */
  public void checkSupported(Set<String> supported, String kind) {
    for (Term t : terms) {
      if (!supported.contains(t.field)) {
        throw ApiException.badRequest(
            "field label not supported: " + t.field);
      }
    }
  }

  public static FieldSelector parse(String text) {
    if (text == null || text.isBlank()) {
      return EVERYTHING;
    }
    List<Term> terms = new ArrayList<>();
    for (String part : splitTerms(text)) {
      String p = part.trim();
      if (p.isEmpty()) {
        continue;
      }
      int ne = p.indexOf("!=");
      int eq = p.indexOf('=');
      if (ne >= 0 && ne < eq) {
        terms.add(new Term(p.substring(0, ne).trim(), unescape(p.substring(ne + 2).trim()), true));
      } else if (eq >= 0) {
        int valueStart = p.startsWith("==", eq) ? eq + 2 : eq + 1;
        terms.add(new Term(p.substring(0, eq).trim(), unescape(p.substring(valueStart).trim()), false));
      } else {
        throw ApiException.badRequest("invalid selector: '" + text + "'; can't understand '" + p + "'");
      }
    }
    return new FieldSelector(List.copyOf(terms));
  }

  /** Splits on commas not escaped with a backslash (fields.EscapeValue escapes ',' '=' '\'). */
  private static List<String> splitTerms(String s) {
    List<String> out = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\' && i + 1 < s.length()) {
        cur.append(c).append(s.charAt(++i));
      } else if (c == ',') {
        out.add(cur.toString());
        cur.setLength(0);
      } else {
        cur.append(c);
      }
    }
    out.add(cur.toString());
    return out;
  }

  private static String unescape(String v) {
    if (v.indexOf('\\') < 0) {
      return v;
    }
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c == '\\' && i + 1 < v.length()) {
        c = v.charAt(++i);
      }
      sb.append(c);
    }
    return sb.toString();
  }
}
