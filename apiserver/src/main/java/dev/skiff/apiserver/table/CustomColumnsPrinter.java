package dev.skiff.apiserver.table;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Table printer for CRD-style {@code additionalPrinterColumns}: apiextensions-apiserver
 * {@code pkg/registry/customresource/tableconvertor/tableconvertor.go}. The first column is always
 * Name; the declared columns follow (a CRD that wants Age declares it, usually as
 * {@code .metadata.creationTimestamp} of type date).
 *
 * <p>Cell typing follows {@code cellForJSONValue}: {@code string} columns render the JSONPath
 * result as text (objects and arrays as compact JSON), {@code integer} as Long, {@code number} as
 * Double, {@code boolean} as Boolean, {@code date} as a relative age such as "5m" (the server, not
 * kubectl, converts dates). A type mismatch or a path with no result gives null.
 */
final class CustomColumnsPrinter implements TablePrinter {

  private static final ObjectMapper SORTED_JSON =
      new ObjectMapper().configure(SerializationFeature.ORDER_MAP_ENTRIES_BY_KEYS, true);

  private final List<ColumnDefinition> columns;
  private final List<JsonPath> paths;

  CustomColumnsPrinter(List<PrinterColumn> declared) {
    List<ColumnDefinition> cols = new ArrayList<>();
    List<JsonPath> ps = new ArrayList<>();
    cols.add(ColumnDefinition.nameColumn());
    for (PrinterColumn c : declared) {
      ps.add(JsonPath.parse(c.jsonPath()));
      String desc =
          c.description().isEmpty()
              ? "Custom resource definition column (in JSONPath format): " + c.jsonPath()
              : c.description();
      cols.add(new ColumnDefinition(c.name(), c.type(), c.format(), desc, c.priority()));
    }
    this.columns = List.copyOf(cols);
    this.paths = List.copyOf(ps);
  }

  @Override
  public List<ColumnDefinition> columns() {
    return columns;
  }

  @Override
  public List<Object> cells(ObjectNode object, Instant now) {
    List<Object> cells = new ArrayList<>(columns.size());
    cells.add(Obj.name(object));
    for (int i = 0; i < paths.size(); i++) {
      List<JsonNode> results = paths.get(i).find(object);
      if (results.isEmpty()) {
        cells.add(null);
        continue;
      }
      // Simple JSONPath only: the first result is the value.
      JsonNode value = results.get(0);
      String type = columns.get(i + 1).type();
      cells.add("string".equals(type) ? text(value) : cell(type, value, now));
    }
    return Collections.unmodifiableList(cells);
  }

  /** jsonpath {@code PrintResults} of one value. */
  static String text(JsonNode v) {
    if (v.isNull()) {
      // reflect.ValueOf(nil) is invalid; text/template prints it as "<no value>".
      return "<no value>";
    }
    if (v.isContainerNode()) {
      try {
        // Go's json.Marshal of map[string]interface{} sorts keys.
        return SORTED_JSON.writeValueAsString(SORTED_JSON.treeToValue(v, Object.class));
      } catch (Exception e) {
        return v.toString();
      }
    }
    if (v.isTextual()) {
      return v.asText();
    }
    if (v.isIntegralNumber()) {
      return v.bigIntegerValue().toString();
    }
    if (v.isNumber()) {
      return goFloat(v.doubleValue());
    }
    return v.asText();
  }

  /** fmt's {@code %v} for float64: shortest repr, exponent form outside [1e-4, 1e21). */
  static String goFloat(double d) {
    if (Double.isNaN(d)) {
      return "NaN";
    }
    if (Double.isInfinite(d)) {
      return d > 0 ? "+Inf" : "-Inf";
    }
    if (d == 0) {
      return (1 / d < 0) ? "-0" : "0";
    }
    BigDecimal bd = new BigDecimal(Double.toString(d)).stripTrailingZeros();
    double abs = Math.abs(d);
    if (abs >= 1e-4 && abs < 1e21) {
      return bd.toPlainString();
    }
    String unscaled = bd.unscaledValue().abs().toString();
    int exp = unscaled.length() - 1 - bd.scale();
    String mantissa =
        unscaled.length() == 1 ? unscaled : unscaled.charAt(0) + "." + unscaled.substring(1);
    return (d < 0 ? "-" : "")
        + mantissa
        + "e"
        + (exp < 0 ? "-" : "+")
        + (Math.abs(exp) < 10 ? "0" : "")
        + Math.abs(exp);
  }

  /** {@code cellForJSONValue}. */
  static Object cell(String type, JsonNode v, Instant now) {
    if (v == null || v.isNull()) {
      return null;
    }
    switch (type) {
      case "integer":
        if (v.isIntegralNumber()) {
          return v.asLong();
        } else if (v.isNumber()) {
          return (long) v.doubleValue();
        }
        return null;
      case "number":
        return v.isNumber() ? v.doubleValue() : null;
      case "boolean":
        return v.isBoolean() ? v.asBoolean() : null;
      case "date":
        if (!v.isTextual()) {
          return null;
        }
        String s = v.asText();
        if (s.isEmpty() || s.equals("null")) {
          return "<unknown>"; // metav1.Time zero value
        }
        try {
          return Obj.since(OffsetDateTime.parse(s).toInstant(), now);
        } catch (DateTimeParseException e) {
          return "<invalid>";
        }
      default:
        return null;
    }
  }
}
